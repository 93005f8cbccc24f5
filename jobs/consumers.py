"""WebSocket of a job's logs: ``/ws/jobs/<id>/logs/?after=<offset>``.

Sends ``state`` (the job), then the stored lines after ``after`` (``log`` messages), then live
lines as they come, then ``end`` with the final status. Lines carry offsets; the consumer never
sends an offset twice, so a client reconnecting with its last offset loses and repeats nothing.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from console.realtime import AccessCheckedConsumer, resource_group
from console.uris import Uri, parse_uri
from jobs.models import ACTIVE_STATUSES, Job
from jobs.selectors import job_level, job_logs_after, job_summary
from jobs.services import log_group

BACKLOG_BATCH = 5000


class JobLogsConsumer(AccessCheckedConsumer):
    async def get_uri(self) -> Uri:
        self.job = await database_sync_to_async(
            lambda: Job.objects.select_related("owner").filter(pk=self.scope["url_route"]["kwargs"]["job_id"]).first()
        )()
        try:
            self.last = int(self.query.get("after", -1))
        except ValueError:
            self.last = -1
        self.ended = False
        return parse_uri(self.job.uri) if self.job else Uri("job", "none", "none", "missing")

    async def allowed(self) -> bool:
        if self.job is None:
            return False
        return await database_sync_to_async(job_level)(self.user, self.job) is not None

    async def get_groups(self) -> list[str]:
        return [log_group(self.job.pk), resource_group(self.job.uri)]

    async def get_state(self) -> dict[str, Any]:
        return {"job": await database_sync_to_async(self._summary)()}

    def _summary(self) -> dict[str, Any]:
        self.job.refresh_from_db()
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
