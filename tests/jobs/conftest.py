import time

import pytest

from jobs.models import Job


def wait_for(predicate, timeout: float = 60, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy (returns it); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(interval)


def wait_status(job: Job, *statuses: str, timeout: float = 60) -> Job:
    def reached():
        job.refresh_from_db()
        return job.status in statuses

    wait_for(reached, timeout)
    return job


@pytest.fixture
def logs_of():
    from jobs.selectors import job_logs_after

    def read(job: Job) -> list[str]:
        return [text for _, text in job_logs_after(job=job, after=-1, limit=1_000_000)[0]]

    return read
