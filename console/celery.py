"""The Celery app: ``celery -A console worker``. Configuration lives in settings (CELERY_*)."""

import gc
import os

from celery import Celery
from celery.signals import task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _keep_database_connections(**_: object) -> None:
    """Workers keep their database connections between tasks (a job or a tick per fresh
    connection cost ~10 ms each): each thread its own, persistent, rather than one from the pool
    the web server uses, which a thread gives back and takes again (with its check) at every task
    and every beat: a 1,000-task fan-out took ~5 % longer that way. Health checks drop a
    connection that broke. (A job's thread that stores its own logs, a long and chatty job's, has
    a connection for the job's life.)"""
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict.get("OPTIONS", {}).pop("pool", None)
        connections[alias].settings_dict["CONN_MAX_AGE"] = settings.KILN_WORKER_DB_CONN_MAX_AGE
        connections[alias].settings_dict["CONN_HEALTH_CHECKS"] = True


def _forget_inherited_pools() -> None:
    """A forked worker process must not use its parent's connection pool: the pool's threads did
    not come along, and its connections' sockets are the parent's. Forgotten, not closed (closing
    would end the parent's sessions); the child makes its own on first use."""
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except ImportError:  # no psycopg: no pools
        return
    DatabaseWrapper._connection_pools.clear()


os.register_at_fork(after_in_child=_forget_inherited_pools)


@worker_process_init.connect
def _freeze_startup_objects(**_: object) -> None:
    """Move what Django, Celery and the apps built at start-up out of the garbage collector's
    sight: a full collection then walks only what tasks created. In a busy job host (threads,
    querysets, model instances per job) collections cost ~5 % of all CPU before this."""
    gc.collect()
    gc.freeze()


@task_prerun.connect
def _check_database_connections(task: object = None, **_: object) -> None:
    """Celery's Django fix-up closes every connection after each task unless CELERY_DB_REUSE_MAX
    is set (settings.py sets it): then this drops, before a task, a connection past its age or
    one that broke, as Django does at the start of a request. Not for a task run eagerly in the
    caller's thread: the connection is the caller's (maybe inside its transaction)."""
    from django.db import close_old_connections

    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()
