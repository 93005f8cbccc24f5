"""Jobs: one command in an image with volumes, env, a preset and an optional HTTP port (DESIGN §4)."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.db import models

NAME_RE = re.compile(r"^[a-z](?:-?[a-z0-9])*$")


def new_job_id() -> str:
    return f"job-{uuid.uuid4()}"


class JobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)
FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class RestartPolicy(models.TextChoices):
    NEVER = "never"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"


class Job(models.Model):
    id = models.CharField(primary_key=True, max_length=48, default=new_job_id, editable=False)
    name = models.CharField(max_length=40, null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    cluster = models.CharField(max_length=64)
    # job://<cluster>/<owner>/<id> and, for named jobs, job://<cluster>/<owner>/<name>: grants on
    # either (or on job://<cluster>/<owner>) reach the job; list filters run on these columns.
    uri = models.CharField(max_length=300, unique=True)
    name_uri = models.CharField(max_length=300, null=True, blank=True)

    image = models.CharField(max_length=300)
    command = models.TextField()
    workdir = models.CharField(max_length=500, blank=True, default="")
    env = models.JSONField(default=dict, blank=True)
    volumes = models.JSONField(default=list, blank=True)  # ["storage://…:/mnt:ro", …] canonical
    preset = models.CharField(max_length=64)
    cpu = models.FloatField()
    memory_mb = models.PositiveIntegerField()
    http_port = models.PositiveIntegerField(null=True, blank=True)
    http_auth = models.BooleanField(default=True)
    life_span = models.PositiveIntegerField(null=True, blank=True, help_text="seconds; null: no limit")
    schedule_timeout = models.PositiveIntegerField(null=True, blank=True, help_text="seconds pending at most")
    restart_policy = models.CharField(max_length=16, choices=RestartPolicy.choices, default=RestartPolicy.NEVER)
    description = models.CharField(max_length=500, blank=True, default="")

    # Links to flows (filled by the flows app; plain ids keep the apps decoupled).
    flow_id = models.CharField(max_length=200, blank=True, default="")
    bake_id = models.CharField(max_length=64, blank=True, default="")
    task_id = models.CharField(max_length=200, blank=True, default="")

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    reason = models.CharField(max_length=64, blank=True, default="")
    status_description = models.TextField(blank=True, default="")
    exit_code = models.IntegerField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Execution bookkeeping: which worker runs it, proof it is alive, where its HTTP port listens.
    worker = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    http_target = models.CharField(max_length=200, blank=True, default="")
    # The channel of the exec host in the worker process that runs the job (exec sessions open there).
    exec_channel = models.CharField(max_length=200, blank=True, default="")
    attempt = models.PositiveIntegerField(default=0)  # bumped per execution; stale runners stop
    log_lines = models.BigIntegerField(default=0)  # number of log lines stored (= next offset)

    # Not a column: the job's tags when they were at hand as it was stored or claimed (tags never
    # change), which saves reading its tag rows for its events (``job_tags``).
    known_tags: list[str] | None = None

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
            models.Index(fields=["name_uri"]),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class JobTag(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=256)

    class Meta:
        unique_together = [("job", "tag")]
        indexes = [models.Index(fields=["tag"])]


class JobStatusEvent(models.Model):
    """One row per status transition (and per restart): the job's status history."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=16, choices=JobStatus.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    exit_code = models.IntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]


class JobLogChunk(models.Model):
    """A batch of log lines: lines ``first``…``first+count-1`` (offsets), joined by newlines.
    Appended by the runner before the lines are published, so the database always holds at
    least what any client has seen."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_chunks")
    first = models.BigIntegerField()
    count = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first"]
        unique_together = [("job", "first")]
