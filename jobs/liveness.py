"""Every Celery worker checks, every few seconds, for jobs whose worker died (no heartbeat) and
for pending jobs past their schedule timeout. Any worker may do it; the checks are idempotent
conditional updates, so several workers checking at once agree on one outcome."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_stop = threading.Event()
_extra_checks: list = []


def register_check(check: object) -> None:
    """Another app's periodic check (flows resumes bakes nobody drives) run by the same loop."""
    _extra_checks.append(check)


def _loop() -> None:
    from jobs.services import jobs_recover_lost

    while not _stop.wait(settings.KILN_LIVENESS_CHECK_INTERVAL):
        try:
            close_old_connections()
            recovered = jobs_recover_lost()
            if recovered:
                log.warning("recovered jobs whose worker was lost or that never started: %s", recovered)
            for check in _extra_checks:
                check()
        except Exception:
            log.exception("liveness check failed; trying again")


def connect_signals() -> None:
    from celery.signals import worker_ready, worker_shutdown

    @worker_ready.connect(weak=False)
    def start_checks(**_: object) -> None:
        threading.Thread(target=_loop, name="kiln-liveness", daemon=True).start()

    @worker_shutdown.connect(weak=False)
    def stop_checks(**_: object) -> None:
        _stop.set()
