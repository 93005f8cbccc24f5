"""The flows list and the bakes list update live: the per-user stream ``/ws/events/`` carries a
flow's import or creation and a bake's start and status changes to its owner and to whoever the
flow is shared with, and to nobody else (DESIGN §6–7; frontend/src/app/realtime.tsx re-reads the
``flows`` lists on any event whose ``uri`` is a ``flow://`` one)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
from websockets.sync.client import ClientConnection, connect

from console import services as core
from flows import services
from tests.flows.helpers import make_flow, wait_bake

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

QUICK = """
kind: batch
tasks:
  - id: only
    image: python:3.11
    bash: sleep 1; echo done
"""


@contextmanager
def event_streams(server, *users) -> Iterator[dict[str, ClientConnection]]:
    """``/ws/events/`` of each of ``users`` (by username), each past its first ``state`` message."""
    with ExitStack() as stack:
        streams = {}
        for user in users:
            token = core.token_create(user=user, name="events")[1]
            ws = stack.enter_context(connect(f"{server.ws_url}/ws/events/", open_timeout=10,
                                             additional_headers={"Authorization": f"Bearer {token}"}))
            first = json.loads(ws.recv(timeout=10))
            assert first["type"] == "state", first
            streams[user.username] = ws
        yield streams


def read_until(ws: ClientConnection, done: Callable[[list[dict]], bool], timeout: float = 60) -> list[dict]:
    """Messages of ``ws`` until ``done(messages so far)``; fails with what came when it never is."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(seen):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; received {seen}")
        try:
            seen.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            continue
    return seen


def drain(ws: ClientConnection, quiet: float = 1.5) -> list[dict]:
    """Whatever ``ws`` receives until it has been quiet for ``quiet`` seconds."""
    seen: list[dict] = []
    while True:
        try:
            seen.append(json.loads(ws.recv(timeout=quiet)))
        except TimeoutError:
            return seen


def about(messages: list[dict], text: str) -> list[dict]:
    return [message for message in messages if text in json.dumps(message)]


def flow_events(messages: list[dict], uri: str) -> list[dict]:
    return [m for m in messages if m.get("type", "").startswith("flow.") and m.get("uri") == uri]


def bake_statuses(messages: list[dict], bake_id: str) -> list[str]:
    return [m["bake"]["status"] for m in messages
            if m.get("type", "").startswith("bake.") and m.get("bake", {}).get("id") == bake_id]


def test_bake_start_and_status_changes_reach_owner_and_reader_not_stranger(asgi_server, celery_workers,
                                                                            alice, bob, carol):
    flow = make_flow(alice, "lists", quick=QUICK)
    core.share(by=alice, uri=flow.uri, principal="bob", level="read")
    with event_streams(asgi_server, alice, bob, carol) as streams:
        bake = services.bake_start(by=alice, flow=flow, batch="quick", name="watched")

        def finished(messages: list[dict]) -> bool:
            statuses = bake_statuses(messages, bake.pk)
            return "running" in statuses and "succeeded" in statuses

        for username in ("alice", "bob"):
            messages = read_until(streams[username], finished)
            bake_messages = [m for m in messages if m.get("bake", {}).get("id") == bake.pk]
            created = next(m for m in bake_messages if m["type"] == "bake.created")
            assert created["uri"] == f"{flow.uri}/{bake.pk}"  # a flow:// URI: the flows lists re-read
            assert (created["bake"]["name"], created["bake"]["batch"], created["bake"]["status"]) == (
                "watched", "quick", "pending")
            assert {m["type"] for m in bake_messages} >= {"bake.created", "bake.status"}, username
        wait_bake(bake, "succeeded", "failed")
        assert bake.status == "succeeded"
        assert drain(streams["carol"]) == []  # not the bake's events, nor anything else of alice's


def test_flow_import_and_creation_reach_owner_and_readers_not_strangers(asgi_server, alice, bob, carol,
                                                                        client_for):
    shared = make_flow(alice, "shared")
    core.share(by=alice, uri=shared.uri, principal="bob", level="read")
    with event_streams(asgi_server, alice, bob, carol) as streams:
        # Re-importing a flow (the console re-reads its folder): its owner and its reader hear of it.
        services.flow_import(by=alice, folder="storage:shared")
        for username in ("alice", "bob"):
            got = read_until(streams[username], lambda seen: bool(flow_events(seen, shared.uri)))
            assert flow_events(got, shared.uri)[0]["flow"]["id"] == "shared"

        # A new flow from the template: its owner hears of it; bob (who reads only "shared") does not.
        created = client_for(alice).post("/api/v1/flows/", {"template": True, "name": "fresh"}, format="json")
        assert created.status_code == 201, created.json()
        fresh_uri = "flow://default/alice/fresh"
        got = read_until(streams["alice"], lambda seen: bool(flow_events(seen, fresh_uri)))
        assert flow_events(got, fresh_uri)[0]["flow"]["id"] == "fresh"
        assert about(drain(streams["bob"]), "fresh") == []

        # Once alice shares all her flows with bob, his open stream follows, and new flows reach him.
        core.share(by=alice, uri="flow:", principal="bob", level="read")
        state = read_until(streams["bob"], lambda seen: any(m["type"] == "state" for m in seen))[-1]
        assert "flow://default/alice" in state["watching"]
        make_flow(alice, "later")
        got = read_until(streams["bob"], lambda seen: bool(flow_events(seen, "flow://default/alice/later")))
        assert flow_events(got, "flow://default/alice/later")[0]["flow"]["id"] == "later"

        assert drain(streams["carol"]) == []
