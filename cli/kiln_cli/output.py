"""Everything a verb prints goes through here: human tables by default, JSON with `--json`.

- `out.emit(data, human)` prints `data` as JSON in `--json` mode, or calls `human()` otherwise.
- `out.table(columns, rows)` prints a plain, borderless table (like `docker ps`); when stdout is
  not a terminal, lines are never wrapped or truncated, so `grep`/`awk` see one row per line.
- `out.transfer_progress()` gives byte progress bars (rich.progress) on stderr for transfer verbs.
- `relative_time(iso)` ("3m ago"), `local_time(iso)`, `human_size(n)` ("1.5 MiB") and
  `shorten(text, width)` format cells.
Errors are not printed here: raise `KilnError` and click prints it.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

_WIDE = 10_000  # width used when stdout is not a terminal: never fold a row


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from the server's ISO 8601 text (naive means UTC); None if unparsable."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative_time(value: Any, now: datetime | None = None) -> str:
    """`2024-05-01T12:00:00+00:00` -> `3m ago` (`just now`, `45s ago`, `2h ago`, `5d ago`, then the date)."""
    moment = parse_time(value)
    if moment is None:
        return "" if value is None else str(value)
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 5:  # includes a little clock skew into the future
        return "just now"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            if unit == "d" and seconds >= 60 * 86_400:
                return moment.astimezone().strftime("%Y-%m-%d")
            return f"{seconds // size}{unit} ago"
    return "just now"


def local_time(value: Any) -> str:
    """ISO 8601 text -> `2024-05-01 14:00:03` in the local time zone (as given if unparsable)."""
    moment = parse_time(value)
    if moment is None:
        return "" if value is None else str(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def shorten(text: Any, width: int) -> str:
    """One line, at most `width` characters (an ellipsis marks the cut)."""
    flat = " ".join(cell(text).split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def human_size(value: Any) -> str:
    """Bytes for humans, in binary units: 0 B, 999 B, 1.5 KiB, 12.3 MiB, 4.0 GiB (None -> "")."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    size = float(value)
    if abs(size) < 1024:
        return f"{int(size)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        size /= 1024
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Output:
    def __init__(self, *, json_mode: bool = False) -> None:
        self.json_mode = json_mode

    # -- plain lines -------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        click.echo(text)

    def warn(self, text: str) -> None:
        click.echo(f"kiln: warning: {text}", err=True)

    def info(self, text: str) -> None:
        """A side remark for humans (stderr, so stdout stays clean for pipes)."""
        click.echo(text, err=True)

    # -- JSON vs human -----------------------------------------------------------------------
    def json(self, data: Any) -> None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        """Print `data` as JSON in `--json` mode, otherwise run the human renderer."""
        if self.json_mode:
            self.json(data)
        else:
            human()

    # -- tables ------------------------------------------------------------------------------
    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        empty: str | None = None,
    ) -> None:
        rows = [list(r) for r in rows]
        if not rows and empty is not None:
            self.line(empty)
            return
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell(v)) for v in row))
        self._render(table)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """A `Key:  value` block (e.g. `kiln config show`)."""
        width = max((len(k) for k, _ in pairs), default=0) + 1
        for key, value in pairs:
            self.line(f"{key + ':':<{width}} {cell(value)}".rstrip())

    def _render(self, renderable: Any) -> None:
        stdout = sys.stdout
        if _is_tty(stdout):
            Console(file=stdout, highlight=False).print(renderable)
            return
        buf = io.StringIO()
        Console(file=buf, width=_WIDE, highlight=False, color_system=None).print(renderable)
        for text_line in buf.getvalue().splitlines():
            click.echo(text_line.rstrip())

    # -- progress ----------------------------------------------------------------------------
    @contextmanager
    def transfer_progress(self, *, enabled: bool | None = None) -> Iterator[TransferProgress]:
        """Byte progress bars on stderr; silent in `--json` mode or when stderr is no terminal."""
        if enabled is None:
            enabled = not self.json_mode and _is_tty(sys.stderr)
        progress = TransferProgress(enabled=enabled)
        with progress:
            yield progress


class TransferProgress:
    """`with out.transfer_progress() as p: advance = p.add("data.csv", size); advance(n)`."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("{task.description}", markup=False, style="bold"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, description: str, total: int | None) -> ProgressBar:
        """Start a bar for one transfer; returns a `ProgressBar`, called as `advance(nbytes)`."""
        if self._progress is None:
            return ProgressBar(None, None)
        return ProgressBar(self._progress, self._progress.add_task(description, total=total))


class ProgressBar:
    """One bar: `bar(n)` advances it by n bytes; `bar.seek(n)` sets where it is (a transfer that
    resumes from another offset); `bar.remove()` takes it off the screen. Does nothing when the
    progress display is off."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task
        self.completed = 0

    def __call__(self, nbytes: int) -> None:
        self.completed += nbytes
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, nbytes)

    def seek(self, completed: int) -> None:
        self.completed = completed
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed)

    def remove(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
