"""WebSocket routes of the storage app, mounted by console/routing.py."""

websocket_urlpatterns: list = []
