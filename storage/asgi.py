"""Streamed request bodies for the upload endpoints under ASGI.

Django's ``ASGIHandler`` reads a whole request body into a spooled temporary file (on disk past
2.5 MB) before the view runs: a 50 GB upload would first fill 50 GB of the server's temp folder,
and a dropped PATCH would lose every byte of its chunk. ``StreamingUploadASGIHandler`` hands the
body of ``PUT /api/v1/storage/content/`` and ``PATCH /api/v1/storage/uploads/<id>/`` to the view
as a file-like stream that pulls from the ASGI ``receive`` channel as the view reads it (the view
runs in a worker thread; each read waits on the event loop for about a MiB). Every other request
goes through Django's handler unchanged.

Downloads of local files (``storage.http.FileRangeResponse``) are sent with the ASGI extension
``http.response.zerocopysend`` when the server offers it (``console.server.HttpProtocol`` does):
the server sends the file with sendfile(2), no byte passes through Python. Elsewhere they stream.

``console/asgi.py`` serves HTTP with it instead of ``get_asgi_application()``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import io
import re
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponseBase

from storage.http import FileRangeResponse

STREAMED = (
    ("PUT", re.compile(r"^/api/v1/storage/content/$")),
    ("PATCH", re.compile(r"^/api/v1/storage/uploads/[0-9a-fA-F-]{32,36}/$")),
)
ZEROCOPY = "http.response.zerocopysend"  # the ASGI extension (asgiref docs, "Zero Copy Send")
READ_TIMEOUT = 120.0  # seconds without a byte from the client before the upload counts as dropped
FILL = 1 << 20

_streaming: ContextVar[bool] = ContextVar("kiln_streaming_body", default=False)
_body: ContextVar[ASGIBodyStream | None] = ContextVar("kiln_asgi_body", default=None)
_zerocopy: ContextVar[bool] = ContextVar("kiln_zerocopy", default=False)


class ClientDisconnected(OSError):
    """The client went away (or sent nothing for ``READ_TIMEOUT`` seconds) mid-body."""


class ASGIBodyStream(io.RawIOBase):
    """A request body read from a sync thread, pulled from the ASGI channel on the event loop.

    ``read(n)`` returns at most ``n`` bytes — the pieces as the server received them, so no byte is
    copied twice (fewer than ``n`` is not the end; ``b""`` is). Each wait on the loop gathers about
    a MiB of messages, and the next MiB is received while the caller writes this one.
    """

    def __init__(self, receive: Any, loop: asyncio.AbstractEventLoop, *, timeout: float = READ_TIMEOUT) -> None:
        super().__init__()
        self._receive = receive
        self._loop = loop
        self._timeout = timeout
        self._parts: collections.deque[bytes] = collections.deque()  # received, not read yet
        self._inflight: concurrent.futures.Future[list[bytes]] | None = None
        self._more = True
        self.disconnected = False
        self.consumed = asyncio.Event()  # set (on the loop) once the body ended or the client left

    def readable(self) -> bool:
        return True

    async def _gather(self, want: int) -> list[bytes]:
        parts: list[bytes] = []
        have = 0
        try:
            while self._more and have < want:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    self._more, self.disconnected = False, True
                    break
                data = message.get("body", b"")
                if data:
                    parts.append(data)
                    have += len(data)
                self._more = bool(message.get("more_body", False))
        finally:
            if not self._more:
                self.consumed.set()
        return parts

    def _give_up(self) -> None:
        self._more, self.disconnected = False, True
        self.consumed.set()

    def _fetch(self) -> None:
        """Take the next gathered pieces (prefetched while the caller was writing the last ones)."""
        future, self._inflight = self._inflight, None
        if future is None:
            future = asyncio.run_coroutine_threadsafe(self._gather(FILL), self._loop)
        try:
            self._parts.extend(future.result(self._timeout))
        except TimeoutError:
            future.cancel()
            self._loop.call_soon_threadsafe(self._give_up)
            self._more, self.disconnected = False, True
            return
        if self._more:  # read ahead: receiving overlaps with the caller's writing
            self._inflight = asyncio.run_coroutine_threadsafe(self._gather(FILL), self._loop)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(FILL):
                chunks.append(chunk)
            return b"".join(chunks)
        while not self._parts and (self._more or self._inflight is not None):
            self._fetch()
        if not self._parts:
            if self.disconnected:
                raise ClientDisconnected("the client went away before the body was complete")
            return b""
        data = self._parts.popleft()
        if len(data) > size:
            view = memoryview(data)
            data = bytes(view[:size])
            self._parts.appendleft(bytes(view[size:]))
        return data

    def readline(self, size: int | None = -1) -> bytes:  # Django's multipart parser never gets this body
        raise io.UnsupportedOperation("readline on a streamed upload body")

    def close(self) -> None:
        self._parts.clear()
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        super().close()


def _wants_stream(scope: dict[str, Any]) -> bool:
    method = scope.get("method", "")
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return any(method == verb and pattern.match(path) for verb, pattern in STREAMED)


def _head(response: HttpResponseBase) -> dict[str, Any]:
    """The ``http.response.start`` message, as Django's ``send_response`` makes it."""
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    headers += [(b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
                for cookie in response.cookies.values()]
    return {"type": "http.response.start", "status": response.status_code, "headers": headers}


class StreamingUploadASGIHandler(ASGIHandler):
    """Django's ASGI handler, with streamed bodies for the storage upload endpoints and zero-copy
    downloads of local files."""

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        token, body_token = _streaming.set(_wants_stream(scope)), _body.set(None)
        zerocopy_token = _zerocopy.set(ZEROCOPY in (scope.get("extensions") or {}))
        try:
            await super().handle(scope, receive, send)
        finally:
            _zerocopy.reset(zerocopy_token)
            _body.reset(body_token)
            _streaming.reset(token)

    async def send_response(self, response: HttpResponseBase, send: Any) -> None:
        reader = response.reader if isinstance(response, FileRangeResponse) else None
        if reader is None or not _zerocopy.get():
            return await super().send_response(response, send)
        try:
            await send(_head(response))
            message = {"type": ZEROCOPY, "file": reader.file, "offset": reader.start, "more_body": False}
            if reader.length is not None:
                message["count"] = reader.length
            await send(message)
        finally:
            reader.close()  # the application closes the file, not the server (the extension's rule)

    async def read_body(self, receive: Any) -> Any:
        if not _streaming.get():
            return await super().read_body(receive)
        body = ASGIBodyStream(receive, asyncio.get_running_loop())
        _body.set(body)
        return body

    async def listen_for_disconnect(self, receive: Any) -> None:
        body = _body.get()
        if body is None:
            return await super().listen_for_disconnect(receive)
        # The view owns the channel until the body is read: only then may a disconnect be awaited.
        await body.consumed.wait()
        if body.disconnected:
            # Let the view finish on its own (a resumable upload keeps the bytes that arrived).
            await asyncio.Event().wait()
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")
