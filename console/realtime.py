"""Realtime plumbing: channel-layer groups, ``publish`` for workers and services, WebSocket
authentication (session cookie or bearer token) with an origin check, and the base consumer that
checks ``has_access`` on connect, sends the current state first and then live events (DESIGN §7).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.security.websocket import WebsocketDenier
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from console.uris import InvalidUri, Uri, parse_uri

log = logging.getLogger(__name__)

# Close codes a client can act on (4000 + the HTTP status it would have had).
CLOSE_INVALID = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


# --- groups and publishing ------------------------------------------------------------------------


_BAKE_ID = re.compile(r"bake-[0-9a-f-]{36}")


def resource_group(uri: Uri | str) -> str:
    """Channel-layer group of one URI (group names allow only [A-Za-z0-9._-], ≤ 100 chars): a
    bake's is ``bake.<id>`` (DESIGN's name; bake ids are unique), any other URI's a digest of it."""
    text = str(uri)
    if text.startswith("flow://"):
        parsed = uri if isinstance(uri, Uri) else parse_uri(text)
        parts = parsed.parts
        if len(parts) == 2 and _BAKE_ID.fullmatch(parts[1]):
            return f"bake.{parts[1]}"
    return "res." + hashlib.sha1(text.encode()).hexdigest()


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


ROUND_MAX = 2000  # queued messages taken per round (more rounds for a bigger burst)
BATCH_MAX = 200  # events per ``kiln.events`` message (keeps channel-layer messages small)


def coalesce(items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Per group, runs of consecutive ``kiln.event`` messages become one ``kiln.events`` message;
    anything else (``kiln.access_changed``) goes as it is, in its place. Each group keeps its
    order; groups go in the order they first appear, so no message goes out later than it would
    have one by one."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in items:
        by_group.setdefault(group, []).append(message)
    out: list[tuple[str, dict[str, Any]]] = []
    for group, messages in by_group.items():
        run: list[dict[str, Any]] = []
        for message in messages:
            if message.get("type") != "kiln.event":
                out.extend(_batched(group, run))
                run = []
                out.append((group, message))
            else:
                run.append(message["event"])
        out.extend(_batched(group, run))
    return out


def _batched(group: str, events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    chunks = [events[start:start + BATCH_MAX] for start in range(0, len(events), BATCH_MAX)]
    return [(group, {"type": "kiln.event", "event": chunk[0]} if len(chunk) == 1
             else {"type": "kiln.events", "events": chunk}) for chunk in chunks]


async def watched_groups(layer: Any, groups: set[str]) -> set[str]:
    """Those of ``groups`` that have members. Most groups of a burst have none (each job has its
    own, rarely watched): one pipelined EXISTS per Redis saves group_send's two round trips for
    each. Skipping is as safe as group_send's own member lookup: a consumer joins before it reads
    the state it then follows. Other layers, or on any doubt: all of them."""
    if len(groups) < 2 or not isinstance(layer, RedisChannelLayer):
        return groups
    try:
        by_shard: dict[int, list[str]] = {}
        for group in groups:
            by_shard.setdefault(layer.consistent_hash(group), []).append(group)
        watched: set[str] = set()
        for shard, members in by_shard.items():
            pipe = layer.connection(shard).pipeline(transaction=False)
            for group in members:
                pipe.exists(layer._group_key(group))
            watched.update(group for group, found in zip(members, await pipe.execute(), strict=True) if found)
        return watched
    except Exception:
        log.exception("checking group members failed")
        return groups


class BackgroundPublisher:
    """Publishes from one long-lived event loop in a thread, in order per group, without blocking
    the caller: ``async_to_sync(group_send)`` would build a fresh loop and Redis connection per call
    (~2–6 ms), which adds up on hot paths (log lines, bakes). Events that queue up meanwhile go
    out coalesced (``coalesce``). Created lazily, so each forked worker process gets its own."""

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
            # Take what piled up while the last round was being sent: a bake's tick publishes
            # hundreds of events at once, and each group_send costs a few Redis round trips.
            items = [await self.queue.get()]
            while len(items) < ROUND_MAX:
                try:
                    items.append(self.queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            sends = coalesce(items)
            watched = await watched_groups(self.layer, {group for group, _ in sends})
            for group, message in sends:
                if group not in watched:
                    continue
                try:
                    await self.layer.group_send(group, message)
                except Exception:
                    log.exception("publishing to %s failed", group)

    def send(self, group: str, message: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))

    def send_many(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """``send`` each item, in order, waking the loop once (each wake-up costs ~10 µs)."""
        if items:
            self.loop.call_soon_threadsafe(self._put_all, items)

    def _put_all(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        for item in items:
            self.queue.put_nowait(item)


def publish(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` (JSON-able, with a ``type``) to every consumer in ``group``. Returns at once;
    events published by one process to one group keep their order (a burst to several groups may
    arrive group by group). Safe from web requests, services and Celery workers: Redis is the only
    link between processes, and a lost notification never breaks the write that caused it (clients
    re-read state on reconnect)."""
    BackgroundPublisher.get().send(group, {"type": "kiln.event", "event": event})


def publish_resource_event(uri: Uri, event: dict[str, Any]) -> None:
    """Publish ``event`` about ``uri`` to watchers of that URI and of every URI above it (a grant
    on a folder or on ``job://cluster/bob`` covers what is below, so its watchers see it)."""
    publish_resource_events(uri, [event])


def publish_resource_events(uri: Uri, events: list[dict[str, Any]]) -> None:
    """``publish_resource_event`` for each of ``events``, in order, handed over at once."""
    groups = [resource_group(node) for node in uri.ancestors()]
    items: list[tuple[str, dict[str, Any]]] = []
    for event in events:
        message = {"type": "kiln.event", "event": {"uri": str(uri), **event}}
        items.extend((group, message) for group in groups)
    BackgroundPublisher.get().send_many(items)


def notify_access_changed(user_ids: list[int]) -> None:
    """Tell open connections of these users to re-check their access (after share/revoke)."""
    BackgroundPublisher.get().send_many([(user_group(user_id), {"type": "kiln.access_changed"})
                                         for user_id in user_ids])


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
    closed = False  # set by ``close``: nothing may be sent after it

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

    async def kiln_events(self, message: dict[str, Any]) -> None:
        """Several events coalesced by the publisher: handled one by one, as if sent apart (the
        client still gets one message per event, and subclasses only override ``kiln_event``)."""
        for event in message["events"]:
            if self.closed:
                return  # one of them ended the stream (a job's end): sending more would raise
            await self.kiln_event({"type": "kiln.event", "event": event})

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.closed = True
        await super().close(code=code, reason=reason)

    async def kiln_access_changed(self, message: dict[str, Any]) -> None:
        if not await self.allowed():
            await self.refuse(CLOSE_NOT_FOUND, "not_found", "Your access was revoked")
