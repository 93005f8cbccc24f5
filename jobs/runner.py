"""Executes one job on this worker: claim it, start its sandbox, stream its logs, beat, obey
kill and life span, restart per policy, record how it ended. Called by the ``run_job`` task."""

from __future__ import annotations

import fcntl
import logging
import os
import selectors
import socket
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from console.errors import KilnError
from jobs.exec_host import ExecHost
from jobs.models import Job, JobStatus, JobStatusEvent, RestartPolicy
from jobs.runtime import RunHandle, RunSpec, Runtime, RuntimeUnavailable, get_runtime
from jobs.services import (
    JobEnd,
    job_heartbeat,
    job_log_end,
    job_logs_append,
    job_mark_lost,
    job_transition,
    jobs_claim,
)
from jobs.volumes import VolumeSet

if TYPE_CHECKING:
    from jobs.host import JobHost

log = logging.getLogger(__name__)
MAX_LINE = 16 * 1024  # longer lines are split: one runaway line must not exhaust memory
PIPE_SIZE = 1 << 20
POLL_SECONDS = 0.25
OWN_WRITER_AFTER = 1.0  # seconds a job runs before its thread may store its logs itself


@dataclass
class Outcome:
    exit_code: int | None
    stopped: bool  # we stopped it (kill, life span, lost ownership): no restart, status set already


class LogReader:
    """A process's output, split into lines, read by the job's own thread as it waits (a reader
    thread per job, handing lines over through a queue, cost a thread start and a hop per line;
    ~0.5 ms of CPU per job in a fan-out of short jobs). Lines longer than ``MAX_LINE`` bytes
    are split."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream  # its descriptor is read directly, and closed with it
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        try:
            # Room for what a chatty job writes while its thread stores the previous batch.
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # over /proc/sys/fs/pipe-max-size: the default 64 KiB then
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)
        self.buffer = bytearray()
        self.ended = False

    def take(self, wait: float, most: int = 2000) -> tuple[list[str], bool]:
        """Up to ``most`` lines (waiting at most ``wait`` for the first); and whether output ended."""
        lines: list[str] = []
        self._split(lines, most)  # what is left over from the last call
        deadline = time.monotonic() + wait
        while not self.ended and len(lines) < most:
            data = self._read()
            if data is None:  # nothing yet
                if lines:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or not self.selector.select(left):
                    break
                continue
            if data:
                self.buffer += data
            else:
                self.ended = True
            self._split(lines, most)
        done = self.ended and not self.buffer
        if done and self.selector.get_map() is not None:
            self.selector.close()
        return lines, done

    def _read(self) -> bytes | None:
        try:
            return os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return None

    def _split(self, lines: list[str], most: int) -> None:
        buffer = self.buffer
        start = 0
        while len(lines) < most:
            end = buffer.find(b"\n", start, start + MAX_LINE)
            if end >= 0:
                lines.append(_decode(buffer[start:end]))
                start = end + 1
            elif len(buffer) - start >= MAX_LINE:
                lines.append(_decode(buffer[start:start + MAX_LINE]))
                start += MAX_LINE
            elif self.ended and start < len(buffer):
                lines.append(_decode(buffer[start:]))
                start = len(buffer)
            else:
                break
        del buffer[:start]


def _decode(line: bytes | bytearray) -> str:
    return bytes(line).rstrip(b"\r").decode("utf-8", "replace")


class JobRunner:
    """Runs one job. Alone (``host`` None) it beats and polls the database itself; under a
    worker's ``JobHost`` the host does both for all its jobs at once, sets ``stop_reason`` when
    this job must stop, and records its end together with others'."""

    def __init__(self, job: Job, runtime: Runtime, worker: str, host: JobHost | None = None) -> None:
        self.job = job
        self.runtime = runtime
        self.worker = worker
        self.host = host
        self.stop_reason: str | None = None  # set by the host
        # Under a host: whether this job's thread stores its logs itself (its own connection,
        # lowest latency) or hands them to the host's recorder (when others hold every writer);
        # undecided until the job has run OWN_WRITER_AFTER seconds (the recorder stores them meanwhile).
        self.writes_logs: bool | None = None
        self.run_started = time.monotonic()  # of the current run of its process
        self.attempt = job.attempt
        # A first run has no log yet; a run after a lost worker continues the stored one.
        self.offset = job.log_lines if job.attempt <= 1 else job_log_end(job_id=job.pk)
        self.parent_pid = os.getppid()

    # -- logs ---------------------------------------------------------------------------------------
    def write_logs(self, lines: list[str], last: bool = False) -> None:
        """Store ``lines``; ``last``: the process's output has ended. Under a host, a job's thread
        stores its logs itself (lowest latency) only once the job has run ``OWN_WRITER_AFTER``
        seconds: before that, and for a job whose output ends first (most of a bake's tasks), the
        host's recorder stores them, with its end and others' in one statement. A writer of its
        own costs a job a database connection for its life: started and ended for each task of a
        fan-out that printed a line, it took 8.7-9.1 s where silent tasks took 5."""
        if lines:
            if (self.host is not None and self.writes_logs is None and not last
                    and time.monotonic() - self.run_started >= OWN_WRITER_AFTER):
                self.writes_logs = self.host.take_log_writer()
            if self.host is not None and not self.writes_logs:
                self.host.record_logs(self.job.pk, self.offset, lines)
            else:
                job_logs_append(job=self.job, first=self.offset, lines=lines)
            self.offset += len(lines)

    def say(self, text: str) -> None:
        """A line from Kiln itself in the job's log (restarts, kills)."""
        self.write_logs([f"[kiln] {text}"])

    # -- one run of the process -------------------------------------------------------------------------
    def supervise(self, handle: RunHandle) -> Outcome:
        pump = LogReader(handle.stdout)
        started = self.run_started = time.monotonic()
        next_poll = started + POLL_SECONDS
        next_beat = started + settings.KILN_HEARTBEAT_INTERVAL
        stop_reason: str | None = None
        terminate_sent: float | None = None
        pending: list[str] = []
        first_pending_at = 0.0
        ended = False
        batch_wait = settings.KILN_LOG_BATCH_SECONDS
        while not ended:
            # Wake often only while lines wait to be stored; a quiet job costs nothing meanwhile.
            wait = batch_wait if pending else max(min(next_poll, next_beat) - time.monotonic(), batch_wait)
            lines, ended = pump.take(wait=wait)
            if lines and not pending:
                first_pending_at = time.monotonic()
            pending += lines
            now = time.monotonic()
            if pending and (ended or len(pending) >= 2000 or now - first_pending_at >= batch_wait):
                self.write_logs(pending, last=ended)
                pending = []
            if self.host is not None:
                next_beat = next_poll = now + POLL_SECONDS  # the host beats and polls for us
                if stop_reason is None:
                    stop_reason = self.stop_reason or self._life_span_over(started, now)
            else:
                if now >= next_beat:
                    next_beat = now + settings.KILN_HEARTBEAT_INTERVAL
                    alive = job_heartbeat(job_id=self.job.pk, attempt=self.attempt, log_lines=self.offset)
                    if not alive and stop_reason is None:
                        stop_reason = "lost"  # cancelled, or declared lost and taken over: stop at once
                if now >= next_poll and stop_reason is None:
                    next_poll = now + POLL_SECONDS
                    stop_reason = self._should_stop(started, now)
            if stop_reason and terminate_sent is None:
                terminate_sent = now
                self.runtime.terminate(handle)
            if terminate_sent is not None and now - terminate_sent > settings.KILN_JOB_KILL_GRACE:
                self.runtime.kill(handle)
                terminate_sent = float("inf")  # killed; wait for the output to end
        exit_code = handle.process.wait()
        if stop_reason:
            Job.objects.filter(pk=self.job.pk).update(log_lines=self.offset)
            return Outcome(exit_code=exit_code, stopped=True)
        return Outcome(exit_code=exit_code, stopped=False)

    def _should_stop(self, started: float, now: float) -> str | None:
        if os.getppid() != self.parent_pid:
            # Our Celery worker died under us: stop the sandbox and hand the job to the policy.
            self.job.refresh_from_db()
            job_mark_lost(job=self.job, description=f"Worker {self.worker} exited while the job ran")
            return "lost"
        status = Job.objects.filter(pk=self.job.pk).values_list("status", "attempt").first()
        if status is None or status[0] != JobStatus.RUNNING or status[1] != self.attempt:
            return "cancelled"
        return self._life_span_over(started, now)

    def _life_span_over(self, started: float, now: float) -> str | None:
        if self.job.life_span and now - started >= self.job.life_span:
            ended = job_transition(job=self.job, to=JobStatus.CANCELLED, reason="LifeSpanEnded",
                                   description=f"Ran for its life span of {self.job.life_span} s",
                                   only_from=(JobStatus.RUNNING,), attempt=self.attempt)
            return "life_span" if ended else "cancelled"
        return None

    # -- the whole execution, with restarts ------------------------------------------------------------
    def run(self, volumes: VolumeSet) -> None:
        env = {**self.job.env}
        if self.job.http_port:
            # Web apps that need their base URL (Jupyter's base_url, say) find it here.
            env.setdefault("KILN_BROWSE_PATH", f"/jobs/{self.job.pk}/browse/")
        spec = RunSpec(job_id=self.job.pk, command=self.job.command, workdir=self.job.workdir, env=env,
                       mounts=volumes.mounts, cpu=self.job.cpu, memory_mb=self.job.memory_mb, image=self.job.image)
        while True:
            handle = self.runtime.start(spec)
            exec_host = ExecHost.get()
            exec_host.serve(self.job.pk, self._exec_argv(handle, env))
            try:
                outcome = self.supervise(handle)
                oom = self.runtime.out_of_memory(handle)
            finally:
                exec_host.unserve(self.job.pk)
                self.runtime.cleanup(handle)
            if outcome.stopped:
                return
            code = outcome.exit_code if outcome.exit_code is not None else -1
            if self._restart_wanted(code):
                self._record_restart(code, oom)
                if not self._back_off():
                    return
                continue
            if code == 0:
                self._end(JobStatus.SUCCEEDED, "Completed", "", code)
            elif oom and code in (137, -9):
                self._end(JobStatus.FAILED, "OOMKilled",
                          f"Killed for going over its {self.job.memory_mb} MiB memory limit", code)
            else:
                self._end(JobStatus.FAILED, "Error", f"The command exited with code {code}", code)
            return

    def _end(self, status: JobStatus, reason: str, description: str, code: int) -> None:
        if self.host is not None:
            self.host.record_end(JobEnd(job=self.job, attempt=self.attempt, status=status, reason=reason,
                                        description=description, exit_code=code, log_lines=self.offset))
            return
        job_transition(job=self.job, to=status, reason=reason, description=description, exit_code=code,
                       only_from=(JobStatus.RUNNING,), attempt=self.attempt, extra={"log_lines": self.offset})

    def _exec_argv(self, handle: RunHandle, env: dict[str, str]):  # noqa: ANN202
        base = self.runtime.environment(self.job.pk, env)

        def argv_for(command: list[str], tty: bool) -> list[str]:
            return self.runtime.exec_command(handle.notes, command, {**base, **({"TERM": "xterm-256color"} if tty
                                                                                 else {})})

        return argv_for

    def _restart_wanted(self, code: int) -> bool:
        policy = self.job.restart_policy
        return policy == RestartPolicy.ALWAYS or (policy == RestartPolicy.ON_FAILURE and code != 0)

    def _record_restart(self, code: int, oom: bool) -> None:
        Job.objects.filter(pk=self.job.pk).update(restarts=self.job.restarts + 1)
        self.job.restarts += 1
        reason = "OOMKilled" if oom and code in (137, -9) else "Restarting"
        JobStatusEvent.objects.create(job=self.job, status=JobStatus.RUNNING, reason=reason, exit_code=code,
                                      description=f"Exited with code {code}; restart {self.job.restarts}",
                                      at=timezone.now())
        self.say(f"exited with code {code}; restarting ({self.job.restart_policy})")

    def _back_off(self) -> bool:
        """Wait before a restart (1 s, 2 s, 4 s … up to 30 s), watching for a kill."""
        delay = min(2 ** max(self.job.restarts - 1, 0), 30)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if not job_heartbeat(job_id=self.job.pk, attempt=self.attempt, log_lines=self.offset):
                return False
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))
        return True


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def job_execute(*, job_id: str, worker: str) -> None:
    """Claim a pending job and run it to its end here, on its own (no job host)."""
    close_old_connections()
    claimed = jobs_claim(job_ids=[job_id], worker=worker, exec_channel=ExecHost.get().channel)
    if claimed:  # else: cancelled before it started, or a redelivered message for a job another run owns
        job_run_claimed(JobRunner(claimed[0], get_runtime(), worker))


def job_run_claimed(runner: JobRunner) -> None:
    """Run a job this worker claimed (status running, ``attempt`` its own) to its end."""
    job, runtime, worker, attempt = runner.job, runner.runtime, runner.worker, runner.attempt
    try:
        runtime.check()
        if job.http_port and _port_in_use(job.http_port):
            holder = (Job.objects.filter(status=JobStatus.RUNNING, http_port=job.http_port, worker=worker)
                      .exclude(pk=job.pk).values_list("pk", flat=True).first())
            raise RuntimeUnavailable(
                f"HTTP port {job.http_port} is already in use on worker {worker}"
                + (f" by job {holder}" if holder else "") + "; choose another http_port")
        volumes = VolumeSet.prepare(job)
    except (RuntimeUnavailable, KilnError) as error:
        reason = "VolumeError" if isinstance(error, KilnError) else "RuntimeUnavailable"
        message = getattr(error, "message", None) or str(error)
        runner.say(message)
        job_transition(job=job, to=JobStatus.FAILED, reason=reason, description=message,
                       only_from=(JobStatus.RUNNING,), attempt=attempt)
        return
    try:
        runner.run(volumes)
    except Exception as error:  # never leave a job running with nothing behind it
        log.exception("job %s failed in its runner", job.pk)
        job_transition(job=job, to=JobStatus.FAILED, reason="RuntimeError", description=str(error)[:2000],
                       only_from=(JobStatus.RUNNING,), attempt=attempt)
    finally:
        volumes.finish(job)
