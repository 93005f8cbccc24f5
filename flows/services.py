"""Writes of the flows app: import or create flows, run live jobs, start, cancel and restart
bakes. The bake's DAG is driven by flows/orchestrator.py."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from console.errors import Conflict, InvalidInput, NotFound
from console.models import Level
from console.realtime import publish_resource_event
from console.selectors import ensure_access
from console.uris import parse_uri
from flows import spec
from flows.models import (
    FINAL_BAKE_STATUSES,
    Bake,
    BakeAttempt,
    BakeStatus,
    BakeTask,
    Flow,
    TaskStatus,
)
from flows.plans import plan_forget, plan_share
from flows.selectors import (
    bake_summary,
    bake_uri,
    batch_ids,
    ensure_flow_access,
    errors_for,
    files_for_batch,
    flow_config_files,
    flow_eval_env,
    flow_load,
    invalid_config,
    live_job_runs,
    run_suffix,
)
from jobs.models import ACTIVE_STATUSES, Job
from jobs.services import job_kill, job_run
from storage.selectors import storage_uri
from storage.services import storage_mkdir, storage_upload

TEMPLATE_DIR = Path(__file__).resolve().parent / "template"
_FLOW_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,199}$")


# --- flows -----------------------------------------------------------------------------------------------


def flow_import(*, by: AbstractBaseUser, folder: str, title: str = "") -> Flow:
    """Register (or refresh) the flow whose project folder is ``folder`` in storage. Its id comes
    from project.yml or the folder's name; config errors do not stop the import (they show on the
    flow's page), but a folder without a config folder is not a flow."""
    folder_uri = storage_uri(by, folder)
    ensure_access(by, folder_uri, Level.READ)
    config_dir, files = flow_config_files(folder_uri=str(folder_uri))
    loaded = spec.load_project(files, config_dir=config_dir, folder_name=folder_uri.name)
    flow_id = loaded.project.project.id or folder_uri.name
    if not _FLOW_ID_RE.match(flow_id):
        raise InvalidInput(f"{flow_id!r} cannot be a flow id: letters, digits, '_' and '-', starting with a letter")
    uri = f"flow://{settings.KILN_CLUSTER}/{by.username}/{flow_id}"
    title = title or (loaded.project.live.title if loaded.project.live and loaded.project.live.title else "") or ""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(owner=by, flow_id=flow_id).first()
        if flow is not None and flow.storage_uri != str(folder_uri):
            raise Conflict(f"You have a flow {flow_id!r} already, from {flow.storage_uri}; rename the project id "
                           "in project.yml or remove that flow")
        if flow is None:
            flow = Flow.objects.create(owner=by, cluster=settings.KILN_CLUSTER, flow_id=flow_id, uri=uri,
                                       storage_uri=str(folder_uri), config_dir=config_dir, title=title)
        else:
            flow.config_dir, flow.title, flow.last_activity_at = config_dir, title or flow.title, timezone.now()
            flow.save()
    _flow_event(flow, "flow.updated")
    return flow


def flow_sync(*, by: AbstractBaseUser, folder: str, files: dict[str, str]) -> Flow:
    """Write a local project's config files (``.neuro/live.yml``…, and the ``ws:`` action files
    they call from elsewhere in the project) into its storage folder and import it: what ``kiln
    flow`` does before acting, so nobody imports by hand."""
    folder_uri = storage_uri(by, folder)
    for path, text in files.items():
        parts = [part for part in path.split("/") if part]
        in_config = len(parts) >= 2 and parts[0] in (".apolo", ".neuro")
        if not parts or ".." in parts or not (in_config or parts[-1].endswith((".yml", ".yaml"))):
            raise InvalidInput(f"{path!r} is neither a file of a config folder (.apolo/ or .neuro/) nor a YAML "
                               "action file of the project")
        data = text.encode()
        storage_upload(by=by, uri=folder_uri.child(*parts), chunks=[data], size=len(data))
    return flow_import(by=by, folder=str(folder_uri))


def flow_create_from_template(*, by: AbstractBaseUser, name: str, title: str = "", folder: str = "") -> Flow:
    """Render Kiln's project template (cookiecutter) into ``folder`` (default ``storage:<name>``)."""
    from cookiecutter.main import cookiecutter

    if not re.match(r"^[a-z][a-z0-9_]{0,60}$", name or ""):
        raise InvalidInput("A flow name is lower-case letters, digits and '_', starting with a letter",
                           details={"name": ["invalid"]})
    folder_uri = storage_uri(by, folder or f"storage:{name}")
    ensure_access(by, folder_uri, Level.WRITE)
    from storage.selectors import storage_exists

    if storage_exists(folder_uri):
        raise Conflict(f"{folder_uri} exists already; choose another name or folder")
    with tempfile.TemporaryDirectory(prefix="kiln-template-") as out:
        project = Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=out, extra_context={
            "flow_id": name, "flow_title": title or name.replace("_", " ").title(), "owner": by.username}))
        for path in sorted(project.rglob("*")):
            relative = path.relative_to(project).parts
            if path.is_dir():
                storage_mkdir(by=by, uri=folder_uri.child(*relative), parents=True)
            else:
                data = path.read_bytes()
                storage_upload(by=by, uri=folder_uri.child(*relative), chunks=[data], size=len(data))
    return flow_import(by=by, folder=str(folder_uri), title=title)


def flow_delete(*, by: AbstractBaseUser, flow: Flow) -> None:
    """Forget the flow (its storage folder and jobs stay)."""
    ensure_flow_access(by, flow, Level.MANAGE)
    if Bake.objects.filter(flow=flow).exclude(status__in=FINAL_BAKE_STATUSES).exists():
        raise Conflict(f"Flow {flow.flow_id} has bakes running: cancel them first")
    _flow_event(flow, "flow.deleted")
    flow.delete()


def _flow_event(flow: Flow, kind: str) -> None:
    event = {"type": kind, "flow": {"id": flow.flow_id, "uri": flow.uri, "title": flow.title}}
    transaction.on_commit(lambda: publish_resource_event(parse_uri(flow.uri), event))


def _touch(flow: Flow) -> None:
    Flow.objects.filter(pk=flow.pk).update(last_activity_at=timezone.now())


# --- live jobs -------------------------------------------------------------------------------------------


def job_spec_of(*, flow: Flow, run: spec.RunSpec, name: str | None, task_id: str,
                bake_id: str = "") -> dict[str, Any]:
    """The keyword arguments of ``jobs.services.job_build`` for a rendered flow job."""
    if not run.command and not run.entrypoint:
        raise InvalidInput(f"{task_id} has no command (cmd, bash or python) to run")
    command = " ".join(part for part in (run.entrypoint, run.command) if part)
    restart = run.restart if run.restart in ("never", "on-failure", "always") else "never"
    return dict(
        image=run.image, command=command, name=name, workdir=run.workdir or "", env=dict(run.env),
        volumes=list(run.volumes), preset=run.preset, http_port=run.http_port,
        http_auth=True if run.http_auth is None else run.http_auth,
        life_span=int(run.life_span) if run.life_span else None,
        schedule_timeout=int(run.schedule_timeout) if run.schedule_timeout else None,
        tags=list(run.tags), restart_policy=restart, description=run.title or "",
        flow_id=flow.uri, bake_id=bake_id, task_id=task_id,
    )


def flow_live_run(*, by: AbstractBaseUser, flow: Flow, job_id: str, params: dict[str, str] | None = None,
                  args: list[str] | None = None) -> tuple[Job, bool]:
    """Run live job ``job_id`` of the flow; a non-multi job that is already running is attached to
    instead (returns it and ``False``), even when two runs are asked for at once. Multi jobs get a
    new suffix every run."""
    ensure_flow_access(by, flow, Level.WRITE)
    loaded = flow_load(flow=flow)
    if errors := errors_for(loaded.errors, live=True):
        raise invalid_config(errors)
    project = loaded.project
    if job_id not in {info.id for info in spec.list_live_jobs(project)}:
        raise NotFound(f"Flow {flow.flow_id} has no live job {job_id!r}")
    multi = spec.job_is_multi(project, job_id)
    if args and not multi:
        raise InvalidInput(f"Live job {job_id!r} is not multi: it takes no args", details={"args": ["not multi"]})
    with transaction.atomic():
        _lock_live_job(flow, job_id)  # until commit: the check below and the new run are one step
        if not multi:
            running = live_job_runs(flow=flow, job_id=job_id).filter(status__in=ACTIVE_STATUSES).first()
            if running is not None:
                return running, False
        suffix = spec.new_multi_suffix() if multi else None
        try:
            run = spec.render_live_job(project, job_id, env=flow_eval_env(flow=flow, username=by.username),
                                       params=params or {}, suffix=suffix, args=args if multi else None)
        except spec.FlowSpecError as error:
            raise invalid_config(error.errors) from None
        name = run.name or spec.default_job_name(project.project.id or flow.flow_id, job_id, suffix)
        job = job_run(by=by, **job_spec_of(flow=flow, run=run, name=_job_name(name), task_id=job_id))
        _touch(flow)
    return job, True


def _lock_live_job(flow: Flow, job_id: str) -> None:
    """Hold off other runs of live job ``job_id`` of the flow until this transaction ends.

    PostgreSQL: a transaction-level advisory lock on a 64-bit hash of (flow, job). SQLite (the
    embedded set-up) needs none: its transactions begin IMMEDIATE (console/settings.py), so
    writing transactions already run one at a time."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"kiln.flows.live:{flow.pk}:{job_id}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def flow_live_kill(*, by: AbstractBaseUser, flow: Flow, job_id: str, suffix: str | None = None) -> Job:
    """Kill live job ``job_id``: its run, or for a multi job its instance ``suffix`` (apolo-flow's
    ``kill JOB SUFFIX``). Like apolo-flow, a multi job needs the suffix (the error lists the
    running ones) and a non-multi job takes none. The running run is killed, else the latest,
    which is a Conflict when it has finished already."""
    ensure_flow_access(by, flow, Level.WRITE)
    multi = _live_job_is_multi(flow, job_id)
    if suffix and not multi:
        raise InvalidInput(f"Live job {job_id!r} is not multi: it takes no suffix", details={"suffix": ["not multi"]})
    if multi and not suffix:
        running = sorted(filter(None, (run_suffix(run) for run in live_job_runs(flow=flow, job_id=job_id)
                                       .filter(status__in=ACTIVE_STATUSES))))
        raise InvalidInput(f"Live job {job_id!r} is multi: say which instance to kill by its suffix "
                           f"(running: {', '.join(running) or 'none'})",
                           details={"suffix": ["required for a multi job"], "running": running})
    runs = live_job_runs(flow=flow, job_id=job_id, suffix=suffix or None)
    run = runs.filter(status__in=ACTIVE_STATUSES).first() or runs.first()
    if run is None:
        raise NotFound(f"Live job {job_id} has no instance {suffix!r}" if suffix
                       else f"Live job {job_id} has never run")
    return job_kill(job=run, by=by)


def _live_job_is_multi(flow: Flow, job_id: str) -> bool:
    """Whether live job ``job_id`` is multi: as live.yml says, or, when live.yml cannot say (it
    has errors, or no longer has the job), as its latest run says. NotFound when neither knows it."""
    try:
        loaded = flow_load(flow=flow)
    except NotFound:
        loaded = None
    if loaded is not None and not errors_for(loaded.errors, live=True) \
            and job_id in {info.id for info in spec.list_live_jobs(loaded.project)}:
        return spec.job_is_multi(loaded.project, job_id)
    latest = live_job_runs(flow=flow, job_id=job_id).first()
    if latest is None:
        raise NotFound(f"Flow {flow.flow_id} has no live job {job_id!r}")
    return run_suffix(latest) is not None


def _job_name(name: str | None) -> str | None:
    """Kiln job names are 3–40 characters of [a-z0-9-]; make a flow's default name fit."""
    if not name:
        return None
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", name.lower())).strip("-")[:40].rstrip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = ("f-" + cleaned)[:40].rstrip("-")
    return cleaned if len(cleaned) >= 3 and not cleaned.startswith("job-") else None


# --- bakes ---------------------------------------------------------------------------------------------------


def bake_start(*, by: AbstractBaseUser, flow: Flow, batch: str, params: dict[str, str] | None = None,
               name: str = "", tags: list[str] | None = None) -> Bake:
    """Plan batch ``batch`` (config errors are a 422 listing file:line:column) and queue its
    first attempt for the orchestrator."""
    ensure_flow_access(by, flow, Level.WRITE)
    _, files = flow_config_files(folder_uri=flow.storage_uri)
    loaded = flow_load(flow=flow, files=files_for_batch(files, batch))
    if errors := errors_for(loaded.errors, batch=batch):
        raise invalid_config(errors)
    if batch not in loaded.project.batches:
        known = ", ".join(sorted(batch_ids(files) | set(loaded.project.batches))) or "none"
        raise NotFound(f"Flow {flow.flow_id} has no batch {batch!r} (batches: {known})")
    params = {str(key): str(value) for key, value in (params or {}).items()}
    try:
        plan = spec.plan_batch(loaded.project, batch, env=flow_eval_env(flow=flow, username=by.username),
                               params=params)
    except spec.FlowSpecError as error:
        raise invalid_config(error.errors) from None
    with transaction.atomic():
        bake = Bake.objects.create(flow=flow, batch=batch, name=name[:200], params=params,
                                   tags=sorted({str(t) for t in tags or []}), created_by=by,
                                   status=BakeStatus.PENDING)
        # The attempt keeps the config as it was, with the ws: actions read from elsewhere in the folder.
        attempt = BakeAttempt.objects.create(bake=bake, number=1, config={**files, **loaded.fetched},
                                             from_failed=False)
        BakeTask.objects.bulk_create([
            BakeTask(attempt=attempt, task_id=task.id, base_id=task.base_id, position=index,
                     needs=dict(task.needs), matrix=dict(task.matrix))
            for index, task in enumerate(plan.tasks.values())
        ])
        _touch(flow)
        # Shared before the first tick is asked for: the tick then loads it, not plans it again.
        transaction.on_commit(lambda: plan_share(attempt=attempt, plan=plan))
        transaction.on_commit(lambda: _after_bake_change(bake, "bake.created"))
    return bake


def bake_cancel(*, by: AbstractBaseUser, bake: Bake) -> Bake:
    """Cancel the running attempt: kill its running tasks, cancel the pending ones."""
    ensure_flow_access(by, bake.flow, Level.WRITE)
    with transaction.atomic():
        attempt = BakeAttempt.objects.select_for_update().filter(bake=bake).order_by("-number").first()
        if attempt.status in FINAL_BAKE_STATUSES:
            raise Conflict(f"Bake {bake.pk} has already finished ({attempt.status})")
        now = timezone.now()
        running = list(attempt.tasks.filter(status=TaskStatus.RUNNING).exclude(job_id=""))
        attempt.tasks.filter(status__in=(TaskStatus.PENDING, TaskStatus.RUNNING)).update(
            status=TaskStatus.CANCELLED, reason="Cancelled", finished_at=now)
        attempt_finish(attempt=attempt, status=BakeStatus.CANCELLED)
    for task in running:
        job = Job.objects.filter(pk=task.job_id).first()
        if job is not None and job.is_active:
            try:
                job_kill(job=job, by=job.owner, reason="Cancelled")
            except Conflict:
                pass  # it finished meanwhile
    bake.refresh_from_db()
    return bake


def bake_restart(*, by: AbstractBaseUser, bake: Bake, from_failed: bool = True) -> Bake:
    """Attempt N+1 of a finished bake; by default the tasks that succeeded (or were cached) keep
    their results and only the rest run again."""
    ensure_flow_access(by, bake.flow, Level.WRITE)
    with transaction.atomic():
        last = BakeAttempt.objects.select_for_update().filter(bake=bake).order_by("-number").first()
        if last.status not in FINAL_BAKE_STATUSES:
            raise Conflict(f"Attempt {last.number} of bake {bake.pk} is still {last.status}: cancel it or wait "
                           "for it to finish before restarting")
        attempt = BakeAttempt.objects.create(bake=bake, number=last.number + 1, config=last.config,
                                             from_failed=from_failed)
        tasks = []
        for old in last.tasks.all():
            keep = from_failed and old.status in (TaskStatus.SUCCEEDED, TaskStatus.CACHED)
            tasks.append(BakeTask(
                attempt=attempt, task_id=old.task_id, base_id=old.base_id, position=old.position, needs=old.needs,
                matrix=old.matrix, status=old.status if keep else TaskStatus.PENDING,
                reason=f"From attempt {last.number}" if keep else "", job_id=old.job_id if keep else "",
                outputs=old.outputs if keep else {}, carried_from=f"{bake.pk}#{last.number}" if keep else "",
                started_at=old.started_at if keep else None, finished_at=old.finished_at if keep else None,
            ))
        BakeTask.objects.bulk_create(tasks)
        Bake.objects.filter(pk=bake.pk).update(status=BakeStatus.PENDING, finished_at=None)
        transaction.on_commit(lambda: _after_bake_change(bake, "bake.restarted"))
    bake.refresh_from_db()
    return bake


def attempt_finish(*, attempt: BakeAttempt, status: str) -> None:
    now = timezone.now()
    BakeAttempt.objects.filter(pk=attempt.pk).update(status=status, finished_at=now)
    Bake.objects.filter(pk=attempt.bake_id).update(status=status, finished_at=now)
    bake = Bake.objects.select_related("flow", "created_by").get(pk=attempt.bake_id)
    transaction.on_commit(lambda: (plan_forget(attempt), _after_bake_change(bake, "bake.status", tick=False)))


def _after_bake_change(bake: Bake, kind: str, *, tick: bool = True) -> None:
    bake.refresh_from_db()
    publish_resource_event(parse_uri(bake_uri(bake)), {"type": kind, "bake": bake_summary(bake)})
    if tick:
        from flows.tasks import tick_bake

        tick_bake.delay(bake.pk)
