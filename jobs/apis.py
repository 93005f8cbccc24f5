"""HTTP API of jobs (thin: parse, call one service or selector, shape the answer)."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.apis import parse
from console.errors import InvalidInput
from console.pagination import NewestFirstCursorPagination
from jobs import selectors, services
from jobs.models import RestartPolicy


class JobRunInput(serializers.Serializer):
    image = serializers.CharField(max_length=300)
    command = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40)
    workdir = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    volumes = serializers.ListField(child=serializers.CharField(max_length=1200), required=False, default=list)
    preset = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    http_port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)
    http_auth = serializers.BooleanField(required=False, default=True)
    life_span = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    schedule_timeout = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    tags = serializers.ListField(child=serializers.CharField(max_length=256), required=False, default=list)
    restart_policy = serializers.ChoiceField(choices=RestartPolicy.values, required=False,
                                             default=RestartPolicy.NEVER)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    share = serializers.ListField(child=serializers.CharField(max_length=160), required=False, default=list)


def _many(request: Request, key: str) -> list[str]:
    values: list[str] = []
    for raw in request.query_params.getlist(key):
        values += [part.strip() for part in raw.split(",") if part.strip()]
    return values


def _when(request: Request, key: str):  # noqa: ANN202
    raw = request.query_params.get(key)
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        raise InvalidInput(f"{key} must be an ISO 8601 date and time", details={key: [raw]})
    return value


_FLAG = {"1", "true", "yes", "on"}
_LIST_PARAMS = [
    OpenApiParameter("all", bool, description="include finished jobs"),
    OpenApiParameter("status", str, many=True), OpenApiParameter("name", str),
    OpenApiParameter("tag", str, many=True), OpenApiParameter("owner", str, many=True),
    OpenApiParameter("shared", bool, description="only jobs of others shared with me"),
    OpenApiParameter("since", OpenApiTypes.DATETIME), OpenApiParameter("until", OpenApiTypes.DATETIME),
]


class JobListApi(APIView):
    @extend_schema(parameters=_LIST_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        jobs = selectors.job_list_visible(
            user=request.user,
            include_finished=request.query_params.get("all", "").lower() in _FLAG,
            statuses=_many(request, "status"),
            name=request.query_params.get("name") or None,
            tags=_many(request, "tag"),
            owners=_many(request, "owner"),
            shared_with_me=request.query_params.get("shared", "").lower() in _FLAG,
            since=_when(request, "since"),
            until=_when(request, "until"),
        )
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response([selectors.job_summary(job) for job in page])

    @extend_schema(request=JobRunInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(JobRunInput, request.data)
        job = services.job_run(by=request.user, share_with=data.pop("share"), **data)
        return Response(selectors.job_detail(job, user=request.user), status=201)


class JobDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response:
        job = selectors.job_get_visible(user=request.user, ref=ref)
        return Response(selectors.job_detail(job, user=request.user))


class JobHistoryApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response:
        job = selectors.job_get_visible(user=request.user, ref=ref)
        return Response({"results": selectors.job_history(job)})


class JobKillApi(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, ref: str) -> Response:
        job = selectors.job_get_visible(user=request.user, ref=ref)
        services.job_kill(job=job, by=request.user)
        return Response(selectors.job_detail(job, user=request.user))


class JobLogsApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("after", int, description="last offset already seen (-1: none)"),
                               OpenApiParameter("limit", int), OpenApiParameter("format", str, enum=["json", "text"])],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response | StreamingHttpResponse:
        job = selectors.job_get_visible(user=request.user, ref=ref)
        try:
            after = int(request.query_params.get("after", -1))
            limit = min(int(request.query_params.get("limit", 10_000)), 100_000)
        except ValueError:
            raise InvalidInput("after and limit must be integers") from None
        if request.query_params.get("format") == "text":
            response = StreamingHttpResponse(selectors.job_log_text(job=job), content_type="text/plain; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{job.pk}.log"'
            return response
        lines, last = selectors.job_logs_after(job=job, after=after, limit=limit)
        job.refresh_from_db(fields=["status", "log_lines"])
        return Response({
            "lines": [{"offset": offset, "text": text} for offset, text in lines],
            "last_offset": last,
            "status": job.status,
            "finished": not job.is_active and last >= job.log_lines - 1,
        })


class PresetListApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({
            "default": settings.KILN_DEFAULT_PRESET,
            "results": [{"name": name, **spec} for name, spec in settings.KILN_PRESETS.items()],
        })
