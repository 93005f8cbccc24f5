"""HTTP API of flows and bakes (thin)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.apis import parse
from console.errors import InvalidInput, NotFound
from console.pagination import NewestFirstCursorPagination
from flows import selectors, services, spec
from jobs.selectors import job_summary


def flow_output(flow, *, user) -> dict:  # noqa: ANN001
    level = selectors.flow_level(user, flow)
    return {
        "id": flow.flow_id,
        "uri": flow.uri,
        "title": flow.title,
        "owner": flow.owner.username,
        "folder": flow.storage_uri,
        "config_dir": flow.config_dir,
        "created_at": flow.created_at.isoformat(),
        "last_activity_at": flow.last_activity_at.isoformat(),
        "my_level": level.codename if level else None,
    }


class FlowCreateInput(serializers.Serializer):
    folder = serializers.CharField(required=False, allow_blank=True, max_length=1024,
                                   help_text="import: the project folder in storage")
    template = serializers.BooleanField(required=False, default=False, help_text="create from Kiln's template")
    name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class FlowListApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        flows = selectors.flow_list_visible(user=request.user)
        return Response({"results": [flow_output(flow, user=request.user) for flow in flows]})

    @extend_schema(request=FlowCreateInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(FlowCreateInput, request.data)
        if data["template"]:
            flow = services.flow_create_from_template(by=request.user, name=data.get("name", ""),
                                                      title=data["title"], folder=data.get("folder", ""))
        elif data.get("folder"):
            flow = services.flow_import(by=request.user, folder=data["folder"], title=data["title"])
        else:
            raise InvalidInput("Give a folder to import, or template=true and a name", details={"folder": ["required"]})
        return Response(flow_output(flow, user=request.user), status=201)


class FilesInput(serializers.Serializer):
    files = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False))
    config_dir = serializers.CharField(required=False, allow_blank=True, default="")
    folder_name = serializers.CharField(required=False, allow_blank=True, default="")


class FlowCheckApi(APIView):
    """Validate config files sent in the request, importing nothing (``kiln flow check``)."""

    @extend_schema(request=FilesInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(FilesInput, request.data)
        loaded = spec.load_project(data["files"], config_dir=data["config_dir"] or None,
                                   folder_name=data["folder_name"] or None)
        return Response({"ok": loaded.ok, "errors": selectors.errors_output(loaded.errors),
                         "warnings": selectors.errors_output(loaded.warnings),
                         "batches": sorted(loaded.project.batches),
                         "live_jobs": [job.id for job in spec.list_live_jobs(loaded.project)]})


class SyncInput(serializers.Serializer):
    folder = serializers.CharField(max_length=1024)
    files = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False))


class FlowSyncApi(APIView):
    """Write a local project's config files to its storage folder and import it."""

    @extend_schema(request=SyncInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(SyncInput, request.data)
        flow = services.flow_sync(by=request.user, folder=data["folder"], files=data["files"])
        return Response(flow_output(flow, user=request.user))


class FlowDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response:
        flow = selectors.flow_get_visible(user=request.user, ref=ref)
        body = flow_output(flow, user=request.user)
        try:
            loaded = selectors.flow_load(flow=flow)
        except NotFound as error:
            return Response({**body, "ok": False, "errors": [{"file": "", "line": 0, "column": 0,
                                                              "message": error.message, "text": error.message}],
                             "live_jobs": [], "batches": []})
        return Response({
            **body,
            "ok": loaded.ok,
            "errors": selectors.errors_output(loaded.errors),
            "warnings": selectors.errors_output(loaded.warnings),
            "live_jobs": selectors.flow_live_jobs(flow=flow, project=loaded.project),
            "batches": [{"id": b.id, "title": b.title, "file": b.file,
                         "params": [{"name": p.name, "default": p.default, "descr": p.descr, "required": p.required}
                                    for p in b.params]} for b in spec.list_batches(loaded.project)],
        })

    @extend_schema(responses={204: None})
    def delete(self, request: Request, ref: str) -> Response:
        services.flow_delete(by=request.user, flow=selectors.flow_get_visible(user=request.user, ref=ref))
        return Response(status=204)


class LiveRunInput(serializers.Serializer):
    params = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    args = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class FlowLiveRunApi(APIView):
    @extend_schema(request=LiveRunInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, ref: str, job_id: str) -> Response:
        flow = selectors.flow_get_visible(user=request.user, ref=ref)
        data = parse(LiveRunInput, request.data)
        job, started = services.flow_live_run(by=request.user, flow=flow, job_id=job_id, params=data["params"],
                                              args=data["args"])
        return Response({"started": started, "job": job_summary(job)}, status=201 if started else 200)


class LiveKillInput(serializers.Serializer):
    suffix = serializers.CharField(required=False, allow_blank=True, max_length=64, default="",
                                   help_text="which instance of a multi job (required for one)")


class FlowLiveKillApi(APIView):
    """Kill a live job's run, or one instance of a multi job (apolo-flow's ``kill JOB SUFFIX``)."""

    @extend_schema(request=LiveKillInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, ref: str, job_id: str) -> Response:
        flow = selectors.flow_get_visible(user=request.user, ref=ref)
        data = parse(LiveKillInput, request.data)
        job = services.flow_live_kill(by=request.user, flow=flow, job_id=job_id, suffix=data["suffix"] or None)
        return Response(job_summary(job))


class BakeStartInput(serializers.Serializer):
    batch = serializers.CharField(max_length=200)
    params = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    tags = serializers.ListField(child=serializers.CharField(max_length=256), required=False, default=list)


class FlowBakeListApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response:
        flow = selectors.flow_get_visible(user=request.user, ref=ref)
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(selectors.bake_list(flow=flow), request, view=self)
        return paginator.get_paginated_response([selectors.bake_summary(bake) for bake in page])

    @extend_schema(request=BakeStartInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, ref: str) -> Response:
        flow = selectors.flow_get_visible(user=request.user, ref=ref)
        data = parse(BakeStartInput, request.data)
        bake = services.bake_start(by=request.user, flow=flow, batch=data["batch"], params=data["params"],
                                   name=data["name"], tags=data["tags"])
        return Response(selectors.bake_detail(bake, user=request.user), status=201)


class BakeDetailApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("attempt", int)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, bake_id: str) -> Response:
        bake = selectors.bake_get_visible(user=request.user, bake_id=bake_id)
        number = request.query_params.get("attempt")
        if number is not None and not number.isdigit():
            raise InvalidInput("attempt must be a number")
        return Response(selectors.bake_detail(bake, user=request.user, attempt_number=int(number) if number else None))


class BakeCancelApi(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, bake_id: str) -> Response:
        bake = selectors.bake_get_visible(user=request.user, bake_id=bake_id)
        services.bake_cancel(by=request.user, bake=bake)
        return Response(selectors.bake_detail(bake, user=request.user))


class RestartInput(serializers.Serializer):
    from_failed = serializers.BooleanField(required=False, default=True)


class BakeRestartApi(APIView):
    @extend_schema(request=RestartInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, bake_id: str) -> Response:
        bake = selectors.bake_get_visible(user=request.user, bake_id=bake_id)
        data = parse(RestartInput, request.data)
        services.bake_restart(by=request.user, bake=bake, from_failed=data["from_failed"])
        return Response(selectors.bake_detail(bake, user=request.user), status=201)


class BakeGraphApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["dot", "svg", "pdf"]),
                               OpenApiParameter("attempt", int)], responses=OpenApiTypes.STR)
    def get(self, request: Request, bake_id: str) -> HttpResponse:
        bake = selectors.bake_get_visible(user=request.user, bake_id=bake_id)
        number = request.query_params.get("attempt")
        attempt = bake.attempts.filter(number=int(number)).first() if number and number.isdigit() \
            else selectors.last_attempt(bake)
        if attempt is None:
            raise NotFound(f"Bake {bake.pk} has no attempt {number}")
        kind = request.query_params.get("format", "dot")
        if kind == "dot":
            response = HttpResponse(selectors.bake_graph_dot(attempt), content_type="text/vnd.graphviz; charset=utf-8")
        elif kind in selectors.GRAPH_RENDERINGS:
            response = HttpResponse(selectors.bake_graph_rendered(attempt, kind),
                                    content_type=selectors.GRAPH_RENDERINGS[kind])
        else:
            raise InvalidInput("format is dot, svg or pdf")
        response["Content-Disposition"] = f'attachment; filename="{bake.pk}.{kind}"'
        return response


class VolumesQuery(serializers.Serializer):
    job = serializers.CharField(required=False, allow_blank=True, default="", help_text="a live job: what it uploads")
    param = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, default=list,
                                  help_text="NAME=VALUE (repeatable)")
    arg = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                help_text="multi.args of a multi job (repeatable)")

    def validate_param(self, pairs: list[str]) -> dict[str, str]:
        params: dict[str, str] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or not name:
                raise serializers.ValidationError(f"{pair!r} is not NAME=VALUE")
            params[name] = value
        return params


class FlowVolumeListApi(APIView):
    """The flow's volumes evaluated as live jobs see them, and what a live job uploads (the CLI's
    ``kiln flow upload``/``download``/``run``); reading the flow is enough."""

    @extend_schema(parameters=[VolumesQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response:
        flow = selectors.flow_get_visible(user=request.user, ref=ref)
        query = parse(VolumesQuery, request.query_params)
        return Response(selectors.flow_volumes(user=request.user, flow=flow, job_id=query["job"] or None,
                                               params=query["param"], args=query["arg"]))
