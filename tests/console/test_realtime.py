"""WebSockets against a real ASGI server, events published from a real Celery worker."""

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from console import services
from console.tasks import publish_resource_event_task

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def token_for(user) -> str:
    return services.token_create(user=user, name="test")[1]


def open_ws(server, path: str, token: str | None = None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return connect(f"{server.ws_url}{path}", additional_headers=headers, open_timeout=10)


def receive(ws, timeout: float = 10) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def test_stranger_is_refused_and_reader_receives_worker_events(asgi_server, celery_workers, bob, alice, carol):
    services.share(by=bob, uri="job:", principal="alice", level="read")
    uri = "job://default/bob/job-1234"

    with open_ws(asgi_server, f"/ws/resources/?uri={uri}", token_for(carol)) as stranger:
        refusal = receive(stranger)
        assert refusal["type"] == "error" and refusal["code"] == "not_found"
        with pytest.raises(ConnectionClosed) as closed:
            stranger.recv(timeout=10)
        assert closed.value.rcvd.code == 4404

    with open_ws(asgi_server, f"/ws/resources/?uri={uri}", token_for(alice)) as reader:
        assert receive(reader) == {"type": "state", "uri": uri, "level": "read"}
        publish_resource_event_task.delay(uri, {"type": "job.status", "status": "running"}).get(timeout=30)
        event = receive(reader)
        assert event == {"uri": uri, "type": "job.status", "status": "running"}


def test_anonymous_socket_is_refused(asgi_server):
    with open_ws(asgi_server, "/ws/resources/?uri=job://default/bob") as anonymous:
        assert receive(anonymous)["code"] == "not_authenticated"
        with pytest.raises(ConnectionClosed) as closed:
            anonymous.recv(timeout=10)
        assert closed.value.rcvd.code == 4401


def test_cookie_socket_from_a_foreign_origin_is_refused(asgi_server, bob):
    with pytest.raises(InvalidStatus) as refused:
        open_ws(asgi_server, "/ws/events/", Origin="https://evil.example", Cookie="sessionid=whatever")
    assert refused.value.response.status_code == 403


def test_revoke_closes_an_open_socket(asgi_server, bob, alice):
    services.share(by=bob, uri="image:data", principal="alice", level="read")
    with open_ws(asgi_server, "/ws/resources/?uri=image:/bob/data/x", token_for(alice)) as reader:
        assert receive(reader)["type"] == "state"
        services.revoke(by=bob, uri="image:data", principal="alice")
        assert receive(reader)["code"] == "not_found"
        with pytest.raises(ConnectionClosed):
            reader.recv(timeout=10)


def test_user_stream_follows_new_shares(asgi_server, bob, alice):
    with open_ws(asgi_server, "/ws/events/", token_for(alice)) as stream:
        first = receive(stream)
        assert "job://default/alice" in first["watching"] and "job://default/bob" not in first["watching"]
        services.share(by=bob, uri="job:", principal="alice", level="read")
        # the share's own event may come first; then the stream re-subscribes and says so
        while (message := receive(stream))["type"] != "state":
            pass
        assert "job://default/bob" in message["watching"]
        from console.realtime import publish_resource_event
        from console.uris import parse_uri

        publish_resource_event(parse_uri("job://default/bob/job-9"), {"type": "job.created"})
        assert receive(stream) == {"uri": "job://default/bob/job-9", "type": "job.created"}


def test_cookie_socket_from_our_own_origin_with_a_port_is_accepted(asgi_server, bob):
    from django.test import Client

    client = Client()
    client.force_login(bob)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with open_ws(asgi_server, "/ws/events/", Origin=asgi_server.url, Cookie=cookie) as stream:
        assert receive(stream)["type"] == "state"


def test_an_idle_socket_keeps_receiving(asgi_server, bob):
    """Regression: redis-py's default 5 s read timeout equals channels_redis's BRPOP timeout, which
    killed consumers idle for a few seconds."""
    import time

    from console.realtime import publish_resource_event
    from console.uris import parse_uri

    with open_ws(asgi_server, "/ws/events/", token_for(bob)) as stream:
        assert receive(stream)["type"] == "state"
        time.sleep(12)
        publish_resource_event(parse_uri("job://default/bob/x"), {"type": "ping"})
        assert receive(stream) == {"uri": "job://default/bob/x", "type": "ping"}


def test_a_burst_of_events_reaches_a_socket_as_one_message_each_in_order(asgi_server, bob):
    """A burst is handed over at once, so the publisher coalesces it (checked on a channel of our
    own in the same group); the socket still gets one message per event, in order."""
    import uuid

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from console.realtime import BATCH_MAX, publish_resource_events, resource_group
    from console.uris import parse_uri

    uri = parse_uri("job://default/bob/job-burst")
    layer = get_channel_layer()
    spy = f"test-spy.{uuid.uuid4().hex}"
    async_to_sync(layer.group_add)(resource_group(uri), spy)
    events = [{"type": "job.status", "n": n} for n in range(2 * BATCH_MAX + 50)]
    with open_ws(asgi_server, f"/ws/resources/?uri={uri}", token_for(bob)) as reader:
        assert receive(reader)["type"] == "state"
        publish_resource_events(uri, events)
        received = [receive(reader) for _ in events]
    assert received == [{"uri": str(uri), **event} for event in events]

    async def spied(count: int) -> list[dict]:
        # One loop for all: a receive's clean-up, cut short by its loop's end, would repeat it.
        return [await layer.receive(spy) for _ in range(count)]

    raw = async_to_sync(spied)(3)
    assert [(message["type"], len(message["events"])) for message in raw] == [
        ("kiln.events", BATCH_MAX), ("kiln.events", BATCH_MAX), ("kiln.events", 50)]
    async_to_sync(layer.group_discard)(resource_group(uri), spy)


def test_group_names_follow_the_design():
    """DESIGN names a bake's group ``bake.<id>`` and a job's log group ``job.<id>``; other URIs
    (folders, flows, owners' roots) get a digest, as names allow only [A-Za-z0-9._-]."""
    from console.realtime import resource_group
    from console.uris import parse_uri
    from jobs.services import log_group

    bake = "flow://default/bob/my-flow/bake-0f8fad5b-d9cb-469f-a165-70867728950e"
    assert resource_group(bake) == resource_group(parse_uri(bake)) == "bake.bake-0f8fad5b-d9cb-469f-a165-70867728950e"
    assert log_group("job-1234") == "job.job-1234"
    for other in ("flow://default/bob/my-flow", "flow://default/bob/my-flow/not-a-bake", "storage://default/bob/x y",
                  "job://default/bob/job-1234"):
        group = resource_group(other)
        assert group.startswith("res.") and len(group) <= 100 and group.replace(".", "").isalnum()
