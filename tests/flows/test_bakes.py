"""Bakes run by the orchestrator on real Celery workers, each task a sandboxed job."""

import pytest

from console import services as core
from console.errors import Conflict, Forbidden, NotFound, Unprocessable
from flows import services
from flows.models import BakeAttempt
from jobs.models import Job
from tests.flows.helpers import DIAMOND, LONG, make_flow, task_statuses, tasks_of, wait_bake

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

def test_diamond_runs_in_order_and_passes_outputs(celery_workers, bob):
    flow = make_flow(bob, diamond=DIAMOND)
    bake = services.bake_start(by=bob, flow=flow, batch="diamond")
    wait_bake(bake, "succeeded", "failed")
    tasks = tasks_of(bake)
    assert {k: t.status for k, t in tasks.items()} == dict.fromkeys("abcd", "succeeded")
    assert tasks["d"].outputs == {"final": "KILN-done"}
    assert tasks["b"].started_at >= tasks["a"].finished_at
    assert tasks["d"].started_at >= max(tasks["b"].finished_at, tasks["c"].finished_at)
    job = Job.objects.get(pk=tasks["d"].job_id)
    assert (job.bake_id, job.task_id, job.flow_id) == (bake.pk, "d", flow.uri)
    assert "task:d" in set(job.tag_rows.values_list("tag", flat=True))


FAILING = """
kind: batch
defaults:
  fail_fast: false
tasks:
  - id: a
    image: python:3.11
    bash: exit 3
  - id: b
    needs: [a]
    image: python:3.11
    bash: echo never
  - id: cleanup
    needs: [a]
    enable: ${{ always() }}
    image: python:3.11
    bash: echo cleaning
  - id: on_failure
    needs: [a]
    enable: ${{ failure() }}
    image: python:3.11
    bash: echo it failed
"""


def test_failed_needs_skip_unless_enable_says_otherwise(celery_workers, bob):
    bake = services.bake_start(by=bob, flow=make_flow(bob, failing=FAILING), batch="failing")
    wait_bake(bake, "succeeded", "failed", "cancelled")
    assert bake.status == "failed"
    assert task_statuses(bake) == {"a": "failed", "b": "skipped", "cleanup": "succeeded",
                                   "on_failure": "succeeded"}


FAIL_FAST = """
kind: batch
tasks:
  - id: slow
    needs: []
    image: python:3.11
    bash: sleep 120
  - id: broken
    needs: []
    image: python:3.11
    bash: sleep 1; exit 1
  - id: after
    needs: [slow]
    image: python:3.11
    bash: echo after
"""


def test_fail_fast_cancels_the_rest(celery_workers, bob):
    bake = services.bake_start(by=bob, flow=make_flow(bob, ff=FAIL_FAST), batch="ff")
    wait_bake(bake, "failed", "succeeded", "cancelled")
    statuses = task_statuses(bake)
    assert statuses["broken"] == "failed" and statuses["slow"] == "cancelled"
    assert statuses["after"] in {"skipped", "cancelled"}
    slow_job = Job.objects.get(pk=tasks_of(bake)["slow"].job_id)
    assert slow_job.status == "cancelled"


PARALLEL = """
kind: batch
defaults:
  max_parallel: 2
tasks:
  - id: t
    needs: []
    strategy:
      matrix:
        n: [1, 2, 3, 4, 5]
        kind: [x, y]
        exclude:
          - {n: 5, kind: y}
        include:
          - {n: 9, kind: z}
    image: python:3.11
    bash: sleep 0.5; echo ${{ matrix.n }}${{ matrix.kind }}
"""


def test_matrix_include_exclude_and_max_parallel(celery_workers, bob):
    bake = services.bake_start(by=bob, flow=make_flow(bob, par=PARALLEL), batch="par")
    wait_bake(bake, "succeeded", "failed", timeout=180)
    tasks = tasks_of(bake)
    assert len(tasks) == 10  # 5×2 − 1 excluded + 1 included
    assert {(t.matrix["n"], t.matrix["kind"]) for t in tasks.values()} >= {(9, "z"), (1, "x")}
    assert (5, "y") not in {(t.matrix["n"], t.matrix["kind"]) for t in tasks.values()}
    spans = sorted((t.started_at, t.finished_at) for t in tasks.values())
    for start, _ in spans:  # at no start were more than two tasks running
        assert sum(1 for s, f in spans if s <= start < f) <= 2


CACHED = """
kind: batch
tasks:
  - id: expensive
    image: python:3.11
    bash: echo "::set-output name=value::$RANDOM"
  - id: cheap
    cache:
      strategy: none
    image: python:3.11
    bash: echo "::set-output name=value::$RANDOM"
"""


def test_cache_reuses_outputs_of_the_same_spec(celery_workers, bob):
    flow = make_flow(bob, cached=CACHED)
    first = wait_bake(services.bake_start(by=bob, flow=flow, batch="cached"), "succeeded", "failed")
    second = wait_bake(services.bake_start(by=bob, flow=flow, batch="cached"), "succeeded", "failed")
    one, two = tasks_of(first), tasks_of(second)
    assert two["expensive"].status == "cached" and two["expensive"].outputs == one["expensive"].outputs
    assert two["expensive"].job_id == "" and two["expensive"].carried_from == first.pk
    assert two["cheap"].status == "succeeded" and two["cheap"].job_id != one["cheap"].job_id


RESTART = """
kind: batch
tasks:
  - id: good
    image: python:3.11
    bash: echo "::set-output name=v::1"
  - id: bad
    image: python:3.11
    bash: exit 1
"""


def test_restart_carries_succeeded_tasks_and_refuses_a_running_attempt(celery_workers, bob):
    flow = make_flow(bob, restart=RESTART)
    bake = wait_bake(services.bake_start(by=bob, flow=flow, batch="restart"), "failed", "succeeded")
    before = tasks_of(bake)
    services.bake_restart(by=bob, bake=bake)
    wait_bake(bake, "failed", "succeeded")
    after = tasks_of(bake)
    assert BakeAttempt.objects.filter(bake=bake).count() == 2
    assert after["good"].status == "succeeded" and after["good"].job_id == before["good"].job_id
    assert after["good"].carried_from and after["good"].outputs == {"v": "1"}
    assert after["bad"].job_id != before["bad"].job_id
    services.bake_restart(by=bob, bake=bake, from_failed=False)
    with pytest.raises(Conflict, match="still"):
        services.bake_restart(by=bob, bake=bake)
    wait_bake(bake, "failed", "succeeded")
    assert tasks_of(bake)["good"].job_id != before["good"].job_id  # from scratch this time



def test_cancel_kills_running_tasks_and_needs_write(celery_workers, bob, alice, carol):
    flow = make_flow(bob, long=LONG)
    core.share(by=bob, uri=flow.uri, principal="alice", level="read")
    bake = services.bake_start(by=bob, flow=flow, batch="long")
    wait_bake(bake, "running")
    from tests.jobs.conftest import wait_for

    wait_for(lambda: tasks_of(bake)["long"].job_id)
    with pytest.raises(Forbidden):
        services.bake_cancel(by=alice, bake=bake)
    with pytest.raises(NotFound):
        services.bake_cancel(by=carol, bake=bake)
    services.bake_cancel(by=bob, bake=bake)
    bake.refresh_from_db()
    assert bake.status == "cancelled" and task_statuses(bake) == {"long": "cancelled"}
    job = Job.objects.get(pk=tasks_of(bake)["long"].job_id)
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "cancelled")


def test_config_errors_refuse_the_bake_with_positions(bob):
    flow = make_flow(bob, broken="kind: batch\ntasks:\n  - id: a\n    image: x\n    bash: ${{ nope.x }}\n")
    with pytest.raises(Unprocessable) as refused:
        services.bake_start(by=bob, flow=flow, batch="broken")
    first = refused.value.details["errors"][0]
    assert (first["file"], first["line"]) == (".neuro/broken.yml", 5) and first["column"] > 1
    with pytest.raises(NotFound, match="no batch"):
        services.bake_start(by=bob, flow=flow, batch="missing")


def test_a_bake_whose_worker_died_is_resumed_by_another(celery_workers, bob):
    """Kill -9 the worker that runs the bake's task: another worker notices (heartbeats), the
    task's job ends WorkerLost, and the orchestrator, resumed elsewhere, finishes the bake."""
    import time

    spare = celery_workers.start()
    flow = make_flow(bob, chain="kind: batch\ntasks:\n  - id: one\n    image: x\n    bash: sleep 120\n"
                                "  - id: two\n    enable: ${{ always() }}\n    image: x\n    bash: echo two\n")
    bake = services.bake_start(by=bob, flow=flow, batch="chain")
    from tests.jobs.conftest import wait_for

    job_id = wait_for(lambda: tasks_of(bake)["one"].job_id)
    job = Job.objects.get(pk=job_id)
    wait_for(lambda: Job.objects.get(pk=job_id).worker)
    job.refresh_from_db()
    victim = next(p for p in celery_workers.alive() if job.worker.startswith(p.hostname + "@"))
    started = time.monotonic()
    celery_workers.kill_hard(victim)
    wait_bake(bake, "failed", "succeeded", timeout=90)
    print(f"bake finished {time.monotonic() - started:.1f} s after its worker died")
    assert task_statuses(bake) == {"one": "failed", "two": "succeeded"}
    assert tasks_of(bake)["one"].reason == "WorkerLost"
    if spare.poll() is not None or victim is spare:
        celery_workers.start()
