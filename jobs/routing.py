"""WebSocket routes of the jobs app."""

from django.urls import path

from jobs import consumers

websocket_urlpatterns = [
    path("ws/jobs/<str:job_id>/logs/", consumers.JobLogsConsumer.as_asgi()),
]
