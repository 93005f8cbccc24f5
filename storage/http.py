"""HTTP plumbing of the storage API: request bodies read as a stream, single-range requests, and
streamed responses that suit the server they run in.

Under ASGI a streamed response must be an *async* iterator: Django consumes a sync one by reading
it whole into a list first. So each chunk is produced in a worker thread and awaited; under WSGI
(and the in-process test client) a plain iterator is handed over.

A file on the local disk is also offered as itself (``FileRangeResponse``): when the server offers
the ASGI zero-copy extension, ``storage.asgi`` sends it with sendfile(2) instead of the chunks.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse, UnreadablePostError
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from console.errors import error_body
from storage.backends.base import Entry, FileChunkReader, UploadInterrupted

BODY_CHUNK = 1 << 20
_IO = ThreadPoolExecutor(max_workers=16, thread_name_prefix="kiln-storage-io")
_END = object()

# Shown inline only on request (``?inline=1``) and only when a browser cannot run them as a page.
_INLINE_MEDIA = ("image/", "audio/", "video/")
_INLINE_TEXT = ("text/", "application/json", "application/x-yaml", "application/yaml", "application/xml")


# --- request bodies ---------------------------------------------------------------------------------


def body_chunks(request: HttpRequest, *, chunk_size: int = BODY_CHUNK) -> Iterator[bytes]:
    """The raw request body in chunks, never whole. A client that goes away midway (or a body that
    ends early) raises ``UploadInterrupted``."""
    while True:
        try:
            data = request.read(chunk_size)
        except (UnreadablePostError, OSError) as error:
            raise UploadInterrupted(f"The upload was interrupted: {error or 'the client went away'}") from None
        if not data:
            return
        yield data


def content_length(request: HttpRequest) -> int | None:
    value = request.META.get("CONTENT_LENGTH")
    if value in (None, ""):
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


# --- streamed responses -----------------------------------------------------------------------------


def _close(iterator: Iterator[bytes]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except ValueError:  # a generator still running in its thread; it ends on its own
            pass


async def _async_chunks(iterator: Iterator[bytes]) -> AsyncIterator[bytes]:
    pending = None
    try:
        while True:
            pending = _IO.submit(next, iterator, _END)
            chunk = await asyncio.wrap_future(pending)
            if chunk is _END:
                return
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.add_done_callback(lambda _: _close(iterator))  # cancelled mid-read: close after it
        else:
            _close(iterator)


def _sync_chunks(iterator: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from iterator
    finally:
        _close(iterator)


def streamed(request: HttpRequest, iterator: Iterator[bytes], *, status: int = 200,
             content_type: str = "application/octet-stream") -> StreamingHttpResponse:
    content = _async_chunks(iterator) if isinstance(request, ASGIRequest) else _sync_chunks(iterator)
    return StreamingHttpResponse(content, status=status, content_type=content_type)


class FileRangeResponse(StreamingHttpResponse):
    """A streamed range of a local file that the ASGI handler may send as the file itself
    (``reader.file``, ``reader.start``, ``reader.length``) when the server can; its chunks are the
    fallback. A middleware that replaces the body gets what it made sent instead (``reader`` is
    then ``None``)."""

    reader: FileChunkReader | None = None

    @property
    def streaming_content(self) -> Any:
        return super().streaming_content

    @streaming_content.setter
    def streaming_content(self, value: Any) -> None:
        self.reader = None
        self._set_streaming_content(value)


def _file_streamed(request: HttpRequest, reader: Iterator[bytes], *, status: int,
                   content_type: str) -> StreamingHttpResponse:
    if not (isinstance(request, ASGIRequest) and isinstance(reader, FileChunkReader)):
        return streamed(request, reader, status=status, content_type=content_type)
    response = FileRangeResponse(_async_chunks(reader), status=status, content_type=content_type)
    response.reader = reader
    return response


def _protect(response: HttpResponse | StreamingHttpResponse) -> None:
    """Stored files are other people's bytes: never let a browser run them as our pages."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-cache"


# --- ranges -----------------------------------------------------------------------------------------

UNSATISFIABLE = "unsatisfiable"


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, length)`` for a single ``bytes=`` range; ``UNSATISFIABLE``; or ``None`` to send
    the whole file (no header, a malformed one, another unit, or several ranges)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first.strip():
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return UNSATISFIABLE
            suffix = min(suffix, size)
            return size - suffix, suffix
        start = int(first)
        end = int(last) if last.strip() else None
    except ValueError:
        return None
    if start < 0 or (end is not None and end < start):
        return None
    if start >= size:
        return UNSATISFIABLE
    end = size - 1 if end is None else min(end, size - 1)
    return start, end - start + 1


def _if_range_matches(request: HttpRequest, entry: Entry) -> bool:
    condition = request.META.get("HTTP_IF_RANGE")
    if not condition:
        return True
    if condition.startswith(('"', "W/")):
        return entry.etag is not None and condition == entry.etag
    moment = parse_http_date_safe(condition)
    return moment is not None and entry.mtime is not None and int(entry.mtime.timestamp()) <= moment


def _content_type(name: str) -> str:
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding or not guessed:
        return "application/octet-stream"
    return guessed


def file_response(request: HttpRequest, *, entry: Entry, open_chunks: Any, head: bool = False,
                  inline: bool = False) -> HttpResponse | StreamingHttpResponse:
    """The bytes of a file (all, or the one range asked for: 206; 416 when unsatisfiable).
    ``open_chunks(start=, length=)`` opens the file; it is called before the response starts, so a
    file that vanished is still a clean 404."""
    size = entry.size or 0
    wanted = parse_range(request.META.get("HTTP_RANGE"), size) if _if_range_matches(request, entry) else None
    if wanted == UNSATISFIABLE:
        response = HttpResponse(status=416, content_type="application/json")
        response.content = _json(error_body("range_not_satisfiable", f"The file has {size} bytes"))
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, length = wanted if isinstance(wanted, tuple) else (0, size)
    status = 206 if isinstance(wanted, tuple) else 200
    content_type = _content_type(entry.name)
    as_attachment = True
    if inline:
        if content_type.startswith(_INLINE_TEXT):
            content_type, as_attachment = "text/plain; charset=utf-8", False
        elif content_type.startswith(_INLINE_MEDIA) and content_type != "image/svg+xml":
            as_attachment = False
    if head:
        response: HttpResponse | StreamingHttpResponse = HttpResponse(status=status, content_type=content_type)
    else:
        response = _file_streamed(request, open_chunks(start=start, length=length), status=status,
                                  content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    if entry.etag:
        response["ETag"] = entry.etag
    if entry.mtime:
        response["Last-Modified"] = http_date(entry.mtime.timestamp())
    response["Content-Disposition"] = content_disposition_header(as_attachment, entry.name)
    _protect(response)
    return response


def zip_response(request: HttpRequest, *, name: str, chunks: Iterator[bytes]) -> StreamingHttpResponse:
    response = streamed(request, chunks, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.zip")
    _protect(response)
    return response


def _json(body: Any) -> bytes:
    import json

    return json.dumps(body).encode()
