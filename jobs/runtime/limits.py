"""CPU and memory limits for a job's processes: cgroup v2, else cgroup v1, else an address-space
rlimit (weaker: no CPU cap, no OOM report), whichever this machine lets us write.

Cgroups are reused: each worker process keeps a pool of its own (``<parent>/w<pidns>.<pid>-<n>``).
A job takes a free one (or a new one when none is free) and gives it back at cleanup once its
processes are gone. Creating a memory cgroup right after removing one waits for the old one to go
offline, and a CPU quota write is not free, so a chain of jobs paid ~2.9 ms per start for them.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import resource
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)
CGROUP_ROOT = Path("/sys/fs/cgroup")
# How long an ended job's cgroup may take to empty (processes still exiting, a sandbox's PID
# namespace being torn down) before it is dropped from the pool instead of reused.
DRAIN_SECONDS = 2.0
CPU_PERIOD_US = 100000


class Limits:
    """Where a job's processes are confined: ``enter`` puts a process in from outside,
    ``enter_command`` is shell a process runs to enter itself before it execs."""

    kind = "rlimit"

    def __init__(self, job_id: str, cpu: float, memory_mb: int) -> None:
        self.job_id, self.cpu, self.memory_mb = job_id, cpu, memory_mb

    def prepare(self) -> None:
        pass

    def enter(self, pid: int) -> None:
        """Put process ``pid`` (single-threaded, not running the job's command yet) in these limits;
        what it starts inherits them."""
        limit = self.memory_mb * 1024 * 1024
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))

    def enter_command(self) -> str:
        """The same, as shell run before exec (exec sessions)."""
        return f"ulimit -v {self.memory_mb * 1024}"

    def pids(self) -> list[int]:
        return []

    def out_of_memory(self) -> bool:
        return False

    def signal_all(self, signum: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def cleanup(self) -> None:
        pass


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _read(path: Path) -> str:
    """A control file's text; plain os calls, as these reads are on every job's start and end."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def _read_counter(path: Path, key: str) -> int:
    try:
        for line in _read(path).splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _read_counter_file(path: Path) -> int:
    try:
        return int(_read(path).strip() or 0)
    except (OSError, ValueError):
        return 0


def _procs(folder: Path) -> list[int]:
    try:
        return [int(pid) for pid in _read(folder / "cgroup.procs").split()]
    except OSError:
        return []


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _pid_namespace() -> int:
    # In the name so workers in other PID namespaces sharing this cgroupfs (containers) never
    # tidy away each other's cgroups over a PID that means another process there.
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


_POOL_NAME = re.compile(r"w(\d+)\.(\d+)-\d+")


Controls = dict[tuple[int, str], str]  # (index of the hierarchy, control file) -> value


class _Cgroup:
    """One pooled cgroup (a folder per hierarchy) and the control values last written to it."""

    def __init__(self, name: str, dirs: tuple[Path, ...]) -> None:
        self.name, self.dirs = name, dirs
        self.written: Controls = {}
        self.ended = 0.0  # when its last job was cleaned up while processes were still exiting

    def has(self, controls: Controls) -> bool:
        return all(self.written.get(key) == value for key, value in controls.items())

    def apply(self, controls: Controls) -> None:
        """Write the control files that do not hold their value yet (a CPU quota write is not free)."""
        for key, value in controls.items():
            if self.written.get(key) != value:
                self.written.pop(key, None)  # unknown if the write fails
                (self.dirs[key[0]] / key[1]).write_text(value)
                self.written[key] = value

    def pids(self) -> list[int]:
        return [pid for folder in self.dirs for pid in _procs(folder)]

    def remove(self) -> bool:
        gone = True
        for folder in self.dirs:
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone


class _Pool:
    """A worker process's cgroups of one kind under one parent; safe to use from many threads."""

    def __init__(self, kind: type[_PooledLimits], parent: str) -> None:
        self.kind = kind
        self.parents = tuple(CGROUP_ROOT / hierarchy / parent for hierarchy in kind.hierarchies)
        self.prefix = f"w{_pid_namespace()}.{os.getpid()}-"
        self.lock = threading.Lock()
        self.free: list[_Cgroup] = []  # empty, most recently used last (warmest caches)
        self.draining: list[_Cgroup] = []  # given back while their processes were still exiting
        self.next_number = 0
        for folder in self.parents:
            folder.mkdir(parents=True, exist_ok=True)
        kind.setup_parent(self.parents)
        self.tidy()

    def tidy(self) -> None:
        """Remove empty pool cgroups of processes that are gone (and of an earlier process that had
        our PID: this pool has made none yet)."""
        namespace, alive = _pid_namespace(), {}
        for folder in self.parents:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                match = _POOL_NAME.fullmatch(name)
                if not match or int(match[1]) != namespace:
                    continue
                pid = int(match[2])
                if pid not in alive:
                    alive[pid] = pid != os.getpid() and _process_exists(pid)
                if not alive[pid]:
                    try:
                        (folder / name).rmdir()  # refused while a process is still in it
                    except OSError:
                        pass

    def take(self, controls: Controls, fresh: bool = False) -> _Cgroup:
        with self.lock:
            cgroup = None if fresh else self._reusable(controls)
            number = self.next_number
            if cgroup is None:
                self.next_number += 1
        return cgroup or self._create(number)

    def _reusable(self, controls: Controls) -> _Cgroup | None:
        now = time.monotonic()
        for cgroup in list(self.draining):
            pids = cgroup.pids()
            if not pids:
                self.draining.remove(cgroup)
                self.free.append(cgroup)
            elif now - cgroup.ended > DRAIN_SECONDS:
                self.draining.remove(cgroup)
                self._retire(cgroup)
            else:
                _kill(pids)  # and whatever they forked before they died
        while self.free:
            # One that already has these limits if any (jobs of one preset), else the warmest.
            index = next((i for i in range(len(self.free) - 1, -1, -1) if self.free[i].has(controls)), -1)
            cgroup = self.free.pop(index)
            pids = cgroup.pids()
            if not pids:
                return cgroup
            # Something entered it after it was given back (an exec session launched just before
            # its job ended): drain it again.
            _kill(pids)
            cgroup.ended = now
            self.draining.append(cgroup)
        return None

    def _create(self, number: int) -> _Cgroup:
        while True:
            name = f"{self.prefix}{number}"
            try:
                # Only a folder this call made is ours (a crashed process with our PID may have left
                # one that is not empty yet); its siblings in other hierarchies are ours with it.
                self.parents[0].joinpath(name).mkdir()
                break
            except FileExistsError:
                with self.lock:
                    number = self.next_number
                    self.next_number += 1
        cgroup = _Cgroup(name, tuple(folder / name for folder in self.parents))
        try:
            for folder in cgroup.dirs[1:]:
                folder.mkdir(exist_ok=True)
            self.kind.setup_cgroup(cgroup)
        except OSError:
            cgroup.remove()
            raise
        return cgroup

    def give_back(self, cgroup: _Cgroup, busy: bool) -> None:
        with self.lock:
            if busy:
                cgroup.ended = time.monotonic()
                self.draining.append(cgroup)
            else:
                self.free.append(cgroup)

    def retire(self, cgroup: _Cgroup) -> None:
        with self.lock:
            self._retire(cgroup)

    def _retire(self, cgroup: _Cgroup) -> None:
        if not cgroup.remove():
            log.warning("cgroup %s did not empty; it is left as it is and not reused", cgroup.name)

    def close(self) -> None:
        """Remove the cgroups no job has (at exit), waiting a little for the draining ones."""
        for cgroup in self.free:
            cgroup.remove()
        draining, deadline = list(self.draining), time.monotonic() + 1
        while draining and time.monotonic() < deadline:
            for cgroup in list(draining):
                pids = cgroup.pids()
                if not pids:
                    cgroup.remove()
                    draining.remove(cgroup)
                _kill(pids)
            time.sleep(0.005)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_pools: dict[tuple[int, str, str], _Pool] = {}
_pools_lock = threading.Lock()


def _pool_for(kind: type[_PooledLimits], parent: str) -> _Pool:
    # Keyed by PID: a pool made before a fork (Celery's prefork) stays the parent's; a child gets
    # its own, with names of its own.
    key = (os.getpid(), kind.kind, parent)
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = _Pool(kind, parent)
    return pool


def _after_fork_in_child() -> None:
    global _pools_lock
    _pools_lock = threading.Lock()  # another thread of the parent may have held it at the fork
    _pools.clear()


@atexit.register
def close_pools() -> None:
    """Remove this process's pooled cgroups that no job has (at exit)."""
    for (pid, _, _), pool in list(_pools.items()):
        if pid == os.getpid():
            pool.close()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _PooledLimits(Limits):
    """One job's turn in a pooled cgroup: taken at ``prepare``, given back at ``cleanup``."""

    hierarchies: tuple[str, ...] = ()  # folders under CGROUP_ROOT, each with this cgroup in it

    def __init__(self, job_id: str, cpu: float, memory_mb: int, parent: str) -> None:
        super().__init__(job_id, cpu, memory_mb)
        self.parent = parent
        self.dirs: tuple[Path, ...] = ()  # kept after cleanup, to tell which cgroup the job had
        self._cgroup: _Cgroup | None = None
        self._pool: _Pool | None = None
        self._oom_before: tuple[int, ...] = ()
        self._oom_at_end = False

    @classmethod
    def setup_parent(cls, parents: tuple[Path, ...]) -> None:
        pass

    @classmethod
    def setup_cgroup(cls, cgroup: _Cgroup) -> None:
        """What a new cgroup needs once, whatever the job."""

    def controls(self) -> Controls:
        """The job's limits as control file values."""
        raise NotImplementedError

    def oom_counts(self, cgroup: _Cgroup) -> tuple[int, ...]:
        """Counters that grow when the memory limit is hit; cumulative over the cgroup's jobs."""
        raise NotImplementedError

    def prepare(self) -> None:
        pool = self._pool = _pool_for(type(self), self.parent)
        controls = self.controls()
        cgroup = pool.take(controls)
        try:
            cgroup.apply(controls)
        except OSError as error:
            # Say, a lower memory limit than the page cache left charged could be reclaimed to.
            log.info("cgroup %s refused job %s's limits (%s); using a new one", cgroup.name, self.job_id, error)
            pool.retire(cgroup)
            cgroup = pool.take(controls, fresh=True)
            try:
                cgroup.apply(controls)
            except OSError:
                pool.retire(cgroup)
                raise
        self._cgroup, self.dirs = cgroup, cgroup.dirs
        self._oom_before = self.oom_counts(cgroup)

    def _cgroup_of_job(self) -> _Cgroup:
        if self._cgroup is None:
            raise OSError(f"job {self.job_id}'s cgroup was given back")  # it may be another job's by now
        return self._cgroup

    def pids(self) -> list[int]:
        cgroup = self._cgroup
        return _procs(cgroup.dirs[0]) if cgroup else []  # none once given back: another job's then

    def out_of_memory(self) -> bool:
        cgroup = self._cgroup
        if cgroup is None:
            return self._oom_at_end
        return any(now > before for now, before in zip(self.oom_counts(cgroup), self._oom_before, strict=True))

    def cleanup(self) -> None:
        cgroup, pool = self._cgroup, self._pool
        if cgroup is None or pool is None:
            return
        self._oom_at_end = self.out_of_memory()
        self._cgroup = None
        left = cgroup.pids()
        if left:
            _kill(left)
            left = cgroup.pids()  # usually still there, exiting (a sandbox's PID namespace going down)
        # Reused once empty; until then parked, so the job's thread does not wait for the exits.
        pool.give_back(cgroup, busy=bool(left))


class CgroupV2Limits(_PooledLimits):
    kind = "cgroup2"
    hierarchies = ("",)

    @property
    def path(self) -> Path:
        return self.dirs[0]

    @classmethod
    def setup_parent(cls, parents: tuple[Path, ...]) -> None:
        try:
            (parents[0] / "cgroup.subtree_control").write_text("+cpu +memory")
        except OSError:
            pass

    @classmethod
    def setup_cgroup(cls, cgroup: _Cgroup) -> None:
        swap = cgroup.dirs[0] / "memory.swap.max"
        if swap.exists():
            swap.write_text("0")

    def controls(self) -> Controls:
        return {(0, "memory.max"): str(self.memory_mb * 1024 * 1024),
                (0, "cpu.max"): f"{int(self.cpu * CPU_PERIOD_US)} {CPU_PERIOD_US}"}

    def oom_counts(self, cgroup: _Cgroup) -> tuple[int, ...]:
        return (_read_counter(cgroup.dirs[0] / "memory.events", "oom_kill"),)

    def enter(self, pid: int) -> None:
        (self._cgroup_of_job().dirs[0] / "cgroup.procs").write_text(str(pid))

    def enter_command(self) -> str:
        if self._cgroup is None:
            return "false"  # given back: it may be another job's by now
        return f"echo $$ > {self.path / 'cgroup.procs'}"


class CgroupV1Limits(_PooledLimits):
    kind = "cgroup1"
    hierarchies = ("memory", "cpu")

    @property
    def memory(self) -> Path:
        return self.dirs[0]

    @property
    def cpu_dir(self) -> Path:
        return self.dirs[1]

    @classmethod
    def setup_cgroup(cls, cgroup: _Cgroup) -> None:
        period = cgroup.dirs[1] / "cpu.cfs_period_us"
        if _read_counter_file(period) != CPU_PERIOD_US:
            period.write_text(str(CPU_PERIOD_US))

    def controls(self) -> Controls:
        return {(0, "memory.limit_in_bytes"): str(self.memory_mb * 1024 * 1024),
                (1, "cpu.cfs_quota_us"): str(int(self.cpu * CPU_PERIOD_US))}

    def oom_counts(self, cgroup: _Cgroup) -> tuple[int, ...]:
        memory = cgroup.dirs[0]
        return (_read_counter(memory / "memory.oom_control", "oom_kill"), _read_counter_file(memory / "memory.failcnt"))

    def enter(self, pid: int) -> None:
        # `tasks` moves one thread: the sandbox's init, single-threaded, before it starts anything.
        for folder in self._cgroup_of_job().dirs:
            (folder / "tasks").write_text(str(pid))

    def enter_command(self) -> str:
        if self._cgroup is None:
            return "false"  # given back: it may be another job's by now
        # "0" into `tasks` moves the writing thread itself (the launcher shell, single-threaded;
        # what it starts inherits the cgroup). The kernel then skips the global threadgroup lock
        # that moving a pid through `cgroup.procs` takes, whose RCU grace period cost ~12 ms per
        # job start here (0.4 ms this way).
        return f"echo 0 > {self.memory / 'tasks'} && echo 0 > {self.cpu_dir / 'tasks'}"


_kinds: list[type[_PooledLimits]] | None = None


def _cgroup_kinds() -> list[type[_PooledLimits]]:
    """The cgroup versions we may write here, strongest first; looked at once per process."""
    global _kinds
    if _kinds is None:
        kinds: list[type[_PooledLimits]] = []
        if (CGROUP_ROOT / "cgroup.controllers").exists() and _writable(CGROUP_ROOT):
            kinds.append(CgroupV2Limits)
        if _writable(CGROUP_ROOT / "memory") and _writable(CGROUP_ROOT / "cpu"):
            kinds.append(CgroupV1Limits)
        _kinds = kinds
    return _kinds


def limits_for(job_id: str, cpu: float, memory_mb: int, parent: str) -> Limits:
    """The strongest confinement this machine allows us."""
    candidates = [kind(job_id, cpu, memory_mb, parent) for kind in _cgroup_kinds()]
    for limits in candidates:
        try:
            limits.prepare()
            return limits
        except OSError as error:
            log.warning("cannot use %s for job limits (%s); trying the next way", limits.kind, error)
            limits.cleanup()
    log.warning("no writable cgroup: job %s gets an address-space limit only, and no CPU limit", job_id)
    return Limits(job_id, cpu, memory_mb)
