"""uvicorn's HTTP/1.1 protocol (httptools), with what big file transfers need.

Serve with ``uvicorn console.asgi:application --http console.server:HttpProtocol``.

- **Zero-copy responses.** The ASGI extension ``http.response.zerocopysend`` is offered in the scope
  (plain HTTP only: over TLS the kernel cannot send a file as it is). Its message is sent with
  ``sendfile(2)``: the bytes go from the page cache to the socket without passing through Python.
  uvloop has no ``loop.sendfile``, so the calls run in a small thread pool on duplicates of the two
  descriptors (a connection or a file closed meanwhile can never turn into a reused descriptor), each
  until the socket is full; the event loop then waits until it is writable again, so a slow client
  holds no thread.
- **Request bodies as received.** uvicorn appends every received piece to one bytearray, copies it
  again into each message and pauses reading past 64 KiB; here the pieces are handed over one per
  message as httptools made them (no copy), and reading pauses only past ``BODY_HIGH_WATER``.

Everything else is uvicorn's own code. This leans on its internals (the cycle built in
``on_headers_complete``, the cycle's attributes), which is why uvicorn is pinned in requirements.txt;
``tests/storage/test_zerocopy.py`` runs the real server and fails if they move.
"""

from __future__ import annotations

import asyncio
import collections
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

ZEROCOPY = "http.response.zerocopysend"
# Request bytes received ahead of the app before reading pauses, and resumes. Small enough that the
# bytes are still in the CPU cache when the app writes them: 4 MiB was 25 % slower than 1 MiB here.
BODY_HIGH_WATER = 1 << 20
BODY_LOW_WATER = 256 << 10
SENDFILE_BATCH = 64 << 20  # most bytes one thread hop sends before the loop looks again

_SENDFILE = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kiln-sendfile")


def _send_some(sock: int, source: int, offset: int, count: int, stop: list[bool]) -> tuple[int, bool]:
    """Send up to ``count`` bytes of ``source`` from ``offset`` on the non-blocking socket ``sock``
    until it is full (``(sent, True)``), ``SENDFILE_BATCH`` went, or the file ended (a later call
    then sends 0). Runs in a thread: reading a file that is not cached may block."""
    sent = 0
    while sent < count and sent < SENDFILE_BATCH and not stop[0]:
        try:
            done = os.sendfile(sock, source, offset + sent, count - sent)
        except BlockingIOError:
            return sent, True
        if done == 0:
            break
        sent += done
    return sent, False


class ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's request/response cycle with queued body pieces and ``http.response.zerocopysend``.
    Cycles are built by uvicorn and re-classed by ``HttpProtocol`` (see ``adopt``)."""

    parts: collections.deque[bytes]
    buffered: int
    body_ended: bool
    writable: asyncio.Future[None] | None

    def adopt(self) -> None:
        self.parts = collections.deque()
        self.buffered = 0
        self.body_ended = False  # the message with more_body=False was handed over
        self.writable = None

    # --- request body ---------------------------------------------------------------------------

    def add_body(self, body: bytes) -> bool:
        """Queue a received piece; ``True`` when reading should pause."""
        self.parts.append(body)
        self.buffered += len(body)
        self.message_event.set()
        return self.buffered > BODY_HIGH_WATER

    async def receive(self) -> Any:
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        # As uvicorn's: a disconnect wins over buffered bytes; after the body, wait for the end.
        while not (self.disconnected or self.response_complete or self.parts
                   or (not self.more_body and not self.body_ended)):
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        body = b""
        if self.parts:
            body = self.parts.popleft()
            self.buffered -= len(body)
            if self.buffered <= BODY_LOW_WATER:
                self.flow.resume_reading()
        more_body = bool(self.parts) or self.more_body
        self.body_ended = not more_body
        return {"type": "http.request", "body": body, "more_body": more_body}

    # --- zero-copy response body ----------------------------------------------------------------

    async def send(self, message: Any) -> None:
        if message["type"] != ZEROCOPY:
            return await super().send(message)
        if not self.response_started:
            raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{ZEROCOPY}'.")
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{ZEROCOPY}' sent, after response already completed.")
        if self.disconnected:
            return
        file = message["file"]
        fd = file if isinstance(file, int) else file.fileno()
        offset = message.get("offset")
        from_position = offset is None
        if from_position:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        count = message.get("count")
        if count is None:
            count = max(os.fstat(fd).st_size - offset, 0)
        more_body = message.get("more_body", False)

        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
        elif count:
            if not self.chunked_encoding and count > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            if self.chunked_encoding:
                self.transport.write(b"%x\r\n" % count)
            sent = await self._sendfile(fd, offset, count)
            if from_position:
                os.lseek(fd, offset + sent, os.SEEK_SET)  # as a read would have left it
            if sent < count:
                # The file is shorter than promised: the client must see a cut, not wait for more.
                if not self.disconnected and not self.transport.is_closing():
                    self.transport.close()
                    raise RuntimeError("Response content shorter than Content-Length (the file shrank)")
                return
            if self.chunked_encoding:
                self.transport.write(b"\r\n")
            else:
                self.expected_content_length -= count

        if not more_body:
            if self.chunked_encoding:
                self.transport.write(b"0\r\n\r\n")
            elif self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    async def _drained(self) -> None:
        """Wait until the transport sent what it holds (the head, the end of an earlier response to
        a slow client): the file's bytes go to the socket directly and must not overtake it."""
        delay = 0.0
        while self.transport.get_write_buffer_size() and not self.disconnected and not self.transport.is_closing():
            await asyncio.sleep(delay)
            delay = min(delay * 2 or 0.001, 0.05)

    async def _wait_writable(self, sock: int) -> None:
        loop = asyncio.get_running_loop()
        self.writable = waiter = loop.create_future()

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        loop.add_writer(sock, ready)  # a duplicate descriptor: the transport's own is not touched
        try:
            await waiter
        finally:
            loop.remove_writer(sock)
            self.writable = None

    async def _sendfile(self, fd: int, offset: int, count: int) -> int:
        """Send ``count`` bytes of ``fd`` from ``offset``; returns how many went (fewer when the
        client left or the file ended early)."""
        await self._drained()
        sock = self.transport.get_extra_info("socket")
        if self.disconnected or self.transport.is_closing() or sock is None:
            return 0
        out, source = os.dup(sock.fileno()), os.dup(fd)
        stop = [False]
        call: Future[tuple[int, bool]] | None = None
        sent = 0
        try:
            while sent < count and not self.disconnected:
                call = _SENDFILE.submit(_send_some, out, source, offset + sent, count - sent, stop)
                done, full = await asyncio.wrap_future(call)
                sent += done
                if full:
                    await self._wait_writable(out)
                elif done == 0:
                    break  # end of file
        except (BrokenPipeError, ConnectionResetError):
            self.transport.close()  # the client went away; connection_lost marks the cycle
        finally:
            stop[0] = True

            def close(_: object = None) -> None:
                os.close(out)
                os.close(source)

            if call is not None:
                call.add_done_callback(close)  # at once if done; if cancelled mid-call, once the thread let go
            else:
                close()
        return sent


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with ``ZeroCopyCycle`` cycles (see the module's docstring)."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.scheme == "http":  # over TLS the bytes must go through the TLS layer
            self.scope["extensions"] = {**self.scope.get("extensions", {}), ZEROCOPY: {}}

    @staticmethod
    def _adopt(cycle: RequestResponseCycle | None) -> None:
        if cycle is not None and not isinstance(cycle, ZeroCopyCycle):
            cycle.__class__ = ZeroCopyCycle  # uvicorn builds it inline; re-classing avoids copying that code
            cycle.adopt()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._adopt(self.cycle)  # also a pipelined request, whose body may arrive before it starts

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._adopt(cycle)  # before the app can run (an eager task factory would start it at once)
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        if cycle.add_body(body):
            self.flow.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        cycle = self.cycle
        if isinstance(cycle, ZeroCopyCycle) and cycle.writable is not None and not cycle.writable.done():
            cycle.writable.set_result(None)  # a sendfile waiting for room: it sees the disconnect
