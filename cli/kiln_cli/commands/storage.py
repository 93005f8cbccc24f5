"""`kiln ls`, `mkdir`, `cp`, `rm`, `mv`, `df` and `kiln link create|ls|revoke` (docs/storage.md).

A storage path is anything that starts with `storage:` (`storage:data` in my home,
`storage:/alice/data`, `storage://default/alice/data`); for `cp`, everything else is a local path
(`file:PATH` too; `./job:x` for a local file whose name looks like a Kiln URI). Bytes move in
`kiln_cli.transfer`; this module decides what goes where, like `cp`/`mv`/`rm` would.
"""

from __future__ import annotations

import os
import re
import stat as stat_module
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import click
import httpx

from kiln_cli import transfer
from kiln_cli.app import App, json_option, pass_app
from kiln_cli.client import KilnClient
from kiln_cli.errors import ExitCode, KilnError, bad_input
from kiln_cli.output import Output, TransferProgress, human_size, local_time, parse_time, shorten
from kiln_cli.uris import check_uri

STORAGE = transfer.STORAGE
LIST = STORAGE + "list/"
STAT = transfer.STAT
MKDIR = STORAGE + "mkdir/"
DELETE = STORAGE + "delete/"
MOVE = STORAGE + "move/"
COPY = STORAGE + "copy/"
DU = STORAGE + "du/"
LINKS = STORAGE + "links/"
LIST_PAGE = 1000
LONG_TIMEOUT = httpx.Timeout(3600.0, connect=10.0)  # server-side copy/move/delete/du of big trees
LABEL_WIDTH = 40
LS_COLUMNS = ("NAME", "TYPE", "SIZE", "MODIFIED")
LINK_COLUMNS = ("ID", "PATH", "URL", "CREATED BY", "EXPIRES")
OTHER_SCHEMES = ("job", "image", "flow")
INTERRUPTED = 130  # exit code after Ctrl-C (128 + SIGINT), as `kiln logs` and shells report it


# --- paths ------------------------------------------------------------------------------------------

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")


def scheme_of(arg: str) -> str | None:
    match = _SCHEME.match(arg)
    return match["scheme"].lower() if match else None


def is_storage(arg: str) -> bool:
    """`storage:…` (any form) is storage; everything else is a local path."""
    return scheme_of(arg) == "storage"


def local_path(arg: str) -> Path:
    """A local path argument as a `Path` (`file:PATH` and `file:///ABS` accepted)."""
    scheme = scheme_of(arg)
    if scheme in OTHER_SCHEMES:
        raise bad_input(f"{arg!r} is a {scheme}: URI, not a file: cp copies files (write ./{arg} for a local file)")
    text = arg
    if scheme == "file":
        text = arg[len("file://") :] if arg[5:7] == "//" else arg[len("file:") :]
    if not text:
        raise bad_input(f"{arg!r} is not a path")
    if "\x00" in text:
        raise bad_input(f"{arg!r} contains a NUL character")
    return Path(text)


def check_storage(value: str) -> str:
    """A `storage:` URI, checked lightly (the server does the rest); anything else is exit 65."""
    value = value.strip()
    if not is_storage(value):
        raise bad_input(f"{value!r} is not a storage path: write storage:PATH, storage:/USER/PATH or storage:")
    return check_uri(value)


class StoragePathType(click.ParamType):
    name = "storage:PATH"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return check_storage(str(value))


STORAGE_PATH = StoragePathType()


def join(uri: str, *names: str) -> str:
    """`storage:a` + `b`, `c` -> `storage:a/b/c`; `storage:` + `b` -> `storage:b` (a trailing `/` kept once)."""
    tail = "/".join(name for name in names if name)
    if not tail:
        return uri
    return (uri if uri.endswith((":", "/")) else uri + "/") + tail


def wants_folder(arg: str) -> bool:
    """A destination written as a folder: `storage:`, `storage:x/`, `dir/`."""
    return arg.endswith("/") or (is_storage(arg) and arg.rstrip().endswith(":")) or arg.endswith(os.sep)


def stat(client: KilnClient, uri: str) -> dict[str, Any] | None:
    """The entry at `uri`, or None when there is none (404)."""
    try:
        entry = client.get(STAT, params={"uri": uri})
    except KilnError as error:
        if error.status == 404:
            return None
        raise
    return entry if isinstance(entry, dict) else None


def stat_required(client: KilnClient, uri: str) -> dict[str, Any]:
    entry = client.get(STAT, params={"uri": uri})
    if not isinstance(entry, dict) or entry.get("type") not in ("file", "dir"):
        raise KilnError(f"unexpected answer from server for GET {STAT}: no entry")
    return entry


def is_dir(entry: dict[str, Any] | None) -> bool:
    return bool(entry) and entry.get("type") == "dir"  # type: ignore[union-attr]


def safe_name(name: Any) -> bool:
    """A name from the server that is safe to use as one local path segment."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\x00" not in name


def walk_storage(client: KilnClient, uri: str) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every entry below the folder `uri` (breadth first), with its path relative to `uri`."""
    queue: deque[tuple[tuple[str, ...], str]] = deque([((), uri)])
    while queue:
        rel, folder = queue.popleft()
        for entry in client.paginate(LIST, params={"uri": folder, "limit": LIST_PAGE}):
            if not isinstance(entry, dict) or not safe_name(entry.get("name")):
                continue
            parts = (*rel, entry["name"])
            yield parts, entry
            if entry.get("type") == "dir":
                queue.append((parts, str(entry.get("uri") or join(folder, entry["name"]))))


@dataclass
class LocalEntry:
    rel: tuple[str, ...]
    path: Path
    type: str  # "file" or "dir" (an empty folder: the only folders that need a mkdir)
    size: int = 0


def walk_local(root: Path, warn: Callable[[str], None]) -> Iterator[LocalEntry]:
    """Regular files (symlinks to files followed) and empty folders below `root`, sorted.
    Symlinks to folders, broken symlinks and special files are skipped with a warning."""
    for folder, dirnames, filenames in os.walk(root, followlinks=False, onerror=None):
        base = Path(folder)
        rel = base.relative_to(root).parts
        kept_dirs = []
        for name in sorted(dirnames):
            if (base / name).is_symlink():
                warn(f"skipping {base / name}: a symbolic link to a folder")
            else:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        if not dirnames and not filenames:
            yield LocalEntry(rel, base, "dir")
        for name in sorted(filenames):
            path = base / name
            try:
                info = path.stat()
            except OSError as exc:
                warn(f"skipping {path}: {exc.strerror or exc}")
                continue
            if not stat_module.S_ISREG(info.st_mode):
                warn(f"skipping {path}: not a regular file")
                continue
            yield LocalEntry((*rel, name), path, "file", info.st_size)


# --- sizes, durations, times ------------------------------------------------------------------------

_SIZE = re.compile(r"^(?P<n>\d+)\s*(?P<unit>[kmgt]?)(?:i?b)?$")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """`8388608`, `512K`, `8M`, `8MiB`, `1G` -> bytes (binary units, > 0)."""
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise bad_input(f"{text!r} is not a size: use bytes or e.g. 512K, 8M, 64MiB, 1G")
    value = int(match["n"]) * _SIZE_UNITS[match["unit"]]
    if value <= 0:
        raise bad_input(f"{text!r} is not a size: it must be more than 0 bytes")
    return value


class SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return value if isinstance(value, int) else parse_size(str(value))


SIZE = SizeType()

_EXPIRY = re.compile(r"^(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_EXPIRY_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
NEVER = ("never", "permanent", "none")


def parse_expiry(text: str) -> dict[str, Any]:
    """`--expires` -> the fields of `POST links/`: `never` -> {} (a permanent link);
    `30m`, `1h`, `7d`, `2w`, `1d12h`, `3600` -> `expires_in` seconds; an ISO 8601 date or time
    (`2025-12-31`, `2025-12-31T18:00`, local time unless it has a zone) -> `expires_at`."""
    value = text.strip().lower()
    if value in NEVER:
        return {}
    if value.isdigit():
        seconds = int(value)
    else:
        match = _EXPIRY.match(value) if value else None
        if not match or not any(match.groupdict().values()):
            try:
                moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except ValueError:
                raise bad_input(
                    f"{text!r} is not an expiry: use never, a duration (30m, 1h, 7d, 2w, 1d12h) "
                    "or a date (2025-12-31, 2025-12-31T18:00)"
                ) from None
            if moment.tzinfo is None:
                moment = moment.astimezone()  # local time, as typed
            return {"expires_at": moment.isoformat()}
        seconds = sum(int(n) * _EXPIRY_UNITS[unit] for unit, n in match.groupdict().items() if n)
    if seconds <= 0:
        raise bad_input(f"{text!r} is not an expiry: it must be longer than 0 s (or never)")
    return {"expires_in": seconds}


def until(value: Any, now: datetime | None = None) -> str:
    """ISO 8601 in the future -> `in 6d` (`in 3h`, `in 12m`, `in 30s`); past -> `expired`."""
    moment = parse_time(value)
    if moment is None:
        return ""
    seconds = int((moment - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return "expired"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            return f"in {seconds // size}{unit}"
    return "expired"


# --- results of verbs that act on several paths ---------------------------------------------------


class Outcomes:
    """Per-path results: failures are reported on stderr and the others still done; the exit code
    is the failure's (or 1 when several kinds happened). Lost connections and logins stop all."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.results: list[dict[str, Any]] = []
        self.codes: set[int] = set()

    def ok(self, result: dict[str, Any], line: str | None = None) -> None:
        self.results.append(result)
        if line and not self.out.json_mode:
            self.out.line(line)

    def fail(self, ref: str, error: KilnError) -> None:
        if error.exit_code in (ExitCode.UNREACHABLE, ExitCode.NOT_LOGGED_IN):
            raise error
        self.codes.add(error.exit_code)
        self.results.append({"src": ref, "error": {"exit_code": error.exit_code, "message": error.message}})
        if not self.out.json_mode:
            click.echo(f"kiln: {ref}: {error.message}", err=True)

    def finish(self, *, json_data: Any = None) -> None:
        if self.out.json_mode:
            self.out.json(self.results if json_data is None else json_data)
        if self.codes:
            raise click.exceptions.Exit(self.codes.pop() if len(self.codes) == 1 else ExitCode.ERROR)


def os_error(exc: OSError) -> KilnError:
    where = f": {exc.filename}" if exc.filename else ""
    return KilnError(f"{exc.strerror or exc}{where}")


def folder_needs_r(verb: str) -> KilnError:
    return KilnError(f"conflict: is a folder (use {verb} -r)", ExitCode.CONFLICT)


# --- ls ---------------------------------------------------------------------------------------------


@click.command()
@click.argument("path", required=False, default="storage:", type=STORAGE_PATH)
@click.option("-l", "--long", "long_", is_flag=True, help="A table: NAME, TYPE, SIZE, MODIFIED.")
@json_option
@pass_app
def ls(app: App, path: str, long_: bool) -> None:
    """List a storage folder (default: your home, storage:); a file lists itself.

    Names come one per line (folders end with /); -l prints a table with sizes and times.
    Every page is read. --json prints the list of entries ({name, uri, type, size, mtime}).

    \b
    Examples:
      kiln ls
      kiln ls -l storage:data/train
      kiln ls storage:/alice/shared --json | jq -r '.[].uri'
    """
    out = app.out
    with app.client() as client:
        try:
            entries = [
                e for e in client.paginate(LIST, params={"uri": path, "limit": LIST_PAGE}) if isinstance(e, dict)
            ]
        except KilnError as error:
            if error.status != 409:  # 409: a file, not a folder
                raise
            entries = [stat_required(client, path)]

    def human() -> None:
        if not long_:
            for entry in entries:
                out.line(f"{entry.get('name')}{'/' if entry.get('type') == 'dir' else ''}")
            return
        rows = [
            [
                entry.get("name"),
                entry.get("type"),
                human_size(entry.get("size")) if entry.get("type") == "file" else "",
                local_time(entry.get("mtime")) if entry.get("mtime") else "",
            ]
            for entry in entries
        ]
        if rows:
            out.table(LS_COLUMNS, rows)

    out.emit(entries, human)


# --- mkdir ------------------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=STORAGE_PATH, metavar="PATH...")
@click.option("-p", "--parents", is_flag=True, help="Create missing parents; no error if the folder exists.")
@json_option
@pass_app
def mkdir(app: App, paths: tuple[str, ...], parents: bool) -> None:
    """Create storage folders (needs write).

    Without -p the parent must exist and the folder must not (exit 7 when it does).
    --json prints the created entries.

    \b
    Examples:
      kiln mkdir storage:data
      kiln mkdir -p storage:data/train/2024 storage:/alice/shared/bob
    """
    out = app.out
    outcomes = Outcomes(out)
    with app.client() as client:
        for path in paths:
            try:
                entry = client.post(MKDIR, {"uri": path, "parents": parents})
            except KilnError as error:
                outcomes.fail(path, error)
                continue
            uri = entry.get("uri", path) if isinstance(entry, dict) else path
            outcomes.ok(entry if isinstance(entry, dict) else {"uri": path}, f"Created {uri}")
    outcomes.finish()


# --- rm ---------------------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=STORAGE_PATH, metavar="PATH...")
@click.option("-r", "-R", "--recursive", is_flag=True, help="Delete folders and everything in them.")
@click.option("-f", "--force", is_flag=True, help="Ignore paths that do not exist.")
@json_option
@pass_app
def rm(app: App, paths: tuple[str, ...], recursive: bool, force: bool) -> None:
    """Delete storage files, and with -r folders and everything in them (needs write).

    Like rm, a folder (even an empty one) is refused without -r (exit 7). Paths that cannot
    be deleted are reported and the others are still deleted. --json: [{uri, deleted}].

    \b
    Examples:
      kiln rm storage:data/old.csv
      kiln rm -r storage:experiments/2023
      kiln rm -rf storage:tmp storage:cache
    """
    out = app.out
    outcomes = Outcomes(out)
    with app.client() as client:
        for path in paths:
            try:
                entry = stat(client, path)
                if entry is None:
                    if force:
                        continue
                    raise KilnError("not found: no such file or folder", ExitCode.NOT_FOUND)
                if is_dir(entry) and not recursive:
                    raise folder_needs_r("rm")
                uri = str(entry.get("uri") or path)
                client.request("POST", DELETE, json={"uri": uri, "recursive": recursive}, timeout=LONG_TIMEOUT)
            except KilnError as error:
                outcomes.fail(path, error)
                continue
            outcomes.ok({"uri": uri, "deleted": True}, f"Deleted {uri}")
    outcomes.finish()


# --- mv ---------------------------------------------------------------------------------------------


def resolve_target(client: KilnClient, dest: str, count: int) -> tuple[bool, dict[str, Any] | None]:
    """(into, entry): whether sources go *into* the storage folder `dest`, and what is at `dest`."""
    entry = stat(client, dest)
    into = is_dir(entry) or wants_folder(dest)
    if count > 1 and not into:
        raise bad_input(
            f"{dest} is not a folder: with several sources DST must be a folder (end it with / to create it)"
        )
    if into and entry is not None and not is_dir(entry):
        raise KilnError(f"conflict: {dest} is a file, not a folder", ExitCode.CONFLICT)
    return into, entry


def clear_target(
    client: KilnClient, src: dict[str, Any], target: str, existing: dict[str, Any] | None, no_clobber: bool
) -> bool:
    """Make room at `target` for a move/copy of `src` like mv/cp do; False: leave it (-n)."""
    if existing is None:
        return True
    if existing.get("uri") == src.get("uri"):
        raise KilnError(f"conflict: {src.get('uri')} and {target} are the same", ExitCode.CONFLICT)
    if no_clobber:
        return False
    if existing.get("type") == "file" and src.get("type") == "file":  # the API never replaces: delete first
        client.request("POST", DELETE, json={"uri": existing.get("uri") or target}, timeout=LONG_TIMEOUT)
    elif existing.get("type") == "file":
        raise KilnError(f"conflict: cannot overwrite the file {target} with a folder", ExitCode.CONFLICT)
    else:
        raise KilnError(f"conflict: {target} exists already and is a folder", ExitCode.CONFLICT)
    return True


@click.command()
@click.argument("paths", nargs=-1, required=True, type=STORAGE_PATH, metavar="SRC... DST")
@click.option("-n", "--no-clobber", is_flag=True, help="Do not replace an existing file at the destination.")
@json_option
@pass_app
def mv(app: App, paths: tuple[str, ...], no_clobber: bool) -> None:
    """Move or rename storage files and folders (needs write on both sides).

    Like mv: when DST is a folder (or ends with /) SRC goes into it, otherwise SRC becomes DST;
    an existing file at DST is replaced (delete, then move: not atomic) unless -n. Works across
    users' homes. --json prints the moved entries.

    \b
    Examples:
      kiln mv storage:data/raw.csv storage:data/train.csv
      kiln mv storage:a.txt storage:b.txt storage:archive/
      kiln mv storage:results storage:/alice/shared/
    """
    if len(paths) < 2:
        raise click.UsageError("give a source and a destination: kiln mv [OPTIONS] SRC... DST")
    *sources, dest = paths
    out = app.out
    outcomes = Outcomes(out)
    with app.client() as client:
        into, dest_entry = resolve_target(client, dest, len(sources))
        for src in sources:
            try:
                entry = stat_required(client, src)
                target = join(dest, str(entry.get("name"))) if into else dest
                existing = stat(client, target) if into else dest_entry
                if not clear_target(client, entry, target, existing, no_clobber):
                    outcomes.ok({"src": entry.get("uri"), "dst": target, "skipped": True})
                    continue
                moved = client.request(
                    "POST", MOVE, json={"src": entry.get("uri"), "dst": target}, timeout=LONG_TIMEOUT
                )
            except KilnError as error:
                outcomes.fail(src, error)
                continue
            moved = moved if isinstance(moved, dict) else {"uri": target}
            outcomes.ok(moved, f"Moved {entry.get('uri')} to {moved.get('uri', target)}")
    outcomes.finish()


# --- df ---------------------------------------------------------------------------------------------


@click.command()
@click.argument("path", required=False, default="storage:", type=STORAGE_PATH)
@json_option
@pass_app
def df(app: App, path: str) -> None:
    """Disk usage below a storage path (default: your whole home): bytes, files and folders.

    The server walks the tree on each call, so a big tree takes a while.
    --json prints {uri, size, files, dirs}.

    \b
    Examples:
      kiln df
      kiln df storage:datasets/imagenet
      kiln df storage:/alice/shared --json | jq .size
    """
    out = app.out
    with app.client() as client:
        usage = client.request("GET", DU, params={"uri": path}, timeout=LONG_TIMEOUT)
    if not isinstance(usage, dict):
        raise KilnError(f"unexpected answer from server for GET {DU}: not an object")
    out.emit(
        usage,
        lambda: out.table(
            ("PATH", "SIZE", "BYTES", "FILES", "FOLDERS"),
            [
                [
                    usage.get("uri"),
                    human_size(usage.get("size")),
                    usage.get("size"),
                    usage.get("files"),
                    usage.get("dirs"),
                ]
            ],
        ),
    )


# --- cp ---------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One step of a copy: `upload`, `download` (files), `copy` (server-side), `mkdir`/`mkdir-local`."""

    action: str
    src: str
    dst: str
    size: int | None = None
    label: str = ""
    local: Path | None = None
    entry: dict[str, Any] | None = None


@dataclass
class CopyOptions:
    recursive: bool
    no_clobber: bool
    chunk_size: int
    retries: int


def plan_upload(
    client: KilnClient, src: str, dest: str, into: bool, opts: CopyOptions, warn: Callable[[str], None]
) -> list[Item]:
    path = local_path(src)
    if not path.exists():
        raise KilnError("not found: no such file or folder", ExitCode.NOT_FOUND)
    name = "" if path.name in ("", ".", "..") else path.name  # `cp -r . storage:x/`: the contents
    target = join(dest, name) if into else dest
    if not path.is_dir():
        info = path.stat()
        if not stat_module.S_ISREG(info.st_mode):
            raise bad_input("not a regular file")
        size = info.st_size
        return [Item("upload", str(path), target, size, name or str(path), local=path)]
    if not opts.recursive:
        raise folder_needs_r("cp")
    client.post(MKDIR, {"uri": target, "parents": True})  # now: a file in the way fails this source only
    items = []
    for found in walk_local(path, warn):
        uri = join(target, *found.rel)
        label = "/".join((name, *found.rel)) if name else "/".join(found.rel)
        if found.type == "dir":
            if found.rel:
                items.append(Item("mkdir", str(found.path), uri, label=label))
        else:
            items.append(Item("upload", str(found.path), uri, found.size, label, local=found.path))
    return items


def plan_download(client: KilnClient, src: str, dest: Path, into: bool, opts: CopyOptions) -> list[Item]:
    entry = stat_required(client, src)
    uri = str(entry.get("uri") or src)
    name = str(entry.get("name") or "")
    if into and not safe_name(name):
        raise KilnError(f"cannot name a local file after {uri}")
    target = dest / name if into else dest
    if not target.parent.is_dir():
        raise KilnError(f"not found: no such local folder: {target.parent}", ExitCode.NOT_FOUND)
    if not is_dir(entry):
        return [Item("download", uri, str(target), entry.get("size"), name, local=target, entry=entry)]
    if not opts.recursive:
        raise folder_needs_r("cp")
    if target.exists() and not target.is_dir():
        raise KilnError(f"conflict: cannot overwrite the file {target} with a folder", ExitCode.CONFLICT)
    items = [Item("mkdir-local", uri, str(target), label=name, local=target)]
    for rel, found in walk_storage(client, uri):
        local = target.joinpath(*rel)
        label = "/".join((name, *rel))
        found_uri = str(found.get("uri") or join(uri, *rel))
        if found.get("type") == "dir":
            items.append(Item("mkdir-local", found_uri, str(local), label=label, local=local))
        else:
            items.append(Item("download", found_uri, str(local), found.get("size"), label, local=local, entry=found))
    return items


def plan_copy(client: KilnClient, src: str, dest: str, into: bool, opts: CopyOptions) -> list[Item]:
    entry = stat_required(client, src)
    if is_dir(entry) and not opts.recursive:
        raise folder_needs_r("cp")
    target = join(dest, str(entry.get("name"))) if into else dest
    return [Item("copy", str(entry.get("uri") or src), target, entry.get("size"), str(entry.get("name")), entry=entry)]


class Copier:
    """Runs the items of a copy with progress bars: one per file, plus a total for several files."""

    def __init__(self, client: KilnClient, bars: TransferProgress, opts: CopyOptions) -> None:
        self.client = client
        self.bars = bars
        self.opts = opts
        self.total_bar: Any = None
        self.files = 0
        self.bytes = 0

    def start_total(self, files: int, size: int) -> None:
        self.total_bar = self.bars.add(f"total: {files} files", size)

    def meter(self, label: str, size: int | None) -> tuple[Any, Callable[[int], None]]:
        bar = self.bars.add(shorten(label, LABEL_WIDTH), size)
        total_bar = self.total_bar

        def report(position: int) -> None:
            delta = position - bar.completed
            bar.seek(position)
            if total_bar is not None and delta:
                total_bar(delta)

        return bar, report

    def run(self, item: Item) -> dict[str, Any]:
        result: dict[str, Any] = {"action": item.action, "src": item.src, "dst": item.dst}
        if item.action == "mkdir":
            entry = self.client.post(MKDIR, {"uri": item.dst, "parents": True})
            result["dst"] = entry.get("uri", item.dst) if isinstance(entry, dict) else item.dst
            return result
        if item.action == "mkdir-local":
            assert item.local is not None
            item.local.mkdir(exist_ok=True)
            return result
        if item.action == "copy":
            return self.copy(item, result)
        bar, report = self.meter(item.label or item.src, item.size)
        try:
            if item.action == "upload":
                assert item.local is not None
                try:
                    entry = transfer.upload_file(
                        self.client,
                        item.local,
                        item.dst,
                        size=item.size,
                        overwrite=not self.opts.no_clobber,
                        chunk_size=self.opts.chunk_size,
                        retries=self.opts.retries,
                        progress=report,
                    )
                except KilnError as error:
                    if self.opts.no_clobber and error.status == 409:
                        return {**result, "skipped": True}
                    raise
                result.update(dst=entry.get("uri", item.dst), size=entry.get("size", item.size))
            else:
                assert item.local is not None
                if self.opts.no_clobber and item.local.exists():
                    return {**result, "skipped": True}
                result["size"] = transfer.download_file(
                    self.client, item.src, item.local, retries=self.opts.retries, progress=report
                )
            self.files += 1
            self.bytes += int(result.get("size") or 0)
            return result
        finally:
            if self.total_bar is not None:
                bar.remove()

    def copy(self, item: Item, result: dict[str, Any]) -> dict[str, Any]:
        assert item.entry is not None
        existing = stat(self.client, item.dst)
        if not clear_target(self.client, item.entry, item.dst, existing, self.opts.no_clobber):
            return {**result, "skipped": True}
        entry = self.client.request("POST", COPY, json={"src": item.src, "dst": item.dst}, timeout=LONG_TIMEOUT)
        entry = entry if isinstance(entry, dict) else {}
        self.files += 1
        return {**result, "dst": entry.get("uri", item.dst), "size": entry.get("size", item.size)}


def run_items(
    client: KilnClient,
    out: Output,
    plans: list[list[Item]],
    opts: CopyOptions,
    outcomes: Outcomes,
    *,
    quiet: bool = False,
    total: bool = False,
) -> Copier:
    """Carry out planned copies (`plan_upload`/`plan_download`/`plan_copy`) with progress bars on
    stderr, recording each file in `outcomes`; a total bar with `total` or several files. Ctrl-C
    exits 130 with a hint that running the same command again continues cut-off downloads."""
    files = [item for items in plans for item in items if item.action in ("upload", "download")]
    try:
        with out.transfer_progress(enabled=False if quiet else None) as bars:
            copier = Copier(client, bars, opts)
            if total or len(files) > 1:
                copier.start_total(len(files), sum(item.size or 0 for item in files))
            for items in plans:
                for item in items:
                    try:
                        result = copier.run(item)
                    except KilnError as error:
                        outcomes.fail(item.src, error)
                        continue
                    except OSError as exc:
                        outcomes.fail(item.src, os_error(exc))
                        continue
                    if result["action"] in ("upload", "download", "copy"):
                        outcomes.ok(result)
    except KeyboardInterrupt:
        out.info("Interrupted. Run the same command again: cut-off downloads continue where they stopped.")
        raise click.exceptions.Exit(INTERRUPTED) from None
    if bars.enabled and copier.files:
        out.info(
            f"Copied {copier.files} file{'s' if copier.files != 1 else ''}"
            + (f" ({human_size(copier.bytes)})" if copier.bytes else "")
        )
    return copier


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="SRC... DST")
@click.option("-r", "-R", "--recursive", is_flag=True, help="Copy folders and everything in them.")
@click.option("-n", "--no-clobber", is_flag=True, help="Do not replace existing files (they are skipped).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--chunk-size",
    type=SIZE,
    default="8MiB",
    show_default=True,
    help="Files this big or bigger are uploaded in resumable chunks of this size.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 100),
    default=transfer.RETRIES,
    show_default=True,
    help="Tries again after a lost connection (back-off 0.5 s … 10 s).",
)
@json_option
@pass_app
def cp(
    app: App, paths: tuple[str, ...], recursive: bool, no_clobber: bool, quiet: bool, chunk_size: int, retries: int
) -> None:
    """Copy files and folders: local to storage, storage to local, or storage to storage.

    Paths starting with storage: are in storage; anything else is local. Like cp: when DST is
    a folder (or ends with /) each SRC goes into it, otherwise SRC becomes DST; folders need -r;
    existing files are replaced unless -n. Storage to storage copies on the server.

    Uploads of --chunk-size or more use resumable uploads and continue from the server's offset
    after a lost connection; smaller files are streamed in one request (sent again on failure).
    Downloads are written to .NAME.kiln-part beside the target and renamed at the end; a part
    file left by an interrupted run is continued (Range), unless the file changed meanwhile.
    Progress bars on stderr when it is a terminal (not with -q or --json). --json prints one
    {action, src, dst, size} per file (skipped: true with -n).

    \b
    Examples:
      kiln cp model.pt storage:models/
      kiln cp -r ./dataset storage:datasets/cifar
      kiln cp -r storage:/alice/results ./results
      kiln cp storage:data/a.csv storage:backup/a.csv
      kiln cp --chunk-size 64M big.tar storage:archive/
    """
    if len(paths) < 2:
        raise click.UsageError("give a source and a destination: kiln cp [OPTIONS] SRC... DST")
    *sources, dest = paths
    out = app.out
    opts = CopyOptions(recursive=recursive, no_clobber=no_clobber, chunk_size=chunk_size, retries=retries)
    outcomes = Outcomes(out)
    storage_dest = is_storage(dest)
    if storage_dest:
        dest = check_storage(dest)
    else:
        dest_path = local_path(dest)
        if not any(is_storage(src) for src in sources):
            raise bad_input("nothing here is in storage: one of SRC or DST must start with storage: (use cp locally)")
    with app.client() as client:
        if storage_dest:
            into, _ = resolve_target(client, dest, len(sources))
        else:
            into = dest_path.is_dir() or wants_folder(dest)
            if len(sources) > 1 and not into:
                raise bad_input(f"{dest} is not a folder: with several sources DST must be a folder")
            if into and dest_path.exists() and not dest_path.is_dir():
                raise KilnError(f"conflict: {dest} is a file, not a folder", ExitCode.CONFLICT)
            if into:
                dest_path.mkdir(parents=True, exist_ok=True)
        plans: list[tuple[str, list[Item]]] = []
        for src in sources:
            try:
                if not is_storage(src):
                    if not storage_dest:
                        raise bad_input(f"{src} and {dest} are both local: use cp")
                    items = plan_upload(client, src, dest, into, opts, out.warn)
                elif storage_dest:
                    items = plan_copy(client, check_storage(src), dest, into, opts)
                else:
                    items = plan_download(client, check_storage(src), dest_path, into, opts)
            except KilnError as error:
                outcomes.fail(src, error)
                continue
            except OSError as exc:
                outcomes.fail(src, os_error(exc))
                continue
            plans.append((src, items))
        run_items(client, out, [items for _, items in plans], opts, outcomes, quiet=quiet, total=recursive)
    outcomes.finish()


# --- links ------------------------------------------------------------------------------------------


def link_url(base_url: str, link: dict[str, Any]) -> str:
    """`<server>/s/<token>/`: the server we talk to, whatever host name the server put in `url`."""
    token = link.get("token")
    if isinstance(token, str) and token:
        return f"{base_url}/s/{quote(token, safe='')}/"
    return str(link.get("url") or "")


def link_expires(link: dict[str, Any]) -> str:
    expires = link.get("expires_at")
    if not expires:
        return "never"
    return f"{local_time(expires)} ({until(expires)})"


def link_state(link: dict[str, Any]) -> str:
    if link.get("revoked_at"):
        return "revoked"
    if link.get("active") is False:
        return "expired" if until(link.get("expires_at")) == "expired" else "dead"
    return "active"


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def link_reference(value: str) -> tuple[int | None, str | None]:
    """`12` -> (12, None); `https://kiln/s/<token>/…` or a bare token -> (None, token)."""
    value = value.strip()
    if value.isdigit():
        return int(value), None
    if "://" in value or value.startswith("/s/"):
        path = urlsplit(value).path
        parts = [p for p in path.split("/") if p]
        if "s" in parts and parts.index("s") + 1 < len(parts):
            token = parts[parts.index("s") + 1]
            if _TOKEN.match(token):
                return None, token
    elif _TOKEN.match(value):
        return None, value
    raise bad_input(f"{value!r} is not a link: give its ID (kiln link ls) or its URL (…/s/TOKEN/)")


@click.group()
def link() -> None:
    """Share links: anyone holding the URL can read a file or browse a folder, no login needed.

    \b
    Examples:
      kiln link create storage:results/report.pdf --expires 7d
      kiln link ls storage:results/report.pdf
      kiln link revoke 12
    """


@link.command("create")
@click.argument("path", type=STORAGE_PATH)
@click.option(
    "--expires",
    default="never",
    show_default=True,
    metavar="WHEN",
    help="never (a permanent link), a duration (30m, 1h, 7d, 2w) or a date (2025-12-31T18:00, local time).",
)
@json_option
@pass_app
def link_create(app: App, path: str, expires: str) -> None:
    """Create a share link to a storage file or folder and print its URL (needs manage).

    The link works for anyone until it is revoked or expires, and only while you can still
    read the path. --json prints the link ({id, uri, kind, token, url, expires_at, …}).

    \b
    Examples:
      kiln link create storage:results/report.pdf
      kiln link create storage:datasets/sample --expires 7d
      URL=$(kiln link create storage:model.pt --expires 1h)
    """
    body = {"uri": path, **parse_expiry(expires)}
    out = app.out
    with app.client() as client:
        created = client.post(LINKS, body)
        base_url = client.base_url
    if not isinstance(created, dict):
        raise KilnError(f"unexpected answer from server for POST {LINKS}: not an object")
    url = link_url(base_url, created)

    def human() -> None:
        out.line(url)
        if created.get("expires_at"):
            out.info(f"Expires {link_expires(created)}; revoke it with: kiln link revoke {created.get('id')}")

    out.emit(created, human)


@link.command("ls")
@click.argument("path", required=False, type=STORAGE_PATH)
@click.option("-a", "--all", "all_", is_flag=True, help="Also revoked and expired links.")
@json_option
@pass_app
def link_ls(app: App, path: str | None, all_: bool) -> None:
    """List share links: those on PATH (anyone's; needs manage), or without PATH those you made.

    Only live links unless --all. --json prints the server's link objects.

    \b
    Examples:
      kiln link ls
      kiln link ls storage:results/report.pdf
      kiln link ls --all --json | jq -r '.[].url'
    """
    out = app.out
    params = {"uri": path, "all": "1" if all_ else None}
    with app.client() as client:
        answer = client.get(LINKS, params=params)
        base_url = client.base_url
    results = answer.get("results") if isinstance(answer, dict) else answer
    links = [item for item in results or [] if isinstance(item, dict)]

    def human() -> None:
        columns = [*LINK_COLUMNS, "STATE"] if all_ else list(LINK_COLUMNS)
        rows = []
        for item in links:
            row = [
                item.get("id"),
                item.get("uri"),
                link_url(base_url, item),
                item.get("created_by"),
                link_expires(item),
            ]
            rows.append([*row, link_state(item)] if all_ else row)
        out.table(columns, rows, empty="No links.")

    out.emit(links, human)


@link.command("revoke")
@click.argument("links", nargs=-1, required=True, metavar="URL|ID...")
@json_option
@pass_app
def link_revoke(app: App, links: tuple[str, ...]) -> None:
    """Revoke share links, given by ID or URL: dead at once, for good (creator or manager).

    A URL is looked up among the links you made; for another user's link on a path you
    manage, give its ID (kiln link ls PATH). --json: [{id, uri, revoked}].

    \b
    Examples:
      kiln link revoke 12
      kiln link revoke https://kiln.example.com/s/Xk2…/
    """
    refs = [(value, *link_reference(value)) for value in links]
    out = app.out
    outcomes = Outcomes(out)
    with app.client() as client:
        mine: list[dict[str, Any]] | None = None
        for value, link_id, token in refs:
            try:
                if link_id is None:
                    if mine is None:
                        answer = client.get(LINKS, params={"all": "1"})
                        found = answer.get("results") if isinstance(answer, dict) else answer
                        mine = [item for item in found or [] if isinstance(item, dict)]
                    match = next((item for item in mine if item.get("token") == token), None)
                    if match is None:
                        raise KilnError(
                            "not found: no link of yours has this URL (for another user's link give its ID: "
                            "kiln link ls PATH)",
                            ExitCode.NOT_FOUND,
                        )
                    link_id = int(match["id"])
                detail = client.get(f"{LINKS}{link_id}/")
                client.delete(f"{LINKS}{link_id}/")
            except KilnError as error:
                outcomes.fail(value, error)
                continue
            uri = detail.get("uri") if isinstance(detail, dict) else None
            outcomes.ok({"id": link_id, "uri": uri, "revoked": True}, f"Revoked link {link_id} to {uri}")
    outcomes.finish()


COMMANDS: list[click.Command] = [ls, mkdir, cp, rm, mv, df, link]
