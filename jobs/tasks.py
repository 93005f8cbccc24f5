"""Celery tasks of the jobs app (thin: they call the runner and services)."""

from __future__ import annotations

from celery import shared_task

from jobs.runner import job_execute
from jobs.services import jobs_recover_lost


@shared_task(bind=True, name="jobs.run_job")
def run_job(self, job_id: str) -> None:  # noqa: ANN001
    """Run one job to its end on this worker (the task lasts as long as the job)."""
    job_execute(job_id=job_id, worker=self.request.hostname or "worker")


@shared_task(name="jobs.recover_lost")
def recover_lost() -> list[str]:
    return jobs_recover_lost()
