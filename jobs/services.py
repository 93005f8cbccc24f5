"""Writes of the jobs app: run (create), transitions, kill, logs, liveness (DESIGN §4)."""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models import Case, CharField, F, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from console.errors import Conflict, InvalidInput, NotFound
from console.models import Level
from console.realtime import publish, publish_resource_event
from console.selectors import Principal, ensure_access, principal_get
from console.services import share
from console.uris import InvalidUri, Uri, parse_uri
from jobs.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    NAME_RE,
    Job,
    JobLogChunk,
    JobStatus,
    JobStatusEvent,
    JobTag,
    RestartPolicy,
)
from jobs.signals import job_status_changed, jobs_status_changed
from storage.selectors import storage_exists

_VOLUME_RE = re.compile(r"^(?P<uri>storage:.*?):(?P<mount>/[^:]*)(?::(?P<mode>ro|rw))?$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Volume:
    uri: Uri
    mount: str
    read_only: bool

    def __str__(self) -> str:
        return f"{self.uri}:{self.mount}:{'ro' if self.read_only else 'rw'}"


def volume_parse(text: str, *, username: str) -> Volume:
    """``storage:path:/mount[:ro|:rw]`` (any storage URI form); read-write unless ``:ro``."""
    match = _VOLUME_RE.match(text.strip())
    if not match:
        raise InvalidInput(f"Invalid volume {text!r}: expected storage:<path>:/<mount>[:ro|:rw]",
                           details={"volumes": [text]})
    mount = "/" + "/".join(part for part in match["mount"].split("/") if part)
    if ".." in mount.split("/") or mount == "/":
        raise InvalidInput(f"Invalid mount path in {text!r}", details={"volumes": [text]})
    try:
        uri = parse_uri(match["uri"], username=username)
    except InvalidUri as error:
        raise InvalidInput(f"Invalid volume {text!r}: {error}", details={"volumes": [text]}) from None
    return Volume(uri=uri, mount=mount, read_only=match["mode"] == "ro")


def job_uri(*, cluster: str, owner: str, id_or_name: str) -> str:
    return f"job://{cluster}/{owner}/{id_or_name}"


def _event(job: Job, kind: str) -> dict[str, Any]:
    from jobs.selectors import job_summary

    return {"type": kind, "job": job_summary(job)}


def _publish_job(job: Job, kind: str) -> None:
    """A status or list change: to watchers of the job's URIs (and their ancestors)."""
    event = _event(job, kind)
    publish_resource_event(parse_uri(job.uri), event)
    if job.name_uri:
        publish(_name_group(job), event)


def _name_group(job: Job) -> str:
    from console.realtime import resource_group

    return resource_group(job.name_uri)


def _seconds(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a number of seconds", details={field: ["not an integer"]}) from None
    if seconds <= 0:
        raise InvalidInput(f"{field} must be positive", details={field: ["must be > 0"]})
    return seconds


def job_build(
    *,
    by: AbstractBaseUser,
    image: str,
    command: str,
    name: str | None = None,
    workdir: str = "",
    env: dict[str, str] | None = None,
    volumes: list[str] | None = None,
    preset: str | None = None,
    http_port: int | None = None,
    http_auth: bool = True,
    life_span: int | None = None,
    schedule_timeout: int | None = None,
    tags: list[str] | None = None,
    restart_policy: str = RestartPolicy.NEVER,
    description: str = "",
    share_with: list[str] | None = None,
    flow_id: str = "",
    bake_id: str = "",
    task_id: str = "",
) -> tuple[Job, list[str], list[Principal]]:
    """Check a job's spec (read (``:ro``) or write access on each volume, names, preset…) and
    build the unsaved job with its tags and the principals to share it with."""
    if not image or not image.strip():
        raise InvalidInput("An image is required", details={"image": ["required"]})
    if not command or not command.strip():
        raise InvalidInput("A command is required", details={"command": ["required"]})
    if name is not None and name != "":
        if not (3 <= len(name) <= 40 and NAME_RE.match(name)) or name.startswith("job-"):
            raise InvalidInput(
                f"Invalid job name {name!r}: 3–40 lower-case letters, digits and single dashes, starting "
                "with a letter, and not starting with 'job-'", details={"name": ["invalid"]})
    else:
        name = None
    preset = preset or settings.KILN_DEFAULT_PRESET
    if preset not in settings.KILN_PRESETS:
        raise InvalidInput(f"Unknown preset {preset!r}: choose one of {', '.join(settings.KILN_PRESETS)}",
                           details={"preset": ["unknown"]})
    if restart_policy not in RestartPolicy.values:
        raise InvalidInput(f"Unknown restart policy {restart_policy!r}: never, on-failure or always",
                           details={"restart_policy": ["unknown"]})
    if http_port is not None and not (1 <= int(http_port) <= 65535):
        raise InvalidInput("http_port must be between 1 and 65535", details={"http_port": ["out of range"]})
    env = {str(key): str(value) for key, value in (env or {}).items()}
    for key in env:
        if not _ENV_KEY_RE.match(key):
            raise InvalidInput(f"Invalid environment variable name {key!r}", details={"env": [key]})
    parsed = [volume_parse(text, username=by.username) for text in volumes or []]
    mounts = [volume.mount for volume in parsed]
    if len(set(mounts)) != len(mounts):
        raise InvalidInput("Two volumes share one mount path", details={"volumes": ["duplicate mount path"]})
    for volume in parsed:
        ensure_access(by, volume.uri, Level.READ if volume.read_only else Level.WRITE)
        if volume.read_only and not storage_exists(volume.uri):
            raise NotFound(f"Volume {volume.uri} does not exist", details={"volumes": [str(volume)]})
    tags = sorted({str(tag).strip() for tag in tags or [] if str(tag).strip()})
    for tag in tags:
        if len(tag) > 256:
            raise InvalidInput("A tag is at most 256 characters", details={"tags": [tag[:40]]})
    targets = [principal_get(who) for who in share_with or []]  # fail before creating anything

    cluster = settings.KILN_CLUSTER
    spec = settings.KILN_PRESETS[preset]
    job = Job(
        owner=by, cluster=cluster, name=name, image=image.strip(), command=command, workdir=workdir or "",
        env=env, volumes=[str(volume) for volume in parsed], preset=preset, cpu=float(spec["cpu"]),
        memory_mb=int(spec["memory_mb"]), http_port=http_port, http_auth=bool(http_auth),
        life_span=_seconds(life_span, "life_span"), schedule_timeout=_seconds(schedule_timeout, "schedule_timeout"),
        restart_policy=restart_policy, description=description[:500], flow_id=flow_id, bake_id=bake_id,
        task_id=task_id,
    )
    job.uri = job_uri(cluster=cluster, owner=by.username, id_or_name=job.id)
    job.name_uri = job_uri(cluster=cluster, owner=by.username, id_or_name=name) if name else None
    return job, tags, targets


def job_run(*, by: AbstractBaseUser, **spec: Any) -> Job:
    """Create a job and queue it for a worker (see ``job_build`` for the spec's fields)."""
    share_with = spec.pop("share_with", None)
    return jobs_run_many(by=by, specs=[{**spec, "share_with": share_with}])[0]


def jobs_run_many(*, by: AbstractBaseUser, specs: list[dict[str, Any]]) -> list[Job]:
    """Create several jobs in a handful of queries (a bake starting a thousand tasks) and queue
    them once committed. Any invalid spec raises before anything is created."""
    return jobs_save(by=by, built=[job_build(by=by, **spec) for spec in specs])


def jobs_save(*, by: AbstractBaseUser, built: list[tuple[Job, list[str], list[Principal]]]) -> list[Job]:
    """Store jobs checked by ``job_build`` and queue them once committed.

    In a jobs worker with free slots (a bake's tick that ran where its last job ended) the jobs
    that fit are stored already claimed by this worker's host and start here once committed: no
    queue round trip and no claiming transaction per hop of a chain."""
    from jobs.host import JobHost

    now = timezone.now()
    jobs = [job for job, _, _ in built]
    host = JobHost.current()
    claimed = jobs[:host.free_slots()] if host is not None else []
    # No savepoint inside a caller's transaction (a bake's tick): two round trips per tick less,
    # and a failure here fails the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        for job in jobs:
            job.created_at = now
        if claimed:
            fields = _claim_fields(host.worker, host.exec_channel, now)
            for job in claimed:
                _set_claimed(job, fields, attempt=1)
        Job.objects.bulk_create(jobs)
        JobTag.objects.bulk_create([JobTag(job=job, tag=tag) for job, tags, _ in built for tag in tags])
        JobStatusEvent.objects.bulk_create(
            [JobStatusEvent(job=job, status=JobStatus.PENDING, reason="Created", at=now) for job in jobs]
            + [JobStatusEvent(job=job, status=JobStatus.RUNNING, reason="Started", description=job.status_description,
                              at=now) for job in claimed])
        for job, _, targets in built:
            for target in targets:
                share(by=by, uri=job.uri, principal=f"{target.kind}:{target.name}", level=Level.READ)
        for job, tags, _ in built:
            job.known_tags = tags  # each job's event lists its tags: no query to read them back
        transaction.on_commit(lambda: _enqueue_many(jobs, claimed=claimed))
    return jobs


RUN_MESSAGE_SIZE = 16  # jobs per queue message: a fan-out spreads over the worker processes


def _enqueue_many(jobs: list[Job], claimed: list[Job] | None = None) -> None:
    """Hand new jobs to workers: those ``claimed`` by this process's host when they were stored
    start here, then as many others as its free slots allow; the rest go to the jobs queue,
    several per message."""
    from jobs.host import JobHost
    from jobs.tasks import run_jobs

    for job in jobs:
        _publish_job(job, "job.created")
    host = JobHost.current()
    if claimed:
        host.adopt(claimed)
        jobs_status_changed.send(sender=Job, jobs=claimed)
        jobs = jobs[len(claimed):]
    rest = host.start_now(jobs) if host is not None and jobs else jobs
    if not rest:
        return
    ids = [job.pk for job in rest]
    with run_jobs.app.producer_or_acquire() as producer:  # one connection for the whole batch
        for start in range(0, len(ids), RUN_MESSAGE_SIZE):
            run_jobs.apply_async((ids[start:start + RUN_MESSAGE_SIZE],), producer=producer)


def _enqueue(job: Job) -> None:
    _enqueue_many([job])


# --- transitions ------------------------------------------------------------------------------------


def job_transition(
    *,
    job: Job,
    to: JobStatus,
    reason: str = "",
    description: str = "",
    exit_code: int | None = None,
    only_from: tuple[str, ...] | None = None,
    attempt: int | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Move ``job`` to ``to`` if it is still in one of ``only_from`` (by default: any active
    status). One conditional UPDATE decides, so a kill racing a finish ends in exactly one state.
    Returns whether this call made the change (and recorded and published it)."""
    allowed = only_from or ACTIVE_STATUSES
    now = timezone.now()
    fields: dict[str, Any] = {"status": to, "reason": reason, "status_description": description, **(extra or {})}
    if exit_code is not None:
        fields["exit_code"] = exit_code
    if to == JobStatus.RUNNING:
        fields.setdefault("started_at", now)
    if to in FINAL_STATUSES:
        fields["finished_at"] = now
    rows = Job.objects.filter(pk=job.pk, status__in=allowed)
    if attempt is not None:
        rows = rows.filter(attempt=attempt)
    with transaction.atomic():
        if not rows.update(**fields):
            job.refresh_from_db()
            return False
        JobStatusEvent.objects.create(job=job, status=to, reason=reason, description=description,
                                      exit_code=exit_code, at=now)
    # The UPDATE said what the row is now; re-read only what the database computed (F()).
    computed = [name for name, value in fields.items() if hasattr(value, "resolve_expression")]
    for name, value in fields.items():
        if name not in computed:
            setattr(job, name, value)
    if computed:
        job.refresh_from_db(fields=computed)
    _publish_job(job, "job.status")
    transaction.on_commit(lambda: job_status_changed.send(sender=Job, job=job, status=job.status))
    return True


def job_kill(*, job: Job, by: AbstractBaseUser, reason: str = "Cancelled") -> Job:
    """Cancel a pending or running job (needs ``write``). Its runner sees the new status within a
    poll and stops the sandbox (SIGTERM, then SIGKILL after the grace period)."""
    from jobs.selectors import ensure_job_access

    ensure_job_access(by, job, Level.WRITE)
    if not job_transition(job=job, to=JobStatus.CANCELLED, reason=reason, description=f"Killed by {by.username}"):
        raise Conflict(f"Job {job.id} has already finished ({job.status})")
    return job


def job_heartbeat(*, job_id: str, attempt: int, log_lines: int) -> bool:
    """The runner is alive (and has stored ``log_lines`` lines); False when the job is no longer
    this runner's to run (stop it)."""
    return bool(Job.objects.filter(pk=job_id, attempt=attempt, status=JobStatus.RUNNING)
                .update(heartbeat_at=timezone.now(), log_lines=log_lines))


def job_log_end(*, job_id: str) -> int:
    """The next free log offset, from the stored chunks (exact even after a lost worker)."""
    last = JobLogChunk.objects.filter(job_id=job_id).order_by("-first").values_list("first", "count").first()
    return last[0] + last[1] if last else 0


def job_logs_append(*, job: Job, first: int, lines: list[str]) -> None:
    """Store a batch of log lines durably, then publish it to the job's log stream."""
    if not lines:
        return
    JobLogChunk.objects.create(job_id=job.pk, first=first, count=len(lines), text="\n".join(lines))
    publish(log_group(job.pk), {"type": "log", "first": first, "lines": lines})


def jobs_logs_append_many(*, chunks: list[tuple[str, int, list[str]]]) -> None:
    """Store log batches of several jobs (job id, first offset, lines) in one INSERT, then
    publish each to its job's stream."""
    chunks = [chunk for chunk in chunks if chunk[2]]
    if not chunks:
        return
    JobLogChunk.objects.bulk_create([JobLogChunk(job_id=job_id, first=first, count=len(lines), text="\n".join(lines))
                                     for job_id, first, lines in chunks])
    for job_id, first, lines in chunks:
        publish(log_group(job_id), {"type": "log", "first": first, "lines": lines})


def log_group(job_id: str) -> str:
    """Where a job's log lines go (DESIGN's ``job.<id>``); its status events go to its URI's group."""
    return f"job.{job_id}"


# --- batches (a worker's job host) ---------------------------------------------------------------------


@dataclass
class JobEnd:
    """How one run of a job ended, as a job host reports it (``jobs_finish``)."""

    job: Job
    attempt: int
    status: JobStatus
    reason: str
    description: str
    exit_code: int
    log_lines: int


def jobs_claim(*, job_ids: list[str], worker: str, exec_channel: str = "",
               known: dict[str, Job] | None = None) -> list[Job]:
    """Take the pending jobs among ``job_ids`` for ``worker`` (status running, attempt + 1);
    jobs cancelled meanwhile or claimed by another worker are left out. ``exec_channel``: where
    exec sessions of these jobs are to be opened. ``known``: jobs already in memory (just
    created here), brought up to date instead of read again. On PostgreSQL: one UPDATE … RETURNING
    and one INSERT (plus a read of the jobs not known)."""
    now = timezone.now()
    fields = _claim_fields(worker, exec_channel, now)
    known = known or {}
    if connection.vendor == "postgresql":  # one statement: atomic as it is, no BEGIN and COMMIT round trips
        jobs = [_claimed_job(row, known, fields) for row in _claim_rows(job_ids, fields, now)]
        _announce(jobs)
        return jobs
    with transaction.atomic():
        ids = list(Job.objects.select_for_update(skip_locked=True)
                   .filter(pk__in=job_ids, status=JobStatus.PENDING).values_list("pk", flat=True))
        Job.objects.filter(pk__in=ids).update(
            **fields, attempt=F("attempt") + 1,
            http_target=Case(When(http_port__isnull=True, then=Value("")),
                             default=Concat(Value(f"{settings.KILN_WORKER_ADDRESS}:"),
                                            Cast("http_port", CharField()))))
        claimed = dict(Job.objects.filter(pk__in=ids).values_list("pk", "attempt"))
        if not claimed:
            return []
        jobs = [known[pk] for pk in claimed if pk in known]
        for job in jobs:
            _set_claimed(job, fields, attempt=claimed[job.pk])
        missing = [pk for pk in claimed if pk not in known]
        if missing:
            jobs += list(Job.objects.select_related("owner").prefetch_related("tag_rows").filter(pk__in=missing))
        JobStatusEvent.objects.bulk_create([JobStatusEvent(job=job, status=JobStatus.RUNNING, reason="Started",
                                                           description=fields["status_description"], at=now)
                                            for job in jobs])
    _announce(jobs)
    return jobs


def _claim_fields(worker: str, exec_channel: str, now: Any) -> dict[str, Any]:
    """What claiming sets on a job (besides its attempt and ``http_target``)."""
    return {"status": JobStatus.RUNNING, "reason": "Started", "status_description": f"Running on {worker}",
            "worker": worker, "exec_channel": exec_channel, "heartbeat_at": now, "started_at": now}


def _set_claimed(job: Job, fields: dict[str, Any], *, attempt: int) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.attempt = attempt
    # as _claim_rows computes it in SQL
    job.http_target = f"{settings.KILN_WORKER_ADDRESS}:{job.http_port}" if job.http_port else ""


def _claim_rows(job_ids: list[str], fields: dict[str, Any], now: Any) -> list[Job]:
    """The claim on PostgreSQL, in one round trip: move the pending jobs among ``job_ids``,
    record their Started events, and read them back as updated, each with its owner and its tags
    (``known_tags``). A job another worker is claiming at the same moment waits for that
    transaction, then no longer matches. (As Django queries — an UPDATE, a SELECT with the owner,
    one for the tags, an INSERT — a claim cost ~1 ms of the worker's CPU per job in a fan-out.)"""
    jobs, owners = _RowReader.of(Job), _RowReader.of(get_user_model())
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(tuple(fields)), [*fields.values(), f"{settings.KILN_WORKER_ADDRESS}:",
                                                   list(job_ids), JobStatus.PENDING, now])
        rows = cursor.fetchall()
    claimed = []
    for row in rows:
        job = jobs.read(row[:jobs.width])
        job.known_tags = list(row[jobs.width])
        job.owner = owners.read(row[jobs.width + 1:])
        claimed.append(job)
    return claimed


@lru_cache(maxsize=8)
def _claim_sql(names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    user = get_user_model()
    assignments = ", ".join(f"{quote(name)} = %s" for name in names)
    return (
        f"WITH c AS (UPDATE {quote(Job._meta.db_table)} SET {assignments}, attempt = attempt + 1, "  # noqa: S608 — names are ours
        "http_target = CASE WHEN http_port IS NULL THEN '' ELSE %s || http_port::text END "
        "WHERE id = ANY(%s) AND status = %s RETURNING *), "
        f"e AS (INSERT INTO {quote(JobStatusEvent._meta.db_table)} (job_id, status, reason, description, at) "
        "SELECT id, status, reason, status_description, %s FROM c) "
        f"SELECT {_RowReader.of(Job).columns('c')}, "
        f"ARRAY(SELECT t.tag FROM {quote(JobTag._meta.db_table)} t WHERE t.job_id = c.id ORDER BY t.tag), "
        f"{_RowReader.of(user).columns('u')} "
        f"FROM c JOIN {quote(user._meta.db_table)} u ON u.{quote(user._meta.pk.column)} = c.owner_id")


class _RowReader:
    """Model instances from the raw rows of a hand-written query, as Django's own queries make
    them (each field's database converters applied: JSON decoded, say)."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields
        self.width = len(self.fields)
        self.names = [field.attname for field in self.fields]
        self.converters = [(index, found) for index, field in enumerate(self.fields)
                           if (found := field.get_db_converters(connection))]

    @classmethod
    @lru_cache(maxsize=8)
    def of(cls, model: type[models.Model]) -> _RowReader:
        return cls(model)

    def columns(self, alias: str) -> str:
        return ", ".join(f"{alias}.{connection.ops.quote_name(field.column)}" for field in self.fields)

    def read(self, row: tuple[Any, ...]) -> Any:
        values = list(row)
        for index, found in self.converters:
            for convert in found:
                values[index] = convert(values[index], None, connection)
        return self.model.from_db(connection.alias, self.names, values)


def _claimed_job(row: Job, known: dict[str, Job], fields: dict[str, Any]) -> Job:
    """A job as claimed: the one in memory brought up to date, else the row read back."""
    job = known.get(row.pk)
    if job is None:
        return row
    _set_claimed(job, fields, attempt=row.attempt)
    return job


FINISH_BATCH = 1000  # job ends per statement


def jobs_finish(*, ends: list[JobEnd]) -> list[Job]:
    """Record how several runs ended, in one statement: each job moves only if it is still
    running the same attempt (a kill that came first wins, as in ``job_transition``). Returns the
    jobs this call moved (recorded, published, signalled)."""
    if not ends:
        return []
    now = timezone.now()
    # On PostgreSQL up to FINISH_BATCH ends are one statement: atomic as it is.
    single = connection.vendor == "postgresql" and len(ends) <= FINISH_BATCH
    with nullcontext() if single else transaction.atomic():
        if connection.vendor == "postgresql":
            moved = _finish_rows(ends, now)
            done = [end for end in ends if end.job.pk in moved]
        else:
            moved = {end.job.pk for end in ends if Job.objects.filter(
                pk=end.job.pk, attempt=end.attempt, status=JobStatus.RUNNING).update(
                status=end.status, reason=end.reason, status_description=end.description,
                exit_code=end.exit_code, finished_at=now, log_lines=end.log_lines)}
            done = [end for end in ends if end.job.pk in moved]
            JobStatusEvent.objects.bulk_create([
                JobStatusEvent(job=end.job, status=end.status, reason=end.reason, description=end.description,
                               exit_code=end.exit_code, at=now) for end in done])
    for end in done:
        job = end.job
        job.status, job.reason, job.status_description = end.status, end.reason, end.description
        job.exit_code, job.finished_at, job.log_lines = end.exit_code, now, end.log_lines
    jobs = [end.job for end in done]
    _announce(jobs)
    return jobs


def _finish_rows(ends: list[JobEnd], now: Any) -> set[str]:
    table, events = Job._meta.db_table, JobStatusEvent._meta.db_table
    moved: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ends), FINISH_BATCH):
            batch = ends[start:start + FINISH_BATCH]
            values = ", ".join(["(%s, %s::integer, %s, %s, %s, %s::integer, %s::bigint)"] * len(batch))
            # The jobs that moved get their status events in the same statement.
            cursor.execute(
                f"WITH f AS (UPDATE {table} AS j SET status = v.status, reason = v.reason, "  # noqa: S608 — placeholders only
                "status_description = v.description, exit_code = v.exit_code, finished_at = %s, "
                f"log_lines = v.log_lines FROM (VALUES {values}) AS v(id, attempt, status, reason, description, "
                "exit_code, log_lines) WHERE j.id = v.id AND j.attempt = v.attempt AND j.status = %s "
                "RETURNING j.id, j.status, j.reason, j.status_description, j.exit_code), "
                f"e AS (INSERT INTO {events} (job_id, status, reason, description, exit_code, at) "
                "SELECT id, status, reason, status_description, exit_code, %s FROM f) "
                "SELECT id FROM f",
                [now, *[item for end in batch for item in (end.job.pk, end.attempt, end.status, end.reason,
                                                            end.description, end.exit_code, end.log_lines)],
                 JobStatus.RUNNING, now])
            moved.update(row[0] for row in cursor.fetchall())
    return moved


def _announce(jobs: list[Job]) -> None:
    for job in jobs:
        _publish_job(job, "job.status")
    if jobs:
        transaction.on_commit(lambda: jobs_status_changed.send(sender=Job, jobs=jobs))


def jobs_beat(*, runs: list[tuple[str, int, int]]) -> set[str]:
    """Heartbeat of a host's runs (job id, attempt, log lines stored): one UPDATE for all. Returns
    the ids still this host's to run; the others were cancelled or taken over (stop them)."""
    if not runs:
        return set()
    now = timezone.now()
    if connection.vendor != "postgresql":
        return {job_id for job_id, attempt, lines in runs
                if job_heartbeat(job_id=job_id, attempt=attempt, log_lines=lines)}
    with connection.cursor() as cursor:
        values = ", ".join(["(%s, %s::integer, %s::bigint)"] * len(runs))
        cursor.execute(
            f"UPDATE {Job._meta.db_table} AS j SET heartbeat_at = %s, log_lines = v.log_lines "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, attempt, log_lines) "
            "WHERE j.id = v.id AND j.attempt = v.attempt AND j.status = %s RETURNING j.id",
            [now, *[item for run in runs for item in run], JobStatus.RUNNING])
        return {row[0] for row in cursor.fetchall()}


def jobs_still_running(*, runs: list[tuple[str, int]]) -> set[str]:
    """Which of these runs (job id, attempt) are still running in the database (one query)."""
    attempts = dict(runs)
    rows = Job.objects.filter(pk__in=list(attempts), status=JobStatus.RUNNING).values_list("pk", "attempt")
    return {job_id for job_id, attempt in rows if attempts.get(job_id) == attempt}


# --- liveness --------------------------------------------------------------------------------------------


def job_mark_lost(*, job: Job, description: str) -> bool:
    """The worker running ``job`` is gone: fail it with ``WorkerLost``, or queue it again when its
    restart policy says so. Only the run that was lost is touched (by its attempt number)."""
    if job.restart_policy in (RestartPolicy.ALWAYS, RestartPolicy.ON_FAILURE):
        requeued = job_transition(job=job, to=JobStatus.PENDING, reason="WorkerLost", description=description,
                                  only_from=(JobStatus.RUNNING,), attempt=job.attempt,
                                  extra={"restarts": F("restarts") + 1, "worker": "", "heartbeat_at": None})
        if requeued:
            transaction.on_commit(lambda: _enqueue(job))
        return requeued
    return job_transition(job=job, to=JobStatus.FAILED, reason="WorkerLost", description=description,
                          only_from=(JobStatus.RUNNING,), attempt=job.attempt)


def jobs_recover_lost(*, now: Any = None) -> list[str]:
    """Running jobs whose runner stopped beating lost their worker (``job_mark_lost``); pending
    jobs past their schedule timeout fail with ``ScheduleTimeout``. Idempotent: every worker
    runs it periodically, so no single scheduler has to stay alive."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.KILN_HEARTBEAT_TIMEOUT)
    touched: list[str] = []
    for job in Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale):
        since = f"{job.heartbeat_at:%H:%M:%S}" if job.heartbeat_at else "its start"
        if job_mark_lost(job=job, description=f"No heartbeat from worker {job.worker or '?'} since {since}"):
            touched.append(job.pk)
    for job in Job.objects.filter(status=JobStatus.PENDING, schedule_timeout__isnull=False):
        if job.created_at + timedelta(seconds=job.schedule_timeout) < now and job_transition(
            job=job, to=JobStatus.FAILED, reason="ScheduleTimeout",
            description=f"Not started within {job.schedule_timeout} s", only_from=(JobStatus.PENDING,),
        ):
            touched.append(job.pk)
    return touched
