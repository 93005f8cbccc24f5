"""A bake's plan is made once and shared between processes (``flows.plans``), signed."""

from __future__ import annotations

import pytest
from django.db import transaction

from flows import orchestrator, plans, services, spec
from flows.models import BakeAttempt
from tests.flows.helpers import DIAMOND, make_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_new_process(monkeypatch):
    """Plans made from here on, as in another process than the one that started the bake (no
    plan cached)."""
    planned: list[str] = []

    def plan_batch(*args, **kwargs):
        planned.append("planned")
        return real_plan_batch(*args, **kwargs)

    real_plan_batch = spec.plan_batch
    monkeypatch.setattr(spec, "plan_batch", plan_batch)
    yield planned
    orchestrator._plan.cache_clear()


def start(bob, django_capture_on_commit_callbacks, planned: list[str]) -> BakeAttempt:
    flow = make_flow(bob, diamond=DIAMOND)
    with django_capture_on_commit_callbacks(execute=True):
        bake = services.bake_start(by=bob, flow=flow, batch="diamond", params={})
    assert planned == ["planned"]  # by the web process, which shares it
    planned.clear()
    orchestrator._plan.cache_clear()
    return BakeAttempt.objects.get(bake=bake)


def test_the_plan_made_when_the_bake_started_is_the_one_its_ticks_use(bob, django_capture_on_commit_callbacks,
                                                                       a_new_process):
    attempt = start(bob, django_capture_on_commit_callbacks, a_new_process)
    plan = orchestrator._plan(attempt.pk, attempt.bake_id)
    assert a_new_process == []  # loaded, not planned again
    assert list(plan.tasks) == ["a", "b", "c", "d"]
    assert list(plan.tasks["d"].needs) == ["b", "c"]


def test_a_plan_not_signed_with_our_key_is_never_loaded(bob, django_capture_on_commit_callbacks, a_new_process,
                                                        monkeypatch):
    attempt = start(bob, django_capture_on_commit_callbacks, a_new_process)
    key = plans._key(attempt)
    data = plans._redis().get(key)[plans._SIGNATURE_BYTES:]
    plans._redis().set(key, b"\0" * plans._SIGNATURE_BYTES + data)  # as a writer without SECRET_KEY could
    loads: list[bytes] = []
    monkeypatch.setattr(plans.pickle, "loads", lambda raw: loads.append(raw))
    assert plans.shared_plan(attempt) is None
    plan = orchestrator._plan(attempt.pk, attempt.bake_id)
    assert loads == [] and a_new_process == ["planned"]
    assert list(plan.tasks) == ["a", "b", "c", "d"]


def test_a_plan_is_found_only_under_its_own_attempt(bob, django_capture_on_commit_callbacks, a_new_process):
    """Same id, other creation time (a database made anew beside the same Redis): planned again."""
    attempt = start(bob, django_capture_on_commit_callbacks, a_new_process)
    assert plans.shared_plan(attempt) is not None
    with transaction.atomic():
        BakeAttempt.objects.filter(pk=attempt.pk).update(created_at=attempt.created_at.replace(year=2001))
    attempt.refresh_from_db()
    assert plans.shared_plan(attempt) is None
    orchestrator._plan(attempt.pk, attempt.bake_id)
    assert a_new_process == ["planned"]
    assert plans.shared_plan(attempt) is not None  # and shared for the next process


def test_without_redis_a_tick_plans_for_itself(bob, django_capture_on_commit_callbacks, a_new_process, monkeypatch):
    attempt = start(bob, django_capture_on_commit_callbacks, a_new_process)

    class Down:
        def get(self, *args, **kwargs):
            raise ConnectionError("redis is down")

        set = get

    monkeypatch.setattr(plans, "_redis", lambda: Down())
    plans.plan_share(attempt=attempt, plan=orchestrator._plan(attempt.pk, attempt.bake_id))
    assert a_new_process == ["planned"]


def test_a_plan_is_dropped_when_its_attempt_ends(bob, django_capture_on_commit_callbacks, a_new_process):
    attempt = start(bob, django_capture_on_commit_callbacks, a_new_process)
    assert 0 < plans._redis().ttl(plans._key(attempt)) <= plans.SHARED_FOR
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_finish(attempt=attempt, status="cancelled")
    assert plans.shared_plan(attempt) is None
