"""Against a real uvicorn in another process, on both backends: streamed uploads, an upload cut
midway over a raw socket, a dropped chunk resumed, ranged and zipped downloads, and the
``storage.changed`` event reaching a WebSocket."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import struct
import uuid
from urllib.parse import quote, urlparse

import httpx
import pytest
from websockets.sync.client import connect

from tests.storage.conftest import wait_for
from tests.storage.helpers import unzip

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
MiB = 1 << 20


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_url(base: str, uri: str) -> str:
    return f"{base}/api/v1/storage/content/?uri={quote(uri)}"


def raw_request(base: str, head: str, body: bytes) -> socket.socket:
    """Send a request's head and the first part of its body, and leave the socket open."""
    parsed = urlparse(base)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
    sock.sendall(head.encode("latin1") + body)
    return sock


def drop(sock: socket.socket) -> None:
    """Close with a reset, as a dying client or a broken network would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_streamed_uploads_and_downloads(live, bob, token_for):
    auth = token_for(bob)
    data = os.urandom(6 * MiB + 321)
    with httpx.Client(headers=auth, timeout=60) as client:
        sized = client.put(content_url(live.url, "storage:up/sized.bin"), content=data)
        assert sized.status_code == 201, sized.text
        assert sized.json()["size"] == len(data)

        def pieces():
            for start in range(0, len(data), 777_777):
                yield data[start:start + 777_777]

        chunked = client.put(content_url(live.url, "storage:up/chunked.bin"), content=pieces())
        assert chunked.status_code == 201 and chunked.json()["size"] == len(data)
        for name in ["sized.bin", "chunked.bin"]:
            assert sha(client.get(content_url(live.url, f"storage:up/{name}")).content) == sha(data)
        ranged = client.get(content_url(live.url, "storage:up/sized.bin"), headers={"Range": "bytes=1048576-2097151"})
        assert ranged.status_code == 206 and ranged.content == data[MiB:2 * MiB]
        assert ranged.headers["content-range"] == f"bytes 1048576-2097151/{len(data)}"
        unsatisfiable = client.get(content_url(live.url, "storage:up/sized.bin"), headers={"Range": "bytes=99999999-"})
        assert unsatisfiable.status_code == 416
        archive = client.get(f"{live.url}/api/v1/storage/zip/?uri=storage:up")
        assert archive.status_code == 200
        members = unzip(archive.content)
        assert sha(members["up/sized.bin"]) == sha(data) and sha(members["up/chunked.bin"]) == sha(data)


def test_an_upload_cut_midway_leaves_nothing_behind(live, bob, token_for):
    auth = token_for(bob)
    with httpx.Client(headers=auth, timeout=60) as client:
        assert client.put(content_url(live.url, "storage:cut.bin"), content=b"the old file").status_code == 201
    total, sent = 20 * MiB, 12 * MiB
    head = (f"PUT /api/v1/storage/content/?uri=storage:cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {auth['Authorization']}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {total}\r\n\r\n")
    sock = raw_request(live.url, head, os.urandom(sent))
    setup = live.setup
    if setup.kind == "local":  # the body is being written to a temporary file…
        area = setup.root / ".kiln-uploads"
        wait_for(lambda: any(p.stat().st_size >= MiB for p in area.glob("put-*")) if area.exists() else False)
    else:  # …or already sent to S3 as parts of a multipart upload
        wait_for(lambda: setup.parts_of("bob/cut.bin") >= 1)
    drop(sock)
    wait_for(lambda: setup.pending_uploads() == [])  # the temporary file / multipart upload is gone
    with httpx.Client(headers=auth, timeout=60) as client:
        assert client.get(content_url(live.url, "storage:cut.bin")).content == b"the old file"
        assert [e["name"] for e in client.get(f"{live.url}/api/v1/storage/list/?uri=storage:").json()["results"]] == [
            "cut.bin"]


def test_a_dropped_chunk_resumes_from_the_offset_the_server_kept(live, bob, token_for):
    auth = token_for(bob)
    data = os.urandom(12 * MiB + 99)
    api = f"{live.url}/api/v1/storage/uploads/"
    with httpx.Client(headers=auth, timeout=60) as client:
        upload = client.post(api, json={"uri": "storage:resumed/data.bin", "size": len(data)}).json()
    first = 9 * MiB
    head = (f"PATCH /api/v1/storage/uploads/{upload['id']}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {auth['Authorization']}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: 0\r\nContent-Length: {len(data)}\r\n\r\n")
    sock = raw_request(live.url, head, data[:first])
    setup = live.setup
    if setup.kind == "local":
        session_file = setup.root / ".kiln-uploads" / f"session-{upload['id']}"
        seen = wait_for(lambda: session_file.stat().st_size >= 2 * MiB and session_file.stat().st_size)
    else:
        seen = wait_for(lambda: setup.parts_of("bob/resumed/data.bin") >= 1 and 5 * MiB)
    drop(sock)
    with httpx.Client(headers=auth, timeout=60) as client:
        def resumed():
            offset = int(client.head(f"{api}{upload['id']}/").headers["upload-offset"])
            answer = client.patch(f"{api}{upload['id']}/", content=data[offset:],
                                  headers={"Upload-Offset": str(offset),
                                           "Content-Type": "application/offset+octet-stream"})
            return (offset, answer) if answer.status_code == 200 else None  # 409 while the cut one winds up

        kept, answer = wait_for(resumed)
        assert kept >= seen  # every byte the server had written before the drop was kept
        assert kept <= first
        assert answer.json()["complete"] is True
        stored = client.get(content_url(live.url, "storage:resumed/data.bin")).content
    assert sha(stored) == sha(data)
    assert setup.pending_uploads() == []


def test_a_download_cut_midway_frees_the_server(live, bob, token_for):
    auth = token_for(bob)
    data = os.urandom(8 * MiB)
    with httpx.Client(headers=auth, timeout=60) as client:
        client.put(content_url(live.url, "storage:big.bin"), content=data)
        for _ in range(3):
            with client.stream("GET", content_url(live.url, "storage:big.bin")) as response:
                next(response.iter_bytes())  # read a little, then hang up
        assert sha(client.get(content_url(live.url, "storage:big.bin")).content) == sha(data)
        assert client.get(f"{live.url}/api/v1/health/").status_code == 200


def test_an_upload_is_announced_to_watchers_of_the_folder(live, bob, token_for):
    auth = token_for(bob)
    ws_url = live.url.replace("http://", "ws://") + "/ws/resources/?uri=storage:/bob/watched"
    with connect(ws_url, additional_headers=auth, open_timeout=10) as watcher:
        assert json.loads(watcher.recv(timeout=10))["type"] == "state"
        with httpx.Client(headers=auth, timeout=60) as client:
            assert client.put(content_url(live.url, "storage:watched/new.txt"), content=b"hi").status_code == 201
        event = json.loads(watcher.recv(timeout=10))
    assert event == {"type": "storage.changed", "uri": "storage://default/bob/watched", "action": "upload",
                     "path": "storage://default/bob/watched/new.txt"}


def test_the_stock_console_asgi_app_serves_uploads_too(asgi_server, make_user, token_for, settings):
    """Without the streaming handler Django spools bodies first; everything still works."""
    user = make_user(f"u{uuid.uuid4().hex[:10]}")
    auth = token_for(user)
    data = os.urandom(3 * MiB)
    try:
        with httpx.Client(headers=auth, timeout=60) as client:
            assert client.put(content_url(asgi_server.url, "storage:plain.bin"), content=data).status_code == 201
            upload = client.post(f"{asgi_server.url}/api/v1/storage/uploads/",
                                 json={"uri": "storage:resumable.bin", "size": len(data)}).json()
            for offset in range(0, len(data), MiB):
                answer = client.patch(f"{asgi_server.url}{upload['url']}", content=data[offset:offset + MiB],
                                      headers={"Upload-Offset": str(offset)})
                assert answer.status_code == 200, answer.text
            for name in ["plain.bin", "resumable.bin"]:
                assert sha(client.get(content_url(asgi_server.url, f"storage:{name}")).content) == sha(data)
    finally:
        shutil.rmtree(settings.KILN_STORAGE_ROOT / user.username, ignore_errors=True)
