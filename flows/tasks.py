"""Celery tasks of the flows app (thin)."""

from __future__ import annotations

from celery import shared_task

from flows.orchestrator import bake_tick, tick_ended, tick_started


@shared_task(name="flows.tick_bake", ignore_result=True)
def tick_bake(bake_id: str) -> None:
    tick_started(bake_id)
    try:
        bake_tick(bake_id=bake_id)
    finally:
        tick_ended(bake_id)
