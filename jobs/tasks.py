"""Celery tasks of the jobs app (thin: they call the runner and services)."""

from __future__ import annotations

from celery import shared_task

from jobs.host import JobHost
from jobs.services import jobs_recover_lost


@shared_task(bind=True, name="jobs.run_jobs", ignore_result=True)
def run_jobs(self, job_ids: list[str]) -> None:  # noqa: ANN001
    """Start these jobs in this worker process's job host; returns once they are claimed (it waits
    while the host's slots are all taken)."""
    JobHost.get(self.request.hostname or "worker").submit(job_ids)


@shared_task(bind=True, name="jobs.run_job", ignore_result=True)
def run_job(self, job_id: str) -> None:  # noqa: ANN001
    """One job (messages queued before ``run_jobs`` existed)."""
    JobHost.get(self.request.hostname or "worker").submit([job_id])


@shared_task(name="jobs.recover_lost", ignore_result=True)
def recover_lost() -> list[str]:
    return jobs_recover_lost()
