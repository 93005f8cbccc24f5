"""ASGI entry point: HTTP (DRF API, SPA, admin) and WebSockets in one server.

Run with ``uvicorn console.asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_http = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from console.realtime import WebSocketAuthMiddleware  # noqa: E402
from console.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {"http": django_http, "websocket": WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))}
)
