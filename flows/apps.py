from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.resource_kinds import ResourceKind, register_resource_kind
        from flows.selectors import flow_uri_exists
        from jobs.liveness import register_check
        from jobs.signals import job_status_changed

        register_resource_kind(ResourceKind("flow", exists=flow_uri_exists))
        job_status_changed.connect(_job_changed, dispatch_uid="flows.job_changed")
        register_check(_resume_bakes)


def _job_changed(sender: object, job: object, status: str, **_: object) -> None:
    bake_id = getattr(job, "bake_id", "")
    if bake_id:
        from flows.orchestrator import request_tick

        request_tick(bake_id)


def _resume_bakes() -> None:
    from flows.orchestrator import bakes_resume_stale

    bakes_resume_stale()
