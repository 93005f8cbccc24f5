"""Signals other apps listen to without the jobs app knowing them (flows drives bakes with it)."""

from django.dispatch import Signal

# Sent after commit of every status change of a job: kwargs ``job`` (the Job, refreshed), ``status``.
job_status_changed = Signal()
# Sent after commit when a worker's job host moved several jobs at once (claimed, or ended):
# kwargs ``jobs`` (the Jobs, with their new status).
jobs_status_changed = Signal()
