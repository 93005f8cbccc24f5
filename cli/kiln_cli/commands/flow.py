"""`kiln flow …`: apolo-flow projects on Kiln (docs/flows.md is the contract).

Every verb runs from a local project folder: the first folder, walking up from the current one,
that has a `.apolo/` or `.neuro/` config folder (`.apolo` wins). Its storage folder is
`storage:<folder name>`, or `--folder storage:…`, or `$KILN_FLOW_FOLDER`. Verbs that act on the
flow first *sync* it (`POST /api/v1/flows/sync/` with every YAML file of the config folder), which
creates or refreshes the flow, and use the flow id the server answers with. Verbs about one bake
(`inspect`, `cancel`, `restart`) take its id and work from anywhere.

`upload`/`download` (and `run` for volumes marked `upload(volumes.NAME)`) ask the server for the
flow's volumes, evaluated by its own evaluator after the sync (`GET /api/v1/flows/<id>/volumes/`),
and move bytes with the storage verbs' code (`kiln cp -r -T`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import click
import yaml

from kiln_cli import transfer, ws
from kiln_cli.app import App, json_option, pass_app
from kiln_cli.client import KilnClient
from kiln_cli.commands.jobs import INTERRUPTED, RECONNECT_GIVE_UP, attach, outcome
from kiln_cli.commands.storage import (
    CopyOptions,
    Outcomes,
    check_storage,
    plan_download,
    plan_upload,
    run_items,
)
from kiln_cli.errors import ExitCode, KilnError, bad_input
from kiln_cli.output import Output, local_time, relative_time

F = TypeVar("F", bound=Callable[..., Any])

FLOWS = "/api/v1/flows/"
SYNC = FLOWS + "sync/"
CHECK = FLOWS + "check/"
BAKES = "/api/v1/bakes/"
CONFIG_DIRS = (".apolo", ".neuro")  # in this order: .apolo wins
FOLDER_ENV = "KILN_FLOW_FOLDER"
FINAL = ("succeeded", "failed", "cancelled")
TASK_FINAL = ("succeeded", "failed", "cancelled", "skipped", "cached")
BAKE_PAGE = 100
PS_COLUMNS = ("JOB", "STATUS", "RAW ID", "WHEN")
BAKES_COLUMNS = ("ID", "NAME", "BATCH", "STATUS", "WHEN")
TASK_COLUMNS = ("ID", "STATUS", "RAW ID", "STARTED", "FINISHED")
GRAPH_FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".pdf": "pdf"}
_META_FOLDER = "kiln.flow.folder"


# --- the local project ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A local flow project: its root folder and its config folder (`.apolo` or `.neuro`)."""

    root: Path
    config_dir: str

    @property
    def config_path(self) -> Path:
        return self.root / self.config_dir

    def config_files(self) -> dict[str, str]:
        """Every `*.yml`/`*.yaml` below the config folder, by path relative to the root
        (`.neuro/live.yml`), and the `ws:` action files they call from elsewhere in the project
        (`actions/jupyter.yml`), as the sync and check endpoints want them."""
        files: dict[str, str] = {}
        for path in sorted(self.config_path.rglob("*")):
            if path.suffix not in (".yml", ".yaml") or not path.is_file():
                continue
            relative = path.relative_to(self.root).as_posix()
            files[relative] = path.read_bytes().decode("utf-8", "replace")
        waiting = list(files.values())
        while waiting:  # an action may call other actions
            for ref in _ws_action_refs(waiting.pop()):
                found = self.action_file(ref)
                if found is not None and found not in files:
                    files[found] = (self.root / found).read_bytes().decode("utf-8", "replace")
                    waiting.append(files[found])
        return files

    def action_file(self, spec: str) -> str | None:
        """The file a `ws:` action names, as the server resolves it: `<spec>`, `<spec>.yml`,
        `<spec>.yaml` in the project folder, then in the config folder; None when none exists."""
        parts = [part for part in spec.replace("\\", "/").split("/") if part not in ("", ".")]
        if not parts or ".." in parts or spec.startswith("/"):
            return None  # the server reports it, with its position
        base = "/".join(parts)
        for folder in ("", self.config_dir + "/"):
            for suffix in ("", ".yml", ".yaml"):
                candidate = f"{folder}{base}{suffix}"
                if candidate.endswith((".yml", ".yaml")) and (self.root / candidate).is_file():
                    return candidate
        return None


def _ws_action_refs(text: str) -> list[str]:
    """What the `action: ws:…` keys of a flow or action file name. A file that is not valid YAML
    calls nothing here: the server's check says what is wrong with it."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(document, dict):
        return []
    jobs = document.get("jobs")
    tasks = document.get("tasks")
    bodies = [*(jobs.values() if isinstance(jobs, dict) else ()), *(tasks if isinstance(tasks, list) else ())]
    refs = []
    for body in bodies:
        action = body.get("action") if isinstance(body, dict) else None
        scheme, _, spec = action.partition(":") if isinstance(action, str) else ("", "", "")
        if scheme.strip() in ("ws", "workspace"):
            refs.append(spec.strip())
    return refs


def find_project(start: Path | None = None) -> Project:
    """The first folder from `start` (default: the current one) upwards with a config folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_DIRS:
            if (folder / name).is_dir():
                return Project(folder, name)
    raise bad_input(f"no flow project here: neither {here} nor a folder above it has a .apolo/ or .neuro/ folder")


def _store_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_META_FOLDER] = check_storage(value)


def folder_option(f: F) -> F:
    """`--folder storage:PATH`, accepted on `kiln flow` and on each verb."""
    return click.option(
        "--folder",
        metavar="storage:PATH",
        expose_value=False,
        callback=_store_folder,
        help=f"The project's storage folder (default: storage:<local folder name>, or ${FOLDER_ENV}).",
    )(f)


def explicit_folder(app: App) -> str | None:
    """`--folder`, else `$KILN_FLOW_FOLDER`, else None."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get(_META_FOLDER) if ctx is not None else None
    if chosen:
        return str(chosen)
    env = app.environ.get(FOLDER_ENV, "").strip()
    return check_storage(env) if env else None


def flow_folder(app: App, project: Project) -> str:
    return explicit_folder(app) or f"storage:{project.root.name}"


def folder_name(app: App, project: Project) -> str:
    """The last name of the storage folder: the project id when project.yml has none."""
    rest = flow_folder(app, project).split(":", 1)[1]
    return rest.rstrip("/").rsplit("/", 1)[-1] or project.root.name


def sync(app: App, client: KilnClient, project: Project) -> dict[str, Any]:
    """Write the local config files into the project's storage folder and (re)import the flow."""
    body = {"folder": flow_folder(app, project), "files": project.config_files()}
    flow = client.post(SYNC, body)
    if not isinstance(flow, dict) or not isinstance(flow.get("id"), str):
        raise KilnError(f"unexpected answer from server for POST {SYNC}: no flow id")
    return flow


def flow_path(flow: dict[str, Any], *parts: str) -> str:
    tail = "".join(f"{quote(part, safe='')}/" for part in parts)
    return f"{FLOWS}{quote(str(flow['id']), safe='')}/{tail}"


def bake_path(bake_id: str, action: str = "") -> str:
    path = f"{BAKES}{quote(bake_id, safe='')}/"
    return f"{path}{action}/" if action else path


# --- params, errors ------------------------------------------------------------------------------


def parse_params(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """`--param NAME VALUE` pairs (repeatable; the last one of a name wins)."""
    params: dict[str, str] = {}
    for name, value in pairs:
        key = name.strip()
        if not key or any(c.isspace() or c in "=.\x00" for c in key):
            raise bad_input(f"{name!r} is not a param name: use --param NAME VALUE")
        params[key] = value
    return params


param_option = click.option(
    "-p",
    "--param",
    "params",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="Set a param (repeatable).",
)


def error_text(error: dict[str, Any]) -> str:
    """`file:line:column: message` (the server's `text`, or built from the fields)."""
    if error.get("text"):
        return str(error["text"])
    where = ":".join(str(error.get(k)) for k in ("file", "line", "column") if error.get(k) not in (None, ""))
    return f"{where}: {error.get('message')}" if where else str(error.get("message"))


def config_errors(error: KilnError) -> list[dict[str, Any]] | None:
    """The `file:line:column` errors of a 422 about the flow's config, if that is what it is."""
    details = error.details
    if error.status != 422 or not isinstance(details, dict) or not isinstance(details.get("errors"), list):
        return None
    return [e for e in details["errors"] if isinstance(e, dict)]


def report_config_errors(error: KilnError, what: str) -> KilnError:
    """A 422 about the config: every `file:line:column: message` on stderr, then one line (exit
    65). Any other error is returned as it is."""
    errors = config_errors(error)
    if not errors:
        return error
    for item in errors:
        click.echo(error_text(item), err=True)
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    return KilnError(f"unprocessable: {what}: the flow configuration has {count}", ExitCode.BAD_INPUT)


# --- volumes, as the server evaluates them --------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    """A volume of the flow, every expression evaluated by the server (`GET …/volumes/`)."""

    name: str
    file: str  # where it is defined, e.g. `.neuro/live.yml`
    remote: str
    local: str | None

    @property
    def has_local(self) -> bool:
        return isinstance(self.local, str) and bool(self.local.strip())


@dataclass(frozen=True)
class FlowVolumes:
    """The flow's volumes (project.yml's, then live.yml's, which win on a name clash) and, when
    asked about a live job, the ones it marks with `upload(volumes.NAME)`."""

    project: Project
    volumes: dict[str, Volume]
    uploads: list[str]

    def remote(self, volume: Volume) -> str:
        remote = volume.remote.strip()
        if not remote.startswith("storage:"):
            raise bad_input(f"volume {volume.name} ({volume.file}): remote {remote!r} is not a storage: path")
        return check_storage(remote)

    def local(self, volume: Volume) -> Path:
        path = Path(str(volume.local).strip()).expanduser()
        return path if path.is_absolute() else self.project.root / path

    def select(self, names: Sequence[str]) -> list[Volume]:
        """The named volumes (each must have `local`), or all that have one."""
        if not names:
            chosen = [v for v in self.volumes.values() if v.has_local]
            if not chosen:
                raise bad_input("no volume of this flow has a local folder (volumes: … local: in live.yml)")
            return chosen
        chosen = []
        for name in dict.fromkeys(names):
            volume = self.volumes.get(name)
            if volume is None:
                known = ", ".join(sorted(self.volumes)) or "none"
                raise bad_input(f"no volume {name!r} in live.yml or project.yml (volumes: {known})")
            if not volume.has_local:
                raise bad_input(f"volume {name} ({volume.file}) has no local folder to copy")
            chosen.append(volume)
        return chosen


def flow_volumes(
    client: KilnClient,
    flow: dict[str, Any],
    project: Project,
    *,
    job: str | None = None,
    params: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> FlowVolumes:
    """`GET /api/v1/flows/<id>/volumes/` (after the sync): the volumes, and with `job` what that
    live job uploads. A config error is every `file:line:column: message` on stderr, exit 65."""
    path = flow_path(flow, "volumes")
    pairs = [f"{name}={value}" for name, value in (params or {}).items()]
    query = {"job": job, "param": pairs or None, "arg": list(args) or None}
    try:
        answer = client.get(path, params=query)
    except KilnError as error:
        raise report_config_errors(error, f"live job {job}" if job else "volumes") from None
    items = answer.get("volumes") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise KilnError(f"unexpected answer from server for GET {path}: no volumes")
    volumes: dict[str, Volume] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("remote"), str):
            local = item.get("local")
            volumes[item["id"]] = Volume(
                item["id"], str(item.get("file") or ""), item["remote"], local if isinstance(local, str) else None
            )
    marked = answer.get("uploads")
    uploads = [str(name) for name in marked] if isinstance(marked, list) else []
    return FlowVolumes(project, volumes, uploads)


def shown_path(path: Path, root: Path) -> str:
    """`./data` for a folder of the project, the path as it is otherwise."""
    try:
        return "./" + path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def copy_volumes(
    client: KilnClient,
    out: Output,
    config: FlowVolumes,
    volumes: Sequence[Volume],
    *,
    upload: bool,
    quiet: bool = False,
    retries: int = transfer.RETRIES,
) -> Outcomes:
    """Copy each volume's local folder to its remote (upload) or back, like `kiln cp -r -T`:
    the folder's contents land *at* the destination, files there are replaced."""
    outcomes = Outcomes(out)
    opts = CopyOptions(recursive=True, no_clobber=False, chunk_size=transfer.DEFAULT_CHUNK, retries=retries)
    plans = []
    for volume in volumes:
        remote, local = config.remote(volume), config.local(volume)
        src, dst = (str(local), remote) if upload else (remote, str(local))
        if not out.json_mode:
            shown = shown_path(local, config.project.root)
            arrow = f"{shown} -> {remote}" if upload else f"{remote} -> {shown}"
            out.info(f"{'Uploading' if upload else 'Downloading'} volume {volume.name}: {arrow}")
        try:
            if upload:
                plans.append(plan_upload(client, str(local), remote, False, opts, out.warn))
            else:
                local.parent.mkdir(parents=True, exist_ok=True)
                plans.append(plan_download(client, remote, local, False, opts))
        except KilnError as error:
            outcomes.fail(src, error)
        except OSError as exc:
            outcomes.fail(src, KilnError(f"{exc.strerror or exc}: {exc.filename or src}"))
    run_items(client, out, plans, opts, outcomes, quiet=quiet, total=True)
    return outcomes


# --- following a bake ------------------------------------------------------------------------------


class BakeFollower:
    """Prints one line per task transition (`task-id  running`), each exactly once, whatever
    order `state` snapshots (after a reconnect) and `task.status` events arrive in."""

    def __init__(self, bake_id: str, write: Callable[[str], None]) -> None:
        self.bake_id = bake_id
        self.write = write
        self.attempt: int | None = None
        self.seen: dict[str, str] = {}
        self.status: str | None = None

    def state(self, bake: dict[str, Any]) -> None:
        attempt = bake.get("attempt") if isinstance(bake.get("attempt"), dict) else None
        if attempt is not None:
            number = attempt.get("number")
            if self.attempt is not None and number != self.attempt:
                click.echo(f"Attempt {number} of {self.bake_id}", err=True)
                self.seen.clear()
            self.attempt = number
            for task in attempt.get("tasks") or []:
                if isinstance(task, dict):
                    self.task(task)
        if isinstance(bake.get("status"), str):
            self.status = bake["status"]

    def task(self, task: dict[str, Any]) -> None:
        task_id, status = task.get("id"), task.get("status")
        if not isinstance(task_id, str) or not isinstance(status, str):
            return
        if self.seen.get(task_id, "pending") == status:
            return
        self.seen[task_id] = status
        shown = outcome(status, task.get("reason")) if status in TASK_FINAL else status
        self.write(f"{task_id}  {shown}")

    def event(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "state" and isinstance(message.get("bake"), dict):
            self.state(message["bake"])
        elif kind == "task.status" and isinstance(message.get("task"), dict):
            if message.get("bake_id", self.bake_id) == self.bake_id and message.get("attempt") == self.attempt:
                self.task(message["task"])
        elif kind in ("bake.status", "bake.created", "bake.restarted") and isinstance(message.get("bake"), dict):
            bake = message["bake"]
            if bake.get("id") == self.bake_id and isinstance(bake.get("status"), str):
                self.status = bake["status"]

    @property
    def finished(self) -> bool:
        return self.status in FINAL


def follow_bake(
    client: KilnClient,
    bake_id: str,
    write: Callable[[str], None] = click.echo,
    *,
    give_up_after: float = RECONNECT_GIVE_UP,
) -> dict[str, Any]:
    """Follow `/ws/bakes/<id>/` until the bake ends (reconnecting, and resyncing from the `state`
    each connection starts with); return its final detail, read once more over REST so no
    transition is missed."""
    follower = BakeFollower(bake_id, write)
    path = f"/ws/bakes/{quote(bake_id, safe='')}/"
    with closing(ws.messages(client.base_url, client.token, path, give_up_after=give_up_after)) as stream:
        for message in stream:
            follower.event(message)
            if follower.finished:
                break
    final = client.get(bake_path(bake_id))
    if not isinstance(final, dict):
        raise KilnError(f"unexpected answer from server for GET {bake_path(bake_id)}: not an object")
    follower.state(final)
    return final


def finish_bake(bake: dict[str, Any]) -> None:
    """Exit 0 when the bake succeeded; one line on stderr and exit 1 otherwise."""
    if bake.get("status") != "succeeded":
        raise KilnError(f"bake {bake.get('id')} {bake.get('status')}", ExitCode.ERROR)


def follow_or_detach(out: Output, client: KilnClient, bake: dict[str, Any]) -> None:
    try:
        final = follow_bake(client, str(bake["id"]), out.line)
    except KeyboardInterrupt:
        out.info(f"\nStopped following {bake['id']}; it keeps running.")
        out.info(f"  look at it: kiln flow inspect {bake['id']}")
        out.info(f"  cancel it:  kiln flow cancel {bake['id']}")
        raise click.exceptions.Exit(INTERRUPTED) from None
    finish_bake(final)


def bake_detail_of(answer: Any, what: str) -> dict[str, Any]:
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise KilnError(f"unexpected answer from server for {what}: no bake id")
    return answer


# --- verbs -------------------------------------------------------------------------------------------


@click.group()
@folder_option
def flow() -> None:
    """Flows: apolo-flow projects (.apolo/ or .neuro/ folders) on Kiln.

    Run from a project folder (or below it): the first folder upwards with a .apolo/ or
    .neuro/ folder is the project. Its storage folder is storage:<folder name>, or --folder
    storage:PATH, or $KILN_FLOW_FOLDER. Verbs that act on the flow first sync the local config
    files to that folder, which creates or refreshes the flow.

    \b
    Examples:
      kiln flow init demo && cd demo
      kiln flow check
      kiln flow run train --param epochs 5
      kiln flow bake pipeline
      kiln flow inspect bake-… --output-graph graph.svg
    """


@flow.command("init")
@click.argument("name", default="my_flow")
@click.option("--title", help="The flow's title (default: from NAME).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@folder_option
@json_option
@pass_app
def init(app: App, name: str, title: str | None, quiet: bool) -> None:
    """Create a project from Kiln's template in storage:NAME and download it into ./NAME.

    NAME is lower-case letters, digits and _. The template has live jobs (train, server,
    shell), a pipeline batch (prepare → train → report) and volumes with local folders.
    --json prints the created flow.

    \b
    Examples:
      kiln flow init demo
      kiln flow init demo --title 'Demo project' --folder storage:projects/demo
    """
    target = Path(name)
    if target.exists() or target.is_symlink():
        raise KilnError(f"conflict: ./{name} exists already; choose another name", ExitCode.CONFLICT)
    body: dict[str, Any] = {"template": True, "name": name}
    if title:
        body["title"] = title
    folder = explicit_folder(app)
    if folder:
        body["folder"] = folder
    out = app.out
    with app.client() as client:
        created = client.post(FLOWS, body)
        if not isinstance(created, dict) or not isinstance(created.get("folder"), str):
            raise KilnError(f"unexpected answer from server for POST {FLOWS}: no folder")
        opts = CopyOptions(
            recursive=True, no_clobber=False, chunk_size=transfer.DEFAULT_CHUNK, retries=transfer.RETRIES
        )
        outcomes = Outcomes(out)  # failures on stderr as they happen; the files are not listed
        plans = [plan_download(client, created["folder"], target, False, opts)]
        run_items(client, out, plans, opts, outcomes, quiet=quiet, total=True)
        if outcomes.codes:
            code = outcomes.codes.pop() if len(outcomes.codes) == 1 else ExitCode.ERROR
            raise KilnError(
                f"the flow was created in {created['folder']} but ./{name} is incomplete: "
                f"kiln cp -r {created['folder']} ./{name}",
                code,
            )

    def human() -> None:
        out.line(f"Created {created.get('uri')} in ./{name} (stored in {created['folder']})")
        out.info(f"Next: cd {name} && kiln flow run train")

    out.emit(created, human)


@flow.command("check")
@folder_option
@json_option
@pass_app
def check(app: App) -> None:
    """Check the local config files on the server, without syncing anything.

    Prints each problem as file:line:column: message (paths relative to the project folder),
    or OK; exits 1 when there is an error. --json prints the server's answer.

    \b
    Examples:
      kiln flow check
      kiln flow check --json | jq -r '.errors[].text'
    """
    project = find_project()
    body = {
        "files": project.config_files(),
        "config_dir": project.config_dir,
        "folder_name": folder_name(app, project),
    }
    with app.client() as client:
        answer = client.post(CHECK, body)
    if not isinstance(answer, dict):
        raise KilnError(f"unexpected answer from server for POST {CHECK}: not an object")
    errors = [e for e in answer.get("errors") or [] if isinstance(e, dict)]
    warnings = [e for e in answer.get("warnings") or [] if isinstance(e, dict)]
    out = app.out

    def human() -> None:
        for item in errors:
            out.line(error_text(item))
        for item in warnings:
            text = error_text(item)
            message = str(item.get("message") or "")
            out.line(text[: len(text) - len(message)] + "warning: " + message if message else text)
        if not errors:
            out.line("OK")

    out.emit(answer, human)
    if errors or answer.get("ok") is False:
        if not out.json_mode:
            count = len(errors)
            click.echo(f"kiln: {count} error{'s' if count != 1 else ''} in {project.config_dir}/", err=True)
        raise click.exceptions.Exit(ExitCode.ERROR)


def _volume_verb(app: App, names: tuple[str, ...], quiet: bool, upload: bool) -> None:
    project = find_project()
    out = app.out
    with app.client() as client:
        config = flow_volumes(client, sync(app, client, project), project)
        volumes = config.select(names)
        for volume in volumes:  # refuse what cannot be copied before copying anything
            config.remote(volume)
            config.local(volume)
        outcomes = copy_volumes(client, out, config, volumes, upload=upload, quiet=quiet)
    outcomes.finish()


@flow.command("upload")
@click.argument("volumes", nargs=-1, metavar="[VOLUME...]")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@folder_option
@json_option
@pass_app
def upload(app: App, volumes: tuple[str, ...], quiet: bool) -> None:
    """Upload volumes' local folders to their remote (default: every volume with local:).

    Volumes come from live.yml and project.yml, evaluated by the server after the sync (any
    expression a job may use); local is relative to the project folder. Like kiln cp -r: the
    folder's files are uploaded into remote, existing ones replaced. --json prints one
    {action, src, dst, size} per file.

    \b
    Examples:
      kiln flow upload
      kiln flow upload data code
    """
    _volume_verb(app, volumes, quiet, upload=True)


@flow.command("download")
@click.argument("volumes", nargs=-1, metavar="[VOLUME...]")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@folder_option
@json_option
@pass_app
def download(app: App, volumes: tuple[str, ...], quiet: bool) -> None:
    """Download volumes' remote folders into their local folder (default: every volume with local:).

    The reverse of kiln flow upload: files are written into the local folder (created if
    needed), existing ones replaced. --json prints one {action, src, dst, size} per file.

    \b
    Examples:
      kiln flow download results
      kiln flow download
    """
    _volume_verb(app, volumes, quiet, upload=False)


@flow.command("ps")
@folder_option
@json_option
@pass_app
def ps(app: App) -> None:
    """List the flow's live jobs with their latest run: JOB, STATUS, RAW ID, WHEN.

    A multi job has a row per running instance, JOB being "JOB SUFFIX" (what kiln flow kill
    takes), or its latest run when none is running.

    --json prints the rows ({id, title, multi, params, suffix, status, raw_id, when, run}).

    \b
    Examples:
      kiln flow ps
      kiln flow ps --json | jq -r '.[] | select(.status == "running") | .raw_id'
    """
    project = find_project()
    with app.client() as client:
        synced = sync(app, client, project)
        detail = client.get(flow_path(synced))
    jobs = [j for j in (detail.get("live_jobs") if isinstance(detail, dict) else None) or [] if isinstance(j, dict)]
    out = app.out
    rows = [[live_name(j), j.get("status"), j.get("raw_id"), relative_time(j.get("when"))] for j in jobs]
    out.emit(jobs, lambda: out.table(PS_COLUMNS, rows, empty="No live jobs (jobs: in live.yml)."))


def live_name(row: dict[str, Any]) -> str:
    """A ps row's JOB: the job id, and for an instance of a multi job its suffix (`shell 3f9a0c`)."""
    return f"{row.get('id')} {row['suffix']}" if row.get("suffix") else str(row.get("id"))


@flow.command("run")
@click.argument("job")
@click.argument("args", nargs=-1, metavar="[-- ARGS...]")
@param_option
@click.option("-d", "--detach", is_flag=True, help="Print the job id and return, without following its log.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars for the volume uploads.")
@folder_option
@json_option
@pass_app
def run(
    app: App, job: str, args: tuple[str, ...], params: tuple[tuple[str, str], ...], detach: bool, quiet: bool
) -> None:
    """Run live job JOB; print its job id, then follow its log like kiln logs.

    Syncs the flow, uploads the volumes the job marks with upload(volumes.NAME), then starts
    the job. A job that is already running (and not multi) is attached to instead of started
    twice. ARGS after -- go to a multi job (multi.args). Exits like kiln logs: 0 when the job
    succeeded, 1 otherwise; Ctrl-C detaches. --json prints {started, job} and does not follow.

    \b
    Examples:
      kiln flow run train --param epochs 5
      kiln flow run -d server
      kiln flow run shell -- --verbose
    """
    given = parse_params(params)
    body = {"params": given, "args": list(args)}
    project = find_project()
    out = app.out
    with app.client() as client:
        synced = sync(app, client, project)
        config = flow_volumes(client, synced, project, job=job, params=given, args=args)
        if config.uploads:  # what rendering the job (with these params) passed to upload()
            volumes = config.select(config.uploads)
            outcomes = copy_volumes(client, out, config, volumes, upload=True, quiet=quiet)
            if outcomes.codes:
                code = outcomes.codes.pop() if len(outcomes.codes) == 1 else ExitCode.ERROR
                raise KilnError(f"not starting {job}: uploading its volumes failed", code)
        try:
            answer = client.post(flow_path(synced, "live", job, "run"), body)
        except KilnError as error:
            raise report_config_errors(error, f"live job {job}") from None
        started = answer.get("job") if isinstance(answer, dict) else None
        if not isinstance(started, dict) or not isinstance(started.get("id"), str):
            raise KilnError(f"unexpected answer from server for POST {flow_path(synced, 'live', job, 'run')}: no job")
        if out.json_mode:
            out.json(answer)
            return
        out.line(started["id"])
        if answer.get("started"):
            out.info(f"Started {job} as {started.get('name') or started['id']}")
        else:
            out.info(f"Attached to the running {job} ({started.get('name') or started['id']}, {started.get('status')})")
        if detach:
            return
        try:
            attach(client, started)
        except KeyboardInterrupt:
            out.info(f"\nDetached from {started['id']}; it keeps running.")
            out.info(f"  re-attach: kiln logs {started['id']}")
            suffix = next((t[len("multi:"):] for t in started.get("tags") or [] if str(t).startswith("multi:")), None)
            out.info(f"  stop it:   kiln flow kill {job}{f' {suffix}' if suffix else ''}")
            raise click.exceptions.Exit(INTERRUPTED) from None


@flow.command("kill")
@click.argument("job")
@click.argument("suffix", required=False)
@folder_option
@json_option
@pass_app
def kill(app: App, job: str, suffix: str | None) -> None:
    """Kill live job JOB (its running run, else its latest); print the killed job's id.

    A multi job needs the SUFFIX of the instance to kill (kiln flow ps shows it next to the job);
    other jobs take none. A run that has already finished is exit 7; a job or instance that
    never ran is exit 4. --json prints the killed job.

    \b
    Examples:
      kiln flow kill server
      kiln flow kill shell 3f9a0c
    """
    project = find_project()
    out = app.out
    with app.client() as client:
        synced = sync(app, client, project)
        path = flow_path(synced, "live", job, "kill")
        try:
            killed = client.post(path, {"suffix": suffix} if suffix else {})
        except KilnError as error:
            running = error.details.get("running") if isinstance(error.details, dict) else None
            if error.status == 400 and isinstance(running, list):
                listed = ", ".join(str(s) for s in running) or "none"
                raise bad_input(f"{job} is a multi job: say which instance, kiln flow kill {job} SUFFIX "
                                f"(running: {listed})") from None
            raise
    if not isinstance(killed, dict) or not isinstance(killed.get("id"), str):
        raise KilnError(f"unexpected answer from server for POST {path}: no job")
    out.emit(killed, lambda: out.line(killed["id"]))


@flow.command("bake")
@click.argument("batch")
@param_option
@click.option("-n", "--name", help="Name the bake.")
@click.option("-t", "--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("-d", "--detach", is_flag=True, help="Print the bake id and return, without following it.")
@folder_option
@json_option
@pass_app
def bake(
    app: App, batch: str, params: tuple[tuple[str, str], ...], name: str | None, tags: tuple[str, ...], detach: bool
) -> None:
    """Start a bake of BATCH (.neuro/BATCH.yml); print its id, then follow it to the end.

    Prints one line per task transition (`task-id  running`) and exits 0 when the bake
    succeeded, 1 when it failed or was cancelled. Config errors are printed as
    file:line:column: message (exit 65). Ctrl-C stops following; the bake goes on.
    --json prints the bake and does not follow.

    \b
    Examples:
      kiln flow bake pipeline
      kiln flow bake pipeline --param epochs 3 --name nightly -t exp-7
      BAKE=$(kiln flow bake -d pipeline)
    """
    body: dict[str, Any] = {"batch": batch, "params": parse_params(params), "tags": list(tags)}
    if name:
        body["name"] = name
    project = find_project()
    out = app.out
    with app.client() as client:
        synced = sync(app, client, project)
        try:
            started = client.post(flow_path(synced, "bakes"), body)
        except KilnError as error:
            raise report_config_errors(error, f"batch {batch}") from None
        detail = bake_detail_of(started, f"POST {flow_path(synced, 'bakes')}")
        if out.json_mode:
            out.json(detail)
            return
        out.line(detail["id"])
        if not detach:
            follow_or_detach(out, client, detail)


@flow.command("bakes")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Show at most N bakes (newest first).")
@folder_option
@json_option
@pass_app
def bakes(app: App, limit: int | None) -> None:
    """List the flow's bakes, newest first: ID, NAME, BATCH, STATUS, WHEN.

    --json prints the server's bake objects.

    \b
    Examples:
      kiln flow bakes --limit 10
      kiln flow bakes --json | jq -r '.[] | select(.status == "failed") | .id'
    """
    project = find_project()
    params = {"limit": min(limit, BAKE_PAGE) if limit else BAKE_PAGE}
    with app.client() as client:
        synced = sync(app, client, project)
        found = [
            b for b in islice(client.paginate(flow_path(synced, "bakes"), params=params), limit) if isinstance(b, dict)
        ]
    out = app.out
    rows = [
        [
            b.get("id"),
            b.get("name"),
            b.get("batch"),
            b.get("status"),
            relative_time(b.get("finished_at") or b.get("created_at")),
        ]
        for b in found
    ]
    out.emit(found, lambda: out.table(BAKES_COLUMNS, rows, empty="No bakes."))


def graph_format(path: str, flag: str | None) -> str:
    if flag:
        return flag
    fmt = GRAPH_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise bad_input(
            f"cannot tell the graph format from {path!r}: name it .dot, .svg or .pdf, or give --dot/--svg/--pdf"
        )
    return fmt


@flow.command("inspect")
@click.argument("bake_id", metavar="BAKE")
@click.option("--attempt", type=click.IntRange(min=1), metavar="N", help="This attempt (default: the latest).")
@click.option("--output-graph", "graph", metavar="FILE", help="Write the bake's graph (coloured by status) to FILE.")
@click.option("--dot", "fmt", flag_value="dot", help="Write the graph as Graphviz DOT.")
@click.option("--svg", "fmt", flag_value="svg", help="Write the graph as SVG (needs Graphviz on the server).")
@click.option("--pdf", "fmt", flag_value="pdf", help="Write the graph as PDF (needs Graphviz on the server).")
@json_option
@pass_app
def inspect(app: App, bake_id: str, attempt: int | None, graph: str | None, fmt: str | None) -> None:
    """Show a bake's attempt and its tasks: ID, STATUS, RAW ID, STARTED, FINISHED.

    With --output-graph FILE the graph is written too, in the format of --dot/--svg/--pdf or
    else of FILE's extension (.dot, .gv, .svg, .pdf). Works from anywhere (no project needed).
    --json prints the bake ({…, attempts, attempt: {…, tasks}}).

    \b
    Examples:
      kiln flow inspect bake-0c5e…
      kiln flow inspect bake-0c5e… --attempt 1 --output-graph graph.svg
      kiln flow inspect bake-0c5e… --output-graph g.txt --dot
    """
    if fmt and not graph:
        raise click.UsageError("--dot, --svg and --pdf go with --output-graph FILE")
    kind = graph_format(graph, fmt) if graph else None
    out = app.out
    with app.client() as client:
        answer = client.get(bake_path(bake_id), params={"attempt": attempt})
        detail = bake_detail_of(answer, "GET " + bake_path(bake_id))
        if graph and kind:
            response = client.fetch("GET", bake_path(bake_id, "graph"), params={"format": kind, "attempt": attempt})
            Path(graph).write_bytes(response.content)
    chosen = detail.get("attempt") if isinstance(detail.get("attempt"), dict) else {}
    tasks = [t for t in chosen.get("tasks") or [] if isinstance(t, dict)]

    def human() -> None:
        total = len(detail.get("attempts") or []) or None
        number = chosen.get("number")
        out.fields(
            [
                ("Bake", detail.get("id")),
                ("Batch", detail.get("batch")),
                ("Name", detail.get("name")),
                ("Attempt", f"{number} of {total}" if total else number),
                ("Status", chosen.get("status")),
                ("From failed", chosen.get("from_failed")),
            ]
        )
        out.line()
        rows = [
            [
                t.get("id"),
                t.get("status"),
                t.get("raw_id"),
                local_time(t.get("started_at")),
                local_time(t.get("finished_at")),
            ]
            for t in tasks
        ]
        out.table(TASK_COLUMNS, rows, empty="No tasks.")

    out.emit(detail, human)
    if graph and not out.json_mode:
        out.info(f"Wrote the graph to {graph}")


@flow.command("cancel")
@click.argument("bake_id", metavar="BAKE")
@json_option
@pass_app
def cancel(app: App, bake_id: str) -> None:
    """Cancel a running bake: its running tasks are killed, pending ones cancelled.

    A bake that has finished already is exit 7. --json prints the bake.

    \b
    Examples:
      kiln flow cancel bake-0c5e…
    """
    out = app.out
    with app.client() as client:
        detail = bake_detail_of(client.post(bake_path(bake_id, "cancel")), "POST " + bake_path(bake_id, "cancel"))
    out.emit(detail, lambda: out.line(f"{detail['id']} {detail.get('status')}"))


@flow.command("restart")
@click.argument("bake_id", metavar="BAKE")
@click.option("--no-from-failed", is_flag=True, help="Run every task again (default: only those that did not succeed).")
@click.option("-d", "--detach", is_flag=True, help="Print the bake id and return, without following it.")
@json_option
@pass_app
def restart(app: App, bake_id: str, no_from_failed: bool, detach: bool) -> None:
    """Restart a finished bake as a new attempt, then follow it like kiln flow bake.

    By default the tasks that succeeded (or were cached) keep their results and only the
    others run again. A bake that is still running is exit 7. --json prints the bake and
    does not follow.

    \b
    Examples:
      kiln flow restart bake-0c5e…
      kiln flow restart --no-from-failed -d bake-0c5e…
    """
    out = app.out
    with app.client() as client:
        answer = client.post(bake_path(bake_id, "restart"), {"from_failed": not no_from_failed})
        detail = bake_detail_of(answer, "POST " + bake_path(bake_id, "restart"))
        if out.json_mode:
            out.json(detail)
            return
        out.line(detail["id"])
        number = detail.get("attempt", {}).get("number") if isinstance(detail.get("attempt"), dict) else None
        if number:
            out.info(f"Attempt {number} started")
        if not detach:
            follow_or_detach(out, client, detail)


COMMANDS: list[click.Command] = [flow]
