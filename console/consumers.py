"""WebSocket consumers of the core (thin: access checks and relaying live in realtime.py)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from console.models import Level
from console.realtime import AccessCheckedConsumer, resource_group, user_group
from console.selectors import as_uri, granted_prefixes
from console.uris import SCHEMES, InvalidUri, Uri


class ResourceEventsConsumer(AccessCheckedConsumer):
    """``/ws/resources/?uri=…``: events on one URI and everything below it; needs ``read``."""

    async def get_uri(self) -> Uri:
        text = self.query.get("uri", "")
        if not text:
            raise InvalidUri("The uri query parameter is required")
        return as_uri(self.user, text)

    async def get_state(self) -> dict[str, Any]:
        from console.selectors import access_level

        level = await database_sync_to_async(access_level)(self.user, self.uri)
        return {"uri": str(self.uri), "level": level.codename if level else None}


def _watched_uris(user: Any) -> list[Uri]:
    own = [Uri(scheme, settings.KILN_CLUSTER, user.username) for scheme in SCHEMES]
    shared = [prefix for scheme in SCHEMES for prefix in granted_prefixes(user, scheme=scheme, level=Level.READ)]
    return own + shared


class UserEventsConsumer(AccessCheckedConsumer):
    """``/ws/events/``: list changes on everything the user owns or that is shared with them."""

    async def get_uri(self) -> Uri:
        return Uri("job", settings.KILN_CLUSTER, self.user.username)

    async def allowed(self) -> bool:
        return True  # the stream is the user's own; every event in it passed a grant

    async def get_groups(self) -> list[str]:
        self.watching = await database_sync_to_async(_watched_uris)(self.user)
        return [resource_group(uri) for uri in self.watching]

    async def get_state(self) -> dict[str, Any]:
        return {"watching": [str(uri) for uri in self.watching]}

    async def kiln_access_changed(self, message: dict[str, Any]) -> None:
        """Follow the new set of shared prefixes, then say so (clients re-read their lists)."""
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = [*await self.get_groups(), user_group(self.user.pk)]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "state", **await self.get_state()})
