"""Realtime plumbing: channel-layer groups, ``publish`` for workers and services, WebSocket
authentication (session cookie or bearer token) with an origin check, and the base consumer that
checks ``has_access`` on connect, sends the current state first and then live events (DESIGN §7).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from console.uris import InvalidUri, Uri

log = logging.getLogger(__name__)

# Close codes a client can act on (4000 + the HTTP status it would have had).
CLOSE_INVALID = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


# --- groups and publishing ------------------------------------------------------------------------


def resource_group(uri: Uri | str) -> str:
    """Channel-layer group of one URI (group names allow only [A-Za-z0-9._-], ≤ 100 chars)."""
    return "res." + hashlib.sha1(str(uri).encode()).hexdigest()


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class BackgroundPublisher:
    """Publishes from one long-lived event loop in a thread, in order, without blocking the
    caller: ``async_to_sync(group_send)`` would build a fresh loop and Redis connection per call
    (~2–6 ms), which adds up on hot paths (log lines, bakes). Created lazily, so each forked worker
    process gets its own."""

    _instance: BackgroundPublisher | None = None
    _instance_pid: int | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="kiln-publisher", daemon=True)
        self.thread.start()
        ready.wait()

    @classmethod
    def get(cls) -> BackgroundPublisher:
        with cls._lock:
            if cls._instance is None or cls._instance_pid != os.getpid():
                cls._instance, cls._instance_pid = cls(), os.getpid()
            return cls._instance

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        self.layer = get_channel_layer()
        ready.set()
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        while True:
            group, message = await self.queue.get()
            try:
                await self.layer.group_send(group, message)
            except Exception:
                log.exception("publishing to %s failed", group)

    def send(self, group: str, message: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))


def publish(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` (JSON-able, with a ``type``) to every consumer in ``group``. Returns at once;
    events published by one process keep their order. Safe from web requests, services and Celery
    workers: Redis is the only link between processes, and a lost notification never breaks the
    write that caused it (clients re-read state on reconnect)."""
    BackgroundPublisher.get().send(group, {"type": "kiln.event", "event": event})


def publish_resource_event(uri: Uri, event: dict[str, Any]) -> None:
    """Publish ``event`` about ``uri`` to watchers of that URI and of every URI above it (a grant
    on a folder or on ``job://cluster/bob`` covers what is below, so its watchers see it)."""
    event = {"uri": str(uri), **event}
    for node in uri.ancestors():
        publish(resource_group(node), event)


def notify_access_changed(user_ids: list[int]) -> None:
    """Tell open connections of these users to re-check their access (after share/revoke)."""
    for user_id in user_ids:
        BackgroundPublisher.get().send(user_group(user_id), {"type": "kiln.access_changed"})


# --- authentication -------------------------------------------------------------------------------


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _bearer_token(scope: dict[str, Any]) -> str | None:
    value = _header(scope, b"authorization")
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def origin_allowed(origin: str | None) -> bool:
    """Browsers always send ``Origin`` on WebSocket handshakes; a cookie-authenticated socket
    from a foreign origin is cross-site WebSocket hijacking, so it must match our hosts. A client
    without ``Origin`` is not a browser and cannot carry a victim's cookies."""
    if origin is None:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    hostname = urlparse(origin).hostname
    if not hostname:
        return False
    if ":" in hostname:  # an IPv6 literal, written [::1] in ALLOWED_HOSTS
        hostname = f"[{hostname}]"
    return validate_host(hostname, settings.ALLOWED_HOSTS)


@database_sync_to_async
def _user_for_token(token: str) -> Any:
    from console.services import token_authenticate

    found = token_authenticate(clear=token)
    return found.user if found else AnonymousUser()


class WebSocketAuthMiddleware:
    """Bearer token (CLI) or session cookie (browser, origin-checked)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_stack = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        token = _bearer_token(scope)
        if token is not None:
            user = await _user_for_token(token)
            return await self.inner({**scope, "user": user, "auth_method": "token"}, receive, send)
        if not origin_allowed(_header(scope, b"origin")):
            return await WebsocketDenier()(scope, receive, send)
        return await self.session_stack({**scope, "auth_method": "session"}, receive, send)


# --- base consumer ----------------------------------------------------------------------------------


class AccessCheckedConsumer(AsyncJsonWebsocketConsumer):
    """Checks ``has_access`` on connect; sends ``state`` first, then the live events.

    Subclasses say which URI they guard (``get_uri``), what the current state is (``get_state``)
    and which groups to follow (``get_groups``; by default the guarded URI's group). A refused
    client gets one ``error`` message and a 44xx close code, and learns nothing else.
    """

    level = "read"

    async def get_uri(self) -> Uri:
        raise NotImplementedError

    async def get_state(self) -> dict[str, Any]:
        return {}

    async def get_groups(self) -> list[str]:
        return [resource_group(self.uri)]

    @property
    def query(self) -> dict[str, str]:
        raw = parse_qs(self.scope.get("query_string", b"").decode())
        return {key: values[-1] for key, values in raw.items()}

    async def refuse(self, code: int, error: str, message: str) -> None:
        await self.send_json({"type": "error", "code": error, "message": message})
        await self.close(code=code)

    async def connect(self) -> None:
        await self.accept()
        self.user = self.scope.get("user") or AnonymousUser()
        self.joined: list[str] = []
        if not self.user.is_authenticated:
            return await self.refuse(CLOSE_NOT_AUTHENTICATED, "not_authenticated", "Log in first")
        try:
            self.uri = await self.get_uri()
        except InvalidUri as error:
            return await self.refuse(CLOSE_INVALID, "invalid", str(error))
        if not await self.allowed():
            return await self.refuse(CLOSE_NOT_FOUND, "not_found", "No such resource")
        # Join before reading state, so no event falls between the snapshot and the stream.
        self.joined = [*await self.get_groups(), user_group(self.user.pk)]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "state", **await self.get_state()})

    async def allowed(self) -> bool:
        from console.selectors import has_access

        return await database_sync_to_async(has_access)(self.user, self.uri, self.level)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def kiln_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def kiln_access_changed(self, message: dict[str, Any]) -> None:
        if not await self.allowed():
            await self.refuse(CLOSE_NOT_FOUND, "not_found", "Your access was revoked")
