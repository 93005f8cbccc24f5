"""WebSocket routes (all under /ws/). Apps add theirs here as they grow."""

from django.urls import path

from console import consumers

websocket_urlpatterns = [
    path("ws/resources/", consumers.ResourceEventsConsumer.as_asgi()),
    path("ws/events/", consumers.UserEventsConsumer.as_asgi()),
]
