"""Database connections come from a pool per process (settings.py), never shared across a fork."""

from __future__ import annotations

import os

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_connections_come_from_a_checked_pool():
    connection.ensure_connection()
    assert connection.pool is not None
    assert connection.pool.max_size >= 8  # a job host's log writers each hold one
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] and connection.settings_dict["CONN_MAX_AGE"] == 0


def test_a_forked_worker_process_makes_its_own_pool():
    """Celery's prefork children must not use the pool (threads, sockets) of the process they
    were forked from."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    import console.celery  # noqa: F401 - registers the at-fork hook, as in a worker

    connection.ensure_connection()
    assert DatabaseWrapper._connection_pools
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os._exit(0 if not DatabaseWrapper._connection_pools else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert DatabaseWrapper._connection_pools  # the parent's own is untouched
