"""Zero-copy downloads and bodies as received (``console.server.HttpProtocol``, ``storage.asgi``).

Against the real servers: local files download whole, ranged and as ``HEAD`` with the bytes and
headers the streamed path gives (the same requests to a stock uvicorn, without the extension), and
an upload cut after its bytes began reaching the disk leaves nothing. Django's handler answers with
``http.response.zerocopysend`` exactly when the server offers it; and the protocol itself, under a
small ASGI app, frames what it sends with sendfile and hands over big request bodies whole and in
order.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from asgiref.sync import async_to_sync

from console.server import BODY_HIGH_WATER, ZEROCOPY, HttpProtocol
from storage.asgi import StreamingUploadASGIHandler
from storage.backends.local import WRITEBACK_EVERY
from tests.conftest import free_port
from tests.storage.conftest import wait_for

MiB = 1 << 20


def content_url(base: str, uri: str, **query: str) -> str:
    extra = "".join(f"&{name}={value}" for name, value in query.items())
    return f"{base}/api/v1/storage/content/?uri={quote(uri)}{extra}"


def comparable(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {name: value for name, value in response.headers.items() if name not in ("date", "server")}
    return response.status_code, response.content, headers


# --- through the real servers -----------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_local_files_download_whole_ranged_and_head_through_the_zero_copy_server(asgi_server, make_user,
                                                                                  token_for, settings):
    user = make_user(f"u{uuid.uuid4().hex[:10]}")
    auth = token_for(user)
    data = os.urandom(5 * MiB + 12345)
    url = content_url(asgi_server.url, "storage:zc/data.bin")
    try:
        with httpx.Client(headers=auth, timeout=60) as client:  # one keep-alive connection throughout
            assert client.put(url, content=data).status_code == 201
            whole = client.get(url)
            assert whole.status_code == 200 and whole.content == data
            assert whole.headers["content-length"] == str(len(data))
            assert whole.headers["accept-ranges"] == "bytes"
            assert whole.headers["content-disposition"] == 'attachment; filename="data.bin"'
            assert whole.headers["x-content-type-options"] == "nosniff"
            assert whole.headers["content-security-policy"] == "sandbox"
            etag = whole.headers["etag"]

            ranged = client.get(url, headers={"Range": "bytes=1000-2999999"})
            assert ranged.status_code == 206 and ranged.content == data[1000:3000000]
            assert ranged.headers["content-range"] == f"bytes 1000-2999999/{len(data)}"
            assert ranged.headers["content-length"] == str(3000000 - 1000)
            tail = client.get(url, headers={"Range": "bytes=-777"})
            assert tail.status_code == 206 and tail.content == data[-777:]
            resumed = client.get(url, headers={"Range": f"bytes={4 * MiB}-", "If-Range": etag})
            assert resumed.status_code == 206 and resumed.content == data[4 * MiB:]
            changed = client.get(url, headers={"Range": f"bytes={4 * MiB}-", "If-Range": '"another"'})
            assert changed.status_code == 200 and changed.content == data
            assert client.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416

            head = client.head(url)
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-length"] == str(len(data)) and head.headers["etag"] == etag
            head_ranged = client.head(url, headers={"Range": "bytes=10-19"})
            assert head_ranged.status_code == 206 and head_ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"

            link = client.post(f"{asgi_server.url}/api/v1/storage/links/", json={"uri": "storage:zc/data.bin"}).json()
        public = httpx.get(f"{asgi_server.url}/s/{link['token']}/", headers={"Range": "bytes=7-70006"}, timeout=60)
        assert public.status_code == 206 and public.content == data[7:70007]
    finally:
        shutil.rmtree(settings.KILN_STORAGE_ROOT / user.username, ignore_errors=True)


@pytest.mark.parametrize("backend_kind", ["local"])
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_zero_copy_and_streamed_downloads_answer_alike(live, stock_uvicorn, bob, token_for):
    auth = token_for(bob)
    data = os.urandom(3 * MiB + 5)
    with httpx.Client(headers=auth, timeout=60) as client:
        assert client.put(content_url(live.url, "storage:same/a.bin"), content=data).status_code == 201
        assert client.put(content_url(live.url, "storage:same/notes.txt"), content=b"hello\n" * 999).status_code == 201
        assert client.put(content_url(live.url, "storage:same/empty"), content=b"").status_code == 201
        etag = client.head(content_url(live.url, "storage:same/a.bin")).headers["etag"]
        asks: list[tuple[str, str, dict[str, str]]] = [
            ("GET", "storage:same/a.bin", {}),
            ("GET", "storage:same/a.bin", {"Range": "bytes=0-0"}),
            ("GET", "storage:same/a.bin", {"Range": "bytes=100-"}),
            ("GET", "storage:same/a.bin", {"Range": "bytes=-4096"}),
            ("GET", "storage:same/a.bin", {"Range": "bytes=5-9", "If-Range": etag}),
            ("GET", "storage:same/a.bin", {"Range": "bytes=5-9", "If-Range": '"stale"'}),
            ("GET", "storage:same/a.bin", {"Range": "bytes=99999999-"}),
            ("HEAD", "storage:same/a.bin", {}),
            ("HEAD", "storage:same/a.bin", {"Range": "bytes=1-2"}),
            ("GET", "storage:same/empty", {}),
            ("GET", "storage:same/empty", {"Range": "bytes=0-"}),
        ]
        for method, uri, headers in asks:
            zero_copy = client.request(method, content_url(live.url, uri), headers=headers)
            streamed = client.request(method, content_url(stock_uvicorn.url, uri), headers=headers)
            assert comparable(zero_copy) == comparable(streamed), (method, headers)
        for inline in ("0", "1"):
            zero_copy = client.get(content_url(live.url, "storage:same/notes.txt", inline=inline))
            streamed = client.get(content_url(stock_uvicorn.url, "storage:same/notes.txt", inline=inline))
            assert comparable(zero_copy) == comparable(streamed)
            assert zero_copy.content == b"hello\n" * 999


@pytest.mark.parametrize("backend_kind", ["local"])
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_an_upload_cut_after_writeback_began_leaves_nothing(live, bob, token_for):
    auth = token_for(bob)
    url = content_url(live.url, "storage:cut/big.bin")
    with httpx.Client(headers=auth, timeout=60) as client:
        assert client.put(url, content=b"the old file").status_code == 201
    total, sent = 40 * MiB, 3 * WRITEBACK_EVERY
    sock = socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])), timeout=30)
    sock.sendall((f"PUT /api/v1/storage/content/?uri=storage:cut/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: {auth['Authorization']}\r\nContent-Length: {total}\r\n\r\n").encode()
                 + os.urandom(sent))
    area = live.setup.root / ".kiln-uploads"
    # Past the first writeback ranges: some of these bytes are already on their way to the disk.
    wait_for(lambda: any(p.stat().st_size > 2 * WRITEBACK_EVERY for p in area.glob("put-*")) if area.exists()
             else False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, as a dying client would
    wait_for(lambda: live.setup.pending_uploads() == [])
    with httpx.Client(headers=auth, timeout=60) as client:
        assert client.get(url).content == b"the old file"


# --- Django's handler: zerocopysend exactly when offered ---------------------------------------------


def _through_handler(scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # no disconnect: the response ends the exchange
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == ZEROCOPY:  # read it now: the handler closes the file after the send
            file = message["file"]
            message = {**message, "bytes": os.pread(file.fileno(), message["count"], message["offset"])}
        sent.append(message)

    # In a thread of its own: an earlier test (Playwright's) may leave an event loop running here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(async_to_sync(StreamingUploadASGIHandler()), scope, receive, send).result()
    return sent


@pytest.mark.django_db(transaction=True)
def test_the_handler_answers_with_zerocopysend_only_when_the_server_offers_it(local_storage, bob, token_for):
    data = os.urandom(300_000)
    home = local_storage.root / "bob"
    home.mkdir()
    (home / "f.bin").write_bytes(data)
    auth = token_for(bob)["Authorization"].encode()

    def scope(*, extensions: dict[str, Any], range_header: bytes | None = None) -> dict[str, Any]:
        headers = [(b"authorization", auth), (b"host", b"testserver")]
        if range_header:
            headers.append((b"range", range_header))
        return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": "/api/v1/storage/content/", "raw_path": b"/api/v1/storage/content/",
                "query_string": b"uri=storage%3Af.bin", "root_path": "", "headers": headers,
                "client": ("127.0.0.1", 5555), "server": ("testserver", 80), "extensions": extensions}

    offered = _through_handler(scope(extensions={ZEROCOPY: {}}, range_header=b"bytes=1000-1999"))
    assert [message["type"] for message in offered] == ["http.response.start", ZEROCOPY]
    assert offered[0]["status"] == 206
    assert (b"Content-Range", b"bytes 1000-1999/300000") in offered[0]["headers"]
    assert offered[1]["offset"] == 1000 and offered[1]["count"] == 1000 and offered[1]["more_body"] is False
    assert offered[1]["bytes"] == data[1000:2000]

    stock = _through_handler(scope(extensions={}))
    assert stock[0]["type"] == "http.response.start" and stock[0]["status"] == 200
    assert {message["type"] for message in stock[1:]} == {"http.response.body"}
    assert b"".join(message.get("body", b"") for message in stock[1:]) == data


# --- the protocol under a small ASGI app ------------------------------------------------------------


@pytest.fixture(params=["uvloop", "asyncio"])
def serve(request) -> Iterator[Callable[[Any], int]]:
    """Run an ASGI app on uvicorn with ``HttpProtocol`` in a thread of this process, on either event
    loop (uvloop has no ``loop.sendfile``; asyncio's transports buffer differently); gives the port."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> int:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpProtocol, loop=request.param,
                                lifespan="off", log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        wait_for(lambda: server.started, timeout=30)
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)


def responses(port: int, request: bytes, *, times: int) -> list[tuple[bytes, bytes]]:
    """Send ``request`` ``times`` on one connection (keep-alive); the (head, body) of each answer,
    read by its ``Content-Length``."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, sock.makefile("rb") as stream:
        for _ in range(times):
            sock.sendall(request)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = stream.readline()
                assert line, "the server closed the connection"
                head += line
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            answers.append((head, stream.read(length)))
    return answers


def test_zerocopysend_sends_exactly_the_slice_asked_for_among_body_messages(serve, tmp_path):
    data = os.urandom(3 * MiB)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["extensions"] = scope.get("extensions")
        await receive()
        with open(path, "rb") as file:
            file.seek(2 * MiB)
            length = len(b"<") + MiB + 10 + len(b"|") + 1 + len(b">")
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(length).encode())]})
            await send({"type": "http.response.body", "body": b"<", "more_body": True})
            await send({"type": ZEROCOPY, "file": file, "offset": 123, "count": MiB, "more_body": True})
            await send({"type": ZEROCOPY, "file": file.fileno(), "count": 10, "more_body": True})  # from the position
            seen["position"] = file.tell()
            await send({"type": "http.response.body", "body": b"|", "more_body": True})
            await send({"type": ZEROCOPY, "file": file, "offset": len(data) - 1, "more_body": True})  # to the end
            await send({"type": "http.response.body", "body": b">", "more_body": False})

    port = serve(app)
    expected = b"<" + data[123:123 + MiB] + data[2 * MiB:2 * MiB + 10] + b"|" + data[-1:] + b">"
    for head, body in responses(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", times=2):  # keep-alive stays in step
        assert head.startswith(b"HTTP/1.1 200") and body == expected
    assert seen["extensions"] == {ZEROCOPY: {}}
    assert seen["position"] == 2 * MiB + 10


def test_zerocopysend_is_framed_when_chunked_and_silent_for_head(serve, tmp_path):
    data = os.urandom(MiB + 3)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        headers = [] if scope["method"] == "GET" else [(b"content-length", str(len(data)).encode())]
        with open(path, "rb") as file:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": ZEROCOPY, "file": file, "offset": 0, "count": len(data), "more_body": False})

    port = serve(app)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        chunked = client.get("/")
        assert chunked.headers["transfer-encoding"] == "chunked" and chunked.content == data
        head = client.head("/")
        assert head.headers["content-length"] == str(len(data)) and head.content == b""
        assert client.get("/").content == data  # the connection is still in step


def test_big_request_bodies_arrive_whole_and_in_order(serve):
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        digest, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            digest.update(message["body"])
            size += len(message["body"])
            if not message["more_body"]:
                break
        answer = f"{size} {digest.hexdigest()}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    port = serve(app)
    data = os.urandom(3 * BODY_HIGH_WATER + 77)  # past the high-water mark: reading pauses and resumes
    expected = f"{len(data)} {hashlib.sha256(data).hexdigest()}"

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 999_999):
            yield data[start:start + 999_999]

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        assert client.post("/", content=data).text == expected
        assert client.post("/", content=pieces()).text == expected  # chunked
        assert client.post("/", content=data, headers={"Expect": "100-continue"}).text == expected
        assert client.get("/").text == f"0 {hashlib.sha256(b'').hexdigest()}"
