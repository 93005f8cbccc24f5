"""The web server's database connections come from a pool (settings.py); workers keep persistent
ones instead (console/celery.py); no pool is ever shared across a fork."""

from __future__ import annotations

import os

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_connections_come_from_a_checked_pool():
    connection.ensure_connection()
    assert connection.pool is not None and connection.pool.max_size >= 4
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] and connection.settings_dict["CONN_MAX_AGE"] == 0


def test_a_forked_worker_process_forgets_the_pool_it_inherits():
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


def test_worker_processes_keep_persistent_connections_instead(monkeypatch, settings):
    """A worker's threads keep their own connections (checking one out of the pool and back at
    every task and beat cost a fan-out ~5 %)."""
    import copy

    from django.db import connections

    from console.celery import _keep_database_connections

    wrapper = connections["default"]
    monkeypatch.setattr(wrapper, "settings_dict", copy.deepcopy(wrapper.settings_dict))
    _keep_database_connections()
    assert "pool" not in wrapper.settings_dict["OPTIONS"]
    assert wrapper.settings_dict["CONN_MAX_AGE"] == settings.KILN_WORKER_DB_CONN_MAX_AGE
