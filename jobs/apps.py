from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.resource_kinds import ResourceKind, register_resource_kind
        from jobs import liveness
        from jobs.selectors import job_uri_exists

        register_resource_kind(ResourceKind("job", exists=job_uri_exists))
        liveness.connect_signals()
        from celery.signals import worker_process_shutdown

        worker_process_shutdown.connect(_drain_host, weak=False, dispatch_uid="jobs.drain_host")


def _drain_host(**_: object) -> None:
    """A warm shutdown lets the jobs this process runs finish (as when each job held a process)."""
    from jobs.host import JobHost
    from jobs.runtime.limits import close_pools

    host = JobHost.current()
    if host is not None:
        host.drain()
    close_pools()  # Celery's pool processes leave with os._exit: no atexit hooks run
