"""Drives a bake's DAG: one ``bake_tick`` looks at the latest attempt in the database, records
what its jobs did, and starts what became ready. Ticks are idempotent and serialised by a row
lock, so any worker may run one at any time; a bake whose ticks stopped (its worker died) is
picked up by the liveness check of any other worker (``bakes_resume_stale``)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from console.errors import Conflict, KilnError
from console.realtime import publish_resource_event, publish_resource_events
from console.uris import parse_uri
from flows import spec
from flows.models import (
    FINAL_TASK_STATUSES,
    BakeAttempt,
    BakeStatus,
    BakeTask,
    TaskCacheEntry,
    TaskStatus,
)
from flows.plans import plan_share, shared_plan
from flows.selectors import bake_uri, errors_for, errors_output, files_for_batch, flow_eval_env, task_output
from flows.services import attempt_finish, job_spec_of
from jobs.models import FINAL_STATUSES, Job, JobLogChunk, JobStatus
from jobs.services import job_build, job_kill, jobs_save

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(seconds=15)
JOB_TO_TASK = {JobStatus.SUCCEEDED: TaskStatus.SUCCEEDED, JobStatus.FAILED: TaskStatus.FAILED,
               JobStatus.CANCELLED: TaskStatus.CANCELLED}


_planned_here: set[str] = set()  # bakes this process planned (and so has the plan of, mostly)


@lru_cache(maxsize=64)
def _plan(attempt_id: int, bake_id: str) -> spec.BatchPlan:
    """The attempt's plan, from the config snapshot it started with (deterministic, so a cache
    per process is safe; it keeps a 1,000-task bake from being re-planned on every tick). Planned
    once for all processes: the first to plan it shares it (``flows.plans``)."""
    _planned_here.add(bake_id)
    attempt = BakeAttempt.objects.select_related("bake", "bake__flow", "bake__flow__owner",
                                                 "bake__created_by").get(pk=attempt_id)
    if (shared := shared_plan(attempt)) is not None:
        return shared
    bake = attempt.bake
    loaded = spec.load_project(files_for_batch(attempt.config, bake.batch), config_dir=bake.flow.config_dir,
                               folder_name=parse_uri(bake.flow.storage_uri).name)
    if errors := errors_for(loaded.errors, batch=bake.batch):
        raise spec.FlowSpecError(errors)
    plan = spec.plan_batch(loaded.project, bake.batch, params=bake.params,
                           env=flow_eval_env(flow=bake.flow, username=bake.created_by.username))
    plan_share(attempt=attempt, plan=plan)
    return plan


def _outputs_of(job_ids: list[str]) -> dict[str, dict[str, str]]:
    """The ``::set-output`` values of these jobs, from their logs: one query for all of them (a
    tick of a wide bake may see hundreds succeed); later lines of a job win, as they are read in
    offset order."""
    outputs: dict[str, dict[str, str]] = {job_id: {} for job_id in job_ids}
    for batch in _batches(job_ids):
        chunks = (JobLogChunk.objects.filter(job_id__in=batch, text__contains="::set-output")
                  .order_by("job_id", "first").values_list("job_id", "text"))
        for job_id, chunk in chunks:
            found = outputs[job_id]
            for line in chunk.split("\n"):
                parsed = spec.parse_set_output(line)
                if parsed:
                    found[parsed[0]] = parsed[1]
    return outputs


def _ended_jobs(job_ids: list[str]) -> dict[str, tuple[str, str, Any]]:
    """Status, reason and end time of those of ``job_ids`` that ended. On PostgreSQL the ids go as
    one array parameter: Django compiles ``pk__in`` with a placeholder per id, ~9 ms per tick of a
    1,000-task bake."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, status, reason, finished_at FROM {Job._meta.db_table} "  # noqa: S608 — names are ours
                "WHERE id = ANY(%s) AND status = ANY(%s)", [job_ids, list(FINAL_STATUSES)])
            return {pk: (status, reason, finished_at) for pk, status, reason, finished_at in cursor.fetchall()}
    ended: dict[str, tuple[str, str, Any]] = {}
    for batch in _batches(job_ids):
        rows = Job.objects.filter(pk__in=batch, status__in=FINAL_STATUSES)
        ended.update((pk, (status, reason, finished_at)) for pk, status, reason, finished_at
                     in rows.values_list("pk", "status", "reason", "finished_at"))
    return ended


def _batches(ids: list[str]) -> list[list[str]]:
    """``ids`` in slices that fit in one query (SQLite takes 999 parameters at most)."""
    size = min(5000, (connection.features.max_query_params or 5000) - 50)
    return [ids[start:start + size] for start in range(0, len(ids), size)]


class Tick:
    def __init__(self, attempt: BakeAttempt) -> None:
        self.attempt = attempt
        self.bake = attempt.bake
        self.now = timezone.now()
        kept = _tasks_kept.take(attempt)
        self.tasks: dict[str, BakeTask] = kept if kept is not None else {
            task.task_id: task for task in attempt.tasks.all()}
        self.changed: dict[str, BakeTask] = {}
        self.to_kill: list[str] = []
        self.new_jobs: list[Any] = []
        self.more = False  # stopped at STARTS_PER_TICK: tick again
        self._results: dict[str, spec.TaskResult] | None = None
        self._failing: bool | None = None

    # -- helpers --------------------------------------------------------------------------------------
    def set(self, task: BakeTask, status: str, reason: str = "", **fields: Any) -> None:
        task.status, task.reason = status, reason[:300]
        now = self.now
        if status in (TaskStatus.RUNNING, TaskStatus.CACHED) and task.started_at is None:
            task.started_at = now
        if status in FINAL_TASK_STATUSES:
            task.finished_at = task.finished_at or now
        for key, value in fields.items():
            setattr(task, key, value)
        self.changed[task.task_id] = task
        self._record(task)
        if status == TaskStatus.FAILED:
            self._failing = None

    def results(self) -> dict[str, spec.TaskResult]:
        """Results of the tasks that started, kept up to date by ``set`` (not rebuilt per task)."""
        if self._results is None:
            self._results = {}
            for task in self.tasks.values():
                self._record(task)
        return self._results

    def _record(self, task: BakeTask) -> None:
        if self._results is not None and (task.status in FINAL_TASK_STATUSES or task.status == TaskStatus.RUNNING):
            self._results[task.task_id] = spec.TaskResult(status=task.status, outputs=task.outputs)

    def ready(self, task: BakeTask) -> bool:
        for need, mode in task.needs.items():
            other = self.tasks.get(need)
            if other is None:
                return False
            done = other.status in FINAL_TASK_STATUSES
            if mode == "running" and not (done or other.status == TaskStatus.RUNNING):
                return False
            if mode != "running" and not done:
                return False
        return True

    # -- 1. what the jobs did ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        running = [t for t in self.tasks.values() if t.status == TaskStatus.RUNNING and t.job_id]
        if not running:
            return
        job_ids = [task.job_id for task in running]
        # Most of a wide bake's jobs still run at any tick: read only those that ended.
        ended = _ended_jobs(job_ids)
        gone: set[str] = set()
        if not ended:
            # Jobs deleted under their tasks (rare) are looked for only when none ended, not on
            # every tick of a chain: such a bake goes stale and its resuming tick finds them.
            gone = set(job_ids) - {pk for batch in _batches(job_ids)
                                   for pk in Job.objects.filter(pk__in=batch).values_list("pk", flat=True)}
        succeeded = [pk for pk, (status, _, _) in ended.items() if JOB_TO_TASK[status] == TaskStatus.SUCCEEDED]
        outputs_by_job = _outputs_of(succeeded) if succeeded else {}
        cache_entries: list[TaskCacheEntry] = []
        for task in running:
            if task.job_id in gone:
                self.set(task, TaskStatus.FAILED, "Its job is gone")
                continue
            if task.job_id not in ended:
                continue
            job_status, job_reason, finished_at = ended[task.job_id]
            status = JOB_TO_TASK[job_status]
            outputs = outputs_by_job.get(task.job_id, {}) if status == TaskStatus.SUCCEEDED else {}
            reason = job_reason if status != TaskStatus.SUCCEEDED else ""
            self.set(task, status, reason, outputs=outputs, finished_at=finished_at or self.now)
            if status == TaskStatus.SUCCEEDED and task.cache_key:
                cache_entries.append(TaskCacheEntry(
                    flow=self.bake.flow, batch=self.bake.batch, task_id=task.task_id, key=task.cache_key,
                    outputs=outputs, bake_id=self.bake.pk, created_at=self.now))
        if cache_entries:
            # One upsert for all (update_or_create is two queries per task).
            TaskCacheEntry.objects.bulk_create(
                cache_entries, update_conflicts=True, unique_fields=["flow", "batch", "task_id", "key"],
                update_fields=["outputs", "bake_id", "created_at"], batch_size=500)

    # -- 2. what can start --------------------------------------------------------------------------------
    def needs_plan(self) -> bool:
        """Whether this tick has anything to decide: a task waiting to start, or a failure whose
        fail_fast may stop running tasks. The last ticks of a wide bake only record endings: a
        process that never planned the bake (a jobs worker ticking it inline once few run) then
        does not parse its 1,000-task batch file for nothing."""
        statuses = {task.status for task in self.tasks.values()}
        return TaskStatus.PENDING in statuses or (TaskStatus.FAILED in statuses and TaskStatus.RUNNING in statuses)

    def failing(self, plan: spec.BatchPlan) -> bool:
        if self._failing is None:
            self._failing = any(task.status == TaskStatus.FAILED and plan.tasks[task.task_id].fail_fast
                                for task in self.tasks.values() if task.task_id in plan.tasks)
        return self._failing

    def schedule(self, plan: spec.BatchPlan) -> None:
        # A job may have ended after the tick began: tasks started now start after what it saw.
        self.now = timezone.now()
        # With none of the bake running (its start, or a stage of a wide bake), its workers wait
        # for this tick: a first slice commits sooner, and the next tick makes the rest.
        idle = not any(task.status == TaskStatus.RUNNING for task in self.tasks.values())
        most = FIRST_STARTS if idle else STARTS_PER_TICK
        progress = True
        while progress:
            progress = False
            results = self.results()
            failing = self.failing(plan)
            running = [t for t in self.tasks.values() if t.status == TaskStatus.RUNNING]
            for planned in plan.tasks.values():
                if len(self.new_jobs) >= most:
                    self.more = True  # the rest in the next tick, once these jobs are running
                    return
                task = self.tasks.get(planned.id)
                if task is None or task.status != TaskStatus.PENDING or not self.ready(task):
                    continue
                if planned.kind == "action":
                    self.finish_action(plan, planned, results)
                    progress = True
                    continue
                if not self.start_or_settle(plan, planned, task, results, failing, running):
                    continue
                progress = True
                results = self.results()
                failing = self.failing(plan)

    def finish_action(self, plan: spec.BatchPlan, planned: spec.PlannedTask,
                      results: Mapping[str, spec.TaskResult]) -> None:
        task = self.tasks[planned.id]
        try:
            result = spec.action_result(plan, planned.id, results=results)
        except spec.FlowSpecError as error:
            self.set(task, TaskStatus.FAILED, str(error.errors[0]) if error.errors else "action failed")
            return
        self.set(task, result.status, outputs=dict(result.outputs))

    def start_or_settle(self, plan: spec.BatchPlan, planned: spec.PlannedTask, task: BakeTask,
                        results: Mapping[str, spec.TaskResult], failing: bool, running: list[BakeTask]) -> bool:
        """Skip, cancel, take from the cache or start ``task``; False when it must wait (limits)."""
        try:
            decision = spec.task_enable(plan, planned.id, results=results)
        except spec.FlowSpecError as error:
            self.set(task, TaskStatus.FAILED, _first(error))
            return True
        if not decision.run:
            self.set(task, TaskStatus.SKIPPED, "Not enabled")
            return True
        if failing and not decision.always:
            self.set(task, TaskStatus.CANCELLED, "An earlier task failed (fail_fast)")
            return True
        limit = plan.max_parallel
        if limit is not None and len(running) >= limit:
            return False
        if planned.max_parallel is not None and sum(1 for t in running if t.base_id == task.base_id) \
                >= planned.max_parallel:
            return False
        try:
            run = spec.render_task(plan, planned.id, results=results, bake_id=self.bake.pk)
        except spec.FlowSpecError as error:
            self.set(task, TaskStatus.FAILED, _first(error))
            return True
        if planned.cache.strategy != "none":
            key = spec.task_cache_key(plan, planned.id, run, results=results)
            task.cache_key = key
            hit = (TaskCacheEntry.objects.filter(
                flow=self.bake.flow, batch=self.bake.batch, task_id=planned.id, key=key,
                created_at__gte=self.now - timedelta(seconds=planned.cache.life_span)).first())
            if hit is not None:
                self.set(task, TaskStatus.CACHED, f"Cached from {hit.bake_id}", outputs=hit.outputs,
                         carried_from=hit.bake_id)
                return True
        try:
            built = job_build(by=self.bake.created_by, **job_spec_of(
                flow=self.bake.flow, run=run, name=None, task_id=planned.id, bake_id=self.bake.pk))
        except KilnError as error:
            self.set(task, TaskStatus.FAILED, error.message)
            return True
        self.set(task, TaskStatus.RUNNING, job_id=built[0].pk, always=decision.always)
        self.new_jobs.append(built)
        running.append(task)
        return True

    def start_jobs(self) -> None:
        """Create the jobs of the tasks this tick started, all at once (one query per table)."""
        if self.new_jobs:
            jobs_save(by=self.bake.created_by, built=self.new_jobs)

    # -- 3. fail fast, and the attempt's end ------------------------------------------------------------------
    def stop_if_failing(self, plan: spec.BatchPlan) -> None:
        if not self.failing(plan):
            return
        for task in self.tasks.values():
            if task.status == TaskStatus.RUNNING and task.job_id and not task.always:
                self.to_kill.append(task.job_id)

    def save(self) -> None:
        if self.changed:
            _save_tasks(list(self.changed.values()))
        statuses = {task.status for task in self.tasks.values()}
        BakeAttempt.objects.filter(pk=self.attempt.pk).update(ticked_at=self.now)
        if statuses <= set(FINAL_TASK_STATUSES):
            if TaskStatus.FAILED in statuses:
                final = BakeStatus.FAILED
            elif TaskStatus.CANCELLED in statuses:
                final = BakeStatus.CANCELLED
            else:
                final = BakeStatus.SUCCEEDED
            attempt_finish(attempt=self.attempt, status=final)
            self.attempt.status = final  # as stored: its tasks are not kept for a next tick
        elif self.attempt.status == BakeStatus.PENDING:
            BakeAttempt.objects.filter(pk=self.attempt.pk).update(status=BakeStatus.RUNNING)
            from flows.models import Bake

            Bake.objects.filter(pk=self.bake.pk).update(status=BakeStatus.RUNNING)
            self.attempt.status = BakeStatus.RUNNING
            self.announce_bake()

    def announce_bake(self) -> None:
        from flows.selectors import bake_summary

        bake = self.bake
        transaction.on_commit(lambda: (bake.refresh_from_db(), publish_resource_event(
            parse_uri(bake_uri(bake)), {"type": "bake.status", "bake": bake_summary(bake)})))

    def announce_tasks(self) -> None:
        uri = parse_uri(bake_uri(self.bake))
        events = [{"type": "task.status", "bake_id": self.bake.pk, "attempt": self.attempt.number,
                   "task": task_output(task)} for task in self.changed.values()]
        transaction.on_commit(lambda: publish_resource_events(uri, events))


TASK_FIELDS = ("status", "reason", "job_id", "outputs", "cache_key", "carried_from", "always", "started_at",
               "finished_at")


# SQL type of each field in the VALUES list (flows/migrations/0001_initial.py): a placeholder's
# type is not inferred from its column there, and a NULL needs a type too.
_TASK_FIELD_TYPES = {"status": "text", "reason": "text", "job_id": "text", "outputs": "jsonb", "cache_key": "text",
                     "carried_from": "text", "always": "boolean", "started_at": "timestamptz",
                     "finished_at": "timestamptz"}
SAVE_BATCH = 2000


# A tick creates at most this many jobs: a thousand-task fan-out starts in slices, the first
# ones running while the next tick creates more (one tick creating them all took ~2 s first).
STARTS_PER_TICK = 200
FIRST_STARTS = 48  # when none of the bake runs: ~25 ms of tick rather than ~100 before any starts


def _save_tasks(tasks: list[BakeTask]) -> None:
    """Write changed tasks: on PostgreSQL one ``UPDATE … FROM (VALUES …)`` per 2,000 tasks (a tick
    that finishes hundreds of tasks changes each one differently: own ``finished_at``, own
    outputs); elsewhere (SQLite, embedded) as below."""
    if connection.vendor != "postgresql":
        _save_tasks_portable(tasks)
        return
    row = "(%s::bigint, " + ", ".join(f"%s::{_TASK_FIELD_TYPES[name]}" for name in TASK_FIELDS) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name in TASK_FIELDS)
    with connection.cursor() as cursor:
        for start in range(0, len(tasks), SAVE_BATCH):
            batch = tasks[start:start + SAVE_BATCH]
            params: list[Any] = []
            for task in batch:
                params.append(task.pk)
                params.extend(json.dumps(task.outputs) if name == "outputs" else getattr(task, name)
                              for name in TASK_FIELDS)
            cursor.execute(
                f"UPDATE {BakeTask._meta.db_table} AS t SET {assignments} "  # noqa: S608 — placeholders only
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS v(id, {', '.join(TASK_FIELDS)}) "
                f"WHERE t.id = v.id", params)


def _save_tasks_portable(tasks: list[BakeTask]) -> None:
    """A tick that starts a thousand tasks changes them all alike but for the job id: rows that
    share their other values are one UPDATE each, and the job ids one more (Django's
    ``bulk_update`` builds a CASE per field and row, seconds for a thousand rows)."""
    groups: dict[str, list[BakeTask]] = {}
    for task in tasks:
        key = json.dumps([getattr(task, name) for name in TASK_FIELDS if name != "job_id"], default=str,
                         sort_keys=True)
        groups.setdefault(key, []).append(task)
    for members in groups.values():
        first = members[0]
        BakeTask.objects.filter(pk__in=[task.pk for task in members]).update(
            **{name: getattr(first, name) for name in TASK_FIELDS if name != "job_id"})
    BakeTask.objects.bulk_update(tasks, ["job_id"], batch_size=500)


def _first(error: spec.FlowSpecError) -> str:
    listed = errors_output(error.errors)
    return listed[0]["text"] if listed else "flow error"


def bake_tick(*, bake_id: str, wait: bool = True) -> bool:
    """One tick of the bake; with ``wait=False`` it gives up at once (False) when another tick
    holds the bake."""
    with transaction.atomic():
        # The latest attempt, locked: NOWAIT rather than SKIP LOCKED, which would hand back an
        # older attempt when the latest is held. Only the attempt's row is locked, not the rows
        # joined for the tick's use (the bake, its flow, its user).
        # Not the attempt's config snapshot (every file of the flow; only planning reads it, and
        # the plan is cached): a flow with a 1,000-task batch file made each of a chain's ticks
        # fetch and decode it, ~5 ms a hop.
        latest = BakeAttempt.objects.select_for_update(nowait=not wait, of=("self",)).select_related(
            "bake", "bake__flow", "bake__created_by").defer("config").filter(bake_id=bake_id).order_by("-number")
        try:
            attempt = latest.first()
        except OperationalError:  # locked by another tick
            transaction.set_rollback(True)
            return False
        if attempt is None:
            return True
        if attempt.status in (BakeStatus.SUCCEEDED, BakeStatus.FAILED, BakeStatus.CANCELLED):
            return True
        tick = Tick(attempt)
        tick.reconcile()
        if tick.needs_plan():
            try:
                plan = _plan(attempt.pk, bake_id)
            except spec.FlowSpecError as error:
                for task in tick.tasks.values():
                    if task.status not in FINAL_TASK_STATUSES:
                        tick.set(task, TaskStatus.FAILED, _first(error))
                tick.announce_tasks()
                tick.save()
                return True
            tick.schedule(plan)
            tick.start_jobs()
            tick.stop_if_failing(plan)
        tick.announce_tasks()
        tick.save()
        transaction.on_commit(lambda: _tasks_kept.keep(attempt, tick.now, tick.tasks))
        to_kill = tick.to_kill
        running = sum(1 for task in tick.tasks.values() if task.status == TaskStatus.RUNNING)
        width = len(tick.tasks)
        transaction.on_commit(lambda: _remember_running(bake_id, running, width))
        if tick.more:
            transaction.on_commit(lambda: request_tick(bake_id))
    for job_id in to_kill:
        job = Job.objects.select_related("owner").filter(pk=job_id).first()
        if job is not None and job.is_active:
            try:
                job_kill(job=job, by=job.owner, reason="Cancelled")
            except Conflict:
                pass
    return True


class _TasksKept:
    """The tasks of the attempts this process ticked last, as its committed tick left them: its
    next tick of the attempt uses them if no other tick came in between (the attempt's
    ``ticked_at`` is still the one that tick wrote; only ticks change a running attempt's tasks,
    and cancelling ends it). Reading a 1,000-task attempt back cost ~15 ms per tick, a third of
    the control worker's time in a fan-out. A tick takes its entry out, and only a commit puts it
    back: a tick that rolled back leaves nothing half-changed behind."""

    def __init__(self, most_tasks: int = 20_000) -> None:
        self.most_tasks = most_tasks  # in all: a few MiB, whatever the bakes' sizes
        self.entries: OrderedDict[int, tuple[Any, dict[str, BakeTask]]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, attempt: BakeAttempt) -> dict[str, BakeTask] | None:
        with self.lock:
            entry = self.entries.pop(attempt.pk, None)
        if entry is None or attempt.ticked_at is None or entry[0] != attempt.ticked_at:
            return None
        return entry[1]

    def keep(self, attempt: BakeAttempt, ticked_at: Any, tasks: dict[str, BakeTask]) -> None:
        if attempt.status in (BakeStatus.SUCCEEDED, BakeStatus.FAILED, BakeStatus.CANCELLED):
            return
        if len(tasks) > self.most_tasks:
            return
        with self.lock:
            self.entries[attempt.pk] = (ticked_at, tasks)
            while sum(len(kept) for _, kept in self.entries.values()) > self.most_tasks:
                self.entries.popitem(last=False)


_tasks_kept = _TasksKept()
INLINE_TICK_MAX_RUNNING = 8
PLAN_HERE_MAX_TASKS = 100  # a bigger bake is ticked inline only where it was planned already


def tick_now_or_later(bake_id: str, ended: int = 1) -> None:
    """After ``ended`` of the bake's jobs ended, in a worker: a bake with few running tasks (a
    chain) is ticked right here, saving a queue round trip per hop; a wide one (a fan-out of
    hundreds) gets one queued tick for many endings, since every tick reads the whole attempt. A
    tick held elsewhere also means: queue one, so this ending is not missed. So does a big bake
    this process never planned: the control worker has its plan and its tasks, and loading them
    here (the shared plan and 1,000 tasks, ~50 ms) would hold up the ready tasks longer than the
    queue does."""
    running, width = _bake_counts(bake_id, ended)
    if running > INLINE_TICK_MAX_RUNNING:
        request_tick(bake_id, within=settings.KILN_BAKE_TICK_COALESCE)
    elif width > PLAN_HERE_MAX_TASKS and bake_id not in _planned_here:
        request_tick(bake_id)
    elif not bake_tick(bake_id=bake_id, wait=False):
        request_tick(bake_id, within=settings.KILN_BAKE_TICK_COALESCE)


def _counts_key(bake_id: str) -> str:
    return f"{settings.KILN_REDIS_PREFIX}:running:{bake_id}"


def _remember_running(bake_id: str, running: int, width: int) -> None:
    """The bake's running tasks as its last tick left them, and its number of tasks, for every
    worker, which counts down the running ones as it records their jobs' ends. So the
    inline-or-queued choice needs no query on a chain's every hop, nor on every batch of a wide
    bake's endings; and the worker that records a wide bake's last endings knows they are the
    last: counting from the last tick alone, it queued the final tick with a coalescing delay
    (~0.2 s added to a 1,000-task fan-out). Counts that are off (a tick that read before some ends
    and committed after their count-down) only make that choice the slower way, until the next
    tick counts again."""
    key = _counts_key(bake_id)
    (_redis().pipeline().delete(key).hset(key, mapping={"running": running, "width": width})
     .expire(key, int(STALE_AFTER.total_seconds()) * 4).execute())


def _bake_counts(bake_id: str, ended: int = 0) -> tuple[int, int]:
    """The bake's running tasks once ``ended`` more have ended, and its number of tasks."""
    key = _counts_key(bake_id)
    running, width = _redis().pipeline().hincrby(key, "running", -ended).hget(key, "width").execute()
    if width is not None:
        return max(0, int(running)), int(width)
    _redis().delete(key)  # expired (or never set): the count-down just made a key of its own
    counts = BakeTask.objects.filter(
        attempt__bake_id=bake_id, attempt__status__in=(BakeStatus.PENDING, BakeStatus.RUNNING)).aggregate(
        running=Count("pk", filter=Q(status=TaskStatus.RUNNING)), width=Count("pk"))
    # Tasks stay running in the table until a tick sees their jobs' ends, these ones' too.
    running, width = max(0, counts["running"] - ended), counts["width"]
    _remember_running(bake_id, running, width)
    return running, width


def bakes_resume_stale() -> list[str]:
    """Attempts that are running but that no tick looked at lately (their worker died, or their
    jobs run long): tick them. Any worker runs this, every few seconds."""
    stale = timezone.now() - STALE_AFTER
    bake_ids = list(BakeAttempt.objects.filter(status__in=(BakeStatus.PENDING, BakeStatus.RUNNING))
                    .filter(Q(ticked_at__lt=stale) | Q(ticked_at__isnull=True, created_at__lt=stale))
                    .values_list("bake_id", flat=True)[:200])
    for bake_id in bake_ids:
        # A tick queued that long ago and not started is lost (in the queue of a worker killed
        # after taking it, which Redis would redeliver only after its visibility timeout) or
        # stuck behind others: one more is harmless, a tick being idempotent.
        request_tick(bake_id, overdue=STALE_AFTER.total_seconds())
    return bake_ids


# A bake's tick in Redis: absent, "queued <when it runs>" (a tick_bake message is on its way) or
# "running". At most one tick per bake is queued or running, unless a tick is wanted sooner than
# the queued one will run; what changes meanwhile is noted in the "again" key and the running tick
# asks for the next one as it ends. (Two ticks queued at once ran back to back in two control
# processes, the second waiting on the first's lock: a 1,000-task fan-out ticked 81 times.) The
# states expire, so a worker killed mid-tick holds nothing up for long.
_QUEUED_FOR = 30  # seconds, beyond the countdown
_RUNNING_FOR = 10
_SOONER_BY = 0.02  # seconds: a queued tick due later than wanted by more than this is not waited for


def _tick_keys(bake_id: str) -> tuple[str, str]:
    return f"{settings.KILN_REDIS_PREFIX}:tick:{bake_id}", f"{settings.KILN_REDIS_PREFIX}:tick-again:{bake_id}"


def request_tick(bake_id: str, within: float = 0, overdue: float | None = None) -> None:
    """Have the bake ticked. ``within``: the tick may wait that many seconds, so that the endings
    of a wide bake's jobs coalesce (every tick reads the whole attempt, ~50 ms for 1,000 tasks).
    A tick already queued covers this change, unless it waits longer than ``within`` allows: the
    last endings of a fan-out found one queued to coalesce (up to 0.25 s) and waited for it.
    ``overdue``: nor does a tick queued to run more than that many seconds ago."""
    from flows.tasks import tick_bake

    state, again = _tick_keys(bake_id)
    client = _redis()
    due = time.time() + within
    queued = f"queued {due:.3f}"
    for _ in range(3):
        if client.set(state, queued, nx=True, ex=_QUEUED_FOR + int(within)):
            tick_bake.apply_async((bake_id,), countdown=within or None)
            return
        current = (client.get(state) or b"").decode()
        if current.startswith("queued"):
            # That tick has read nothing yet: it will see this change; a tick sooner if it is
            # due too late (it still runs, and finds little to do).
            queued_due = float(current.split()[1]) if " " in current else 0.0
            lost = overdue is not None and queued_due < time.time() - overdue
            if (lost or queued_due > due + _SOONER_BY) and client.set(state, queued, xx=True,
                                                                      ex=_QUEUED_FOR + int(within)):
                tick_bake.apply_async((bake_id,), countdown=within or None)
            return
        if current == "running":
            # It may have read already: one more after it, as soon as the most urgent asker wants.
            client.set(again, str(within), ex=_QUEUED_FOR, nx=bool(within))
            return
        # it ended in between: try again


def tick_started(bake_id: str) -> None:
    """The tick is under way: changes from now on need another tick after it."""
    state, again = _tick_keys(bake_id)
    _redis().pipeline().set(state, "running", ex=_RUNNING_FOR).delete(again).execute()


def tick_ended(bake_id: str) -> None:
    """The tick committed (or failed): ask for the next one if something changed while it ran."""
    state, again = _tick_keys(bake_id)
    _, within = _redis().pipeline().delete(state).getdel(again).execute()
    if within is not None:
        request_tick(bake_id, within=float(within))


@lru_cache(maxsize=1)
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, driver_info=None)  # see CHANNEL_LAYERS
