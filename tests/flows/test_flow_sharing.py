"""Sharing a flow (DESIGN §3, §6): a stranger sees nothing of it — not its bakes' socket, not
its place in a list; a reader sees the flow and its bakes but not its storage folder (that keeps
its own storage permissions), and cannot cancel a bake."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from console import services as core
from console.realtime import CLOSE_NOT_FOUND
from flows import services
from tests.flows.helpers import LONG, make_flow, task_statuses, tasks_of, wait_bake
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def refusal_of(server, path: str, user) -> tuple[dict, int]:
    """What ``user`` gets on ``path``: the one message before the close, and the close code."""
    token = core.token_create(user=user, name="ws")[1]
    with connect(f"{server.ws_url}{path}", additional_headers={"Authorization": f"Bearer {token}"},
                 open_timeout=10) as ws:
        message = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    return message, closed.value.rcvd.code


@pytest.mark.live
def test_stranger_on_a_bake_socket_is_refused_as_if_it_did_not_exist(asgi_server, celery_workers, alice, bob,
                                                                     carol, client_for):
    flow = make_flow(alice, long=LONG)
    core.share(by=alice, uri=flow.uri, principal="bob", level="read")
    bake = services.bake_start(by=alice, flow=flow, batch="long")
    wait_for(lambda: tasks_of(bake)["long"].job_id)

    stranger = refusal_of(asgi_server, f"/ws/bakes/{bake.pk}/", carol)
    missing = refusal_of(asgi_server, "/ws/bakes/bake-00000000-0000-0000-0000-000000000000/", carol)
    assert stranger == ({"type": "error", "code": "not_found", "message": "No such resource"}, CLOSE_NOT_FOUND)
    assert stranger == missing  # the same words for a bake that exists and one that does not

    token = core.token_create(user=bob, name="ws")[1]
    with connect(f"{asgi_server.ws_url}/ws/bakes/{bake.pk}/", open_timeout=10,
                 additional_headers={"Authorization": f"Bearer {token}"}) as reader:
        state = json.loads(reader.recv(timeout=10))
        assert state["type"] == "state" and state["bake"]["id"] == bake.pk and state["bake"]["my_level"] == "read"

    # A reader cannot cancel over HTTP either (test_bakes.py checks the service): the bake runs on.
    refused = client_for(bob).post(f"/api/v1/bakes/{bake.pk}/cancel/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client_for(carol).post(f"/api/v1/bakes/{bake.pk}/cancel/").status_code == 404
    bake.refresh_from_db()
    assert bake.status == "running" and task_statuses(bake) == {"long": "running"}
    assert client_for(alice).post(f"/api/v1/bakes/{bake.pk}/cancel/").status_code == 200
    assert wait_bake(bake, "cancelled").status == "cancelled"


def test_a_strangers_flow_list_holds_only_their_own_flows(alice, bob, carol, client_for):
    make_flow(alice, "alices")
    shared = make_flow(bob, "bobs")
    make_flow(carol, "carols")
    core.share(by=bob, uri=shared.uri, principal="alice", level="read")
    assert [f["uri"] for f in client_for(carol).get("/api/v1/flows/").json()["results"]] == [
        "flow://default/carol/carols"]
    assert sorted(f["uri"] for f in client_for(alice).get("/api/v1/flows/").json()["results"]) == [
        "flow://default/alice/alices", "flow://default/bob/bobs"]


def test_reading_a_flow_does_not_open_its_storage_folder(alice, bob, client_for):
    flow = make_flow(alice, "private_data")
    core.share(by=alice, uri=flow.uri, principal="bob", level="read")
    reader = client_for(bob)
    detail = reader.get("/api/v1/flows/flow:/alice/private_data/")
    assert detail.status_code == 200 and detail.json()["my_level"] == "read"
    assert [job["id"] for job in detail.json()["live_jobs"]] == ["hello", "many"]  # the flow's config is read

    folder = "storage:/alice/private_data"
    for endpoint, uri in (("list", folder), ("stat", folder), ("content", f"{folder}/.neuro/live.yml"),
                          ("zip", folder)):
        response = reader.get(f"/api/v1/storage/{endpoint}/", {"uri": uri})
        assert response.status_code == 404, (endpoint, response.status_code)
    assert reader.post("/api/v1/storage/delete/", {"uri": f"{folder}/.neuro/live.yml"},
                       format="json").status_code == 404

    # The folder's own storage permissions are what open it.
    core.share(by=alice, uri=folder, principal="bob", level="read")
    assert reader.get("/api/v1/storage/list/", {"uri": folder}).status_code == 200
    assert reader.get("/api/v1/storage/content/", {"uri": f"{folder}/.neuro/live.yml"}).status_code == 200
