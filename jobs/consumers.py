"""WebSocket of a job's logs: ``/ws/jobs/<id>/logs/?after=<offset>``.

Sends ``state`` (the job), then the stored lines after ``after`` (``log`` messages), then live
lines as they come, then ``end`` with the final status. Lines carry offsets; the consumer never
sends an offset twice, so a client reconnecting with its last offset loses and repeats nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from channels.db import database_sync_to_async

from console.models import Level
from console.realtime import AccessCheckedConsumer, resource_group
from console.uris import Uri, parse_uri
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.selectors import job_level, job_logs_after, job_summary
from jobs.services import log_group

BACKLOG_BATCH = 5000


class JobConsumer(AccessCheckedConsumer):
    """A consumer about one job, named by its id in the URL."""

    async def get_uri(self) -> Uri:
        self.job = await database_sync_to_async(
            lambda: Job.objects.select_related("owner").filter(pk=self.scope["url_route"]["kwargs"]["job_id"]).first()
        )()
        return parse_uri(self.job.uri) if self.job else Uri("job", "none", "none", "missing")


class JobLogsConsumer(JobConsumer):
    async def get_uri(self) -> Uri:
        try:
            self.last = int(self.query.get("after", -1))
        except ValueError:
            self.last = -1
        self.ended = False
        return await super().get_uri()

    async def allowed(self) -> bool:
        if self.job is None:
            return False
        return await database_sync_to_async(job_level)(self.user, self.job) is not None

    async def get_groups(self) -> list[str]:
        return [log_group(self.job.pk), resource_group(self.job.uri)]

    async def get_state(self) -> dict[str, Any]:
        return {"job": await database_sync_to_async(self._summary)()}

    def _summary(self) -> dict[str, Any]:
        fresh = Job.objects.select_related("owner").filter(pk=self.job.pk).first()
        self.job = fresh or self.job  # deleted meanwhile: report what we last knew
        return job_summary(self.job)

    async def connect(self) -> None:
        await super().connect()
        if getattr(self, "joined", None):
            await self.send_backlog()
            await self.end_if_finished()

    async def send_backlog(self) -> None:
        while True:
            lines, last = await database_sync_to_async(job_logs_after)(job=self.job, after=self.last,
                                                                       limit=BACKLOG_BATCH)
            if not lines:
                return
            await self.send_json({"type": "log", "first": lines[0][0], "lines": [text for _, text in lines]})
            self.last = last

    async def end_if_finished(self) -> None:
        summary = await database_sync_to_async(self._summary)()
        if summary["status"] in ACTIVE_STATUSES or self.ended:
            return
        await self.send_backlog()  # the last lines were stored before the final status
        self.ended = True
        await self.send_json({"type": "end", "status": summary["status"], "reason": summary["reason"],
                              "exit_code": summary["exit_code"], "last_offset": self.last})
        await self.close(code=1000)

    async def kiln_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event.get("type") == "log":
            first, lines = event["first"], event["lines"]
            last = first + len(lines) - 1
            if last <= self.last:
                return  # already sent (from the backlog)
            if first > self.last + 1:
                await self.send_backlog()  # a gap: the database has every line published
                return
            fresh = lines[self.last + 1 - first:]
            await self.send_json({"type": "log", "first": self.last + 1, "lines": fresh})
            self.last = last
            return
        if event.get("type") == "job.status":
            await self.send_json(event)
            if event["job"]["status"] not in ACTIVE_STATUSES:
                await self.end_if_finished()


class JobExecConsumer(JobConsumer):
    """``/ws/jobs/<id>/exec/``: a shell or command inside the running job (needs ``write``).

    The first client message is ``{"type":"start","command":[…],"tty":true,"cols","rows"}``;
    then binary frames carry bytes both ways and text frames carry control (docs/jobs.md)."""

    OPEN_TIMEOUT = 10.0

    async def allowed(self) -> bool:
        self.level = await database_sync_to_async(job_level)(self.user, self.job) if self.job else None
        return self.level is not None

    async def get_groups(self) -> list[str]:
        return []

    async def get_state(self) -> dict[str, Any]:
        return {"job": await database_sync_to_async(job_summary)(self.job)}

    async def connect(self) -> None:
        self.session = uuid.uuid4().hex
        self.runner_channel: str | None = None
        await super().connect()
        if not getattr(self, "joined", None):
            return
        if self.level < Level.WRITE:
            return await self.refuse(4403, "forbidden", "Exec needs write access to the job")
        if self.job.status != JobStatus.RUNNING:
            return await self.refuse(4409, "conflict", f"Job {self.job.pk} is {self.job.status}, not running")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            if self.runner_channel:
                await self.channel_layer.send(self.runner_channel,
                                              {"type": "exec.input", "session": self.session, "data": bytes_data})
            return
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        kind = message.get("type")
        if kind == "start" and self.runner_channel is None:
            command = message.get("command")
            if command is not None and (not isinstance(command, list) or not all(isinstance(p, str) for p in command)):
                return await self.refuse(4400, "invalid", "command must be a list of strings")
            channel = await database_sync_to_async(
                lambda: Job.objects.filter(pk=self.job.pk).values_list("exec_channel", flat=True).first())()
            if not channel:
                return await self.refuse(4409, "conflict", f"Job {self.job.pk} is not running")
            await self.channel_layer.send(channel, {
                "type": "exec.open", "session": self.session, "job": self.job.pk, "reply": self.channel_name,
                "command": command,
                "tty": bool(message.get("tty", True)), "cols": int(message.get("cols", 80)),
                "rows": int(message.get("rows", 24))})
            self.opening = asyncio.get_running_loop().call_later(self.OPEN_TIMEOUT, self._no_answer)
        elif kind in ("resize", "eof") and self.runner_channel:
            await self.channel_layer.send(self.runner_channel, {
                "type": f"exec.{kind}", "session": self.session, "cols": int(message.get("cols", 80)),
                "rows": int(message.get("rows", 24))})

    def _no_answer(self) -> None:
        if self.runner_channel is None:
            asyncio.ensure_future(self.refuse(4504, "unavailable", "The job's worker did not answer"))

    async def exec_started(self, message: dict[str, Any]) -> None:
        if message["session"] == self.session:
            self.runner_channel = message["channel"]
            self.opening.cancel()
            await self.send_json({"type": "started"})

    async def exec_failed(self, message: dict[str, Any]) -> None:
        await self.refuse(4500, "exec_failed", message.get("message", "exec failed"))

    async def exec_output(self, message: dict[str, Any]) -> None:
        await self.send(bytes_data=message["data"])

    async def exec_exit(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "exit", "code": message["code"]})
        self.runner_channel = None
        await self.close(code=1000)

    async def disconnect(self, code: int) -> None:
        if self.runner_channel:
            await self.channel_layer.send(self.runner_channel, {"type": "exec.close", "session": self.session})
        await super().disconnect(code)
