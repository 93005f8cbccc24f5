"""Flows (project folders with apolo-flow YAML in storage), bakes (runs of a batch), their
attempts and tasks, and the task cache (DESIGN §6). All bake state lives here, so any worker can
resume driving a bake from the database."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def new_bake_id() -> str:
    return f"bake-{uuid.uuid4()}"


class Flow(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="flows")
    cluster = models.CharField(max_length=64)
    flow_id = models.CharField(max_length=200)
    uri = models.CharField(max_length=400, unique=True)  # flow://<cluster>/<owner>/<flow_id>
    title = models.CharField(max_length=300, blank=True, default="")
    storage_uri = models.CharField(max_length=1024)  # the project folder: storage://<cluster>/<user>/…
    config_dir = models.CharField(max_length=16, default=".neuro")  # .apolo or .neuro
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_activity_at"]
        unique_together = [("owner", "flow_id")]

    def __str__(self) -> str:
        return self.uri


class BakeStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    CACHED = "cached"


FINAL_TASK_STATUSES = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED,
                       TaskStatus.CACHED)
FINAL_BAKE_STATUSES = (BakeStatus.SUCCEEDED, BakeStatus.FAILED, BakeStatus.CANCELLED)


class Bake(models.Model):
    id = models.CharField(primary_key=True, max_length=48, default=new_bake_id, editable=False)
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="bakes")
    batch = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=BakeStatus.choices, default=BakeStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["flow", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.id


class BakeAttempt(models.Model):
    bake = models.ForeignKey(Bake, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=BakeStatus.choices, default=BakeStatus.PENDING)
    from_failed = models.BooleanField(default=True)
    # The config files as they were when the attempt started: a running bake never changes under
    # edits made to the flow's folder meanwhile.
    config = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Orchestrator liveness: the last time a tick looked at this attempt.
    ticked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        unique_together = [("bake", "number")]


class BakeTask(models.Model):
    attempt = models.ForeignKey(BakeAttempt, on_delete=models.CASCADE, related_name="tasks")
    task_id = models.CharField(max_length=300)  # full id, matrix instances included
    base_id = models.CharField(max_length=200)  # the id in the YAML
    position = models.PositiveIntegerField()  # order in the YAML (and in tables)
    needs = models.JSONField(default=dict)  # {task_id: "completed" | "running"}
    matrix = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    reason = models.CharField(max_length=300, blank=True, default="")
    job_id = models.CharField(max_length=48, blank=True, default="")
    outputs = models.JSONField(default=dict, blank=True)
    cache_key = models.CharField(max_length=64, blank=True, default="")
    carried_from = models.CharField(max_length=48, blank=True, default="")  # attempt/bake whose result is reused
    always = models.BooleanField(default=False)  # started by ``always()``: fail_fast leaves it running
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "task_id"]
        unique_together = [("attempt", "task_id")]
        indexes = [models.Index(fields=["job_id"])]


class TaskCacheEntry(models.Model):
    """A succeeded task's outputs under the key of its resolved spec and its needs' outputs."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="cache_entries")
    batch = models.CharField(max_length=200)
    task_id = models.CharField(max_length=300)
    key = models.CharField(max_length=64)
    outputs = models.JSONField(default=dict)
    bake_id = models.CharField(max_length=48)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("flow", "batch", "task_id", "key")]
