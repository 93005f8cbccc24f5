"""``/ws/bakes/<id>/``: a bake's task transitions, live (read access to its flow)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from console.realtime import AccessCheckedConsumer
from console.uris import Uri, parse_uri
from flows.models import Bake
from flows.selectors import bake_detail, bake_uri, flow_level


class BakeEventsConsumer(AccessCheckedConsumer):
    """Sends ``state`` (the bake with its latest attempt's tasks), then ``task.status`` and
    ``bake.status`` events. A client that reconnects gets a fresh ``state``: nothing is stale."""

    async def get_uri(self) -> Uri:
        bake_id = self.scope["url_route"]["kwargs"]["bake_id"]
        self.bake = await database_sync_to_async(
            lambda: Bake.objects.select_related("flow", "flow__owner", "created_by").filter(pk=bake_id).first())()
        return parse_uri(bake_uri(self.bake)) if self.bake else Uri("flow", "none", "none", "missing")

    async def allowed(self) -> bool:
        return self.bake is not None and await database_sync_to_async(flow_level)(self.user, self.bake.flow) is not None

    async def get_state(self) -> dict[str, Any]:
        return {"bake": await database_sync_to_async(bake_detail)(self.bake, user=self.user)}
