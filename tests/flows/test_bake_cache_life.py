"""Bake-level semantics with real workers that test_bakes.py leaves out: the task cache's life
span (an entry older than a task's ``cache.life_span`` is not reused) and ``needs`` in the
``running`` mode (a task starts once its need runs, without waiting for it to finish; such a need
is not in the task's ``needs`` context, as in apolo-flow, so the task reads nothing of it)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows import services
from flows.models import TaskCacheEntry
from tests.flows.helpers import make_flow, tasks_of, wait_bake

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIFE_SPANS = """
kind: batch
tasks:
  - id: short
    needs: []
    cache:
      life_span: 1h
    image: python:3.11
    bash: echo "::set-output name=value::$RANDOM$RANDOM"
  - id: lasting
    needs: []
    image: python:3.11
    bash: echo "::set-output name=value::$RANDOM$RANDOM"
"""


def test_a_cache_entry_older_than_the_tasks_life_span_is_not_reused(celery_workers, bob):
    flow = make_flow(bob, spans=LIFE_SPANS)

    def bake() -> dict:
        done = wait_bake(services.bake_start(by=bob, flow=flow, batch="spans"), "succeeded", "failed")
        assert done.status == "succeeded", tasks_of(done)
        return tasks_of(done)

    first = bake()
    second = bake()  # within both life spans: both cached
    assert {task_id: task.status for task_id, task in second.items()} == {"short": "cached", "lasting": "cached"}
    assert second["short"].outputs == first["short"].outputs

    # Two hours later: past short's 1h, well within lasting's default 14 days.
    TaskCacheEntry.objects.filter(flow=flow).update(created_at=first["short"].finished_at - timedelta(hours=2))
    third = bake()
    assert third["lasting"].status == "cached" and third["lasting"].outputs == first["lasting"].outputs
    assert third["short"].status == "succeeded" and third["short"].job_id
    assert third["short"].job_id != first["short"].job_id and third["short"].outputs["value"]
    # The fresh run is what the cache holds now: the next bake reuses it.
    fourth = bake()
    assert fourth["short"].status == "cached" and fourth["short"].outputs == third["short"].outputs


RUNNING_NEED = """
kind: batch
tasks:
  - id: server
    needs: []
    image: python:3.11
    bash: sleep 8; echo "::set-output name=served::yes"
  - id: client
    needs:
      server: running
    image: python:3.11
    bash: echo client
  - id: after
    needs: [server]
    image: python:3.11
    bash: echo after
"""


def test_a_task_needing_another_running_starts_while_it_runs(celery_workers, bob):
    flow = make_flow(bob, serve=RUNNING_NEED)
    bake = wait_bake(services.bake_start(by=bob, flow=flow, batch="serve"), "succeeded", "failed")
    tasks = tasks_of(bake)
    assert {task_id: task.status for task_id, task in tasks.items()} == dict.fromkeys(
        ("server", "client", "after"), "succeeded")
    server, client, after = tasks["server"], tasks["client"], tasks["after"]
    assert server.started_at <= client.started_at
    assert client.finished_at < server.finished_at  # it started, and ended, while server still ran
    assert after.started_at >= server.finished_at  # a plain need still waits for the end
