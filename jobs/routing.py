"""WebSocket routes of the jobs app, mounted by console/routing.py."""

websocket_urlpatterns: list = []
