"""ASGI entry point: HTTP (DRF API, SPA, admin, browse proxy) and WebSockets in one server.

Run with ``uvicorn console.asgi:application --ws websockets --http console.server:HttpProtocol``.
HTTP goes through Django's ASGI handler, extended so the storage upload endpoints read their bodies
as a stream and local files download with sendfile when the server offers it (storage/asgi.py);
``console.server.HttpProtocol`` is the uvicorn protocol that offers it (without ``--http`` all works,
downloads then stream through Python).
"""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from console.realtime import WebSocketAuthMiddleware  # noqa: E402
from console.routing import websocket_urlpatterns  # noqa: E402
from storage.asgi import StreamingUploadASGIHandler  # noqa: E402

application = ProtocolTypeRouter(
    {"http": StreamingUploadASGIHandler(), "websocket": WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))}
)

# What Django, Channels and the apps built at start-up is out of the garbage collector's sight from
# here on (as in the Celery workers, console/celery.py): a full collection walks only what requests
# made since. Starting a 1,000-task bake, one such collection paused the server ~0.1 s.
gc.collect()
gc.freeze()
