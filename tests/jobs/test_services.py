"""Job creation rules, transitions and the kill race, liveness — in process, no worker."""

import threading

import pytest
from django.db import connection

from console import services as core
from console.errors import Conflict, Forbidden, InvalidInput, NotFound
from jobs import services
from jobs.models import Job, JobStatus
from jobs.selectors import job_get_visible, job_list_visible

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    """These tests exercise the database only: queueing is checked in the live tests."""
    monkeypatch.setattr(services, "_enqueue_many", lambda jobs, **_: None)


def run(user, **kw):
    kw.setdefault("image", "python:3.11")
    kw.setdefault("command", "echo hi")
    return services.job_run(by=user, **kw)


def test_run_records_a_pending_job_with_its_uris_and_history(bob):
    job = run(bob, name="train-1", tags=["b", "a", "a"], preset="cpu-medium")
    assert job.id.startswith("job-") and len(job.id) == 40
    assert job.uri == f"job://default/bob/{job.id}" and job.name_uri == "job://default/bob/train-1"
    assert job.status == JobStatus.PENDING and (job.cpu, job.memory_mb) == (2.0, 8192)
    assert [row.status for row in job.history.all()] == ["pending"]
    assert sorted(job.tag_rows.values_list("tag", flat=True)) == ["a", "b"]


@pytest.mark.parametrize("name", ["ab", "Train", "1abc", "a--b", "job-x", "a" * 41, "ab-"])
def test_invalid_names_are_refused(bob, name):
    with pytest.raises(InvalidInput, match="Invalid job name"):
        run(bob, name=name)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("preset", "gpu-huge", "Unknown preset"), ("image", " ", "image is required"),
     ("command", "", "command is required"), ("env", {"1X": "y"}, "environment variable"),
     ("volumes", ["storage:data"], "Invalid volume"), ("volumes", ["storage:a:/x", "storage:b:/x"], "mount path"),
     ("restart_policy", "sometimes", "restart policy")],
)
def test_bad_specs_are_clear_errors(bob, field, value, message):
    with pytest.raises(InvalidInput, match=message):
        run(bob, **{field: value})


def test_volumes_need_read_or_write_by_mode(bob, alice, settings):
    (settings.KILN_STORAGE_ROOT / "alice" / "data").mkdir(parents=True, exist_ok=True)
    core.share(by=alice, uri="storage:data", principal="bob", level="read")
    job = run(bob, volumes=["storage:/alice/data:/data:ro", "storage:out:/out"])
    assert job.volumes == ["storage://default/alice/data:/data:ro", "storage://default/bob/out:/out:rw"]
    with pytest.raises(Forbidden):
        run(bob, volumes=["storage:/alice/data:/data:rw"])
    with pytest.raises(NotFound):
        run(bob, volumes=["storage:/carol/x:/x:ro"])


def test_kill_needs_write_and_a_finished_job_cannot_be_killed(bob, alice):
    job = run(bob)
    core.share(by=bob, uri=job.uri, principal="alice", level="read")
    with pytest.raises(Forbidden):
        services.job_kill(job=job, by=alice)
    services.job_kill(job=job, by=bob)
    job.refresh_from_db()
    assert (job.status, job.reason) == ("cancelled", "Cancelled")
    with pytest.raises(Conflict):
        services.job_kill(job=job, by=bob)


@pytest.mark.django_db(transaction=True)
def test_a_kill_racing_a_finish_ends_in_exactly_one_state(bob):
    for _ in range(10):
        job = run(bob)
        services.job_transition(job=job, to=JobStatus.RUNNING, only_from=(JobStatus.PENDING,))
        barrier = threading.Barrier(2)
        results = {}

        def finish(job_id=job.id, barrier=barrier, results=results):
            barrier.wait()
            results["finish"] = services.job_transition(job=Job.objects.get(pk=job_id), to=JobStatus.SUCCEEDED,
                                                        only_from=(JobStatus.RUNNING,), exit_code=0)
            connection.close()

        def kill(job_id=job.id, barrier=barrier, results=results):
            barrier.wait()
            results["kill"] = services.job_transition(job=Job.objects.get(pk=job_id), to=JobStatus.CANCELLED,
                                                      reason="Cancelled")
            connection.close()

        threads = [threading.Thread(target=finish), threading.Thread(target=kill)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        job.refresh_from_db()
        assert sorted(results.values()) == [False, True]
        assert job.status == ("succeeded" if results["finish"] else "cancelled")
        assert [row.status for row in job.history.all()] == ["pending", "running", job.status]


def test_lost_runs_fail_or_requeue_by_policy(bob, settings):
    from datetime import timedelta

    from django.utils import timezone

    never = run(bob)
    again = run(bob, restart_policy="on-failure")
    for job in (never, again):
        services.job_transition(job=job, to=JobStatus.RUNNING, only_from=(JobStatus.PENDING,),
                                extra={"heartbeat_at": timezone.now(), "worker": "w1"})
    later = timezone.now() + timedelta(seconds=settings.KILN_HEARTBEAT_TIMEOUT + 1)
    assert sorted(services.jobs_recover_lost(now=later)) == sorted([never.id, again.id])
    never.refresh_from_db()
    again.refresh_from_db()
    assert (never.status, never.reason) == ("failed", "WorkerLost")
    assert (again.status, again.reason, again.restarts) == ("pending", "WorkerLost", 1)
    assert services.jobs_recover_lost(now=later) == []  # idempotent


def test_schedule_timeout_fails_a_job_nobody_started(bob):
    from datetime import timedelta

    from django.utils import timezone

    job = run(bob, schedule_timeout=5)
    assert services.jobs_recover_lost(now=timezone.now()) == []
    assert services.jobs_recover_lost(now=timezone.now() + timedelta(seconds=6)) == [job.id]
    job.refresh_from_db()
    assert (job.status, job.reason) == ("failed", "ScheduleTimeout")


def test_references_and_visibility(bob, alice, carol):
    first = run(bob, name="serve")
    latest = run(bob, name="serve")
    other = run(bob)
    assert job_get_visible(user=bob, ref="serve") == latest
    assert job_get_visible(user=bob, ref=f"job:{first.id}") == first
    core.share(by=bob, uri="job:serve", principal="alice", level="read")
    assert job_get_visible(user=alice, ref="job:/bob/serve") == latest
    assert set(job_list_visible(user=alice)) == {first, latest}
    with pytest.raises(NotFound):
        job_get_visible(user=alice, ref=other.id)
    core.share(by=bob, uri="job:", principal="alice", level="read")
    assert set(job_list_visible(user=alice)) == {first, latest, other}
    assert list(job_list_visible(user=carol)) == []
    with pytest.raises(NotFound):
        job_get_visible(user=carol, ref=first.id)


def test_list_filters(bob):
    a = run(bob, name="aaa", tags=["x", "y"])
    b = run(bob, tags=["x"])
    services.job_transition(job=b, to=JobStatus.FAILED, reason="Error")
    assert set(job_list_visible(user=bob)) == {a}
    assert set(job_list_visible(user=bob, include_finished=True)) == {a, b}
    assert set(job_list_visible(user=bob, statuses=["failed"])) == {b}
    assert set(job_list_visible(user=bob, include_finished=True, tags=["x", "y"])) == {a}
    assert set(job_list_visible(user=bob, include_finished=True, name="aaa")) == {a}
    with pytest.raises(InvalidInput):
        list(job_list_visible(user=bob, statuses=["weird"]))
