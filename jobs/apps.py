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
