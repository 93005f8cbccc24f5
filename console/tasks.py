"""Core Celery tasks (thin: they call services)."""

from __future__ import annotations

import socket
from typing import Any

from celery import shared_task

from console.realtime import publish_resource_event
from console.uris import parse_uri


@shared_task(name="console.ping")
def ping() -> dict[str, str]:
    """Health check: proves a worker takes tasks from the broker and answers."""
    return {"status": "pong", "host": socket.gethostname()}


@shared_task(name="console.publish_resource_event")
def publish_resource_event_task(uri: str, event: dict[str, Any]) -> None:
    """Publish an event about ``uri`` from a worker (for callers that must not wait on Redis)."""
    publish_resource_event(parse_uri(uri), event)
