"""WebSocket routes of the flows app."""

from django.urls import path

from flows import consumers

websocket_urlpatterns = [
    path("ws/bakes/<str:bake_id>/", consumers.BakeEventsConsumer.as_asgi()),
]
