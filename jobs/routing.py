"""WebSocket routes of the jobs app."""

from django.urls import path, re_path

from jobs import consumers
from jobs.browse import BrowseWebSocketProxy

websocket_urlpatterns = [
    path("ws/jobs/<str:job_id>/logs/", consumers.JobLogsConsumer.as_asgi()),
    path("ws/jobs/<str:job_id>/exec/", consumers.JobExecConsumer.as_asgi()),
    re_path(r"^jobs/(?P<ref>[^/]+)/browse/(?P<path>.*)$", BrowseWebSocketProxy.as_asgi()),
]
