"""`kiln ps`, `status`, `logs`, `run`, `kill`, `exec`, `browse` (docs/jobs.md is the contract).

A JOB argument is an id (`job-…`), a name (your latest run with it) or a `job:` URI; it goes
into the API path as typed (URL-quoted). The WebSocket routes want the id, so verbs that open
one resolve the reference first with `GET /api/v1/jobs/<ref>/`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import islice
from typing import IO, Any
from urllib.parse import quote

import click
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from kiln_cli import ws
from kiln_cli.app import App, json_option, pass_app
from kiln_cli.client import KilnClient
from kiln_cli.commands.sharing import check_principal
from kiln_cli.errors import ExitCode, KilnError, bad_input
from kiln_cli.output import local_time, relative_time, shorten
from kiln_cli.uris import check_uri

JOBS = "/api/v1/jobs/"
STATUSES = ("pending", "running", "succeeded", "failed", "cancelled")
ACTIVE = ("pending", "running")
RESTART_POLICIES = ("never", "on-failure", "always")
LOG_PAGE = 10_000
RECONNECT_GIVE_UP = 60.0  # seconds without the log socket before `logs` gives up (exit 6)
COMMAND_WIDTH = 40
PS_COLUMNS = ("ID", "NAME", "STATUS", "WHEN", "IMAGE", "OWNER", "COMMAND")
HISTORY_COLUMNS = ("STATUS", "REASON", "EXIT", "WHEN", "DESCRIPTION")
INTERRUPTED = 130  # exit code after Ctrl-C (128 + SIGINT), as shells report it


# --- references, paths, small parsers --------------------------------------------------------------


class JobRefType(click.ParamType):
    """An id, a name or a `job:` URI; only obviously broken values are refused here."""

    name = "JOB"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        ref = str(value).strip()
        if not ref or ref in (".", "..") or any(c in ref for c in "\n\r\t\x00?#"):
            raise bad_input(f"{value!r} is not a job reference: use an id (job-…), a name or a job: URI")
        if ":" in ref:
            check_uri(ref)
            if not ref.startswith("job:"):
                raise bad_input(f"{ref!r} is not a job URI (expected job:NAME or job:/OWNER/NAME)")
        return ref


JOB_REF = JobRefType()


def job_path(ref: str, action: str = "") -> str:
    """`/api/v1/jobs/<ref>/[action/]` with the reference URL-quoted (URIs keep `:` and `/`)."""
    path = f"{JOBS}{quote(ref, safe=':/')}/"
    return f"{path}{action}/" if action else path


_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """`90`, `90s`, `15m`, `1h30m`, `2d` -> seconds (> 0); anything else -> `KilnError` (exit 65)."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    else:
        match = _DURATION.match(value) if value else None
        if not match or not any(match.groupdict().values()):
            raise bad_input(f"{text!r} is not a duration: use seconds or e.g. 90s, 15m, 1h30m, 2d")
        seconds = sum(int(n) * _UNITS[unit] for unit, n in match.groupdict().items() if n)
    if seconds <= 0:
        raise bad_input(f"{text!r} is not a duration: it must be longer than 0 s")
    return seconds


def format_duration(seconds: Any) -> str:
    """5400 -> `1h30m`; None -> ``."""
    if seconds is None or not isinstance(seconds, int) or seconds < 0:
        return "" if seconds is None else str(seconds)
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


class DurationType(click.ParamType):
    name = "DURATION"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return value if isinstance(value, int) else parse_duration(str(value))


DURATION = DurationType()
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env(items: Sequence[str], environ: Any) -> dict[str, str]:
    """`K=V` pairs; a bare `K` takes its value from the local environment."""
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not _ENV_KEY.match(key):
            raise bad_input(f"{item!r} is not an environment variable: use -e NAME=VALUE or -e NAME")
        if not sep:
            if key not in environ:
                raise bad_input(f"-e {key}: {key} is not set in the local environment")
            value = environ[key]
        if "\x00" in value:
            raise bad_input(f"-e {key}: the value contains a NUL character")
        env[key] = value
    return env


def check_volume(spec: str) -> str:
    """`storage:PATH:/MOUNT[:ro|:rw]`, checked lightly and passed on as typed."""
    rest = spec.strip()
    if rest.endswith((":ro", ":rw")):
        rest = rest[:-3]
    uri, sep, mount = rest.rpartition(":")
    usage = f"{spec!r} is not a volume: use storage:PATH:/MOUNT[:ro] (e.g. storage:data:/data:ro)"
    if not sep or not uri or not mount.startswith("/"):
        raise bad_input(usage)
    try:
        scheme = check_uri(uri).split(":", 1)[0]
    except KilnError:
        scheme = ""
    if scheme != "storage":
        raise bad_input(usage)
    return spec.strip()


def split_command(args: Sequence[str], usage: str) -> list[str]:
    """The words after IMAGE/JOB: an optional leading `--` is dropped; an option there means
    the user put options after the positional argument (they belong before it)."""
    words = list(args)
    if words and words[0] == "--":
        return words[1:]
    if words and words[0].startswith("-"):
        raise click.UsageError(f"options go before the image or job: {usage}")
    return words


# --- rendering --------------------------------------------------------------------------------------


def when_of(job: dict[str, Any]) -> Any:
    """The moment that matters for a row: finished, else started, else created."""
    return job.get("finished_at") or job.get("started_at") or job.get("created_at")


def ps_row(job: dict[str, Any]) -> list[Any]:
    return [
        job.get("id"),
        job.get("name"),
        job.get("status"),
        relative_time(when_of(job)),
        job.get("image"),
        job.get("owner"),
        shorten(job.get("command"), COMMAND_WIDTH),
    ]


def outcome(status: Any, reason: Any = None, exit_code: Any = None) -> str:
    """`failed (Error, exit code 3)`, `cancelled (Cancelled)`, `succeeded`."""
    detail = [str(reason)] if reason and (status != "succeeded" or reason != "Completed") else []
    if exit_code not in (None, 0) or (exit_code == 0 and status != "succeeded"):
        detail.append(f"exit code {exit_code}")
    return f"{status} ({', '.join(detail)})" if detail else str(status)


_LABELS = {
    "id": "ID",
    "uri": "URI",
    "name_uri": "Name URI",
    "exit_code": "Exit code",
    "cpu": "CPU",
    "memory_mb": "Memory (MB)",
    "http_port": "HTTP port",
    "http_auth": "HTTP auth",
    "http_url": "Browse URL",
    "life_span": "Life span",
    "schedule_timeout": "Schedule timeout",
    "restart_policy": "Restart policy",
    "job_description": "Job description",
    "log_lines": "Log lines",
    "my_level": "My level",
    "flow_id": "Flow ID",
    "bake_id": "Bake ID",
    "task_id": "Task ID",
    "created_at": "Created",
    "started_at": "Started",
    "finished_at": "Finished",
}
_ORDER = (
    "id", "name", "owner", "uri", "name_uri", "cluster", "status", "reason", "description", "exit_code",
    "image", "command", "workdir", "env", "volumes", "preset", "cpu", "memory_mb", "tags", "http_port",
    "http_auth", "http_url", "life_span", "schedule_timeout", "restart_policy", "restarts",
    "job_description", "worker", "log_lines", "created_at", "started_at", "finished_at", "flow_id",
    "bake_id", "task_id", "my_level",
)  # fmt: skip


def field_value(key: str, value: Any, base_url: str) -> Any:
    if key.endswith("_at") and isinstance(value, str):
        return f"{local_time(value)} ({relative_time(value)})"
    if key in ("life_span", "schedule_timeout") and isinstance(value, int):
        return f"{format_duration(value)} ({value} s)"
    if key == "http_url" and isinstance(value, str) and value.startswith("/"):
        return base_url + value
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def detail_fields(job: dict[str, Any], base_url: str) -> list[tuple[str, Any]]:
    """Every field of the detail but the history, known ones in a sensible order first."""
    keys = [k for k in _ORDER if k in job] + [k for k in job if k not in _ORDER and k != "history"]
    return [
        (_LABELS.get(key, key.replace("_", " ").capitalize()), field_value(key, job[key], base_url)) for key in keys
    ]


def history_row(row: dict[str, Any]) -> list[Any]:
    return [
        row.get("status"),
        row.get("reason"),
        row.get("exit_code"),
        local_time(row.get("at")),
        row.get("description"),
    ]


# --- logs -------------------------------------------------------------------------------------------


def get_job(client: KilnClient, ref: str) -> dict[str, Any]:
    job = client.get(job_path(ref))
    if not isinstance(job, dict) or not isinstance(job.get("id"), str):
        raise KilnError(f"unexpected answer from server for GET {job_path(ref)}: no job id")
    return job


class LogPrinter:
    """Writes lines at their offsets, each exactly once, and remembers the last one printed."""

    def __init__(self, write: Callable[[str], None], last: int = -1) -> None:
        self.write = write
        self.last = last

    def add(self, first: int, lines: Sequence[str]) -> None:
        skip = max(0, self.last + 1 - first)  # already printed (an overlap after a reconnect)
        fresh = list(lines[skip:])
        if not fresh:
            return
        self.write("".join(f"{text}\n" for text in fresh))
        self.last = first + skip + len(fresh) - 1


def echo_raw(text: str) -> None:
    click.echo(text, nl=False)


def print_stored_logs(client: KilnClient, job_id: str, printer: LogPrinter) -> dict[str, Any]:
    """REST paging (`logs/?after=`) from the printer's last offset to what is stored now."""
    page: dict[str, Any] = {}
    while True:
        answer = client.get(job_path(job_id, "logs"), params={"after": printer.last, "limit": LOG_PAGE})
        if not isinstance(answer, dict) or not isinstance(answer.get("lines"), list):
            raise KilnError(f"unexpected answer from server for GET {job_path(job_id, 'logs')}: no 'lines'")
        page = answer
        lines = [line for line in answer["lines"] if isinstance(line, dict)]
        for line in lines:
            offset = line.get("offset")
            if isinstance(offset, int):
                printer.add(offset, [str(line.get("text", ""))])
        if not lines or answer.get("finished"):
            return page


def follow_logs(
    client: KilnClient,
    job_id: str,
    printer: LogPrinter,
    *,
    give_up_after: float = RECONNECT_GIVE_UP,
) -> dict[str, Any]:
    """Stream `/ws/jobs/<id>/logs/` until the `end` message; reconnect with `after=<last printed>`."""
    path = f"/ws/jobs/{quote(job_id, safe='')}/logs/"

    def params() -> dict[str, Any]:
        return {"after": printer.last}

    for message in ws.messages(client.base_url, client.token, path, params, give_up_after=give_up_after):
        kind = message.get("type")
        if kind == "log" and isinstance(message.get("first"), int) and isinstance(message.get("lines"), list):
            if message["first"] > printer.last + 1:  # a gap (never expected): the database has every line
                print_stored_logs(client, job_id, printer)
            printer.add(message["first"], [str(text) for text in message["lines"]])
        elif kind == "end":
            last_offset = message.get("last_offset")
            if isinstance(last_offset, int) and last_offset > printer.last:
                print_stored_logs(client, job_id, printer)  # never end with a line missing
            return message
    raise KilnError(f"log stream of {job_id} ended without its final status")  # pragma: no cover


def finish(job_id: str, status: Any, reason: Any = None, exit_code: Any = None) -> None:
    """Exit 0 for a succeeded job; one line on stderr and exit 1 for a failed or cancelled one."""
    if status == "succeeded" or status in ACTIVE:
        return
    raise KilnError(f"job {job_id} {outcome(status, reason, exit_code)}", ExitCode.ERROR)


def attach(client: KilnClient, job: dict[str, Any]) -> None:
    """Print the log of `job` as it grows and exit with its outcome (raises for failures)."""
    end = follow_logs(client, job["id"], LogPrinter(echo_raw))
    finish(job["id"], end.get("status"), end.get("reason"), end.get("exit_code"))


# --- verbs ------------------------------------------------------------------------------------------


def split_values(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Include finished jobs (default: pending and running).")
@click.option(
    "-s",
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help="Only jobs in this status (repeatable, or comma-separated): " + ", ".join(STATUSES) + ".",
)
@click.option("-n", "--name", help="Only runs with this name.")
@click.option("-t", "--tag", "tags", multiple=True, help="Only jobs with this tag (repeatable; all must match).")
@click.option("-o", "--owner", "owners", multiple=True, help="Only jobs of this user (repeatable).")
@click.option("--shared", is_flag=True, help="Only jobs of others shared with me.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Show at most N jobs (newest first).")
@json_option
@pass_app
def ps(
    app: App,
    all_: bool,
    statuses: tuple[str, ...],
    name: str | None,
    tags: tuple[str, ...],
    owners: tuple[str, ...],
    shared: bool,
    limit: int | None,
) -> None:
    """List jobs I can see, newest first: active ones unless -a or -s.

    \b
    Examples:
      kiln ps
      kiln ps -a --limit 20
      kiln ps -s failed -t experiment-7 -o alice
      kiln ps --shared --json | jq -r '.[].id'
    """
    wanted = split_values(statuses)
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise bad_input(f"unknown status {unknown[0]!r}: use one of {', '.join(STATUSES)}")
    params: dict[str, Any] = {
        "all": "1" if all_ else None,
        "status": wanted or None,
        "name": name,
        "tag": list(tags) or None,
        "owner": split_values(owners) or None,
        "shared": "1" if shared else None,
        "limit": min(limit, 500) if limit else None,
    }
    with app.client() as client:
        jobs = [j for j in islice(client.paginate(JOBS, params=params), limit) if isinstance(j, dict)]
    out = app.out
    empty = "No jobs." if all_ or wanted else "No active jobs (kiln ps -a shows finished ones too)."
    out.emit(jobs, lambda: out.table(PS_COLUMNS, [ps_row(j) for j in jobs], empty=empty))


@click.command()
@click.argument("job", type=JOB_REF)
@json_option
@pass_app
def status(app: App, job: str) -> None:
    """Show everything about JOB (id, name or job: URI) and its status history.

    \b
    Examples:
      kiln status job-0c5e8d1a-…
      kiln status train                 # my latest run named train
      kiln status job:/alice/train --json
    """
    out = app.out
    with app.client() as client:
        detail = get_job(client, job)
        base_url = client.base_url
    history = [row for row in detail.get("history") or [] if isinstance(row, dict)]

    def human() -> None:
        out.fields(detail_fields(detail, base_url))
        out.line()
        out.table(HISTORY_COLUMNS, [history_row(row) for row in history], empty="No history.")

    out.emit(detail, human)


@click.command()
@click.argument("job", type=JOB_REF)
@click.option("--no-follow", is_flag=True, help="Print what is stored now and exit, even if the job is running.")
@pass_app
def logs(app: App, job: str, no_follow: bool) -> None:
    """Print the log of JOB and follow it until the job ends.

    Exits 0 when the job succeeded and 1 (with its status on stderr) when it failed or was
    cancelled. A dropped connection is resumed where it stopped, without losing or repeating
    a line; after about a minute without the server, exits 6.

    \b
    Examples:
      kiln logs train
      kiln logs job-0c5e8d1a-… --no-follow > train.log
      kiln logs job:/alice/train | grep loss
    """
    with app.client() as client:
        detail = get_job(client, job)
        try:
            if no_follow:
                page = print_stored_logs(client, detail["id"], LogPrinter(echo_raw))
                state = detail
                if page.get("status") and page["status"] != detail.get("status"):
                    state = get_job(client, detail["id"])
                finish(detail["id"], state.get("status"), state.get("reason"), state.get("exit_code"))
                return
            attach(client, detail)
        except KeyboardInterrupt:
            raise click.exceptions.Exit(INTERRUPTED) from None


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("image")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD...")
@click.option(
    "-v",
    "--volume",
    "volumes",
    multiple=True,
    metavar="storage:PATH:/MOUNT[:ro]",
    help="Mount storage (repeatable; read-write unless :ro).",
)
@click.option(
    "-e",
    "--env",
    "env",
    multiple=True,
    metavar="K=V",
    help="Environment variable (repeatable); -e K copies K from here.",
)
@click.option("--preset", help="Resource preset (CPU, memory); see GET /api/v1/presets/.")
@click.option("--http-port", type=click.IntRange(1, 65535), help="Port the job serves HTTP on (kiln browse).")
@click.option("--no-http-auth", is_flag=True, help="Let anyone with the job's id browse it (no login).")
@click.option("--life-span", type=DURATION, help="Kill the job after this long: 3600, 90s, 1h30m, 2d.")
@click.option("--schedule-timeout", type=DURATION, help="Fail the job if it has not started within this long.")
@click.option("-n", "--name", help="Name the run (kiln logs NAME then means the latest run with it).")
@click.option("-t", "--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--restart", type=click.Choice(RESTART_POLICIES), help="Restart policy (default: never).")
@click.option("--workdir", help="Working directory of the command.")
@click.option("--description", help="A description shown in the console.")
@click.option(
    "--share", "share", multiple=True, metavar="USER", help="Give this user or group:NAME read access (repeatable)."
)
@click.option("-d", "--detach", is_flag=True, help="Print the job id and return at once, without attaching to the log.")
@json_option
@pass_app
def run(
    app: App,
    image: str,
    command: tuple[str, ...],
    volumes: tuple[str, ...],
    env: tuple[str, ...],
    preset: str | None,
    http_port: int | None,
    no_http_auth: bool,
    life_span: int | None,
    schedule_timeout: int | None,
    name: str | None,
    tags: tuple[str, ...],
    restart: str | None,
    workdir: str | None,
    description: str | None,
    share: tuple[str, ...],
    detach: bool,
) -> None:
    """Run CMD in IMAGE as a new job; print its id, then follow its log.

    Options go before IMAGE; the command follows `--` and is run by /bin/sh -c (its words are
    quoted with shlex.join, so use `sh -c '…'` for pipes and `;`). Attached, `kiln run` exits
    like `kiln logs`: 0 when the job succeeded, 1 when it failed or was cancelled. Ctrl-C
    detaches and leaves the job running. --json prints the created job and does not attach.

    \b
    Examples:
      kiln run python:3.11 -- python -c 'print(42)'
      kiln run -v storage:data:/data:ro -e SEED=1 -n train python:3.11 -- python /data/train.py
      JOB=$(kiln run -d --life-span 1h30m python:3.11 -- sleep 600)
      kiln run --http-port 8888 --share alice python:3.11 -- python -m http.server 8888
    """
    words = split_command(command, "kiln run [OPTIONS] IMAGE -- CMD...")
    if not words:
        raise click.UsageError("give the command to run after --: kiln run [OPTIONS] IMAGE -- CMD...")
    body: dict[str, Any] = {"image": image, "command": shlex.join(words)}
    optional: dict[str, Any] = {
        "name": name,
        "workdir": workdir,
        "env": parse_env(env, app.environ) or None,
        "volumes": [check_volume(v) for v in volumes] or None,
        "preset": preset,
        "http_port": http_port,
        "http_auth": False if no_http_auth else None,
        "life_span": life_span,
        "schedule_timeout": schedule_timeout,
        "tags": list(tags) or None,
        "restart_policy": restart,
        "description": description,
        "share": [check_principal(p) for p in share] or None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    out = app.out
    with app.client() as client:
        job = client.post(JOBS, json=body)
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            raise KilnError("unexpected answer from server for POST /api/v1/jobs/: no job id")
        if out.json_mode:
            out.json(job)
            return
        out.line(job["id"])
        if detach:
            return
        try:
            attach(client, job)
        except KeyboardInterrupt:
            ref = job["id"]
            out.info(f"\nDetached from {ref}; it keeps running.")
            out.info(f"  re-attach: kiln logs {ref}")
            out.info(f"  stop it:   kiln kill {ref}")
            raise click.exceptions.Exit(INTERRUPTED) from None


@click.command()
@click.argument("jobs", nargs=-1, required=True, type=JOB_REF, metavar="JOB...")
@json_option
@pass_app
def kill(app: App, jobs: tuple[str, ...]) -> None:
    """Cancel each JOB (needs write); prints the id of each one killed.

    A job that cannot be killed (not found, forbidden, already finished) is reported on stderr
    and makes the exit code non-zero (4, 5, 7, or 1 when they differ); the others are killed.

    \b
    Examples:
      kiln kill job-0c5e8d1a-…
      kiln kill train serve job:/alice/notebook
      kiln ps -s pending --json | jq -r '.[].id' | xargs kiln kill
    """
    out = app.out
    results: list[dict[str, Any]] = []
    codes: set[int] = set()
    with app.client() as client:
        for ref in jobs:
            try:
                detail = client.post(job_path(ref, "kill"))
            except KilnError as error:
                if error.exit_code in (ExitCode.UNREACHABLE, ExitCode.NOT_LOGGED_IN):
                    raise
                codes.add(error.exit_code)
                results.append({"ref": ref, "error": {"exit_code": error.exit_code, "message": error.message}})
                if not out.json_mode:
                    click.echo(f"kiln: {ref}: {error.message}", err=True)
                continue
            job_id = detail.get("id", ref) if isinstance(detail, dict) else ref
            results.append({"ref": ref, "id": job_id, "job": detail})
            if not out.json_mode:
                out.line(str(job_id))
    if out.json_mode:
        out.json(results)
    if codes:
        raise click.exceptions.Exit(codes.pop() if len(codes) == 1 else ExitCode.ERROR)


@click.command()
@click.argument("job", type=JOB_REF)
@click.option("--open", "open_", is_flag=True, help="Open the URL in a web browser too.")
@json_option
@pass_app
def browse(app: App, job: str, open_: bool) -> None:
    """Print the URL where JOB's web app (its --http-port) is served; --open opens it.

    \b
    Examples:
      kiln browse notebook
      kiln browse job-0c5e8d1a-… --open
    """
    out = app.out
    with app.client() as client:
        detail = get_job(client, job)
        base_url = client.base_url
    if not detail.get("http_port"):
        raise bad_input(f"job {detail['id']} has no HTTP port (run it with --http-port PORT)")
    path = detail.get("http_url") or f"/jobs/{quote(detail['id'], safe='')}/browse/"
    url = base_url + path if path.startswith("/") else path
    if detail.get("status") != "running":
        out.info(f"Note: job {detail['id']} is {detail.get('status')}; the page answers only while it runs.")
    out.emit({"id": detail["id"], "url": url}, lambda: out.line(url))
    if open_:
        webbrowser.open(url)


# --- exec -------------------------------------------------------------------------------------------


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return None


def terminal_size() -> tuple[int, int]:
    for stream in (sys.stdout, sys.stdin, sys.stderr):
        fd = _fileno(stream)
        if fd is not None:
            with suppress(OSError):
                size = os.get_terminal_size(fd)
                return size.columns, size.lines
    return 80, 24


@contextmanager
def raw_terminal(stream: Any) -> Iterator[None]:
    """Put a terminal in raw mode (keys go to the remote as typed) and always restore it."""
    import termios
    import tty

    fd = _fileno(stream)
    if fd is None or not _isatty(stream):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextmanager
def on_resize(send_size: Callable[[], None]) -> Iterator[None]:
    """Call `send_size` (from a helper thread) whenever the terminal is resized (SIGWINCH)."""
    sigwinch = getattr(signal, "SIGWINCH", None)
    if sigwinch is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def handler(signum: int, frame: Any) -> None:
        with suppress(OSError):
            os.write(write_fd, b"\0")  # async-signal-safe; the thread does the sending

    def watch() -> None:
        while True:
            try:
                if not os.read(read_fd, 64):
                    return
            except OSError:
                return
            with suppress(Exception):
                send_size()

    previous = signal.signal(sigwinch, handler)
    threading.Thread(target=watch, name="kiln-exec-resize", daemon=True).start()
    try:
        yield
    finally:
        signal.signal(sigwinch, previous)
        os.close(write_fd)  # ends the watcher
        with suppress(OSError):
            os.close(read_fd)


def _read_chunk(stream: Any) -> bytes:
    if isinstance(stream, int):  # a raw descriptor: no buffered-reader lock held while blocked,
        return os.read(stream, 65536)  # which would abort the interpreter's exit (daemon thread)
    read1 = getattr(stream, "read1", None)
    return bytes(read1(65536) if read1 is not None else stream.read(65536))


def pump_stdin(conn: ClientConnection, stdin: int | Any) -> None:
    """Local stdin (a descriptor or a binary stream) -> binary frames; `{"type":"eof"}` when it
    ends. Runs in a daemon thread."""
    try:
        while True:
            data = _read_chunk(stdin)
            if not data:
                conn.send(json.dumps({"type": "eof"}))
                return
            conn.send(data)
    except (ConnectionClosed, OSError, ValueError, RuntimeError):
        return


def exit_status(code: Any) -> int:
    """The remote exit code as ours: 0–255 as is, killed by signal N (-N) as 128 + N."""
    if not isinstance(code, int):
        return ExitCode.ERROR
    if code < 0:
        return min(128 - code, 255)
    return code if code <= 255 else ExitCode.ERROR


def exec_session(
    conn: ClientConnection,
    *,
    command: Sequence[str],
    tty: bool,
    stdin: int | IO[bytes] | Any,
    stdout: IO[bytes] | Any,
    size: tuple[int, int] = (80, 24),
) -> int:
    """Drive one exec connection (docs/jobs.md): start, relay raw bytes both ways, return the
    remote exit code. Stdin is only read once the server said `started` (earlier bytes would
    have nowhere to go)."""
    start: dict[str, Any] = {"type": "start", "tty": tty, "cols": size[0], "rows": size[1]}
    if command:
        start["command"] = list(command)
    with suppress(ConnectionClosed):  # refused before we spoke: the reason is read below
        conn.send(json.dumps(start))
    try:
        for frame in conn:
            if isinstance(frame, bytes):
                stdout.write(frame)
                stdout.flush()
                continue
            message = ws.decode_message(frame)  # an `error` message raises its KilnError
            kind = message.get("type")
            if kind == "started":
                threading.Thread(target=pump_stdin, args=(conn, stdin), name="kiln-exec-stdin", daemon=True).start()
            elif kind == "exit":
                return exit_status(message.get("code"))
        close = conn.close_code
    except ConnectionClosed as exc:
        close = exc.rcvd.code if exc.rcvd else None
    refusal = ws.close_error(close)
    if refusal is not None:
        raise refusal
    raise KilnError("server unreachable: the exec connection closed before the command exited", ExitCode.UNREACHABLE)


@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.argument("job", type=JOB_REF)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- CMD...]")
@click.option(
    "-t/-T",
    "--tty/--no-tty",
    "tty",
    default=None,
    help="Allocate a terminal (default: when standard input is one).",
)
@pass_app
def exec_(app: App, job: str, command: tuple[str, ...], tty: bool | None) -> None:
    """Run CMD (default: a shell) inside running JOB; exits with its exit code. Needs write.

    With a terminal, keys go to the remote as typed (Ctrl-C included) and resizes follow.
    Without one (-T, or stdin not a terminal), stdin is piped to the command and its output
    to stdout, byte for byte.

    \b
    Examples:
      kiln exec train                       # an interactive shell
      kiln exec train -- nvidia-smi
      kiln exec -T train -- tar czf - /out > out.tgz
      echo 'print(1)' | kiln exec -T notebook -- python
    """
    words = split_command(command, "kiln exec [OPTIONS] JOB -- CMD...")
    stdin_fd = _fileno(sys.stdin)
    stdin_stream = stdin_fd if stdin_fd is not None else getattr(sys.stdin, "buffer", sys.stdin)
    stdout_stream = getattr(sys.stdout, "buffer", sys.stdout)
    use_tty = _isatty(sys.stdin) if tty is None else tty
    with app.client() as client:
        detail = get_job(client, job)
        job_id = detail["id"]
        if detail.get("status") not in ACTIVE:
            raise KilnError(f"conflict: job {job_id} is {detail.get('status')}, not running", ExitCode.CONFLICT)
        path = f"/ws/jobs/{quote(job_id, safe='')}/exec/"
        with ws.open_socket(client.base_url, client.token, path) as conn:

            def send_size() -> None:
                cols, rows = terminal_size()
                conn.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

            raw = use_tty and _isatty(sys.stdin)
            try:
                with raw_terminal(sys.stdin) if raw else _nothing(), on_resize(send_size) if raw else _nothing():
                    code = exec_session(
                        conn,
                        command=words,
                        tty=use_tty,
                        stdin=stdin_stream,
                        stdout=stdout_stream,
                        size=terminal_size(),
                    )
            except KeyboardInterrupt:
                raise click.exceptions.Exit(INTERRUPTED) from None
    raise click.exceptions.Exit(code)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


COMMANDS: list[click.Command] = [ps, status, logs, run, kill, exec_, browse]
