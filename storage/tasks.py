"""Celery tasks of the storage app (thin: they call services)."""

from __future__ import annotations

from celery import shared_task

from storage.services import uploads_expire


@shared_task(name="storage.expire_uploads", ignore_result=True)
def expire_uploads_task() -> int:
    """Throw away abandoned resumable uploads and leftovers of cut ones (run it hourly with beat)."""
    return uploads_expire()
