"""A worker process's job host: runs many jobs at once and talks to the database for all of them
together.

One Celery process per running job (the first design) spent ~30 ms of Python and a dozen queries
per job on claiming, polling, beating and recording its end; a fan-out of a thousand trivial tasks
took 40 s on two cores. Here the ``run_jobs`` task hands job ids to the process's host and returns
once they are claimed; each job gets a thread (its ``JobRunner``), and the host

- claims a batch of jobs with one conditional UPDATE (``jobs_claim``),
- polls whether its jobs were cancelled, and beats for them, with one query each per interval,
- records the ends of jobs that finish close together in one statement (``jobs_finish``), and
- starts the jobs a bake's tick creates in this process right here when it has free slots.

``KILN_JOB_SLOTS`` caps the jobs one process runs at once; ``run_jobs`` waits for a slot, so a full
worker leaves the rest of the queue to others. Liveness is unchanged: a host that dies stops
beating and its jobs are declared lost by any other worker; a host whose Celery parent died marks
its jobs lost at once and stops them (bubblewrap's ``--die-with-parent`` kills the sandboxes).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from jobs.exec_host import ExecHost
from jobs.models import Job
from jobs.runner import POLL_SECONDS, JobRunner, job_run_claimed
from jobs.runtime import get_runtime
from jobs.services import (
    JobEnd,
    job_mark_lost,
    jobs_beat,
    jobs_claim,
    jobs_finish,
    jobs_logs_append_many,
    jobs_still_running,
)

log = logging.getLogger(__name__)
LOG_WRITERS = 8  # per host: job threads that store their logs themselves
CLAIM_BATCH = 8  # on a full host, claim once this many slots are free …
CLAIM_GATHER = 0.05  # … or this many seconds after the first one freed
GATHER_WHEN_RUNNING = 16  # with this many jobs running, ends are recorded …
END_BATCH = 32  # … once this many wait …
END_GATHER = 0.05  # … or this many seconds after the first


class _ThreadsKept:
    """Each running job has a thread of its own: one kept from an earlier job, else a new one
    (starting a thread per job cost ~0.2 ms of the host's process per job of a fan-out). Daemon
    threads, as before: a worker process that exits does not wait for its jobs (bubblewrap's
    ``--die-with-parent`` ends them), which ``concurrent.futures`` pools would."""

    def __init__(self) -> None:
        self.work: queue.SimpleQueue[tuple[Callable[[Any], None], Any]] = queue.SimpleQueue()
        self.idle = 0
        self.lock = threading.Lock()

    def run(self, function: Callable[[Any], None], argument: Any) -> None:
        with self.lock:
            start = self.idle == 0
            if not start:
                self.idle -= 1  # that thread takes this run (or another run as good)
        self.work.put((function, argument))
        if start:
            threading.Thread(target=self._serve, name="kiln-job", daemon=True).start()

    def _serve(self) -> None:
        while True:
            function, argument = self.work.get()
            function(argument)
            threading.current_thread().name = "kiln-job"  # the run may have named it
            with self.lock:
                self.idle += 1


class JobHost:
    _instance: JobHost | None = None
    _instance_pid: int | None = None
    _lock = threading.Lock()

    def __init__(self, worker: str, slots: int) -> None:
        self.worker = worker
        self.slots = slots
        self.runtime = get_runtime()
        self.exec_channel = ExecHost.get().channel
        self.parent_pid = os.getppid()
        self.runners: dict[str, JobRunner] = {}
        self.reserved = 0  # slots taken by jobs being claimed
        self.changed = threading.Condition()  # guards runners/reserved; notified when a slot frees
        # Log chunks and ends wait here for the recorder thread, in order: a job's last lines are
        # stored before its end (a log stream closes once it sees the final status).
        self.logs: list[tuple[str, int, list[str]]] = []
        self.ends: list[JobEnd] = []
        self.recording = threading.Condition()
        self.busy = False
        # Job threads that store their own logs, each with its own database connection: the
        # lowest latency (a hop through the recorder costs tens of ms at 10,000 lines/s), but
        # connections are finite; jobs beyond these go through the recorder.
        self.log_writers = threading.BoundedSemaphore(LOG_WRITERS)
        self.stopping = False
        self.closed = threading.Event()
        self.job_threads = _ThreadsKept()
        self.threads = [threading.Thread(target=target, name=name, daemon=True)
                        for target, name in ((self._watch, "kiln-host-watch"), (self._record, "kiln-host-record"))]
        for thread in self.threads:
            thread.start()

    # -- the process's host -------------------------------------------------------------------------------
    @classmethod
    def get(cls, worker: str) -> JobHost:
        """This process's host, created on first use (so each forked worker process gets its own)."""
        with cls._lock:
            if cls._instance is None or cls._instance_pid != os.getpid():
                cls._instance, cls._instance_pid = cls(worker, settings.KILN_JOB_SLOTS), os.getpid()
            return cls._instance

    @classmethod
    def current(cls) -> JobHost | None:
        """The host of this process if it runs jobs (a jobs worker), else None."""
        instance = cls._instance
        return instance if instance is not None and cls._instance_pid == os.getpid() else None

    # -- taking jobs ----------------------------------------------------------------------------------------
    def submit(self, job_ids: list[str]) -> None:
        """Claim and start these jobs, waiting while every slot is taken. On a full host, slots
        free one by one as jobs end: claiming for each as it frees made claims of one or two jobs,
        five queries each (a no-op job cost 7 ms of this process's CPU); once one is free, this
        waits up to ``CLAIM_GATHER`` seconds for a few more."""
        waiting = list(job_ids)
        while waiting:
            with self.changed:
                while self._free() == 0:
                    self.changed.wait()
                enough = min(len(waiting), CLAIM_BATCH)
                deadline = time.monotonic() + CLAIM_GATHER
                while self._free() < enough and (left := deadline - time.monotonic()) > 0:
                    self.changed.wait(left)
                count = min(self._free(), len(waiting))
                self.reserved += count
            batch, waiting = waiting[:count], waiting[count:]
            self._claim_and_start(batch)

    def start_now(self, jobs: list[Job]) -> list[Job]:
        """Start as many of these new jobs (just created here) as free slots allow; returns the
        ones left over."""
        with self.changed:
            count = 0 if self.stopping else min(self._free(), len(jobs))
            self.reserved += count
        if count:
            self._claim_and_start([job.pk for job in jobs[:count]], known={job.pk: job for job in jobs[:count]})
        return jobs[count:]

    def free_slots(self) -> int:
        """Slots free at this moment (none while draining): what ``jobs_save`` may claim here.
        Not reserved: two ticks storing jobs at once in one process may overfill by a few."""
        with self.changed:
            return 0 if self.stopping else self._free()

    def adopt(self, jobs: list[Job]) -> None:
        """Run jobs stored already claimed by this host (``jobs_save``), once committed."""
        self._start(jobs)

    def _free(self) -> int:
        return max(self.slots - len(self.runners) - self.reserved, 0)

    def _claim_and_start(self, job_ids: list[str], known: dict[str, Job] | None = None) -> None:
        runners: list[JobRunner] = []
        try:
            jobs = jobs_claim(job_ids=job_ids, worker=self.worker, exec_channel=self.exec_channel, known=known)
            runners = [JobRunner(job, self.runtime, self.worker, host=self) for job in jobs]
        finally:
            with self.changed:
                # The claimed jobs take over their reserved slots in one step: in between, a
                # waiting ``submit`` saw them free and claimed one or two jobs at a time.
                self.reserved -= len(job_ids)
                self.runners.update((runner.job.pk, runner) for runner in runners)
                self.changed.notify_all()
        self._launch(runners)

    def _start(self, jobs: list[Job]) -> None:
        runners = [JobRunner(job, self.runtime, self.worker, host=self) for job in jobs]
        with self.changed:
            self.runners.update((runner.job.pk, runner) for runner in runners)
        self._launch(runners)

    def _launch(self, runners: list[JobRunner]) -> None:
        for runner in runners:
            self.job_threads.run(self._run, runner)

    def _run(self, runner: JobRunner) -> None:
        threading.current_thread().name = f"kiln-job-{runner.job.pk}"  # in thread dumps
        try:
            job_run_claimed(runner)
        except Exception:
            log.exception("job %s: its runner failed", runner.job.pk)
        finally:
            with self.changed:
                self.runners.pop(runner.job.pk, None)
                self.changed.notify_all()
            connection.close()  # each job's thread had its own connection
            if runner.writes_logs:
                self.log_writers.release()

    # -- logs and ends, recorded together -----------------------------------------------------------------------
    def take_log_writer(self) -> bool:
        return self.log_writers.acquire(blocking=False)

    def record_logs(self, job_id: str, first: int, lines: list[str]) -> None:
        with self.recording:
            self.logs.append((job_id, first, lines))
            self.recording.notify()

    def record_end(self, end: JobEnd) -> None:
        with self.recording:
            self.ends.append(end)
            self.recording.notify()

    def _record(self) -> None:
        checked = 0.0
        while True:
            with self.recording:
                self.busy = False
                self.recording.notify_all()
                while not (self.logs or self.ends):
                    if self.closed.is_set():
                        connection.close()
                        return
                    self.recording.wait()
                self._gather_ends()
                logs, ends, self.logs, self.ends, self.busy = self.logs, self.ends, [], [], True
            try:
                if time.monotonic() - checked > 1:  # not per batch: a busy log makes hundreds a second
                    close_old_connections()
                    checked = time.monotonic()
                jobs_logs_append_many(chunks=logs)
                jobs_finish(ends=ends)
            except Exception:
                # Those jobs stay running in the database: the liveness check declares them lost
                # once nobody beats for them, rather than leaving them hanging.
                log.exception("recording %d log chunks and %d ends failed", len(logs), len(ends))

    def _gather_ends(self) -> None:
        """With many jobs running (a wide bake), wait a moment for more ends to record together:
        each recording costs ~2 ms of this process's CPU however few jobs it holds, plus the bake
        ticks it asks for. A chain's lone job is recorded at once: its next task waits for it."""
        # (An ended job's runner may be gone already: it counts by its end.)
        if not self.ends or len(self.runners) + len(self.ends) < GATHER_WHEN_RUNNING:
            return
        deadline = time.monotonic() + END_GATHER
        while len(self.ends) < END_BATCH and (left := deadline - time.monotonic()) > 0 and not self.closed.is_set():
            self.recording.wait(left)

    # -- polling and beating for every job -----------------------------------------------------------------
    def _runs(self) -> list[JobRunner]:
        with self.changed:
            return list(self.runners.values())

    def _watch(self) -> None:
        next_beat = time.monotonic() + settings.KILN_HEARTBEAT_INTERVAL
        while not self.closed.wait(POLL_SECONDS):
            try:
                close_old_connections()
                runners = self._runs()
                if os.getppid() != self.parent_pid:
                    self._parent_died(runners)
                    continue
                if not runners:
                    continue
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + settings.KILN_HEARTBEAT_INTERVAL
                    alive = jobs_beat(runs=[(r.job.pk, r.attempt, r.offset) for r in runners])
                else:
                    alive = jobs_still_running(runs=[(r.job.pk, r.attempt) for r in runners])
                # A job whose end is recorded but whose thread is still tidying up gets a flag it
                # no longer reads.
                self._stop_all(r for r in runners if r.job.pk not in alive)
            except Exception:
                log.exception("the job host's watch failed; trying again")
        connection.close()

    @staticmethod
    def _stop_all(runners: Iterable[JobRunner], reason: str = "cancelled") -> None:
        for runner in runners:
            runner.stop_reason = runner.stop_reason or reason

    def _parent_died(self, runners: list[JobRunner]) -> None:
        """Our Celery worker died under us: hand the jobs to their restart policy and stop them."""
        for runner in runners:
            if runner.stop_reason is None:
                runner.job.refresh_from_db()
                job_mark_lost(job=runner.job, description=f"Worker {self.worker} exited while the job ran")
        self._stop_all(runners, "lost")

    # -- shutdown -------------------------------------------------------------------------------------------------
    def drain(self, timeout: float | None = None) -> None:
        """Take no more jobs and wait for the running ones to end (a warm shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            self.stopping = True
            while self.runners or self.reserved:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self.changed.wait(left)
        with self.recording:  # let the last logs and ends reach the database
            while self.logs or self.ends or self.busy:
                self.recording.wait(1)

    def close(self) -> None:
        """Drain, then stop the host's own threads (tests; a worker process just exits)."""
        self.drain()
        self.closed.set()
        with self.recording:
            self.recording.notify_all()
        for thread in self.threads:
            thread.join(5)
