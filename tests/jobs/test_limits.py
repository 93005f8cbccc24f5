"""Job cgroups are pooled per worker process and reused: real cgroups, real processes."""

import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from jobs.runtime import limits as cgroup_limits
from jobs.runtime.base import Mount, RunSpec
from jobs.runtime.limits import CGROUP_ROOT, limits_for
from jobs.runtime.local import LocalRuntime
from tests.conftest import REPO
from tests.jobs.conftest import wait_for

KINDS = cgroup_limits._cgroup_kinds()
pytestmark = pytest.mark.skipif(not KINDS, reason="needs a writable cgroup (v2, or v1 memory and cpu)")
FREEZER = CGROUP_ROOT / "freezer"


@pytest.fixture
def parent():
    """A cgroup parent of the test's own, so no other process's pool is in the way."""
    name = f"kiln-test-limits-{uuid.uuid4().hex[:8]}"
    yield name
    for hierarchy in KINDS[0].hierarchies:
        folder = CGROUP_ROOT / hierarchy / name
        for child in folder.iterdir() if folder.is_dir() else []:
            if child.is_dir():
                for pid in (child / "cgroup.procs").read_text().split():
                    _kill(int(pid))
                wait_for(lambda child=child: empty(child), timeout=10)
                child.rmdir()
        if folder.is_dir():
            folder.rmdir()
    for key in [key for key in cgroup_limits._pools if key[2] == name]:
        del cgroup_limits._pools[key]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def limit_values(limits) -> tuple[int, int]:
    """The memory limit (bytes) and CPU quota (µs per 100 ms) the cgroup holds, read from the kernel."""
    if limits.kind == "cgroup2":
        quota, _ = (limits.path / "cpu.max").read_text().split()
        return int((limits.path / "memory.max").read_text()), int(quota)
    return (int((limits.memory / "memory.limit_in_bytes").read_text()),
            int((limits.cpu_dir / "cpu.cfs_quota_us").read_text()))


def start_in(limits, command: str) -> subprocess.Popen:
    """What the local runtime does, minus bubblewrap: enter the limits, then become ``command``."""
    return subprocess.Popen(["/bin/sh", "-c", f"{limits.enter_command()} && exec {command}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def empty(folder: Path) -> bool:
    return not (folder / "cgroup.procs").read_text().split()


def run_sandboxed(parent: str, settings, command: str, cpu: float, memory_mb: int):
    settings.KILN_JOB_CGROUP_PARENT = parent
    runtime = LocalRuntime()
    spec = RunSpec(job_id=f"job-{uuid.uuid4()}", command=command, workdir="/", env={}, mounts=[], cpu=cpu,
                   memory_mb=memory_mb)
    handle = runtime.start(spec)
    handle.stdout.read()
    handle.process.wait()
    return runtime, handle


def test_next_job_of_the_process_reuses_the_cgroup_with_its_own_limits(parent, settings):
    runtime, first = run_sandboxed(parent, settings, "true", cpu=0.5, memory_mb=64)
    first_limits = first.notes["limits"]
    assert limit_values(first_limits) == (64 << 20, 50000)
    runtime.cleanup(first)
    wait_for(lambda: empty(first_limits.dirs[0]), timeout=10)  # the sandbox's PID namespace goes down

    runtime, second = run_sandboxed(parent, settings, "true", cpu=1.5, memory_mb=128)
    second_limits = second.notes["limits"]
    assert second_limits.dirs == first_limits.dirs
    assert limit_values(second_limits) == (128 << 20, 150000)
    runtime.cleanup(second)


def test_a_job_killed_for_memory_does_not_make_the_next_one_in_its_cgroup_report_oom(parent, settings):
    runtime, hungry = run_sandboxed(parent, settings, "python3 -c 'x = bytearray(256 << 20)'", cpu=1, memory_mb=64)
    assert hungry.process.returncode != 0
    assert runtime.out_of_memory(hungry)
    runtime.cleanup(hungry)
    assert runtime.out_of_memory(hungry)  # still answered after the cgroup went back
    wait_for(lambda: empty(hungry.notes["limits"].dirs[0]), timeout=10)

    runtime, modest = run_sandboxed(parent, settings, "true", cpu=1, memory_mb=64)
    limits = modest.notes["limits"]
    assert limits.dirs == hungry.notes["limits"].dirs
    if limits.kind == "cgroup1":  # the kernel's count is for the cgroup, all its jobs together
        assert cgroup_limits._read_counter(limits.memory / "memory.oom_control", "oom_kill") >= 1
    assert modest.process.returncode == 0
    assert not runtime.out_of_memory(modest)
    runtime.cleanup(modest)


@pytest.mark.parametrize("burst", [False, True], ids=["alone-launcher-shell", "burst-entered-from-here"])
def test_both_ways_in_put_the_whole_sandbox_in_the_jobs_limits(parent, settings, monkeypatch, burst):
    """Alone, a launcher shell enters the cgroup and becomes bubblewrap; in a burst, bubblewrap
    holds its sandbox until its init was put in the cgroup from outside. Either way the command
    runs in the limits: its memory limit kills it, and a running one is in the job's cgroup."""
    settings.KILN_JOB_CGROUP_PARENT = parent
    runtime = LocalRuntime()
    monkeypatch.setattr(runtime, "_in_a_burst", lambda: burst)

    def start(command: str):
        return runtime.start(RunSpec(job_id=f"job-{uuid.uuid4()}", command=command, workdir="/", env={},
                                     mounts=[], cpu=1, memory_mb=64))

    hungry = start("python3 -c 'x = bytearray(256 << 20)'")
    hungry.stdout.read()
    assert hungry.process.wait() != 0 and runtime.out_of_memory(hungry)
    runtime.cleanup(hungry)

    sleeper = start("sleep 60")
    limits = sleeper.notes["limits"]
    assert sleeper.notes["child_pid"] in limits.pids()  # the sandbox's init, and so all it starts
    wait_for(lambda: len(limits.pids()) >= 2, timeout=10)  # … `sleep` too
    runtime.kill(sleeper)
    sleeper.stdout.read()
    sleeper.process.wait()
    runtime.cleanup(sleeper)


def test_processes_a_job_left_behind_die_at_cleanup_and_the_next_job_never_sees_them(parent):
    job = limits_for("left-behind", 1, 64, parent)
    # Its own session and process group: killing the job's process group would not reach it.
    shell = start_in(job, "/bin/sh -c 'setsid sleep 300 >/dev/null 2>&1 & echo $!'")
    stray = int(shell.stdout.read())
    shell.wait()
    wait_for(lambda: os.getsid(stray) == stray, timeout=10)  # once setsid ran
    assert job.pids() == [stray]
    job.cleanup()
    wait_for(lambda: not psutil.pid_exists(stray) or psutil.Process(stray).status() == psutil.STATUS_ZOMBIE,
             timeout=10)
    assert job.pids() == []  # given back: whatever is in that cgroup now is not this job's

    next_job = limits_for("next", 1, 64, parent)
    assert next_job.dirs == job.dirs
    sleeper = start_in(next_job, "sleep 0.5")
    wait_for(lambda: next_job.pids(), timeout=5)
    assert next_job.pids() == [sleeper.pid]
    sleeper.wait()
    next_job.cleanup()


def test_an_exec_that_enters_after_its_job_ended_is_not_in_the_next_jobs_cgroup(parent):
    job = limits_for("ended", 1, 64, parent)
    enter = job.enter_command()  # an exec session's launcher, built while the job still ran
    job.cleanup()
    assert job.enter_command() == "false"  # none built afterwards gets in
    late = subprocess.Popen(["/bin/sh", "-c", f"{enter} && exec sleep 300"])
    wait_for(lambda: not empty(job.dirs[0]), timeout=10)

    next_job = limits_for("next", 1, 64, parent)
    assert next_job.dirs != job.dirs and next_job.pids() == []
    assert late.wait(timeout=10) == -9
    next_job.cleanup()


needs_freezer = pytest.mark.skipif(not os.access(FREEZER, os.W_OK),
                                   reason="needs the cgroup v1 freezer, where SIGKILL waits for a thaw")


@needs_freezer
def test_a_cgroup_whose_processes_are_still_exiting_is_reused_once_empty(parent):
    job = limits_for("slow-to-exit", 1, 64, parent)
    process = start_in(job, "sleep 300")
    wait_for(job.pids)
    frozen = _freeze(job.pids())
    job.cleanup()
    during = limits_for("during", 1, 64, parent)
    assert during.dirs != job.dirs  # its process has not gone yet
    _thaw(frozen)
    process.wait(timeout=10)
    during.cleanup()
    taken = [limits_for(f"after-{n}", 1, 64, parent) for n in range(2)]
    assert {limits.dirs for limits in taken} == {job.dirs, during.dirs}
    for limits in taken:
        limits.cleanup()


@needs_freezer
def test_a_cgroup_that_does_not_empty_is_not_reused(parent, monkeypatch):
    monkeypatch.setattr(cgroup_limits, "DRAIN_SECONDS", 0.3)
    stuck = limits_for("stuck", 1, 64, parent)
    process = start_in(stuck, "sleep 300")
    wait_for(stuck.pids)
    frozen = _freeze(stuck.pids())
    try:
        stuck.cleanup()  # SIGKILL waits for the thaw
        handed_out = []
        for n in range(3):
            if n == 1:
                time.sleep(0.4)  # past the drain time: the next take gives up on it
            other = limits_for(f"other-{n}", 1, 64, parent)
            handed_out.append(other.dirs)
            other.cleanup()
        assert stuck.dirs not in handed_out
        assert stuck.dirs[0].is_dir()  # could not be removed: left as it is
    finally:
        _thaw(frozen)
    process.wait(timeout=10)
    assert empty(stuck.dirs[0])
    # Empty now, but forgotten: never handed out again.
    again = [limits_for(f"again-{n}", 1, 64, parent) for n in range(3)]
    assert stuck.dirs not in [limits.dirs for limits in again]
    for limits in again:
        limits.cleanup()


def _freeze(pids: list[int]) -> Path:
    folder = FREEZER / f"kiln-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    for pid in pids:
        (folder / "cgroup.procs").write_text(str(pid))
    (folder / "freezer.state").write_text("FROZEN")
    wait_for(lambda: (folder / "freezer.state").read_text().strip() == "FROZEN", timeout=10)
    return folder


def _thaw(folder: Path) -> None:
    (folder / "freezer.state").write_text("THAWED")
    wait_for(lambda: empty(folder), timeout=10)
    folder.rmdir()


def _python(code: str, parent: str) -> subprocess.Popen:
    script = f"import os, sys\nsys.path.insert(0, {str(REPO)!r})\nfrom jobs.runtime.limits import limits_for\n"
    return subprocess.Popen([sys.executable, "-c", script + code, parent], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_cgroups_of_a_process_that_is_gone_are_removed_at_first_use(parent):
    take_two = ("a, b = limits_for('a', 1, 64, sys.argv[1]), limits_for('b', 1, 64, sys.argv[1])\n"
                "b.cleanup()\nprint(a.dirs[0].name, b.dirs[0].name, flush=True)\n")
    alive = _python(take_two + "sys.stdin.read()\n", parent)
    alive_names = alive.stdout.readline().split()
    crashed = _python(take_two + "os._exit(0)\n", parent)  # no atexit: as if killed
    crashed_names = crashed.communicate(timeout=30)[0].split()
    try:
        folders = [CGROUP_ROOT / hierarchy / parent for hierarchy in KINDS[0].hierarchies]
        assert all((folder / name).is_dir() for folder in folders for name in crashed_names + alive_names)

        limits_for("first-use", 1, 64, parent).cleanup()

        assert not any((folder / name).exists() for folder in folders for name in crashed_names)
        assert all((folder / name).is_dir() for folder in folders for name in alive_names)
    finally:
        alive.communicate("", timeout=30)


def test_a_process_removes_its_empty_cgroups_when_it_exits(parent):
    worker = _python("a = limits_for('a', 1, 64, sys.argv[1])\na.cleanup()\nprint(a.dirs[0].name)\n", parent)
    name = worker.communicate(timeout=30)[0].strip()
    assert name.startswith("w") and name.split(".")[1].startswith(f"{worker.pid}-")
    assert not any((CGROUP_ROOT / hierarchy / parent / name).exists() for hierarchy in KINDS[0].hierarchies)


def _take_in_child(parent: str, results: multiprocessing.Queue) -> None:
    limits = limits_for("child", 1, 64, parent)
    results.put((os.getpid(), str(limits.dirs[0])))
    limits.cleanup()


def test_a_forked_worker_process_uses_cgroups_of_its_own(parent):
    mine = limits_for("parent", 1, 64, parent)
    mine.cleanup()  # free in this process's pool when the child is forked
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_take_in_child, args=(parent, results))
    child.start()
    child_pid, child_dir = results.get(timeout=30)
    child.join(timeout=30)
    assert child_dir != str(mine.dirs[0])
    assert Path(child_dir).name.split(".")[1].startswith(f"{child_pid}-")
    assert limits_for("parent-again", 1, 64, parent).dirs == mine.dirs


def test_threads_taking_and_returning_cgroups_at_once_never_share_one(parent):
    threads, rounds = 16, 12
    in_use: set[Path] = set()
    seen: set[Path] = set()
    guard = threading.Lock()
    errors: list[str] = []

    def job(number: int, round_: int) -> None:
        limits = limits_for(f"t{number}-{round_}", 0.5 + number % 3 * 0.5, 64 + number % 2 * 64, parent)
        folder = limits.dirs[0]
        with guard:
            if folder in in_use:
                errors.append(f"{folder} handed to two jobs")
            in_use.add(folder)
            seen.add(folder)
        process = start_in(limits, "cat")  # runs until its stdin closes
        wait_for(limits.pids, timeout=10)
        time.sleep(0.01)
        if limits.pids() != [process.pid]:
            errors.append(f"{folder} holds {limits.pids()} beside {process.pid}")
        if limit_values(limits) != (limits.memory_mb << 20, int(limits.cpu * 100000)):
            errors.append(f"{folder} has {limit_values(limits)}, not this job's limits")
        process.communicate("")
        with guard:
            in_use.discard(folder)
        limits.cleanup()

    def job_thread(number: int) -> None:
        try:
            for round_ in range(rounds):
                job(number, round_)
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))

    workers = [threading.Thread(target=job_thread, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert len(seen) <= threads  # a new cgroup only when every one made so far was in use


def test_without_a_cgroup_the_address_space_limit_is_put_on_the_sandbox_from_outside():
    import resource

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        cgroup_limits.Limits("job-x", cpu=1, memory_mb=64).enter(sleeper.pid)
        assert resource.prlimit(sleeper.pid, resource.RLIMIT_AS) == (64 << 20, 64 << 20)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_sandbox_that_cannot_be_put_in_its_limits_is_killed_before_its_command_runs(parent, settings, monkeypatch,
                                                                                         tmp_path):
    settings.KILN_JOB_CGROUP_PARENT = parent
    runtime = LocalRuntime()
    monkeypatch.setattr(runtime, "_in_a_burst", lambda: True)
    monkeypatch.setattr(type(limits_for("probe", 1, 64, parent)), "enter",
                        lambda self, pid: (_ for _ in ()).throw(OSError("no")))
    marker = tmp_path / "ran"
    with pytest.raises(OSError):
        runtime.start(RunSpec(job_id=f"job-{uuid.uuid4()}", command=f"touch /out/{marker.name}", workdir="/",
                              env={}, mounts=[Mount(host_path=tmp_path, mount_path="/out", read_only=False)],
                              cpu=1, memory_mb=64))
    time.sleep(0.5)
    assert not marker.exists()
