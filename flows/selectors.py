"""Reads of the flows app: flows and bakes visible to a user, a flow's config files (read from
its storage folder on demand), live jobs with their latest runs, bake graphs."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from console.errors import Forbidden, InvalidInput, NotFound, Unavailable, Unprocessable
from console.models import Level
from console.selectors import access_level, granted_prefixes, owner_and_name, uri_within_q
from console.uris import parse_uri
from flows import spec
from flows.models import Bake, BakeAttempt, BakeTask, Flow
from flows.spec.contexts import glob_to_regex
from jobs.models import ACTIVE_STATUSES, Job, JobTag
from storage.backends.base import key_for
from storage.selectors import backend_for, storage_uri

CONFIG_DIRS = (".apolo", ".neuro")
MULTI_TAG = "multi:"  # a multi live job's run carries multi:<suffix>
MAX_CONFIG_BYTES = 1 << 20  # a config file larger than this is not YAML anyone wrote by hand


# --- access ------------------------------------------------------------------------------------------


def flow_level(user: AbstractBaseUser, flow: Flow) -> Level | None:
    return access_level(user, flow.uri)


def ensure_flow_access(user: AbstractBaseUser, flow: Flow, level: Level) -> Level:
    held = flow_level(user, flow)
    if held is None:
        raise NotFound(f"No such flow: {flow.flow_id}")
    if held < level:
        raise Forbidden(f"You need {level.codename} access to flow {flow.flow_id}; you have {held.codename}")
    return held


def flow_list_visible(*, user: AbstractBaseUser) -> QuerySet[Flow]:
    prefixes = granted_prefixes(user, scheme="flow", level=Level.READ)
    return Flow.objects.filter(Q(owner=user) | uri_within_q("uri", prefixes)).select_related("owner")


def flow_get_visible(*, user: AbstractBaseUser, ref: str) -> Flow:
    """A flow by id (the caller's) or by URI (``flow:x``, ``flow:/alice/x``, ``flow://c/alice/x``)."""
    owner, flow_id = owner_and_name(user=user, ref=ref, scheme="flow")
    flow = Flow.objects.select_related("owner").filter(owner__username=owner, flow_id=flow_id).first()
    if flow is None or flow_level(user, flow) is None:
        raise NotFound(f"No such flow: {ref}")
    return flow


def bake_uri(bake: Bake) -> str:
    """Bakes live under their flow's URI: sharing a flow shares its bakes."""
    return f"{bake.flow.uri}/{bake.pk}"


def bake_get_visible(*, user: AbstractBaseUser, bake_id: str) -> Bake:
    bake = Bake.objects.select_related("flow", "flow__owner", "created_by").filter(pk=bake_id).first()
    if bake is None or flow_level(user, bake.flow) is None:
        raise NotFound(f"No such bake: {bake_id}")
    return bake


def bake_list(*, flow: Flow) -> QuerySet[Bake]:
    return flow.bakes.select_related("flow", "flow__owner", "created_by")


# --- config files in storage ---------------------------------------------------------------------------


class StorageFileSource:
    """``hash_files`` and ``upload`` read the flow's folder straight from the storage backend."""

    def __init__(self, folder_uri: str) -> None:
        self.key = key_for(parse_uri(folder_uri))
        self._paths: list[str] | None = None

    def _all(self) -> list[str]:
        if self._paths is None:
            self._paths = sorted(path for path, entry in backend_for().walk(self.key) if not entry.is_dir)
        return self._paths

    def glob(self, pattern: str) -> Iterable[str]:
        regex = glob_to_regex(pattern)
        return [path for path in self._all() if regex.match(path)]

    def read(self, path: str) -> bytes:
        return b"".join(backend_for().read(self.key.child(*path.split("/"))))


def flow_config_files(*, folder_uri: str) -> tuple[str, dict[str, str]]:
    """The config folder (``.apolo`` before ``.neuro``) of a project folder in storage and the text
    of its YAML files, as paths relative to the project folder. NotFound when there is none."""
    backend = backend_for()
    folder = key_for(parse_uri(folder_uri))
    for config_dir in CONFIG_DIRS:
        entry = backend.stat(folder.child(config_dir))
        if entry is None or not entry.is_dir:
            continue
        files: dict[str, str] = {}
        for path, item in backend.walk(folder.child(config_dir)):
            if item.is_dir or not path.endswith((".yml", ".yaml")) or (item.size or 0) > MAX_CONFIG_BYTES:
                continue
            data = b"".join(backend.read(folder.child(config_dir, *path.split("/"))))
            files[f"{config_dir}/{path}"] = data.decode("utf-8", "replace")
        return config_dir, files
    raise NotFound(f"{folder_uri} has no .apolo/ or .neuro/ config folder: it is not a flow project")


def flow_eval_env(*, flow: Flow, username: str) -> spec.EvalEnv:
    return spec.EvalEnv(username=username, owner=flow.owner.username, workspace=flow.storage_uri,
                        files=StorageFileSource(flow.storage_uri))


_BATCH_KIND = re.compile(r"^kind:[ \t]*['\"]?batch['\"]?[ \t]*(#.*)?$", re.MULTILINE)
# Top-level keys only an action file has (an older batch action says ``kind: batch``).
_ACTION_KEY = re.compile(r"^(inputs|outputs|author|descr|name|job):", re.MULTILINE)
_WS_REF = re.compile(r"\b(?:ws|workspace):[ \t]*['\"]?([^\s'\"#]+)")
_CONFIG_DIRS = (".neuro", ".apolo")


def _batch_id_of(path: str) -> str | None:
    """The batch id a config file would define (its name; ``-`` becomes ``_``), if it is one."""
    where = PurePosixPath(path)
    if where.parent.as_posix() in _CONFIG_DIRS and where.suffix in (".yml", ".yaml"):
        return where.stem.replace("-", "_")
    return None


def files_for_batch(files: Mapping[str, Any], batch: str) -> dict[str, Any]:
    """The config files without the flow's other batch files: planning a batch never refers to
    them, and parsing a 1,000-task batch took 0.3 s for every bake of the flow, whatever its batch.
    Told without parsing, so in doubt a file stays: one that may be an action (it has an action's
    keys, or a ``ws:`` reference in any file may name it) is kept."""
    referenced = {PurePosixPath(ref).stem for text in files.values() if isinstance(text, str)
                  for ref in _WS_REF.findall(text)}

    def other_batch(path: str, text: Any) -> bool:
        return (_batch_id_of(path) not in (None, batch) and isinstance(text, str) and bool(_BATCH_KIND.search(text))
                and not _ACTION_KEY.search(text) and PurePosixPath(path).stem not in referenced)

    return {path: text for path, text in files.items() if not other_batch(path, text)}


def batch_ids(files: Mapping[str, Any]) -> set[str]:
    """The ids of the batches among ``files``, without parsing them."""
    return {batch for path, text in files.items()
            if (batch := _batch_id_of(path)) and isinstance(text, str) and _BATCH_KIND.search(text)}


def flow_load(*, flow: Flow, files: dict[str, str] | None = None) -> spec.ProjectLoad:
    """Parse the flow's config as it is now in storage (or the given config files of it); ``ws:``
    actions elsewhere in the flow's folder are read from storage as the parser finds them."""
    if files is None:
        _, files = flow_config_files(folder_uri=flow.storage_uri)
    return spec.load_project(files, config_dir=flow.config_dir, folder_name=_folder_name(flow.storage_uri),
                             read_file=flow_file_reader(folder_uri=flow.storage_uri))


def flow_file_reader(*, folder_uri: str) -> Callable[[str], bytes | None]:
    """Reads a YAML file of the flow's folder by its relative path (None when there is no such
    file, or it is too large to be a config file someone wrote)."""
    backend = backend_for()
    folder = key_for(parse_uri(folder_uri))

    def read(path: str) -> bytes | None:
        if not path.endswith((".yml", ".yaml")):
            return None
        key = folder.child(*path.split("/"))
        entry = backend.stat(key)
        if entry is None or entry.is_dir or (entry.size or 0) > MAX_CONFIG_BYTES:
            return None
        return b"".join(backend.read(key))

    return read


def _folder_name(folder_uri: str) -> str:
    return parse_uri(folder_uri).name


def errors_output(errors: Iterable[spec.FlowError]) -> list[dict[str, Any]]:
    return [{"file": e.file, "line": e.line, "column": e.column, "message": e.message, "text": str(e)}
            for e in errors]


def errors_for(errors: Any, *, batch: str | None = None, live: bool = False) -> list[spec.FlowError]:
    """The errors that matter for one use of the flow: a broken batch file must not stop the live
    jobs or another batch (project.yml and action files matter to all)."""
    relevant = []
    for error in errors:
        stem = PurePosixPath(error.file).stem
        is_live = stem == "live"
        is_batch = not is_live and stem != "project" and PurePosixPath(error.file).parent.name in (".apolo", ".neuro")
        if is_live and not live:
            continue
        if is_batch and stem.replace("-", "_") != batch and not _is_action(error.file):
            continue
        relevant.append(error)
    return relevant


def _is_action(path: str) -> bool:
    return "action" in PurePosixPath(path).stem


def invalid_config(errors: Any) -> Unprocessable:
    listed = errors_output(errors)
    first = listed[0]["text"] if listed else "invalid flow configuration"
    more = f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""
    return Unprocessable(f"{first}{more}", details={"errors": listed})


# --- live jobs ----------------------------------------------------------------------------------------------


def live_job_runs(*, flow: Flow, job_id: str | None = None, suffix: str | None = None) -> QuerySet[Job]:
    """The runs of the flow's live jobs (of live job ``job_id``; of its instance ``suffix`` when
    it is multi), newest first, each with ``suffix_tags`` (its ``multi:<suffix>`` tag, if any)."""
    runs = Job.objects.filter(flow_id=flow.uri, bake_id="")
    if job_id is not None:
        runs = runs.filter(task_id=job_id)
    if suffix is not None:
        runs = runs.filter(tag_rows__tag=f"{MULTI_TAG}{suffix}")
    multi_tags = Prefetch("tag_rows", queryset=JobTag.objects.filter(tag__startswith=MULTI_TAG), to_attr="suffix_tags")
    return runs.select_related("owner").prefetch_related(multi_tags).order_by("-created_at", "-pk")


def run_suffix(job: Job) -> str | None:
    """The suffix of a multi job's run (its ``multi:<suffix>`` tag), None for other runs."""
    rows = getattr(job, "suffix_tags", None)
    tags = [row.tag for row in rows] if rows is not None else list(
        job.tag_rows.filter(tag__startswith=MULTI_TAG).values_list("tag", flat=True))
    return tags[0].removeprefix(MULTI_TAG) if tags else None


def flow_live_jobs(*, flow: Flow, project: spec.FlowProject) -> list[dict[str, Any]]:
    """The ``apolo-flow ps`` view: a row per live job with its latest run, except that a multi job
    has a row per running (or pending) instance, newest first, each with its suffix; with none
    running, its latest run. A job that never ran has one row without a run."""
    active: dict[str, list[Job]] = {}
    for job in live_job_runs(flow=flow).filter(status__in=ACTIVE_STATUSES):
        active.setdefault(job.task_id, []).append(job)
    infos = spec.list_live_jobs(project)
    # The latest run of each job that has none running, in one query (the page polls this).
    newest = (Job.objects.filter(flow_id=flow.uri, bake_id="", task_id=OuterRef("task_id"))
              .order_by("-created_at", "-pk").values("pk")[:1])
    latest = {job.task_id: job for job in live_job_runs(flow=flow).filter(
        task_id__in=[info.id for info in infos if info.id not in active], pk=Subquery(newest))}
    rows = []
    for info in infos:
        runs: list[Job | None] = list(active.get(info.id, []))
        if not info.multi:
            runs = runs[:1]  # one run at a time (the newest, should an older one linger)
        if not runs:
            runs = [latest.get(info.id)]
        for run in runs:
            rows.append({
                "id": info.id,
                "title": info.title,
                "multi": info.multi,
                "params": [{"name": p.name, "default": p.default, "descr": p.descr, "required": p.required}
                           for p in info.params],
                "suffix": run_suffix(run) if run and info.multi else None,
                "status": run.status if run else None,
                "raw_id": run.pk if run else None,
                "when": (run.started_at or run.created_at).isoformat() if run else None,
                "run": {"id": run.pk, "name": run.name, "status": run.status, "reason": run.reason} if run else None,
            })
    return rows


# --- bakes ------------------------------------------------------------------------------------------------


def bake_summary(bake: Bake) -> dict[str, Any]:
    return {
        "id": bake.pk,
        "flow": bake.flow.flow_id,
        "flow_uri": bake.flow.uri,
        "uri": bake_uri(bake),
        "batch": bake.batch,
        "name": bake.name,
        "params": bake.params,
        "tags": bake.tags,
        "status": bake.status,
        "created_by": bake.created_by.username,
        "created_at": bake.created_at.isoformat(),
        "finished_at": bake.finished_at.isoformat() if bake.finished_at else None,
    }


def task_output(task: BakeTask) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "base_id": task.base_id,
        "status": task.status,
        "reason": task.reason,
        "needs": task.needs,
        "matrix": task.matrix,
        "raw_id": task.job_id or None,
        "outputs": task.outputs,
        "carried_from": task.carried_from or None,
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
    }


def attempt_output(attempt: BakeAttempt, *, with_tasks: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": attempt.number,
        "status": attempt.status,
        "from_failed": attempt.from_failed,
        "created_at": attempt.created_at.isoformat(),
        "finished_at": attempt.finished_at.isoformat() if attempt.finished_at else None,
    }
    if with_tasks:
        body["tasks"] = [task_output(task) for task in attempt.tasks.all()]
    return body


def bake_detail(bake: Bake, *, user: AbstractBaseUser, attempt_number: int | None = None) -> dict[str, Any]:
    attempts = list(bake.attempts.all())
    chosen = next((a for a in attempts if a.number == attempt_number), attempts[-1] if attempts else None)
    if attempt_number is not None and (chosen is None or chosen.number != attempt_number):
        raise NotFound(f"Bake {bake.pk} has no attempt {attempt_number}")
    level = flow_level(user, bake.flow)
    return {
        **bake_summary(bake),
        "my_level": level.codename if level else None,
        "attempts": [attempt_output(a, with_tasks=False) for a in attempts],
        "attempt": attempt_output(chosen) if chosen else None,
        "graph_formats": graph_formats(),
    }


def last_attempt(bake: Bake) -> BakeAttempt:
    return bake.attempts.order_by("-number").first()


STATUS_COLOURS = {
    "pending": "#d0d4da", "running": "#7db7f0", "succeeded": "#8fd19e", "failed": "#f19a9a",
    "cancelled": "#c9b6e4", "skipped": "#eeeeee", "cached": "#b9e3c6",
}


def bake_graph_dot(attempt: BakeAttempt) -> str:
    """The attempt's DAG in Graphviz DOT, nodes filled by task status."""
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {quote(attempt.bake_id)} {{", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    tasks = list(attempt.tasks.all())
    for task in tasks:
        colour = STATUS_COLOURS.get(task.status, "#ffffff")
        lines.append(f"  {quote(task.task_id)} [label={quote(task.task_id + chr(10) + task.status)}, "
                     f"fillcolor={quote(colour)}];")
    for task in tasks:
        for need, mode in task.needs.items():
            style = ' [style="dashed"]' if mode == "running" else ""
            lines.append(f"  {quote(need)} -> {quote(task.task_id)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


GRAPH_RENDERINGS = {"svg": "image/svg+xml", "pdf": "application/pdf"}  # format → media type
GRAPH_RENDER_SECONDS = 60


def graph_formats() -> list[str]:
    """What a bake's graph downloads as here: DOT always, SVG and PDF where Graphviz is installed."""
    return ["dot", *GRAPH_RENDERINGS] if shutil.which("dot") else ["dot"]


def bake_graph_rendered(attempt: BakeAttempt, kind: str) -> bytes:
    """The attempt's DAG drawn by Graphviz's ``dot`` as SVG or PDF (``kind``). Unavailable when
    the server has no Graphviz, or ``dot`` fails or takes over a minute: DOT itself always works."""
    if kind not in GRAPH_RENDERINGS:
        raise InvalidInput(f"a graph renders as {' or '.join(GRAPH_RENDERINGS)}, not {kind!r}")
    program = shutil.which("dot")
    if program is None:
        raise Unavailable("Graphviz is not installed on the server (Debian: apt-get install graphviz): "
                          "download the graph as DOT instead")
    try:
        done = subprocess.run([program, f"-T{kind}"], input=bake_graph_dot(attempt).encode(), capture_output=True,
                              timeout=GRAPH_RENDER_SECONDS)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"Graphviz took over {GRAPH_RENDER_SECONDS} s to draw the graph: download it as DOT")
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Unavailable(f"Graphviz could not draw the graph ({said[-1] if said else f'exit {done.returncode}'}): "
                          "download it as DOT")
    return done.stdout


def flow_uri_exists(uri: Any) -> bool:
    """For the sharing core: a flow URI names an existing flow (or one of its bakes)."""
    if not uri.path:
        return True
    flow_id, _, rest = uri.path.partition("/")
    flow = Flow.objects.filter(owner__username=uri.owner, flow_id=flow_id).first()
    if flow is None:
        return False
    return not rest or (rest.count("/") == 0 and flow.bakes.filter(pk=rest).exists())


# --- volumes, as live jobs see them ---------------------------------------------------------------------


def flow_volumes(*, user: AbstractBaseUser, flow: Flow, job_id: str | None = None,
                 params: Mapping[str, str] | None = None, args: Sequence[str] | None = None) -> dict[str, Any]:
    """The flow's volumes (project.yml's, then live.yml's, which win on a name clash), each
    evaluated by the flow's own evaluator as a live job sees it: ``{"id", "file", "remote", "uri",
    "mount", "read_only", "local"}`` (``local`` evaluated, relative to the project folder, or None;
    ``uri`` the remote as a full storage URI for ``user``, None when it is not ``storage:``).

    With ``job_id``, ``uploads`` lists the volumes a run of that live job (with ``params`` and,
    when it is multi, ``args``) passes to ``upload()`` — in any field, its mixins' included —
    found by rendering it exactly as a run does. Reading the flow is enough. Config errors are a
    422 listing file:line:column; an unknown job is a 404."""
    ensure_flow_access(user, flow, Level.READ)
    loaded = flow_load(flow=flow)
    if errors := errors_for(loaded.errors, live=True):
        raise invalid_config(errors)
    project = loaded.project
    env = flow_eval_env(flow=flow, username=user.username)
    try:
        volumes = spec.live_volumes(project, env)
        uploads = _volumes_uploaded(flow, project, env, job_id, params or {}, args or []) if job_id else []
    except spec.FlowSpecError as error:
        raise invalid_config(error.errors) from None
    return {"volumes": [_volume_output(user, project, volume) for volume in volumes], "job": job_id,
            "uploads": uploads}


def _volumes_uploaded(flow: Flow, project: spec.FlowProject, env: spec.EvalEnv, job_id: str,
                      params: Mapping[str, str], args: Sequence[str]) -> list[str]:
    """The ids of the volumes ``upload()`` is called on while live job ``job_id`` is rendered."""
    if job_id not in {info.id for info in spec.list_live_jobs(project)}:
        raise NotFound(f"Flow {flow.flow_id} has no live job {job_id!r}")
    marked: list[str] = []

    def record(volume: spec.VolumeCtx) -> None:
        marked.append(volume.id)

    multi = spec.job_is_multi(project, job_id)
    spec.render_live_job(project, job_id, env=replace(env, upload=record), params=params,
                         suffix=spec.new_multi_suffix() if multi else None, args=args if multi else None)
    return list(dict.fromkeys(marked))


def _volume_output(user: AbstractBaseUser, project: spec.FlowProject, volume: spec.VolumeCtx) -> dict[str, Any]:
    defined = (project.live.volumes if project.live is not None else {}).get(volume.id) \
        or project.project.volumes[volume.id]
    try:
        uri: str | None = str(storage_uri(user, volume.remote))
    except InvalidInput:
        uri = None
    return {"id": volume.id, "file": defined.pos.file, "remote": volume.remote, "uri": uri, "mount": volume.mount,
            "read_only": volume.read_only, "local": volume.local}
