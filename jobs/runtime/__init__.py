"""Job runtimes: one interface (``Runtime``), chosen by ``settings.KILN_JOB_RUNTIME``."""

from __future__ import annotations

from django.conf import settings

from jobs.runtime.base import RunHandle, RunSpec, Runtime, RuntimeUnavailable


def get_runtime() -> Runtime:
    name = settings.KILN_JOB_RUNTIME
    if name == "local":
        from jobs.runtime.local import LocalRuntime

        return LocalRuntime()
    raise RuntimeUnavailable(f"Unknown job runtime {name!r} (KILN_JOB_RUNTIME): the runtimes are: local")


__all__ = ["RunHandle", "RunSpec", "Runtime", "RuntimeUnavailable", "get_runtime"]
