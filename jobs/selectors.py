"""Reads of the jobs app: visible lists (filtered in SQL), one job by reference, logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from console.errors import Conflict, Forbidden, InvalidInput, NotFound
from console.models import Level
from console.selectors import access_level, granted_prefixes, owner_and_name, uri_within_q
from jobs.models import ACTIVE_STATUSES, Job, JobLogChunk, JobStatus


def job_level(user: AbstractBaseUser, job: Job) -> Level | None:
    """The user's level on a job: the best of what reaches its id URI and its name URI; readers of
    the flow a job belongs to (its live jobs and bake tasks) may read it too."""
    levels = [access_level(user, job.uri)]
    if job.name_uri:
        levels.append(access_level(user, job.name_uri))
    if job.flow_id and access_level(user, job.flow_id) is not None:
        levels.append(Level.READ)
    return max((level for level in levels if level is not None), default=None)


def ensure_job_access(user: AbstractBaseUser, job: Job, level: Level) -> Level:
    held = job_level(user, job)
    if held is None:
        raise NotFound(f"No such job: {job.pk}")
    if held < level:
        raise Forbidden(f"You need {level.codename} access to job {job.pk}; you have {held.codename}")
    return held


def job_visible_q(user: AbstractBaseUser, *, level: Level = Level.READ) -> Q:
    """Jobs the user owns or that a grant reaches (by id, by name, or all of an owner's jobs)."""
    prefixes = granted_prefixes(user, scheme="job", level=level)
    visible = Q(owner=user) | uri_within_q("uri", prefixes) | uri_within_q("name_uri", prefixes)
    if level == Level.READ:
        flows = granted_prefixes(user, scheme="flow", level=Level.READ)
        visible |= uri_within_q("flow_id", flows)
    return visible


def job_list_visible(
    *,
    user: AbstractBaseUser,
    include_finished: bool = False,
    statuses: list[str] | None = None,
    name: str | None = None,
    tags: list[str] | None = None,
    owners: list[str] | None = None,
    shared_with_me: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Job]:
    jobs = Job.objects.filter(job_visible_q(user)).select_related("owner")
    if statuses:
        unknown = set(statuses) - set(JobStatus.values)
        if unknown:
            raise InvalidInput(f"Unknown status {sorted(unknown)[0]!r}", details={"status": sorted(unknown)})
        jobs = jobs.filter(status__in=statuses)
    elif not include_finished:
        jobs = jobs.filter(status__in=ACTIVE_STATUSES)
    if name:
        jobs = jobs.filter(name=name)
    for tag in tags or []:
        jobs = jobs.filter(tag_rows__tag=tag)
    if owners:
        jobs = jobs.filter(owner__username__in=owners)
    if shared_with_me:
        jobs = jobs.exclude(owner=user)
    if since:
        jobs = jobs.filter(created_at__gte=since)
    if until:
        jobs = jobs.filter(created_at__lte=until)
    return jobs.prefetch_related("tag_rows")


def job_get_visible(*, user: AbstractBaseUser, ref: str) -> Job:
    """A job by id (``job-…``), by name (the caller's latest run with that name), or by URI
    (``job:x``, ``job:/alice/x``, ``job://cluster/alice/x``). 404 unless the user can read it."""
    ref = (ref or "").strip()
    owner, key = owner_and_name(user=user, ref=ref, scheme="job")
    if key.startswith("job-"):
        job = Job.objects.select_related("owner").filter(pk=key).first()
        if job is not None and ref.startswith("job:") and job.owner.username != owner:
            job = None
    else:
        job = Job.objects.select_related("owner").filter(owner__username=owner, name=key).order_by(
            "-created_at").first()
    if job is None or job_level(user, job) is None:
        raise NotFound(f"No such job: {ref}")
    return job


def job_tags(job: Job) -> list[str]:
    """Sorted. Tags never change once a job exists: those known when it was stored or claimed
    (``known_tags``) save a query; otherwise its rows (prefetched by lists)."""
    known = getattr(job, "known_tags", None)
    return sorted(known) if known is not None else sorted(row.tag for row in job.tag_rows.all())


def job_summary(job: Job) -> dict[str, Any]:
    """The fields lists and events carry."""
    return {
        "id": job.pk,
        "name": job.name,
        "owner": job.owner.username,
        "uri": job.uri,
        "status": job.status,
        "reason": job.reason,
        "description": job.status_description,
        "exit_code": job.exit_code,
        "image": job.image,
        "command": job.command,
        "preset": job.preset,
        "tags": job_tags(job),
        "http_port": job.http_port,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "restarts": job.restarts,
        "flow_id": job.flow_id,
        "bake_id": job.bake_id,
        "task_id": job.task_id,
    }


def job_detail(job: Job, *, user: AbstractBaseUser) -> dict[str, Any]:
    level = job_level(user, job)
    return {
        **job_summary(job),
        "name_uri": job.name_uri,
        "cluster": job.cluster,
        "workdir": job.workdir,
        "env": job.env,
        "volumes": job.volumes,
        "cpu": job.cpu,
        "memory_mb": job.memory_mb,
        "http_auth": job.http_auth,
        "http_url": f"/jobs/{job.pk}/browse/" if job.http_port else None,
        "life_span": job.life_span,
        "schedule_timeout": job.schedule_timeout,
        "restart_policy": job.restart_policy,
        "job_description": job.description,
        "worker": job.worker,
        "log_lines": job.log_lines,
        "my_level": level.codename if level else None,
        "history": job_history(job),
    }


def job_history(job: Job) -> list[dict[str, Any]]:
    return [
        {"status": row.status, "reason": row.reason, "description": row.description, "exit_code": row.exit_code,
         "at": row.at.isoformat()}
        for row in job.history.all()
    ]


def job_logs_after(*, job: Job, after: int = -1, limit: int = 10_000) -> tuple[list[tuple[int, str]], int]:
    """Lines with offset > ``after`` (at most ``limit``), and the offset of the last one returned
    (``after`` when none). Offsets start at 0 and increase by one per line."""
    first_wanted = after + 1
    chunks = JobLogChunk.objects.filter(job=job, first__gte=_chunk_start(job, first_wanted)).order_by("first")
    lines: list[tuple[int, str]] = []
    for chunk in chunks.iterator(chunk_size=200):
        for index, text in enumerate(chunk.text.split("\n")):
            offset = chunk.first + index
            if offset >= first_wanted:
                lines.append((offset, text))
                if len(lines) >= limit:
                    return lines, offset
    return lines, (lines[-1][0] if lines else after)


def _chunk_start(job: Job, offset: int) -> int:
    """The first offset of the chunk holding ``offset`` (so a resume mid-chunk starts there)."""
    first = (JobLogChunk.objects.filter(job=job, first__lte=offset).order_by("-first")
             .values_list("first", flat=True).first())
    return first if first is not None else 0


def job_uri_exists(uri: Any) -> bool:
    """For the sharing core: a job id names an existing job of that owner; a name names every
    run with it, past and future, so any valid name exists."""
    from jobs.models import NAME_RE

    if not uri.path:
        return True
    if "/" in uri.path:
        return False
    if uri.path.startswith("job-"):
        return Job.objects.filter(pk=uri.path, owner__username=uri.owner).exists()
    return bool(NAME_RE.match(uri.path))


async def job_log_text(*, job: Job) -> AsyncIterator[str]:
    """The whole log as text, a hundred chunks at a time: an async iterator, because under ASGI
    Django would read a sync iterator whole into memory before sending it."""
    last = -1
    while True:
        chunks = await sync_to_async(list)(
            JobLogChunk.objects.filter(job=job, first__gt=last).order_by("first")[:100])
        if not chunks:
            return
        for chunk in chunks:
            yield chunk.text + "\n"
            last = chunk.first


def job_browse_target(*, user: Any, ref: str) -> tuple[Job, str]:
    """The running job behind ``/jobs/<ref>/browse/`` (an id, or a name of the caller's) and its
    upstream ``host:port``. Needs read, unless the job was run with ``http_auth: false``: then
    anyone with its id may browse it. Anything else is a 404."""
    job = None
    if user is not None and user.is_authenticated:
        try:
            job = job_get_visible(user=user, ref=ref)
        except NotFound:
            job = None
    if job is None and ref.startswith("job-"):
        job = Job.objects.select_related("owner").filter(pk=ref, http_auth=False).first()
    if job is None:
        raise NotFound(f"No such job: {ref}")
    return _browse_ready(job)


def _browse_ready(job: Job) -> tuple[Job, str]:
    if not job.http_port:
        raise NotFound(f"Job {job.pk} has no HTTP port to browse")
    if job.status != JobStatus.RUNNING or not job.http_target:
        raise Conflict(f"Job {job.pk} is {job.status}, not running: nothing to browse")
    return job, job.http_target
