"""The runtime interface: start a job's process, stream its output, stop it, exec into it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol


class RuntimeUnavailable(RuntimeError):
    """The runtime cannot run jobs on this machine (say, bubblewrap is missing)."""


@dataclass(frozen=True)
class Mount:
    host_path: Path
    mount_path: str
    read_only: bool


@dataclass(frozen=True)
class RunSpec:
    job_id: str
    command: str
    workdir: str
    env: dict[str, str]
    mounts: list[Mount]
    cpu: float
    memory_mb: int
    image: str = ""
    scratch: Path | None = None  # a per-run folder the runtime may use (sockets, cgroup notes)


@dataclass
class RunHandle:
    """A started job: its process (output on ``stdout``, stderr merged) and runtime notes."""

    process: subprocess.Popen
    stdout: IO[bytes]
    notes: dict = field(default_factory=dict)


class Runtime(Protocol):
    name: str

    def check(self) -> None:
        """Raise ``RuntimeUnavailable`` with a clear, actionable message when jobs cannot run."""

    def start(self, spec: RunSpec) -> RunHandle: ...

    def terminate(self, handle: RunHandle) -> None:
        """Ask every process of the job to stop (SIGTERM)."""

    def kill(self, handle: RunHandle) -> None:
        """Stop every process of the job now (SIGKILL)."""

    def out_of_memory(self, handle: RunHandle) -> bool:
        """Whether the memory limit killed something."""

    def cleanup(self, handle: RunHandle) -> None: ...

    def environment(self, job_id: str, job_env: dict[str, str]) -> dict[str, str]:
        """The environment a job's processes (and exec sessions) get."""

    def exec_command(self, handle_notes: dict, command: list[str], env: dict[str, str]) -> list[str]:
        """The host command line that runs ``command`` inside the running job's sandbox."""
