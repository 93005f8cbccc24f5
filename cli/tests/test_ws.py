"""The WebSocket helper against a real local websockets server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

# isort: split
from kiln_cli.errors import KilnError
from kiln_cli.ws import messages, ws_url

Handler = Callable[[ServerConnection], None]


@contextmanager
def ws_server(handler: Handler) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.shutdown()
            thread.join(5)


def test_ws_url_follows_the_http_url() -> None:
    assert ws_url("http://h:8000", "/ws/events/") == "ws://h:8000/ws/events/"
    assert (
        ws_url("https://h/kiln/", "/ws/resources/", {"uri": "job:x", "after": None})
        == "wss://h/kiln/ws/resources/?uri=job%3Ax"
    )


def test_messages_send_the_token_and_decode_json() -> None:
    seen: dict[str, Any] = {}

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        seen["auth"] = conn.request.headers.get("Authorization")
        seen["path"] = conn.request.path
        conn.send(json.dumps({"type": "state", "watching": []}))
        conn.send(json.dumps({"type": "job.status", "uri": "job://default/a/x"}))
        conn.close()

    with ws_server(handler) as url:
        got = list(messages(url, "kiln_tok", "/ws/events/", reconnect=False))
    assert [m["type"] for m in got] == ["state", "job.status"]
    assert seen == {"auth": "Bearer kiln_tok", "path": "/ws/events/"}


def test_messages_reconnect_and_ask_for_what_they_missed() -> None:
    paths: list[str] = []

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        paths.append(conn.request.path)
        after = int(conn.request.path.rsplit("after=", 1)[1])
        conn.send(json.dumps({"type": "state"}))
        conn.send(json.dumps({"type": "line", "offset": after + 1}))
        conn.close(1011)  # a drop, not a refusal

    last = 0

    def params() -> dict[str, Any]:
        return {"after": last}

    got = []
    with ws_server(handler) as url:
        for message in messages(url, "t", "/ws/jobs/j/logs/", params, sleep=lambda s: None):
            if message["type"] == "line":
                last = message["offset"]
                got.append(last)
            if len(got) == 3:
                break
    assert got == [1, 2, 3]
    assert paths == [
        "/ws/jobs/j/logs/?after=0",
        "/ws/jobs/j/logs/?after=1",
        "/ws/jobs/j/logs/?after=2",
    ]


@pytest.mark.parametrize(
    ("send", "close", "exit_code"),
    [
        ({"type": "error", "code": "not_found"}, 4404, 4),
        (None, 4401, 3),
    ],
)
def test_refusals_become_kiln_errors(send: dict[str, Any] | None, close: int, exit_code: int) -> None:
    def handler(conn: ServerConnection) -> None:
        if send:
            conn.send(json.dumps(send))
        conn.close(close)

    with ws_server(handler) as url, pytest.raises(KilnError) as info:
        list(messages(url, "t", "/ws/resources/", {"uri": "job:x"}, sleep=lambda s: None))
    assert info.value.exit_code == exit_code


def test_unreachable_server_exits_6() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(KilnError) as info:
        next(messages(f"http://127.0.0.1:{port}", "t", "/ws/events/"))
    assert info.value.exit_code == 6
    assert info.value.message.startswith("server unreachable")
