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
from functools import lru_cache

from django.conf import settings

from jobs.runtime.base import RunHandle, RunSpec, RuntimeUnavailable
from jobs.runtime.limits import limits_for
from jobs.runtime.shell import direct_argv

SYSTEM_DIRS = ("/usr", "/etc", "/opt")
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

    def command_line(self, spec: RunSpec, info_fd: int) -> list[str]:
        python_binds, _ = self._python_binds()
        args = [
            self.bwrap or "bwrap",
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
        self.check()
        limits = limits_for(spec.job_id, spec.cpu, spec.memory_mb, settings.KILN_JOB_CGROUP_PARENT)
        info_read, info_write = os.pipe()
        bwrap = self.command_line(spec, info_write)
        # Enter the limits first, then become bubblewrap: everything the job starts inherits them.
        launcher = f"{limits.enter_command()} && exec {shlex.join(bwrap)}"
        try:
            process = subprocess.Popen(
                ["/bin/sh", "-c", launcher],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(info_write,),
                start_new_session=True,  # its own process group: signals reach all of it
                close_fds=True,
            )
        except BaseException:
            limits.cleanup()  # gives the job's cgroup back to the pool
            raise
        finally:
            os.close(info_write)
        child_pid = self._read_child_pid(info_read)
        return RunHandle(process=process, stdout=process.stdout, notes={
            "limits": limits, "child_pid": child_pid, "limits_kind": limits.kind,
        })

    @staticmethod
    def _read_child_pid(fd: int) -> int | None:
        """bubblewrap reports the sandbox's init PID on ``--info-fd`` (used by exec)."""
        with os.fdopen(fd, "rb") as info:
            data = info.read()
        try:
            return int(json.loads(data or b"{}").get("child-pid"))
        except (ValueError, TypeError):
            return None

    def terminate(self, handle: RunHandle) -> None:
        self._signal(handle, signal.SIGTERM)

    def kill(self, handle: RunHandle) -> None:
        self._signal(handle, signal.SIGKILL)

    def _signal(self, handle: RunHandle, signum: int) -> None:
        try:
            os.killpg(handle.process.pid, signum)
        except ProcessLookupError:
            pass
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
