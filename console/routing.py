"""WebSocket routes (all under /ws/). Apps add theirs here as they grow."""

from django.urls import path

from console import consumers
from flows.routing import websocket_urlpatterns as flows_ws
from jobs.routing import websocket_urlpatterns as jobs_ws
from storage.routing import websocket_urlpatterns as storage_ws

websocket_urlpatterns = [
    path("ws/resources/", consumers.ResourceEventsConsumer.as_asgi()),
    path("ws/events/", consumers.UserEventsConsumer.as_asgi()),
    *jobs_ws,
    *storage_ws,
    *flows_ws,
]
