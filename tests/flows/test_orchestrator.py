"""The orchestrator's batched reads and writes, against PostgreSQL without workers: what a tick
reads of its jobs and what ``_save_tasks`` writes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flows import orchestrator
from flows.models import Bake, BakeAttempt, BakeTask, Flow, TaskCacheEntry
from flows.selectors import batch_ids, files_for_batch
from jobs.models import Job, JobLogChunk

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def make_attempt(owner, task_ids: list[str]) -> BakeAttempt:
    flow = Flow.objects.create(owner=owner, cluster="default", flow_id="f", uri=f"flow://default/{owner.username}/f",
                               storage_uri=f"storage://default/{owner.username}/f")
    bake = Bake.objects.create(flow=flow, batch="b", created_by=owner)
    attempt = BakeAttempt.objects.create(bake=bake, number=1)
    BakeTask.objects.bulk_create(BakeTask(attempt=attempt, task_id=task_id, base_id=task_id, position=index)
                                 for index, task_id in enumerate(task_ids))
    return attempt


def make_job(owner, status: str, **fields) -> Job:
    job = Job(owner=owner, cluster="default", image="python:3.11", command="true", preset="cpu-small", cpu=0.1,
              memory_mb=64, status=status, **fields)
    job.uri = f"job://default/{owner.username}/{job.pk}"
    job.save()
    return job


def row(task: BakeTask) -> dict:
    return {name: getattr(task, name) for name in orchestrator.TASK_FIELDS}


@pytest.mark.parametrize("save", [orchestrator._save_tasks, orchestrator._save_tasks_portable],
                         ids=["postgresql", "portable"])
def test_save_tasks_writes_mixed_changes(bob, monkeypatch, save):
    assert connection.vendor == "postgresql"
    monkeypatch.setattr(orchestrator, "SAVE_BATCH", 2)  # several statements for five tasks
    attempt = make_attempt(bob, ["started", "finished", "odd", "cleared", "alike", "untouched"])
    tasks = {task.task_id: task for task in attempt.tasks.all()}
    BakeTask.objects.filter(pk=tasks["cleared"].pk).update(
        status="failed", reason="before", job_id="job-old", outputs={"old": "1"}, cache_key="k0", carried_from="x",
        always=True, started_at=T0, finished_at=T0)
    tasks["cleared"].refresh_from_db()

    changes = {
        "started": {"status": "running", "job_id": "job-1", "always": True, "started_at": T0},
        "finished": {"status": "succeeded", "job_id": "job-2", "outputs": {"word": "kiln", "n": "2"},
                     "started_at": T0, "finished_at": T0 + timedelta(seconds=1)},
        "odd": {"status": "failed", "reason": "it's 100% \"broken\" -- ünïcode; DROP TABLE x", "job_id": "job-3",
                "outputs": {"quote's": "a\nb", "empty": ""}, "cache_key": "c" * 64, "carried_from": "bake-9",
                "started_at": T0, "finished_at": T0 + timedelta(microseconds=1)},
        "cleared": {"status": "pending", "reason": "", "job_id": "", "outputs": {}, "cache_key": "",
                    "carried_from": "", "always": False, "started_at": None, "finished_at": None},
        "alike": {"status": "running", "job_id": "job-5", "always": True, "started_at": T0},
    }
    for task_id, fields in changes.items():
        for name, value in fields.items():
            setattr(tasks[task_id], name, value)
    save([tasks[task_id] for task_id in changes])

    stored = {task.task_id: task for task in attempt.tasks.all()}
    for task_id in changes:
        assert row(stored[task_id]) == row(tasks[task_id]), task_id
    assert row(stored["untouched"]) == {"status": "pending", "reason": "", "job_id": "", "outputs": {},
                                        "cache_key": "", "carried_from": "", "always": False, "started_at": None,
                                        "finished_at": None}


def test_reconcile_reads_ended_jobs_and_their_outputs_in_a_few_queries(bob):
    attempt = make_attempt(bob, ["ok", "cached", "bad", "stopped", "busy", "gone", "late"])
    jobs = {
        "ok": make_job(bob, "succeeded", finished_at=T0),
        "cached": make_job(bob, "succeeded", finished_at=T0),
        "bad": make_job(bob, "failed", reason="Error", finished_at=T0),
        "stopped": make_job(bob, "cancelled", reason="Cancelled", finished_at=T0),
        "busy": make_job(bob, "running"),
        "late": make_job(bob, "succeeded"),  # no finished_at: the tick's time stands in
    }
    # Chunks stored out of order: later lines win, in offset order, per job.
    JobLogChunk.objects.create(job=jobs["ok"], first=5, count=2, text="::set-output name=x::2\n::set-output name=y::b")
    JobLogChunk.objects.create(job=jobs["ok"], first=0, count=2, text="hello\n::set-output name=x::1")
    JobLogChunk.objects.create(job=jobs["ok"], first=2, count=3, text="no outputs\nhere\nat all")
    JobLogChunk.objects.create(job=jobs["cached"], first=0, count=1, text="::set-output name=z::3")
    JobLogChunk.objects.create(job=jobs["bad"], first=0, count=1, text="::set-output name=never::1")
    bake = attempt.bake
    TaskCacheEntry.objects.create(flow=bake.flow, batch=bake.batch, task_id="cached", key="k1",
                                  outputs={"old": "1"}, bake_id="bake-old")
    job_ids = {task_id: job.pk for task_id, job in jobs.items()} | {"gone": "job-deleted"}
    for task in attempt.tasks.all():
        task.status, task.job_id, task.started_at = "running", job_ids[task.task_id], T0
        task.cache_key = "k1" if task.task_id == "cached" else ""
        task.save()

    tick = orchestrator.Tick(BakeAttempt.objects.select_related("bake", "bake__flow").get(pk=attempt.pk))
    with CaptureQueriesContext(connection) as queries:
        tick.reconcile()
    # ended jobs, their outputs, the cache upsert (a chain's every hop pays no more)
    assert len(queries) == 3, [query["sql"] for query in queries]
    orchestrator._save_tasks(list(tick.changed.values()))

    stored = {task.task_id: task for task in attempt.tasks.all()}
    summary = {task_id: (task.status, task.reason, task.outputs, task.finished_at) for task_id, task in stored.items()}
    assert summary == {
        "ok": ("succeeded", "", {"x": "2", "y": "b"}, T0),
        "cached": ("succeeded", "", {"z": "3"}, T0),
        "bad": ("failed", "Error", {}, T0),
        "stopped": ("cancelled", "Cancelled", {}, T0),
        "busy": ("running", "", {}, None),
        "gone": ("running", "", {}, None),  # looked for once no job ends (below)
        "late": ("succeeded", "", {}, tick.now),
    }
    entry = TaskCacheEntry.objects.get(flow=bake.flow, batch=bake.batch, task_id="cached", key="k1")
    assert (entry.outputs, entry.bake_id) == ({"z": "3"}, bake.pk)

    # The next tick sees nothing end (the bake went stale and was resumed): it finds the gone job.
    tick = orchestrator.Tick(BakeAttempt.objects.select_related("bake", "bake__flow").get(pk=attempt.pk))
    with CaptureQueriesContext(connection) as queries:
        tick.reconcile()
    assert len(queries) == 2, [query["sql"] for query in queries]  # ended jobs (none), the ids left
    assert {task_id: (task.status, task.reason) for task_id, task in tick.changed.items()} == {
        "gone": ("failed", "Its job is gone")}


def test_reconcile_of_an_attempt_with_nothing_running_reads_nothing(bob):
    attempt = make_attempt(bob, ["a"])
    tick = orchestrator.Tick(BakeAttempt.objects.select_related("bake", "bake__flow").get(pk=attempt.pk))
    with CaptureQueriesContext(connection) as queries:
        tick.reconcile()
    assert queries.captured_queries == [] and tick.changed == {}


def test_a_wide_bake_starts_in_slices_and_asks_for_the_next_tick(bob, monkeypatch,
                                                                  django_capture_on_commit_callbacks):
    """A smaller first slice while none of it runs (its workers wait for that tick to commit)."""
    from flows import services
    from jobs import services as job_services
    from tests.flows.helpers import make_flow

    monkeypatch.setattr(orchestrator, "STARTS_PER_TICK", 3)
    monkeypatch.setattr(orchestrator, "FIRST_STARTS", 2)
    monkeypatch.setattr(job_services, "_enqueue_many", lambda jobs, **_: None)
    ticks: list[str] = []
    monkeypatch.setattr(orchestrator, "request_tick", ticks.append)
    tasks = "\n".join(f"  - id: t{index}\n    needs: []\n    image: python:3.11\n    bash: 'true'"
                      for index in range(7))
    flow = make_flow(bob, wide=f"kind: batch\ntasks:\n{tasks}\n")
    bake = services.bake_start(by=bob, flow=flow, batch="wide")

    def running() -> int:
        return BakeTask.objects.filter(attempt__bake=bake, status="running").count()

    for expected, asks_again in ((2, True), (5, True), (7, False)):
        ticks.clear()
        with django_capture_on_commit_callbacks(execute=True):
            orchestrator.bake_tick(bake_id=bake.pk)
        assert running() == expected
        assert ticks == ([bake.pk] if asks_again else [])


def test_a_tick_uses_the_tasks_this_process_last_committed_unless_another_tick_came_between(
        bob, monkeypatch, django_capture_on_commit_callbacks):
    from flows import services
    from jobs import services as job_services
    from tests.flows.helpers import make_flow

    monkeypatch.setattr(orchestrator, "STARTS_PER_TICK", 2)
    monkeypatch.setattr(orchestrator, "FIRST_STARTS", 2)
    monkeypatch.setattr(job_services, "_enqueue_many", lambda jobs, **_: None)
    monkeypatch.setattr(orchestrator, "request_tick", lambda *args, **kwargs: None)
    tasks = "\n".join(f"  - id: t{index}\n    needs: []\n    image: python:3.11\n    bash: 'true'"
                      for index in range(8))
    bake = services.bake_start(by=bob, flow=make_flow(bob, wide=f"kind: batch\ntasks:\n{tasks}\n"), batch="wide")

    def tick() -> list[str]:
        """The tick's reads of the tasks table."""
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            orchestrator.bake_tick(bake_id=bake.pk)
        return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "flows_baketask" in q["sql"]]

    def statuses() -> dict[str, str]:
        return dict(BakeTask.objects.filter(attempt__bake=bake).values_list("task_id", "status"))

    assert tick()  # the first reads them
    assert tick() == [] and list(statuses().values()).count("running") == 4
    # Another process's tick: this one's copy is stale, and read again.
    BakeTask.objects.filter(attempt__bake=bake, task_id="t7").update(status="skipped", reason="elsewhere")
    BakeAttempt.objects.filter(bake=bake).update(ticked_at=T0)
    assert tick() and statuses()["t7"] == "skipped" and list(statuses().values()).count("running") == 6
    # A tick that rolls back leaves no copy behind.
    monkeypatch.setattr(orchestrator.Tick, "announce_tasks", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tick()
    monkeypatch.undo()
    monkeypatch.setattr(job_services, "_enqueue_many", lambda jobs, **_: None)
    monkeypatch.setattr(orchestrator, "request_tick", lambda *args, **kwargs: None)
    assert tick() and list(statuses().values()).count("running") == 7


def test_a_tick_with_nothing_left_to_start_does_not_plan(bob, monkeypatch, django_capture_on_commit_callbacks):
    """The last ticks of a wide bake only record endings: a process that never planned the bake
    (a jobs worker ticking it inline) does not parse its batch file for that."""
    from flows import services
    from jobs import services as job_services
    from tests.flows.helpers import make_flow

    monkeypatch.setattr(job_services, "_enqueue_many", lambda jobs, **_: None)
    monkeypatch.setattr(orchestrator, "request_tick", lambda *args, **kwargs: None)
    tasks = "\n".join(f"  - id: t{index}\n    needs: []\n    image: python:3.11\n    bash: 'true'"
                      for index in range(3))
    bake = services.bake_start(by=bob, flow=make_flow(bob, wide=f"kind: batch\ntasks:\n{tasks}\n"), batch="wide")
    with django_capture_on_commit_callbacks(execute=True):
        orchestrator.bake_tick(bake_id=bake.pk)
    job_ids = list(BakeTask.objects.filter(attempt__bake=bake).values_list("job_id", flat=True))
    assert all(job_ids)

    def not_here(*args):
        raise AssertionError("planned")

    monkeypatch.setattr(orchestrator, "_plan", not_here)
    Job.objects.filter(pk__in=job_ids).update(status="succeeded", reason="Completed", finished_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        orchestrator.bake_tick(bake_id=bake.pk)
    bake.refresh_from_db()
    assert bake.status == "succeeded"
    assert bake.attempts.get().pk not in orchestrator._tasks_kept.entries  # a finished attempt's tasks are not kept


def test_a_bake_plans_without_the_flows_other_batch_files():
    files = {".neuro/project.yml": "id: p\n", ".neuro/live.yml": "kind: live\n",
             ".neuro/chain.yml": "kind: batch\ntasks: []\n", ".neuro/wide.yml": "# many tasks\nkind: 'batch'  # x\n",
             ".neuro/act.yml": "kind: batch-action\n", "actions/a.yaml": "kind: batch-action\n"}
    kept = files_for_batch(files, "chain")
    assert sorted(kept) == [".neuro/act.yml", ".neuro/chain.yml", ".neuro/live.yml", ".neuro/project.yml",
                            "actions/a.yaml"]
    assert batch_ids(files) == {"chain", "wide"}
    # A file's name gives its batch id with "-" as "_": such a batch keeps its own file.
    files[".apolo/nightly-train.yaml"] = "kind: batch\ntasks: []\n"
    assert ".apolo/nightly-train.yaml" in files_for_batch(files, "nightly_train")
    assert ".apolo/nightly-train.yaml" not in files_for_batch(files, "chain")
    assert batch_ids(files) == {"chain", "wide", "nightly_train"}


def test_a_bake_of_a_batch_whose_file_name_has_a_dash_runs(bob, django_capture_on_commit_callbacks):
    from flows import services
    from tests.flows.helpers import make_flow

    nightly = "kind: batch\ntasks:\n  - id: a\n    image: python:3.11\n    bash: 'true'\n"
    broken = "kind: batch\ntasks: [oops\n"  # and not this bake's business
    flow = make_flow(bob, **{"nightly-train": nightly, "other": broken})
    bake = services.bake_start(by=bob, flow=flow, batch="nightly_train")
    with django_capture_on_commit_callbacks(execute=False):
        orchestrator.bake_tick(bake_id=bake.pk)
    assert list(BakeTask.objects.filter(attempt__bake=bake).values_list("task_id", "status")) == [("a", "running")]


def test_one_tick_per_bake_is_queued_or_running_and_changes_meanwhile_get_one_more(monkeypatch):
    from flows.tasks import tick_bake

    queued: list[tuple[tuple, float | None]] = []
    monkeypatch.setattr(tick_bake, "apply_async", lambda args, countdown=None: queued.append((args, countdown)))
    bake_id = f"bake-coalesce-{datetime.now().timestamp()}"
    try:
        orchestrator.request_tick(bake_id, within=0.25)
        orchestrator.request_tick(bake_id, within=0.25)  # the queued tick has read nothing yet: it covers this
        assert queued == [((bake_id,), 0.25)]
        orchestrator.tick_started(bake_id)
        orchestrator.request_tick(bake_id, within=0.25)  # it may have read already: noted, not queued
        orchestrator.request_tick(bake_id)
        assert len(queued) == 1
        orchestrator.tick_ended(bake_id)  # so it asks for the next one as it ends
        assert queued[1:] == [((bake_id,), None)]
        orchestrator.tick_started(bake_id)
        orchestrator.tick_ended(bake_id)  # nothing changed meanwhile: no further tick
        assert len(queued) == 2
        orchestrator.request_tick(bake_id)
        assert queued[2:] == [((bake_id,), None)]
    finally:
        orchestrator.tick_started(bake_id)
        orchestrator.tick_ended(bake_id)


def test_a_tick_wanted_sooner_than_the_queued_one_is_queued_too(monkeypatch):
    """The last endings of a fan-out want their tick now; one queued to coalesce would make them
    wait up to its countdown. A tick queued to run sooner than asked covers the asker."""
    from flows.tasks import tick_bake

    queued: list[tuple[tuple, float | None]] = []
    monkeypatch.setattr(tick_bake, "apply_async", lambda args, countdown=None: queued.append((args, countdown)))
    bake_id = f"bake-sooner-{datetime.now().timestamp()}"
    try:
        orchestrator.request_tick(bake_id, within=0.25)
        orchestrator.request_tick(bake_id)  # wanted now: queued too
        assert queued == [((bake_id,), 0.25), ((bake_id,), None)]
        orchestrator.request_tick(bake_id)  # the one queued now covers it
        orchestrator.request_tick(bake_id, within=0.25)
        assert len(queued) == 2
    finally:
        orchestrator.tick_started(bake_id)
        orchestrator.tick_ended(bake_id)


def test_endings_of_a_wide_bake_queue_a_tick_after_one_count(bob, monkeypatch, settings):
    """The jobs worker that sees a batch of endings counts the bake's running tasks once; later
    batches reuse that count (no query) and queue a tick that may wait to coalesce."""
    attempt = make_attempt(bob, [f"t{index}" for index in range(12)])
    BakeTask.objects.filter(attempt=attempt).update(status="running")
    asked: list[tuple[str, float]] = []
    monkeypatch.setattr(orchestrator, "request_tick", lambda bake_id, within=0: asked.append((bake_id, within)))
    bake_id = attempt.bake_id
    orchestrator._redis().delete(orchestrator._counts_key(bake_id))
    with CaptureQueriesContext(connection) as first:
        orchestrator.tick_now_or_later(bake_id)
    with CaptureQueriesContext(connection) as second:
        orchestrator.tick_now_or_later(bake_id)
    assert (len(first), len(second)) == (1, 0)
    assert asked == [(bake_id, settings.KILN_BAKE_TICK_COALESCE)] * 2


def test_the_last_endings_of_a_wide_bake_are_ticked_at_once_wherever_the_last_tick_ran(bob, monkeypatch):
    """A tick in another process (the control worker) left few tasks running: the worker that
    sees the next endings ticks at once rather than queueing a tick that waits to coalesce."""
    attempt = make_attempt(bob, [f"t{index}" for index in range(12)])
    BakeTask.objects.filter(attempt=attempt).update(status="running")
    bake_id = attempt.bake_id
    asked: list[str] = []
    ticked: list[str] = []
    monkeypatch.setattr(orchestrator, "request_tick", lambda bake_id, within=0: asked.append(bake_id))
    monkeypatch.setattr(orchestrator, "bake_tick", lambda bake_id, wait=True: ticked.append(bake_id) or True)
    orchestrator._remember_running(bake_id, 12, 12)  # as this process's early tick saw it
    orchestrator.tick_now_or_later(bake_id)
    orchestrator._remember_running(bake_id, 2, 12)  # the control worker's latest tick
    orchestrator.tick_now_or_later(bake_id)
    assert (asked, ticked) == ([bake_id], [bake_id])


def test_the_worker_counts_down_the_endings_it_records_and_ticks_the_last_ones_at_once(bob, monkeypatch, settings):
    """No tick ran since 20 tasks were running: the endings recorded meanwhile count them down, so
    the batch that leaves few running is ticked at once, not queued to wait for more."""
    attempt = make_attempt(bob, [f"t{index}" for index in range(20)])
    bake_id = attempt.bake_id
    asked: list[tuple[str, float]] = []
    ticked: list[str] = []
    monkeypatch.setattr(orchestrator, "request_tick", lambda bake_id, within=0: asked.append((bake_id, within)))
    monkeypatch.setattr(orchestrator, "bake_tick", lambda bake_id, wait=True: ticked.append(bake_id) or True)
    orchestrator._remember_running(bake_id, 20, 20)
    orchestrator.tick_now_or_later(bake_id, ended=10)
    assert (asked, ticked) == ([(bake_id, settings.KILN_BAKE_TICK_COALESCE)], [])
    orchestrator.tick_now_or_later(bake_id, ended=9)
    assert (asked, ticked) == ([(bake_id, settings.KILN_BAKE_TICK_COALESCE)], [bake_id])
    assert orchestrator._bake_counts(bake_id) == (1, 20)
    orchestrator._remember_running(bake_id, 20, 20)  # a tick counts afresh
    assert orchestrator._bake_counts(bake_id) == (20, 20)


def test_counts_read_back_from_the_tasks_leave_out_the_endings_being_recorded(bob):
    """No counts in Redis (expired): the tasks table still says running for the jobs whose ends
    are being recorded (a tick has not seen them), so they are left out of the count."""
    attempt = make_attempt(bob, [f"t{index}" for index in range(12)])
    BakeTask.objects.filter(attempt=attempt).update(status="running")
    bake_id = attempt.bake_id
    orchestrator._redis().delete(orchestrator._counts_key(bake_id))
    assert orchestrator._bake_counts(bake_id, ended=5) == (7, 12)
    assert orchestrator._bake_counts(bake_id, ended=2) == (5, 12)
    assert orchestrator._redis().ttl(orchestrator._counts_key(bake_id)) > 0


def test_a_big_bake_this_process_never_planned_is_ticked_where_it_was(bob, monkeypatch):
    """Few running, but a 1,000-task batch file to parse: the tick is queued (to the control
    worker, which planned it) at once, not run here; a small bake is ticked here either way."""
    attempt = make_attempt(bob, ["t0"])
    bake_id = attempt.bake_id
    asked: list[tuple[str, float]] = []
    ticked: list[str] = []
    monkeypatch.setattr(orchestrator, "request_tick", lambda bake_id, within=0: asked.append((bake_id, within)))
    monkeypatch.setattr(orchestrator, "bake_tick", lambda bake_id, wait=True: ticked.append(bake_id) or True)
    monkeypatch.setattr(orchestrator, "_planned_here", set())
    orchestrator._remember_running(bake_id, 1, 1001)
    orchestrator.tick_now_or_later(bake_id)
    assert (asked, ticked) == ([(bake_id, 0)], [])
    orchestrator._planned_here.add(bake_id)
    orchestrator.tick_now_or_later(bake_id)
    orchestrator._planned_here.clear()
    orchestrator._remember_running(bake_id, 1, 40)
    orchestrator.tick_now_or_later(bake_id)
    assert (len(asked), ticked) == (1, [bake_id, bake_id])


def test_the_tasks_kept_between_ticks_are_bounded_in_all():
    from types import SimpleNamespace

    kept = orchestrator._TasksKept(most_tasks=3)
    a, b, c = (SimpleNamespace(pk=pk, status="running", ticked_at=T0) for pk in (1, 2, 3))
    kept.keep(a, T0, {"x": 1, "y": 2})
    kept.keep(b, T0, {"x": 1, "y": 2})  # 4 in all: the oldest goes
    kept.keep(c, T0, {str(n): n for n in range(4)})  # more than the bound alone: not kept
    assert (kept.take(a), kept.take(c)) == (None, None)
    assert kept.take(b) == {"x": 1, "y": 2}
    assert kept.take(b) is None  # a tick takes its entry out


def test_a_bake_nobody_ticked_lately_is_resumed_even_past_a_lost_tick(bob, monkeypatch):
    """A worker killed while it held the bake's queued tick leaves a "queued" mark and a message
    Redis would redeliver only after its visibility timeout (days): the liveness check queues
    another once the queued one is overdue, and leaves a recent one be."""
    from django.utils import timezone

    from flows.models import BakeStatus
    from flows.tasks import tick_bake

    queued: list[tuple] = []
    monkeypatch.setattr(tick_bake, "apply_async", lambda args, countdown=None: queued.append(args))
    stale = make_attempt(bob, ["a"])
    long_ago = timezone.now() - orchestrator.STALE_AFTER - timedelta(seconds=1)
    BakeAttempt.objects.filter(pk=stale.pk).update(status=BakeStatus.RUNNING, ticked_at=long_ago)
    Flow.objects.filter(pk=stale.bake.flow_id).update(flow_id="g", uri="flow://default/bob/g")
    fresh = make_attempt(bob, ["a"])
    BakeAttempt.objects.filter(pk=fresh.pk).update(status=BakeStatus.RUNNING, ticked_at=timezone.now())
    state, _ = orchestrator._tick_keys(stale.bake_id)
    redis = orchestrator._redis()
    try:
        assert orchestrator.bakes_resume_stale() == [stale.bake_id]  # not the one ticked just now
        assert queued == [(stale.bake_id,)]
        # Its tick is queued (the mark says so) but has not started: a recent one will run, so
        # nothing more is queued …
        redis.set(state, f"queued {datetime.now().timestamp() - 1:.3f}")
        orchestrator.bakes_resume_stale()
        assert len(queued) == 1
        # … one due longer ago than a bake may go unticked is presumed lost: one more.
        overdue = datetime.now().timestamp() - orchestrator.STALE_AFTER.total_seconds() - 1
        redis.set(state, f"queued {overdue:.3f}")
        orchestrator.bakes_resume_stale()
        assert queued == [(stale.bake_id,), (stale.bake_id,)]
        assert redis.get(state).decode().startswith("queued ") and float(redis.get(state).split()[1]) > overdue
    finally:
        redis.delete(state)
