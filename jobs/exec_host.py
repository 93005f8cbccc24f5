"""Exec sessions, served by the job's own runner on the worker that runs the sandbox.

The web server may be on another machine, so the WebSocket consumer and this host talk over the
channel layer (Redis): the consumer asks the host's channel, recorded on the job when this process
claimed it (``Job.exec_channel``), to open a session; the host answers, starts the command inside
the sandbox (with a PTY when asked) and relays bytes both ways until the command exits.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pty
import struct
import subprocess
import termios
import threading
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(rows, 1), max(cols, 1), 0, 0))


@dataclass
class Session:
    id: str
    reply: str
    process: subprocess.Popen
    write_fd: int
    read_fd: int
    tty: bool


class ExecHost:
    """One per worker process (a thread with its own event loop and one channel), serving the
    exec sessions of every job this process runs: a job is listed with ``serve`` when its sandbox
    starts and dropped with ``unserve`` — no Redis call at all, so running a job costs nothing here."""

    _instance: ExecHost | None = None
    _instance_pid: int | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}  # job id -> argv_for(command, tty)
        self.sessions: dict[str, tuple[str, Session]] = {}  # session id -> (job id, session)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),),
                                       name="kiln-exec-host", daemon=True)
        self.thread.start()
        self.ready.wait(10)

    @classmethod
    def get(cls) -> ExecHost:
        with cls._lock:
            if cls._instance is None or cls._instance_pid != os.getpid():
                cls._instance, cls._instance_pid = cls(), os.getpid()
            return cls._instance

    def serve(self, job_id: str, argv_for: Any) -> None:
        self.jobs[job_id] = argv_for

    def unserve(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

        async def leave() -> None:
            for owner, session in list(self.sessions.values()):
                if owner == job_id:
                    self._end(session)

        if any(owner == job_id for owner, _ in list(self.sessions.values())):
            asyncio.run_coroutine_threadsafe(leave(), self.loop)

    async def _main(self) -> None:
        self.layer = get_channel_layer()
        self.channel = await self.layer.new_channel()
        self.ready.set()
        await self._receive_loop()

    async def _receive_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            try:
                await self._handle(message)
            except Exception:
                log.exception("exec message %s failed", message.get("type"))

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "exec.open":
            await self._open(message)
            return
        found = self.sessions.get(message.get("session", ""))
        if found is None:
            return
        session = found[1]
        if kind == "exec.input":
            await asyncio.to_thread(os.write, session.write_fd, message["data"])
        elif kind == "exec.resize" and session.tty:
            _set_size(session.read_fd, int(message.get("cols", 80)), int(message.get("rows", 24)))
        elif kind == "exec.eof" and not session.tty:
            os.close(session.write_fd)
            session.write_fd = -1
        elif kind == "exec.close":
            self._end(session)

    async def _open(self, message: dict[str, Any]) -> None:
        session_id, reply, job_id = message["session"], message["reply"], message.get("job", "")
        argv_for = self.jobs.get(job_id)
        if argv_for is None:
            await self.layer.send(reply, {"type": "exec.failed", "session": session_id,
                                          "message": f"Job {job_id} is not running in this worker process"})
            return
        command = message.get("command") or ["/bin/sh", "-c", "command -v bash >/dev/null && exec bash || exec sh"]
        tty = bool(message.get("tty", True))
        try:
            argv = argv_for([str(part) for part in command], tty)
            if tty:
                master, slave = pty.openpty()
                _set_size(master, int(message.get("cols", 80)), int(message.get("rows", 24)))
                process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                           preexec_fn=_take_terminal, close_fds=True)
                os.close(slave)
                session = Session(session_id, reply, process, master, master, True)
            else:
                stdin_read, stdin_write = os.pipe()
                stdout_read, stdout_write = os.pipe()
                process = subprocess.Popen(argv, stdin=stdin_read, stdout=stdout_write, stderr=stdout_write,
                                           start_new_session=True, close_fds=True)
                os.close(stdin_read)
                os.close(stdout_write)
                session = Session(session_id, reply, process, stdin_write, stdout_read, False)
        except Exception as error:
            await self.layer.send(reply, {"type": "exec.failed", "session": session_id, "message": str(error)})
            return
        self.sessions[session_id] = (job_id, session)
        await self.layer.send(reply, {"type": "exec.started", "session": session_id, "channel": self.channel})
        asyncio.create_task(self._pump(session))

    async def _pump(self, session: Session) -> None:
        while True:
            try:
                data = await asyncio.to_thread(os.read, session.read_fd, READ_SIZE)
            except OSError:
                data = b""  # EIO: the PTY's other side closed
            if not data:
                break
            await self.layer.send(session.reply, {"type": "exec.output", "session": session.id, "data": data})
        code = await asyncio.to_thread(session.process.wait)
        await self.layer.send(session.reply, {"type": "exec.exit", "session": session.id, "code": code})
        self._end(session)

    def _end(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        if session.process.poll() is None:
            try:
                os.killpg(session.process.pid, 9)
            except ProcessLookupError:
                pass
        for fd in {session.read_fd, session.write_fd}:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass


def _take_terminal() -> None:
    """In the child, after setsid: make the PTY our controlling terminal (job control, ^C)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
