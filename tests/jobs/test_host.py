"""A worker process's job host, in this process: many jobs at once, batched database work."""

import os
import threading

import pytest

from jobs import services
from jobs.host import JobHost
from jobs.models import Job
from jobs.tasks import run_jobs
from tests.jobs.conftest import wait_for, wait_status

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def host():
    host = JobHost("test-host", slots=3)
    yield host
    host.close()


@pytest.fixture
def queued(monkeypatch, bob):
    """Jobs created without a queue message (the test hands them to the host itself)."""
    monkeypatch.setattr(services, "_enqueue_many", lambda jobs, **_: None)

    def make(command: str, count: int = 1) -> list[Job]:
        return services.jobs_run_many(by=bob, specs=[{"image": "python:3.11", "command": command}] * count)

    return make


@pytest.mark.parametrize("writers", [8, 0], ids=["threads-store-logs", "recorder-stores-logs"])
def test_jobs_run_at_once_and_end_with_their_logs_stored_first(host, queued, logs_of, writers, monkeypatch):
    import jobs.runner

    monkeypatch.setattr(jobs.runner, "OWN_WRITER_AFTER", 0)  # a thread may store its job's logs at once
    host.log_writers = threading.BoundedSemaphore(writers) if writers else threading.Semaphore(0)
    # "one" is stored while the job still runs (by its thread, or by the recorder), "two" at its end.
    jobs = queued("echo one; sleep 0.3; echo two; exit $((RANDOM % 2))", count=3)
    host.submit([job.pk for job in jobs])
    for job in jobs:
        wait_status(job, "succeeded", "failed")
        # The end is recorded after the last lines: a log stream closing at the end misses none.
        assert logs_of(job) == ["one", "two"]
        assert job.log_lines == 2 and job.worker == "test-host" and job.attempt == 1
        assert job.reason == ("Completed" if job.exit_code == 0 else "Error")
        assert [row.status for row in job.history.all()] == ["pending", "running", job.status]


@pytest.mark.parametrize("command", ["echo one; echo two", "echo one; sleep 0.3; echo two"],
                         ids=["output-ends-first", "runs-shortly"])
def test_a_short_job_has_its_lines_stored_by_the_recorder(host, queued, logs_of, monkeypatch, command):
    """Most of a bake's tasks print a line or two and end within a second: the recorder stores
    their lines (the last ones with their ends), and their threads take no writer, nor a database
    connection of their own."""
    taken: list[bool] = []
    take = host.take_log_writer
    monkeypatch.setattr(host, "take_log_writer", lambda: taken.append(take()) or taken[-1])
    jobs = queued(command, count=3)
    host.submit([job.pk for job in jobs])
    for job in jobs:
        wait_status(job, "succeeded")
        assert logs_of(job) == ["one", "two"] and job.log_lines == 2
    assert taken == []


def test_a_job_that_runs_on_stores_its_logs_from_its_own_thread(host, queued, logs_of, monkeypatch):
    import jobs.runner

    monkeypatch.setattr(jobs.runner, "OWN_WRITER_AFTER", 0.3)
    taken: list[bool] = []
    take = host.take_log_writer
    monkeypatch.setattr(host, "take_log_writer", lambda: taken.append(take()) or taken[-1])
    job = queued("echo one; sleep 0.6; echo two; sleep 0.2")[0]
    host.submit([job.pk])
    assert logs_of(wait_status(job, "succeeded")) == ["one", "two"]
    assert taken == [True]  # for "two": "one" came before the job had run 0.3 s


def test_a_full_host_waits_for_a_free_slot_and_start_now_leaves_the_rest(host, queued):
    long_ones = queued("sleep 300", count=3)
    host.submit([job.pk for job in long_ones])
    for job in long_ones:
        wait_status(job, "running")
    extra = queued("true", count=2)
    assert host.start_now(extra) == extra  # no slot: left over
    waiting = threading.Thread(target=host.submit, args=([extra[0].pk],))
    waiting.start()
    waiting.join(1)
    assert waiting.is_alive() and Job.objects.get(pk=extra[0].pk).status == "pending"
    services.job_kill(job=long_ones[0], by=long_ones[0].owner)  # the watch stops it; a slot frees
    waiting.join(30)
    assert not waiting.is_alive()
    assert wait_status(extra[0], "succeeded").reason == "Completed"
    assert wait_status(long_ones[0], "cancelled").reason == "Cancelled"
    for job in long_ones[1:]:
        services.job_kill(job=job, by=job.owner)
    wait_for(lambda: not host.runners, timeout=30)


def test_a_full_host_claims_slots_freed_one_by_one_together(host, queued, monkeypatch):
    """Jobs that end close together free their slots one by one: the waiting jobs are claimed in
    one go (one claiming transaction) rather than one each."""
    import jobs.host as job_host

    sizes: list[int] = []
    claim = job_host.jobs_claim
    monkeypatch.setattr(job_host, "jobs_claim", lambda **kw: sizes.append(len(kw["job_ids"])) or claim(**kw))
    monkeypatch.setattr(job_host, "CLAIM_GATHER", 5)  # generous: a loaded machine ends them less together
    host.submit([job.pk for job in queued("sleep 0.5", count=3)])
    waiting = queued("true", count=3)
    host.submit([job.pk for job in waiting])
    assert sizes == [3, 3]
    for job in waiting:
        wait_status(job, "succeeded")


def test_a_claim_is_one_query_that_reads_the_jobs_back_with_owner_and_tags(bob, queued,
                                                                             django_assert_max_num_queries):
    """Jobs created elsewhere (a bake's tick in the control worker): the claiming statement moves
    them, records their Started events and reads them back with their owner and tags."""
    from jobs.selectors import job_summary

    specs = [{"image": "python:3.11", "command": "true", "tags": ["b", "a"], "env": {"K": "v"}},
             {"image": "python:3.11", "command": "true"}]
    created = services.jobs_run_many(by=bob, specs=specs)
    ids = [job.pk for job in created]
    with django_assert_max_num_queries(1):
        claimed = services.jobs_claim(job_ids=[*ids, "no-such-job"], worker="w1", exec_channel="c1")
        summaries = {job.pk: job_summary(job) for job in claimed}
    assert sorted(summaries) == sorted(ids)
    assert summaries[ids[0]]["tags"] == ["a", "b"] and summaries[ids[1]]["tags"] == []
    assert {summary["owner"] for summary in summaries.values()} == {"bob"}
    assert all(job.owner == bob for job in claimed)
    first = next(job for job in claimed if job.pk == ids[0])
    assert (first.env, first.status, first.worker, first.exec_channel, first.attempt) == (
        {"K": "v"}, "running", "w1", "c1", 1)
    stored = Job.objects.get(pk=ids[0])
    assert (stored.status, stored.attempt, stored.started_at) == ("running", 1, first.started_at)
    assert [(row.status, row.reason) for row in stored.history.all()] == [
        ("pending", "Created"), ("running", "Started")]
    assert services.jobs_claim(job_ids=ids, worker="w2") == []  # claimed already


def test_a_busy_host_records_ends_close_together_at_once(host, queued, monkeypatch):
    """Many jobs running (a wide bake): an end waits a moment for others, and they are recorded
    in one statement rather than one or two at a time."""
    import jobs.host as job_host

    sizes: list[int] = []
    finish = job_host.jobs_finish
    monkeypatch.setattr(job_host, "jobs_finish", lambda **kw: sizes.append(len(kw["ends"])) or finish(**kw))
    monkeypatch.setattr(job_host, "GATHER_WHEN_RUNNING", 3)
    monkeypatch.setattr(job_host, "END_BATCH", 3)
    monkeypatch.setattr(job_host, "END_GATHER", 30)  # generous: the batch fills first
    jobs = queued("sleep 0.2", count=3)
    host.submit([job.pk for job in jobs])
    for job in jobs:
        wait_status(job, "succeeded")
    assert [size for size in sizes if size] == [3]


def test_a_lone_job_is_recorded_at_once(host, queued, monkeypatch):
    import jobs.host as job_host

    monkeypatch.setattr(job_host, "END_GATHER", 60)  # were it to wait, the test would time out
    job = queued("true")[0]
    host.submit([job.pk])
    assert wait_status(job, "succeeded", timeout=30).reason == "Completed"


def test_job_threads_are_kept_for_later_jobs():
    from jobs.host import _ThreadsKept

    threads = _ThreadsKept()
    seen: list[threading.Thread] = []
    release = threading.Event()
    for _ in range(3):  # one after another: one thread does them all
        done = threading.Event()
        threads.run(lambda event: (seen.append(threading.current_thread()), event.set()), done)
        assert done.wait(10)
        wait_for(lambda: threads.idle == 1, timeout=10)
    assert len(set(seen)) == 1 and seen[0].daemon
    started = [threading.Event() for _ in range(3)]
    for event in started:  # at once: each gets a thread
        threads.run(lambda event: (seen.append(threading.current_thread()), event.set(), release.wait(10)), event)
    assert all(event.wait(10) for event in started)
    assert len(set(seen[3:])) == 3
    release.set()
    wait_for(lambda: threads.idle == 3, timeout=10)


def test_new_jobs_started_here_are_claimed_in_memory(host, queued, django_assert_max_num_queries):
    jobs = queued("echo ok", count=2)
    with django_assert_max_num_queries(1):  # the claim and its events, one statement
        assert host.start_now(jobs) == []
    assert all((job.attempt, job.worker, job.exec_channel) == (1, "test-host", host.exec_channel) for job in jobs)
    for job in jobs:
        assert wait_status(job, "succeeded").attempt == 1


def test_jobs_stored_in_a_host_process_are_claimed_as_they_are_stored(host, bob, monkeypatch):
    """A bake's tick in a jobs worker: its next jobs go in running, this host's, and start after
    the commit (no claiming UPDATE, no queue); only as many as there are free slots."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(JobHost, "_instance", host)
    monkeypatch.setattr(JobHost, "_instance_pid", os.getpid())
    queued: list[list[str]] = []
    monkeypatch.setattr(run_jobs, "apply_async", lambda args, **_: queued.append(args[0]))
    blocker = services.jobs_run_many(by=bob, specs=[{"image": "python:3.11", "command": "sleep 300"}])[0]
    assert wait_status(blocker, "running").worker == "test-host"
    with CaptureQueriesContext(connection) as queries:
        jobs = services.jobs_run_many(by=bob, specs=[{"image": "python:3.11", "command": "echo ok"}] * 3)
    assert not [query["sql"] for query in queries if query["sql"].startswith("UPDATE")]
    assert queued == [[jobs[2].pk]]  # two slots were free: the third job went to the queue
    for job in jobs[:2]:
        job = wait_status(job, "succeeded")
        assert (job.attempt, job.worker, job.exec_channel) == (1, "test-host", host.exec_channel)
        assert [(row.status, row.reason) for row in job.history.all()] == [
            ("pending", "Created"), ("running", "Started"), ("succeeded", "Completed")]
    assert Job.objects.get(pk=jobs[2].pk).status == "pending"
    services.job_kill(job=blocker, by=bob)
    wait_for(lambda: not host.runners, timeout=30)


def test_a_job_claimed_elsewhere_is_not_run_twice(host, queued):
    job = queued("true")[0]
    assert [claimed.pk for claimed in services.jobs_claim(job_ids=[job.pk], worker="other")] == [job.pk]
    host.submit([job.pk])
    assert not host.runners
    job.refresh_from_db()
    assert (job.status, job.worker) == ("running", "other")


def test_the_host_beats_for_its_jobs(host, queued, settings):
    settings.KILN_HEARTBEAT_INTERVAL = 0.3
    job = queued("sleep 300")[0]
    host.submit([job.pk])
    first = wait_status(job, "running").heartbeat_at
    wait_for(lambda: Job.objects.get(pk=job.pk).heartbeat_at > first, timeout=10)
    services.job_kill(job=job, by=job.owner)
    wait_for(lambda: not host.runners, timeout=30)
