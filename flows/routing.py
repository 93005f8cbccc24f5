"""WebSocket routes of the flows app, mounted by console/routing.py."""

websocket_urlpatterns: list = []
