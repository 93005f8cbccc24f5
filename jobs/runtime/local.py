"""The ``local`` runtime: each job runs on the worker's machine in a bubblewrap sandbox.

The host's system folders are bound read-only as the "image", each volume at its mount path
(read-only for ``:ro``), ``/tmp`` is private, the job has its own PID namespace (so killing its
init kills all of it) and dies with its runner. CPU and memory limits come from ``limits.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from functools import lru_cache
from typing import IO

from django.conf import settings

from jobs.runtime.base import RunHandle, RunSpec, RuntimeUnavailable
from jobs.runtime.limits import limits_for
from jobs.runtime.shell import direct_argv

SYSTEM_DIRS = ("/usr", "/etc", "/opt")
BURST_GAP = 0.005  # seconds: a sandbox started this soon after another is part of a burst
MERGED_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@lru_cache(maxsize=1)
def _system_binds() -> tuple[str, ...]:
    """The worker's system folders, bound read-only as the "image" (looked at once per process)."""
    args: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for folder in MERGED_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    return tuple(args)


class LocalRuntime:
    name = "local"

    def __init__(self) -> None:
        self.bwrap = shutil.which("bwrap")
        self._starting = threading.Lock()
        self._last_start = 0.0

    def check(self) -> None:
        if not self.bwrap:
            raise RuntimeUnavailable(
                "bubblewrap (bwrap) is not installed on this worker, and Kiln never runs jobs "
                "unsandboxed: install it (Debian/Ubuntu: apt-get install bubblewrap)"
            )

    def _python_binds(self) -> tuple[list[str], str]:
        prefix = settings.KILN_JOB_PYTHON_PREFIX
        if not prefix or prefix.startswith("/usr") or not os.path.isdir(prefix):
            return [], ""
        return ["--ro-bind", prefix, prefix], f"{prefix}/bin:"

    def command_line(self, spec: RunSpec, info_fd: int, block_fd: int = -1) -> list[str]:
        python_binds, _ = self._python_binds()
        args = [
            self.bwrap or "bwrap",
            *(["--block-fd", str(block_fd)] if block_fd >= 0 else []),
            "--tmpfs", "/",
            *_system_binds(),
            *python_binds,
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", spec.job_id[:63],
            "--die-with-parent",
            "--cap-drop", "ALL",
            "--info-fd", str(info_fd),
            "--clearenv",
        ]
        for folder in settings.KILN_JOB_EXTRA_RO_BINDS:
            args += ["--ro-bind-try", folder, folder]
        for mount in spec.mounts:
            args += ["--ro-bind" if mount.read_only else "--bind", str(mount.host_path), mount.mount_path]
        environment = self.environment(spec.job_id, spec.env)
        for key, value in environment.items():
            args += ["--setenv", key, value]
        workdir = spec.workdir or "/"
        argv = direct_argv(spec.command, environment.get("PATH", "")) or ["/bin/sh", "-c", spec.command]
        args += ["--dir", workdir, "--chdir", workdir, "--", *argv]
        return args

    def environment(self, job_id: str, job_env: dict[str, str]) -> dict[str, str]:
        """What a job's processes see: a clean environment plus the job's own variables."""
        _, python_path = self._python_binds()
        return {
            "PATH": f"{python_path}/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "KILN_JOB_ID": job_id,
            **job_env,
        }

    def start(self, spec: RunSpec) -> RunHandle:
        """Start the sandbox in the job's limits.

        Two ways in, the same result. Alone, a launcher shell enters the limits (its own thread
        into the cgroup, which takes no kernel-wide lock) and becomes bubblewrap. In a burst of
        starts (a wide bake's tasks), bubblewrap starts directly and holds its sandbox on
        ``--block-fd`` until the sandbox's init (its PID comes on ``--info-fd``) has been put in
        the limits from here; only then does it start the command, which inherits them. Putting
        another process in a cgroup takes the kernel's global cgroup lock, which waits ~10 ms for
        an RCU grace period unless another move just did: a job started alone would wait that
        long, while in a burst the moves share it — and no shell starts per job (a 1,000-task
        fan-out took ~6 % less time)."""
        self.check()
        limits = limits_for(spec.job_id, spec.cpu, spec.memory_mb, settings.KILN_JOB_CGROUP_PARENT)
        enter_here = self._in_a_burst()
        info_read, info_write = os.pipe()
        block_read, block_write = os.pipe() if enter_here else (-1, -1)
        argv = self.command_line(spec, info_write, block_read)
        if not enter_here:
            # Enter the limits first, then become bubblewrap: everything the job starts inherits them.
            argv = ["/bin/sh", "-c", f"{limits.enter_command()} && exec {shlex.join(argv)}"]
        passed = (info_write, block_read) if enter_here else (info_write,)
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=passed,
                start_new_session=True,  # its own process group: signals reach all of it
                close_fds=True,
            )
        except BaseException:
            limits.cleanup()  # gives the job's cgroup back to the pool
            _close(info_read, block_write)
            raise
        finally:
            _close(*passed)
        with os.fdopen(info_read, "rb", buffering=0) as info:
            try:
                child_pid = self._read_child_pid(info)
                if enter_here and child_pid is not None:  # else bubblewrap failed: its output says why
                    limits.enter(child_pid)
            except BaseException:
                _kill_group(process.pid)  # never let the command run outside its limits
                _close(block_write)
                process.wait()
                if process.stdout is not None:
                    process.stdout.close()
                limits.cleanup()
                raise
            if enter_here:
                try:
                    os.write(block_write, b"go")
                except BrokenPipeError:
                    pass  # bubblewrap is gone already; its output and exit status tell
                finally:
                    os.close(block_write)
            info.read()  # to its end: closed early, a write bubblewrap still makes would kill it
        return RunHandle(process=process, stdout=process.stdout, notes={
            "limits": limits, "child_pid": child_pid, "limits_kind": limits.kind,
        })

    def _in_a_burst(self) -> bool:
        """Whether another sandbox of this process started just before this one."""
        now = time.monotonic()
        with self._starting:
            previous, self._last_start = self._last_start, now
        return now - previous < BURST_GAP

    @staticmethod
    def _read_child_pid(info: IO[bytes]) -> int | None:
        """bubblewrap reports the sandbox's init PID on ``--info-fd`` (for the limits, and exec):
        read until that JSON object is whole (on ``--block-fd`` the sandbox waits for us, so this
        must not wait for the end of the stream), or the stream ends (bubblewrap failed)."""
        data = b""
        while chunk := info.read(4096):
            data += chunk
            try:
                return int(json.loads(data)["child-pid"])
            except (ValueError, KeyError, TypeError):
                continue  # not whole yet
        return None

    def terminate(self, handle: RunHandle) -> None:
        self._signal(handle, signal.SIGTERM)

    def kill(self, handle: RunHandle) -> None:
        self._signal(handle, signal.SIGKILL)

    def _signal(self, handle: RunHandle, signum: int) -> None:
        _kill_group(handle.process.pid, signum)
        # Processes that started a session of their own are still in the job's cgroup.
        handle.notes["limits"].signal_all(signum)

    def out_of_memory(self, handle: RunHandle) -> bool:
        return handle.notes["limits"].out_of_memory()

    def cleanup(self, handle: RunHandle) -> None:
        handle.notes["limits"].cleanup()

    def exec_command(self, handle_notes: dict, command: list[str], env: dict[str, str]) -> list[str]:
        """Enter the running sandbox's namespaces and root, drop every capability (nsenter itself
        runs with the worker's), and start ``command`` with the job's clean environment."""
        pid = handle_notes.get("child_pid")
        if not pid:
            raise RuntimeUnavailable("This job's sandbox cannot be entered")
        enter = ["nsenter", "--target", str(pid), "--mount", "--pid", "--ipc", "--uts", "--root", "--wd", "--",
                 "/usr/bin/setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--",
                 "/usr/bin/env", "-i", *[f"{key}={value}" for key, value in env.items()], *command]
        limits = handle_notes["limits"]
        return ["/bin/sh", "-c", f'{limits.enter_command()} && exec "$@"', "kiln-exec", *enter]


def _kill_group(leader: int, signum: int = signal.SIGKILL) -> None:
    try:
        os.killpg(leader, signum)
    except ProcessLookupError:
        pass


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)
