from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.resource_kinds import ResourceKind, register_resource_kind
        from flows.selectors import flow_uri_exists
        from jobs.liveness import register_check
        from jobs.signals import job_status_changed, jobs_status_changed

        register_resource_kind(ResourceKind("flow", exists=flow_uri_exists))
        job_status_changed.connect(_job_changed, dispatch_uid="flows.job_changed")
        jobs_status_changed.connect(_jobs_changed, dispatch_uid="flows.jobs_changed")
        register_check(_resume_bakes)
        from celery.signals import worker_process_init

        worker_process_init.connect(_in_worker, weak=False, dispatch_uid="flows.in_worker")


_IN_WORKER = False


def _in_worker(**_: object) -> None:
    global _IN_WORKER
    _IN_WORKER = True


def _job_changed(sender: object, job: object, status: str, **_: object) -> None:
    _jobs_changed(sender, jobs=[job])


def _jobs_changed(sender: object, jobs: list, **_: object) -> None:
    """Jobs of flows changed. A live job's flow page (its `ps` view) hears of it; a bake whose job
    ended is ticked — right here in a worker (once per bake for a batch of endings), queued
    elsewhere (a kill from the web). A job that started changes nothing for its bake."""
    from console.realtime import publish_resource_event
    from console.uris import parse_uri

    ended: dict[str, int] = {}  # bake: how many of its jobs ended here
    for job in jobs:
        bake_id, flow_uri, status = getattr(job, "bake_id", ""), getattr(job, "flow_id", ""), job.status
        if flow_uri and not bake_id:
            publish_resource_event(parse_uri(flow_uri), {"type": "flow.live_job", "job_id": job.pk,
                                                         "task_id": job.task_id, "status": status})
        elif bake_id and status not in ("pending", "running"):
            ended[bake_id] = ended.get(bake_id, 0) + 1
    if not ended:
        return
    from flows.orchestrator import request_tick, tick_now_or_later

    for bake_id, count in ended.items():
        if _IN_WORKER:
            tick_now_or_later(bake_id, ended=count)
        else:
            request_tick(bake_id)


def _resume_bakes() -> None:
    from flows.orchestrator import bakes_resume_stale

    bakes_resume_stale()
