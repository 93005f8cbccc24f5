"""Moving bytes between local files and Kiln storage (docs/storage.md), surviving dropped connections.

- `upload_file()`: files smaller than the chunk size go up as one streamed `PUT content/`; bigger
  ones through the resumable protocol (`POST uploads/`, then `PATCH` one chunk at a time with
  `Upload-Offset`; after a failure `HEAD` tells the server's offset and the upload continues there).
- `download_file()`: `GET content/` streamed into a part file beside the target (`.NAME.kiln-part`),
  renamed onto the target at the end. The part file's ETag is noted beside it
  (`.NAME.kiln-part.etag`); when a part file is found (a broken connection, or an earlier run that
  was interrupted) the download continues with `Range` + `If-Range: <etag>`, so a file that
  changed on the server meanwhile is fetched whole again instead of being spliced.

Files are never read whole: bodies are generators of at most `PIECE` bytes. Transient failures
(connection lost or refused, timeouts, 502/503/504, a wrong upload offset) are retried `retries`
times with exponential back-off (0.5 s, 1 s, 2 s … at most 10 s); the counter starts again
whenever bytes got through. An upload the server says is busy (an earlier, cut-off `PATCH` still
winding up) is waited for up to `BUSY_PATIENCE` seconds, apart from the retries.
`progress(position)` is told the absolute number of bytes done after every piece, and again
(possibly smaller) when a transfer resumes elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from kiln_cli.client import KilnClient
from kiln_cli.errors import ExitCode, KilnError

STORAGE = "/api/v1/storage/"
CONTENT = STORAGE + "content/"
UPLOADS = STORAGE + "uploads/"
STAT = STORAGE + "stat/"

KiB = 1 << 10
MiB = 1 << 20
PIECE = MiB  # read from a file, handed to the connection, written to disk at a time
DEFAULT_CHUNK = 8 * MiB  # resumable uploads from this size on, in chunks of this size
RETRIES = 5
BACKOFF_MAX = 10.0
TRANSFER_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # per read/write; the server fsyncs a chunk
CANCEL_TIMEOUT = httpx.Timeout(5.0)
RETRY_STATUS = (502, 503, 504)
PART_SUFFIX = ".kiln-part"

Progress = Callable[[int], None]
BUSY_PATIENCE = 180.0  # seconds to wait for a cut-off PATCH to wind up on the server
BUSY_WAIT_MAX = 5.0
sleep = time.sleep  # tests replace these two
monotonic = time.monotonic


def _nothing(position: int) -> None:
    return None


# --- retries ----------------------------------------------------------------------------------------


def transient(error: KilnError) -> bool:
    """A failure worth trying again: the connection, or a gateway/server that is briefly away."""
    return error.exit_code == ExitCode.UNREACHABLE or error.status in RETRY_STATUS


def backoff(failures: int) -> float:
    return min(0.5 * 2 ** (failures - 1), BACKOFF_MAX)


class Retry:
    """Counts consecutive failures; `failed(error)` sleeps before the next try or re-raises."""

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self.failures = 0

    def failed(self, error: KilnError) -> None:
        self.failures += 1
        if self.failures > self.retries:
            raise error
        sleep(backoff(self.failures))

    def progressed(self) -> None:
        self.failures = 0


class Busy:
    """Patience with "Another request is writing to this upload" (409 at an unchanged offset).

    After a dropped `PATCH` the server finishes that request first, which takes until it notices
    the client is gone (up to 120 s without a byte: `storage.asgi.READ_TIMEOUT`); meanwhile every
    new `PATCH` is refused. Wait for that (`BUSY_PATIENCE`) without spending the retries."""

    def __init__(self) -> None:
        self.waits = 0
        self.since: float | None = None

    def wait(self, error: KilnError) -> None:
        now = monotonic()
        if self.since is None:
            self.since = now
        elif now - self.since > BUSY_PATIENCE:
            raise error
        self.waits += 1
        sleep(min(backoff(self.waits), BUSY_WAIT_MAX))

    def reset(self) -> None:
        self.waits, self.since = 0, None


def with_retries(call: Callable[[], Any], retries: int) -> Any:
    """`call()` until it succeeds, retrying transient failures."""
    retry = Retry(retries)
    while True:
        try:
            return call()
        except KilnError as error:
            if not transient(error):
                raise
            retry.failed(error)


# --- reading files ----------------------------------------------------------------------------------


def read_pieces(fh: IO[bytes], length: int, start: int, progress: Progress) -> Iterator[bytes]:
    """`length` bytes of `fh` from its current position, `PIECE` at a time; a file that got shorter
    meanwhile is an error (the server would otherwise see a truncated body)."""
    left = length
    position = start
    while left > 0:
        data = fh.read(min(PIECE, left))
        if not data:
            raise KilnError(f"{getattr(fh, 'name', 'the file')} got shorter while it was being uploaded")
        left -= len(data)
        position += len(data)
        yield data
        progress(position)


def _body_headers(length: int, content_type: str = "application/octet-stream") -> dict[str, str]:
    return {"Content-Length": str(length), "Content-Type": content_type}


# --- uploads ----------------------------------------------------------------------------------------


def upload_file(
    client: KilnClient,
    path: Path,
    uri: str,
    *,
    size: int | None = None,
    overwrite: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
    retries: int = RETRIES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Upload the local file `path` to the storage `uri`; return the stored entry (or what the
    server said about it). `overwrite=False` answers 409 (a `KilnError`) when `uri` exists."""
    if size is None:
        size = path.stat().st_size
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if size > 0 and size >= chunk_size:
        return upload_resumable(
            client,
            path,
            uri,
            size=size,
            overwrite=overwrite,
            chunk_size=chunk_size,
            retries=retries,
            progress=progress,
        )
    return upload_simple(client, path, uri, size=size, overwrite=overwrite, retries=retries, progress=progress)


def upload_simple(
    client: KilnClient,
    path: Path,
    uri: str,
    *,
    size: int,
    overwrite: bool = True,
    retries: int = RETRIES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One streamed `PUT content/` (the whole file again after a failure: it is small)."""
    report = progress or _nothing
    params = {"uri": uri, "overwrite": "1" if overwrite else "0"}
    retry = Retry(retries)
    while True:
        report(0)
        try:
            with path.open("rb") as fh:
                answer = client.request(
                    "PUT",
                    CONTENT,
                    params=params,
                    headers=_body_headers(size),
                    content=read_pieces(fh, size, 0, report),
                    timeout=TRANSFER_TIMEOUT,
                )
            return answer if isinstance(answer, dict) else {"uri": uri, "type": "file", "size": size}
        except KilnError as error:
            if not transient(error):
                raise
            retry.failed(error)


def session_path(session: Mapping[str, Any]) -> str:
    """The upload's URL (site-relative or absolute) as a path on our server."""
    url = session.get("url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    if session.get("id"):
        return f"{UPLOADS}{session['id']}/"
    raise KilnError("unexpected answer from server for POST /api/v1/storage/uploads/: no upload url")


def server_offset(client: KilnClient, url: str, retries: int) -> int:
    """Where the server has the upload (`HEAD`: `Upload-Offset`), retrying transient failures."""
    response = with_retries(lambda: client.fetch("HEAD", url, timeout=TRANSFER_TIMEOUT), retries)
    value = response.headers.get("Upload-Offset", "")
    if not value.strip().isdigit():
        raise KilnError(f"unexpected answer from server for HEAD {url}: no Upload-Offset header")
    return int(value)


def upload_resumable(
    client: KilnClient,
    path: Path,
    uri: str,
    *,
    size: int,
    overwrite: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
    retries: int = RETRIES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The resumable protocol: a session, then one `PATCH` per chunk from the server's offset.

    After a failed `PATCH` (connection dropped, timeout, 409 busy or wrong offset, 502–504) the
    server's offset is read with `HEAD` and the upload goes on from there: bytes the server kept
    are not sent again. A failure that is not transient cancels the session (`DELETE`), unless
    the server is unreachable (it forgets the session after a day).
    """
    report = progress or _nothing
    body = {"uri": uri, "size": size, "overwrite": overwrite}
    session = with_retries(lambda: client.request("POST", UPLOADS, json=body), retries)
    if not isinstance(session, dict):
        raise KilnError("unexpected answer from server for POST /api/v1/storage/uploads/: not an object")
    url = session_path(session)
    offset = int(session.get("offset") or 0)
    retry = Retry(retries)
    busy = Busy()
    try:
        with path.open("rb") as fh:
            while offset < size:
                length = min(chunk_size, size - offset)
                fh.seek(offset)
                report(offset)
                try:
                    answer = client.request(
                        "PATCH",
                        url,
                        headers={
                            "Upload-Offset": str(offset),
                            **_body_headers(length, "application/offset+octet-stream"),
                        },
                        content=read_pieces(fh, length, offset, report),
                        timeout=TRANSFER_TIMEOUT,
                    )
                except KilnError as error:
                    if not (transient(error) or error.status == 409):
                        raise
                    before = offset
                    if error.status != 409:
                        retry.failed(error)
                    try:
                        offset = server_offset(client, url, retries)
                    except KilnError as lost:
                        # the session is gone: a 409 at the end (the path became a folder …) says why
                        raise error if error.status == 409 and lost.status == 404 else lost
                    if error.status == 409 and offset == before:
                        busy.wait(error)  # an earlier PATCH (cut off) is still winding up on the server
                        continue
                    busy.reset()
                    if offset > before:
                        retry.progressed()
                    elif error.status == 409:
                        retry.failed(error)
                    continue
                busy.reset()
                retry.progressed()
                if isinstance(answer, dict):
                    session = answer
                offset = int(session.get("offset", offset + length))
    except BaseException as error:
        if not (isinstance(error, KilnError) and error.exit_code == ExitCode.UNREACHABLE):
            with suppress(Exception):
                client.fetch("DELETE", url, timeout=CANCEL_TIMEOUT)
        raise
    report(size)
    final_uri = str(session.get("uri") or uri)
    with suppress(KilnError):
        entry = with_retries(lambda: client.get(STAT, params={"uri": final_uri}), retries)
        if isinstance(entry, dict):
            return entry
    return {"uri": final_uri, "type": "file", "size": size}


# --- downloads --------------------------------------------------------------------------------------


def part_path(target: Path) -> Path:
    """`.NAME.kiln-part` beside `target` (a hash instead of NAME when that would be too long)."""
    name = target.name
    if len(name.encode("utf-8", "surrogateescape")) > 200:
        name = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return target.with_name(f".{name}{PART_SUFFIX}")


def etag_path(part: Path) -> Path:
    return part.with_name(part.name + ".etag")


def _read_etag(note: Path) -> str | None:
    try:
        text = note.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def _range_start(response: httpx.Response) -> int | None:
    """The first byte of a 206 answer (`Content-Range: bytes a-b/size`)."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    first = spec.partition("-")[0]
    return int(first) if unit.strip() == "bytes" and first.isdigit() else None


def download_file(
    client: KilnClient,
    uri: str,
    target: Path,
    *,
    retries: int = RETRIES,
    progress: Progress | None = None,
) -> int:
    """Download the storage file `uri` to the local path `target` (replaced at the end, atomically);
    return its size. Continues a part file left by an earlier, interrupted attempt."""
    report = progress or _nothing
    part = part_path(target)
    note = etag_path(part)
    etag = _read_etag(note) if part.exists() else None
    if etag is None:  # a part file nobody can vouch for: start over
        part.unlink(missing_ok=True)
        note.unlink(missing_ok=True)
    retry = Retry(retries)
    while True:
        offset = part.stat().st_size if part.exists() else 0
        start = offset
        headers = {"Range": f"bytes={offset}-", "If-Range": etag} if offset and etag else {}
        total: int | None = None
        try:
            with client.stream(
                "GET", CONTENT, params={"uri": uri}, headers=headers, timeout=TRANSFER_TIMEOUT
            ) as response:
                if response.status_code == 206 and _range_start(response) != offset:
                    raise KilnError(f"unexpected answer from server for GET {CONTENT}: not the range asked for")
                if response.status_code != 206:
                    offset = start = 0  # the whole file: it changed, or no range was asked for
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and not response.headers.get("Content-Encoding"):
                    total = offset + int(length)
                if offset == 0:
                    etag = response.headers.get("ETag")
                    if etag:
                        note.write_text(etag, encoding="utf-8")
                    else:
                        note.unlink(missing_ok=True)
                report(offset)
                with part.open("ab" if offset else "wb") as fh:
                    for chunk in response.iter_bytes():  # as they arrive: a drop loses nothing received
                        fh.write(chunk)
                        offset += len(chunk)
                        report(offset)
            if total is not None and offset != total:
                raise KilnError(
                    f"server unreachable: the download of {uri} ended after {offset} of {total} bytes",
                    ExitCode.UNREACHABLE,
                )
        except KilnError as error:
            if error.status == 416:  # our part file is not shorter than the file: start over
                part.unlink(missing_ok=True)
                note.unlink(missing_ok=True)
                etag = None
                retry.failed(error)
                continue
            if not transient(error):
                raise
            if offset > start:
                retry.progressed()
            retry.failed(error)
            if etag is None:  # without an ETag a partial file cannot be resumed safely
                part.unlink(missing_ok=True)
            continue
        break
    os.replace(part, target)
    note.unlink(missing_ok=True)
    return offset
