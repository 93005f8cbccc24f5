"""Multi live jobs (DESIGN §6): every run is a new job named ``<flow-id>-<job-id>-<suffix>`` with
its own suffix, and the args given to the run reach the job's command as ``multi.args``."""

from __future__ import annotations

import re
import textwrap

import pytest

from flows import services
from jobs.models import Job
from tests.jobs.conftest import wait_status

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIVE = """
kind: live
jobs:
  shout:
    image: python:3.11
    multi: true
    bash: |
      python3 -c 'import sys; print("argv", sys.argv[1:])' ${{ multi.args }}
      echo "suffix ${{ multi.suffix }}"
"""


def log_lines(job: Job) -> list[str]:
    from jobs.selectors import job_logs_after

    return [text for _, text in job_logs_after(job=job)[0]]


def test_multi_runs_are_named_with_distinct_suffixes_and_get_their_args(celery_workers, alice, client_for):
    services.flow_sync(by=alice, folder="storage:multiflow",
                       files={".neuro/project.yml": "id: multiflow\n", ".neuro/live.yml": textwrap.dedent(LIVE)})
    client = client_for(alice)
    runs = []
    for args in (["one", "two words", "$HOME;exit 1"], ["--flag=x"], []):
        response = client.post("/api/v1/flows/multiflow/live/shout/run/", {"args": args}, format="json")
        assert response.status_code == 201, response.json()
        runs.append((args, Job.objects.get(pk=response.json()["job"]["id"])))

    suffixes = []
    for args, job in runs:
        named = re.fullmatch(r"multiflow-shout-([a-z0-9]+)", job.name)
        assert named, job.name
        suffix = named.group(1)
        suffixes.append(suffix)
        tags = set(job.tag_rows.values_list("tag", flat=True))
        assert {"project:multiflow", "job:shout", f"multi:{suffix}"} <= tags
        wait_status(job, "succeeded", "failed")
        lines = log_lines(job)  # stored before the job's end is
        assert job.status == "succeeded", lines
        assert f"argv {args!r}" in lines  # each arg arrives whole, quoted, never run by the shell
        assert f"suffix {suffix}" in lines
    assert len(set(suffixes)) == len(suffixes)
