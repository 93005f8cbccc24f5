"""kiln ls / mkdir / cp / rm / mv / df / link against an in-memory storage server on
httpx.MockTransport: path rules, paging, chunked and resumed uploads, ranged resumed downloads,
cp/mv/rm semantics, share links."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from conftest import URL, Run

# isort: split
from kiln_cli import transfer
from kiln_cli.client import KilnClient
from kiln_cli.commands.storage import (
    check_storage,
    is_storage,
    join,
    link_reference,
    local_path,
    parse_expiry,
    parse_size,
    until,
    wants_folder,
)
from kiln_cli.errors import KilnError
from kiln_cli.output import Output, human_size

API = "/api/v1/storage/"
MTIME = "2025-01-10T14:00:00+00:00"


def error(status: int, code: str, message: str, **details: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}})


class Dropped(httpx.SyncByteStream):
    """A response body that breaks after `keep` bytes, like a connection that drops."""

    def __init__(self, data: bytes, keep: int) -> None:
        self.data, self.keep = data, keep

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.keep]
        raise httpx.ReadError("connection reset by peer")


class FakeStorage:
    """Just enough of docs/storage.md, for user `alice`, with faults to inject."""

    def __init__(self, *, page: int = 100) -> None:
        self.files: dict[str, bytes] = {}
        self.versions: dict[str, int] = {}
        self.dirs: set[str] = {"alice", "bob"}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.links: dict[int, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.page = page
        self.patch_faults: dict[int, tuple[str, int]] = {}  # PATCH number -> ("drop"|"lost"|"status", n)
        self.get_faults: list[int] = []  # bytes sent before each next GET content/ breaks
        self.patches: list[tuple[int, int]] = []  # (Upload-Offset, body length) of every PATCH that arrived
        self.forbidden: set[str] = set()  # keys one may read but not change (403)

    # -- model ---------------------------------------------------------------------------------------
    @staticmethod
    def key(uri: str) -> str:
        rest = uri.split(":", 1)[1]
        if rest.startswith("//"):
            rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
        elif rest.startswith("/"):
            rest = rest[1:]
        else:
            rest = "alice/" + rest
        return "/".join(p for p in rest.split("/") if p not in ("", "."))

    def put(self, key: str, data: bytes) -> None:
        parts = key.split("/")
        for n in range(1, len(parts)):
            self.dirs.add("/".join(parts[:n]))
        self.files[key] = data
        self.versions[key] = self.versions.get(key, 0) + 1

    def entry(self, key: str) -> dict[str, Any]:
        name = key.rsplit("/", 1)[-1]
        uri = f"storage://default/{key}"
        if key in self.files:
            return {"name": name, "uri": uri, "type": "file", "size": len(self.files[key]), "mtime": MTIME}
        return {"name": name, "uri": uri, "type": "dir", "size": None, "mtime": MTIME}

    def exists(self, key: str) -> bool:
        return key in self.files or key in self.dirs

    def children(self, key: str) -> list[str]:
        prefix = key + "/"
        names = {k[len(prefix) :].split("/")[0] for k in [*self.files, *self.dirs] if k.startswith(prefix)}
        return sorted(prefix + n for n in names)

    def below(self, key: str) -> list[str]:
        return [k for k in [*self.files, *self.dirs] if k == key or k.startswith(key + "/")]

    def etag(self, key: str) -> str:
        return f'"{len(self.files[key]):x}-{self.versions[key]}"'

    # -- HTTP ----------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        q = request.url.params
        method = request.method
        if path.startswith(API + "uploads/") and path != API + "uploads/":
            return self.upload(request, path[len(API + "uploads/") :].strip("/"))
        if path.startswith(API + "links/") and path != API + "links/":
            return self.link(request, int(path[len(API + "links/") :].strip("/")))
        route = (method, path[len(API) :])
        body = json.loads(request.read() or b"{}") if method == "POST" else {}
        if route == ("GET", "list/"):
            key = self.key(q.get("uri", "storage:"))
            if key in self.files:
                return error(409, "conflict", "is a file, not a folder")
            if key not in self.dirs:
                return error(404, "not_found", f"No such file or folder: {key}")
            names = self.children(key)
            start = int(q.get("cursor") or 0)
            limit = min(int(q.get("limit", 100)), self.page)
            chunk = names[start : start + limit]
            more = start + limit < len(names)
            query = urlencode({"uri": q["uri"], "cursor": start + limit})
            nxt = f"http://internal:8000{API}list/?{query}" if more else None
            return httpx.Response(
                200,
                json={
                    "uri": f"storage://default/{key}",
                    "my_level": "manage",
                    "results": [self.entry(k) for k in chunk],
                    "next": nxt,
                    "next_cursor": str(start + limit) if more else None,
                    "previous": None,
                },
            )
        if route == ("GET", "stat/"):
            key = self.key(q["uri"])
            if not self.exists(key):
                return error(404, "not_found", f"No such file or folder: storage://default/{key}")
            return httpx.Response(200, json={**self.entry(key), "my_level": "manage"})
        if route == ("POST", "mkdir/"):
            key = self.key(body["uri"])
            if key in self.files or (key in self.dirs and not body.get("parents")):
                return error(409, "conflict", "exists already")
            self.dirs.add(key)
            if body.get("parents"):
                parts = key.split("/")
                self.dirs.update("/".join(parts[:n]) for n in range(1, len(parts)))
            return httpx.Response(201, json=self.entry(key))
        if route == ("PUT", "content/"):
            key = self.key(q["uri"])
            if key in self.forbidden:
                return error(403, "forbidden", "You may read this but not change it")
            data = request.read()
            assert int(request.headers["Content-Length"]) == len(data)
            if self.exists(key) and q.get("overwrite") in ("0", "false"):
                return error(409, "conflict", "exists already")
            self.put(key, data)
            return httpx.Response(201, json=self.entry(key))
        if route == ("GET", "content/"):
            return self.download(request, self.key(q["uri"]))
        if route == ("POST", "uploads/"):
            key = self.key(body["uri"])
            if not body.get("overwrite", True) and self.exists(key):
                return error(409, "conflict", "exists already")
            upload_id = f"u{len(self.uploads) + 1}"
            self.uploads[upload_id] = {"key": key, "size": body["size"], "data": b""}
            return httpx.Response(201, json=self.upload_out(upload_id), headers={"Location": f"/x/{upload_id}/"})
        if route == ("POST", "delete/"):
            key = self.key(body["uri"])
            if key in self.forbidden:
                return error(403, "forbidden", "You may read this but not change it")
            if not self.exists(key):
                return error(404, "not_found", "No such file or folder")
            if key in self.dirs and self.children(key) and not body.get("recursive"):
                return error(409, "conflict", "not empty")
            for k in self.below(key):
                self.files.pop(k, None)
                self.dirs.discard(k)
            return httpx.Response(204)
        if route in (("POST", "move/"), ("POST", "copy/")):
            src, dst = self.key(body["src"]), self.key(body["dst"])
            if self.exists(dst):
                return error(409, "conflict", "exists already")
            for k in sorted(self.below(src)):
                new = dst + k[len(src) :]
                if k in self.files:
                    self.put(new, self.files[k])
                else:
                    self.dirs.add(new)
            if route[1] == "move/":
                for k in self.below(src):
                    self.files.pop(k, None)
                    self.dirs.discard(k)
            return httpx.Response(201 if route[1] == "copy/" else 200, json=self.entry(dst))
        if route == ("GET", "du/"):
            key = self.key(q.get("uri", "storage:"))
            keys = self.below(key)
            files = [k for k in keys if k in self.files]
            size = sum(len(self.files[k]) for k in files)
            dirs = len(keys) - len(files) - (key in self.dirs)
            return httpx.Response(
                200, json={"uri": f"storage://default/{key}", "size": size, "files": len(files), "dirs": dirs}
            )
        if route == ("GET", "links/"):
            links = [link for link in self.links.values() if q.get("all") == "1" or link["active"]]
            if "uri" in q:
                links = [link for link in links if link["uri"] == f"storage://default/{self.key(q['uri'])}"]
            return httpx.Response(200, json={"results": links})
        if route == ("POST", "links/"):
            link_id = len(self.links) + 1
            token = f"tok{link_id:04d}" + "x" * 40
            expires = None
            if "expires_in" in body:
                expires = (datetime.now(UTC) + timedelta(seconds=body["expires_in"])).isoformat()
            self.links[link_id] = {
                "id": link_id,
                "uri": f"storage://default/{self.key(body['uri'])}",
                "kind": "temporary" if expires else "permanent",
                "token": token,
                "url": f"http://internal:8000/s/{token}/",
                "created_by": "alice",
                "created_at": MTIME,
                "expires_at": expires,
                "revoked_at": None,
                "active": True,
                "body": body,
            }
            return httpx.Response(201, json=self.links[link_id])
        return error(404, "not_found", f"no route {method} {path}")

    def download(self, request: httpx.Request, key: str) -> httpx.Response:
        if key in self.dirs:
            return error(409, "conflict", "is a folder, not a file")
        if key not in self.files:
            return error(404, "not_found", "No such file")
        data = self.files[key]
        headers = {"ETag": self.etag(key), "Accept-Ranges": "bytes"}
        status, start = 200, 0
        wanted = request.headers.get("Range")
        if wanted and request.headers.get("If-Range", self.etag(key)) == self.etag(key):
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                return httpx.Response(
                    416,
                    headers={"Content-Range": f"bytes */{len(data)}"},
                    json={"error": {"code": "range_not_satisfiable", "message": "no", "details": {}}},
                )
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        if self.get_faults:
            return httpx.Response(status, headers=headers, stream=Dropped(body, self.get_faults.pop(0)))
        return httpx.Response(status, headers=headers, content=body)

    def upload_out(self, upload_id: str) -> dict[str, Any]:
        upload = self.uploads[upload_id]
        return {
            "id": upload_id,
            "uri": f"storage://default/{upload['key']}",
            "size": upload["size"],
            "offset": len(upload["data"]),
            "overwrite": True,
            "complete": len(upload["data"]) == upload["size"],
            "url": f"{API}uploads/{upload_id}/",
        }

    def upload_headers(self, upload_id: str) -> dict[str, str]:
        upload = self.uploads[upload_id]
        return {"Upload-Offset": str(len(upload["data"])), "Upload-Length": str(upload["size"])}

    def upload(self, request: httpx.Request, upload_id: str) -> httpx.Response:
        if upload_id not in self.uploads:
            return error(404, "not_found", "No such upload")
        upload = self.uploads[upload_id]
        if request.method == "HEAD":
            return httpx.Response(200, headers=self.upload_headers(upload_id))
        if request.method == "DELETE":
            del self.uploads[upload_id]
            return httpx.Response(204)
        assert request.method == "PATCH"
        offset = int(request.headers["Upload-Offset"])
        number = len(self.patches) + 1
        self.patches.append((offset, int(request.headers["Content-Length"])))
        fault = self.patch_faults.get(number)
        if fault and fault[0] == "status":
            request.read()
            if fault[1] == 409:
                return error(409, "conflict", "Another request is writing to this upload")
            return error(fault[1], "forbidden" if fault[1] == 403 else "error", f"status {fault[1]}")
        if offset != len(upload["data"]):
            request.read()
            return error(409, "conflict", "wrong offset", offset=len(upload["data"]))
        if fault and fault[0] == "lost":
            upload["data"] += request.read()
            if len(upload["data"]) == upload["size"]:
                self.put(upload["key"], upload["data"])
            raise httpx.ReadError("connection reset by peer")
        if fault and fault[0] == "drop":
            got = b""
            for piece in request.stream:
                got += piece
                if len(got) >= fault[1]:
                    break
            upload["data"] += got[: fault[1]]  # the server keeps what arrived before the drop
            raise httpx.WriteError("connection reset by peer")
        upload["data"] += request.read()
        if len(upload["data"]) == upload["size"]:
            self.put(upload["key"], upload["data"])
        return httpx.Response(200, json=self.upload_out(upload_id), headers=self.upload_headers(upload_id))

    def link(self, request: httpx.Request, link_id: int) -> httpx.Response:
        if link_id not in self.links:
            return error(404, "not_found", f"No such link: {link_id}")
        if request.method == "DELETE":
            self.links[link_id].update(active=False, revoked_at=MTIME)
            return httpx.Response(204)
        return httpx.Response(200, json=self.links[link_id])

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def seen(self, method: str, endpoint: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == API + endpoint]


@pytest.fixture
def fs() -> FakeStorage:
    return FakeStorage()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(transfer, "sleep", slept.append)
    return slept


@pytest.fixture
def kiln(logged_in: Path, run: Run, fs: FakeStorage, sleeps: list[float]) -> Callable[..., Any]:
    def invoke(*args: str) -> Any:
        return run(list(args), transport=fs.transport)

    return invoke


@pytest.fixture
def client(fs: FakeStorage) -> Iterator[KilnClient]:
    with KilnClient(URL, "t", transport=fs.transport) as c:
        yield c


def blob(size: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


# --- paths and small parsers -----------------------------------------------------------------------


def test_storage_paths_and_local_paths_are_told_apart() -> None:
    for arg in ("storage:", "storage:x", "storage:/alice/x", "storage://default/alice/x", "STORAGE:x"):
        assert is_storage(arg)
    for arg in ("x", "./storage:x", "/tmp/storage:x", "C:\\data", "file:x", "data/"):
        assert not is_storage(arg)
    assert local_path("file:///tmp/a b") == Path("/tmp/a b")
    assert local_path("file:rel/x") == Path("rel/x")
    assert local_path("./job:x") == Path("job:x")
    for arg in ("job:x", "image:y", "flow:z", ""):
        with pytest.raises(KilnError) as info:
            local_path(arg)
        assert info.value.exit_code == 65
    assert check_storage(" storage:x ") == "storage:x"
    with pytest.raises(KilnError) as info:
        check_storage("data/x")
    assert info.value.exit_code == 65 and "storage:PATH" in info.value.message


def test_join_and_folder_destinations() -> None:
    assert join("storage:", "a", "b c") == "storage:a/b c"
    assert join("storage:x", "a") == "storage:x/a"
    assert join("storage:x/", "a") == "storage:x/a"
    assert join("storage://default/bob", "a") == "storage://default/bob/a"
    assert join("storage:x", "") == "storage:x"
    assert wants_folder("storage:") and wants_folder("storage:x/") and wants_folder("dir/")
    assert not wants_folder("storage:x") and not wants_folder("dir")


@pytest.mark.parametrize(
    ("text", "size"),
    [("1", 1), ("512K", 512 << 10), ("8M", 8 << 20), ("8MiB", 8 << 20), ("8mb", 8 << 20), ("1G", 1 << 30)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "8X", "-1", "1.5M"])
def test_bad_sizes_exit_65(text: str) -> None:
    with pytest.raises(KilnError) as info:
        parse_size(text)
    assert info.value.exit_code == 65


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("never", {}),
        ("NEVER", {}),
        ("30m", {"expires_in": 1800}),
        ("1h", {"expires_in": 3600}),
        ("7d", {"expires_in": 604_800}),
        ("2w", {"expires_in": 1_209_600}),
        ("1d12h", {"expires_in": 129_600}),
        ("90", {"expires_in": 90}),
        ("2030-01-02T03:04:05+00:00", {"expires_at": "2030-01-02T03:04:05+00:00"}),
        ("2030-01-02T03:04:05Z", {"expires_at": "2030-01-02T03:04:05+00:00"}),
    ],
)
def test_link_expiry_parsing(text: str, fields: dict[str, Any]) -> None:
    assert parse_expiry(text) == fields


def test_link_expiry_without_zone_is_local_time() -> None:
    value = parse_expiry("2030-06-01")["expires_at"]
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None
    assert moment == datetime(2030, 6, 1).astimezone()


@pytest.mark.parametrize("text", ["", "0", "0m", "soon", "7 days", "1y", "-1h"])
def test_bad_expiries_exit_65(text: str) -> None:
    with pytest.raises(KilnError) as info:
        parse_expiry(text)
    assert info.value.exit_code == 65


def test_until_and_human_size() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert until((now + timedelta(days=6, hours=1)).isoformat(), now) == "in 6d"
    assert until((now + timedelta(minutes=5)).isoformat(), now) == "in 5m"
    assert until((now - timedelta(seconds=1)).isoformat(), now) == "expired"
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 8 << 20, 5 << 40)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "8.0 MiB", "5.0 TiB",
    ]  # fmt: skip
    assert human_size(None) == ""


def test_link_references() -> None:
    token = "Ab3_" + "x" * 39
    assert link_reference("12") == (12, None)
    assert link_reference(f"http://kiln.test/s/{token}/") == (None, token)
    assert link_reference(f"https://kiln.test/prefix/s/{token}/sub/file.txt") == (None, token)
    assert link_reference(token) == (None, token)
    with pytest.raises(KilnError) as info:
        link_reference("http://kiln.test/files/")
    assert info.value.exit_code == 65


def test_progress_bars_seek_back_and_remove() -> None:
    with Output().transfer_progress(enabled=True) as progress:
        bar = progress.add("data.bin", 100)
        bar(60)
        bar.seek(40)  # a transfer resumed from the server's offset
        bar(10)
        assert bar.completed == 50
        bar.remove()
    with Output().transfer_progress(enabled=False) as progress:
        quiet = progress.add("x", 10)
        quiet(5)
        quiet.seek(2)
        quiet.remove()
        assert quiet.completed == 2


# --- ls, mkdir, df ---------------------------------------------------------------------------------


def test_ls_follows_cursor_pages(kiln: Any, fs: FakeStorage) -> None:
    fs.page = 2
    for name in ("a.txt", "b.bin", "c", "d.csv", "e"):
        fs.put(f"alice/data/{name}", b"x" * 3) if "." in name else fs.dirs.add(f"alice/data/{name}")
    result = kiln("ls", "storage:data")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["a.txt", "b.bin", "c/", "d.csv", "e/"]
    lists = fs.seen("GET", "list/")
    assert [r.url.params.get("cursor") for r in lists] == [None, "2", "4"]
    assert all(r.url.host == "kiln.test" for r in lists)  # `next` on an internal host is followed on ours
    entries = json.loads(kiln("ls", "storage:data", "--json").stdout)
    assert [e["name"] for e in entries] == ["a.txt", "b.bin", "c", "d.csv", "e"]


def test_ls_long_is_a_table_and_a_file_lists_itself(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/data/big.bin", b"x" * 1536)
    fs.dirs.add("alice/data/sub")
    lines = kiln("ls", "-l", "storage:data").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "SIZE", "MODIFIED"]
    assert lines[1].split()[:4] == ["big.bin", "file", "1.5", "KiB"]
    assert lines[2].split()[:2] == ["sub", "dir"]
    single = kiln("ls", "storage:data/big.bin")
    assert single.exit_code == 0 and single.stdout == "big.bin\n"


def test_ls_defaults_to_home_and_errors_are_one_line(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/x", b"1")
    assert kiln("ls").stdout == "x\n"
    assert fs.seen("GET", "list/")[0].url.params["uri"] == "storage:"
    missing = kiln("ls", "storage:/bob/nope")
    assert missing.exit_code == 4
    assert missing.stderr.startswith("kiln: not found:") and missing.stderr.count("\n") == 1
    assert kiln("ls", "data").exit_code == 65


def test_mkdir_and_parents(kiln: Any, fs: FakeStorage) -> None:
    result = kiln("mkdir", "-p", "storage:a/b/c", "storage:d")
    assert result.exit_code == 0, result.output
    assert {"alice/a/b/c", "alice/a/b", "alice/d"} <= fs.dirs
    assert "Created storage://default/alice/a/b/c" in result.stdout
    again = kiln("mkdir", "storage:d", "storage:e")
    assert again.exit_code == 7 and "storage:d" in again.stderr and "alice/e" in fs.dirs


def test_df_is_human_and_json(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/data/a", b"x" * 2048)
    fs.put("alice/data/sub/b", b"y")
    lines = kiln("df", "storage:data").stdout.splitlines()
    assert lines[0].split() == ["PATH", "SIZE", "BYTES", "FILES", "FOLDERS"]
    assert lines[1].split() == ["storage://default/alice/data", "2.0", "KiB", "2049", "2", "1"]
    assert json.loads(kiln("df", "--json").stdout)["files"] == 2


# --- uploads ---------------------------------------------------------------------------------------


def test_small_files_go_up_in_one_streamed_put(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    result = kiln("cp", str(tmp_path / "a.txt"), "storage:docs/")
    assert result.exit_code == 0, result.output
    assert fs.files["alice/docs/a.txt"] == b"hello"
    put = fs.seen("PUT", "content/")[0]
    assert put.url.params["overwrite"] == "1" and put.headers["Content-Length"] == "5"
    assert "transfer-encoding" not in put.headers
    assert not fs.seen("POST", "uploads/")


def test_big_files_go_up_in_chunks(fs: FakeStorage, client: KilnClient, tmp_path: Path) -> None:
    data = blob(100)
    (tmp_path / "big").write_bytes(data)
    positions: list[int] = []
    entry = transfer.upload_file(client, tmp_path / "big", "storage:big", chunk_size=30, progress=positions.append)
    assert fs.files["alice/big"] == data
    assert fs.patches == [(0, 30), (30, 30), (60, 30), (90, 10)]
    assert entry["uri"] == "storage://default/alice/big" and entry["size"] == 100
    assert positions[-1] == 100 and positions == sorted(positions)
    assert not fs.seen("PUT", "content/")


def test_upload_resumes_from_the_servers_offset_after_a_drop(
    fs: FakeStorage, client: KilnClient, tmp_path: Path, sleeps: list[float]
) -> None:
    data = blob(100, seed=7)
    (tmp_path / "big").write_bytes(data)
    fs.patch_faults = {2: ("drop", 7), 3: ("drop", 0)}  # the 2nd PATCH breaks after 7 bytes, the 3rd at once
    positions: list[int] = []
    transfer.upload_file(client, tmp_path / "big", "storage:big", chunk_size=30, progress=positions.append)
    assert fs.files["alice/big"] == data
    assert fs.patches == [(0, 30), (30, 30), (37, 30), (37, 30), (67, 30), (97, 3)]
    assert len([r for r in fs.requests if r.method == "HEAD"]) == 2
    assert sleeps == [0.5, 0.5]  # the counter starts again once the server got more bytes
    assert 37 in positions and positions[-1] == 100


def test_upload_busy_and_gateway_errors_are_retried(
    fs: FakeStorage, client: KilnClient, tmp_path: Path, sleeps: list[float]
) -> None:
    (tmp_path / "big").write_bytes(blob(50))
    fs.patch_faults = {1: ("status", 409), 2: ("status", 409), 3: ("status", 503)}
    transfer.upload_file(client, tmp_path / "big", "storage:big", chunk_size=25)
    assert fs.files["alice/big"] == blob(50)
    assert sleeps == [0.5, 1.0, 0.5]  # busy twice (its own patience), then one retry


def test_a_lost_answer_is_not_sent_again(fs: FakeStorage, client: KilnClient, tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(blob(50))
    fs.patch_faults = {1: ("lost", 0), 3: ("lost", 0)}  # stored, but the answer never came back
    entry = transfer.upload_file(client, tmp_path / "big", "storage:big", chunk_size=25)
    assert fs.files["alice/big"] == blob(50) and entry["size"] == 50
    assert fs.patches == [(0, 25), (25, 25)]  # the last HEAD said: complete


def test_a_busy_upload_is_waited_for_then_given_up(
    kiln: Any, fs: FakeStorage, tmp_path: Path, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "monotonic", lambda: sum(sleeps))
    (tmp_path / "big").write_bytes(blob(64))
    fs.patch_faults = {n: ("status", 409) for n in range(1, 100)}
    result = kiln("cp", "--chunk-size", "16", str(tmp_path / "big"), "storage:big")
    assert result.exit_code == 7 and "Another request" in result.stderr
    assert 180 < sum(sleeps) < 190 and max(sleeps) == transfer.BUSY_WAIT_MAX
    assert fs.uploads == {}  # cancelled


def test_upload_gives_up_after_the_retries(kiln: Any, fs: FakeStorage, tmp_path: Path, sleeps: list[float]) -> None:
    (tmp_path / "big").write_bytes(blob(64))
    fs.patch_faults = {n: ("drop", 0) for n in range(1, 20)}
    result = kiln("cp", "--chunk-size", "16", "--retries", "3", str(tmp_path / "big"), "storage:big")
    assert result.exit_code == 6 and "unreachable" in result.stderr
    assert sleeps == [0.5, 1.0, 2.0] and len(fs.patches) == 4
    assert "alice/big" not in fs.files


def test_a_refused_chunk_cancels_the_upload(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(blob(64))
    fs.patch_faults = {2: ("status", 403)}
    result = kiln("cp", "--chunk-size", "16", str(tmp_path / "big"), "storage:big")
    assert result.exit_code == 5
    assert fs.uploads == {} and [r.method for r in fs.requests if "/uploads/u" in r.url.path][-1] == "DELETE"


def test_a_dropped_small_upload_is_sent_again(fs: FakeStorage, client: KilnClient, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"abc")
    calls = {"n": 0}
    handle = fs.handle

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and calls["n"] == 0:
            calls["n"] += 1
            raise httpx.ConnectError("connection refused")
        return handle(request)

    with KilnClient(URL, "t", transport=httpx.MockTransport(flaky)) as c:
        transfer.upload_file(c, tmp_path / "a", "storage:a")
    assert fs.files["alice/a"] == b"abc"


def test_a_file_that_shrinks_while_uploading_is_an_error(fs: FakeStorage, client: KilnClient, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"abc")
    with pytest.raises(KilnError, match="got shorter"):
        transfer.upload_simple(client, tmp_path / "a", "storage:a", size=10)


# --- downloads -------------------------------------------------------------------------------------


def test_download_resumes_with_range_after_a_drop(
    fs: FakeStorage, client: KilnClient, tmp_path: Path, sleeps: list[float]
) -> None:
    data = blob(5000, seed=3)
    fs.put("alice/big", data)
    fs.get_faults = [1200, 800]
    target = tmp_path / "big"
    size = transfer.download_file(client, "storage:big", target)
    assert size == 5000 and target.read_bytes() == data
    gets = fs.seen("GET", "content/")
    assert [g.headers.get("Range") for g in gets] == [None, "bytes=1200-", "bytes=2000-"]
    assert all(g.headers.get("If-Range") == fs.etag("alice/big") for g in gets[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big"]  # part file and its note are gone
    assert sleeps == [0.5, 0.5]


def test_download_continues_a_part_file_left_by_an_earlier_run(
    fs: FakeStorage, client: KilnClient, tmp_path: Path
) -> None:
    data = blob(3000)
    fs.put("alice/big", data)
    target = tmp_path / "big"
    part = transfer.part_path(target)
    part.write_bytes(data[:1000])
    transfer.etag_path(part).write_text(fs.etag("alice/big"))
    transfer.download_file(client, "storage:big", target)
    assert target.read_bytes() == data
    assert fs.seen("GET", "content/")[0].headers["Range"] == "bytes=1000-"


def test_download_starts_over_when_the_file_changed(fs: FakeStorage, client: KilnClient, tmp_path: Path) -> None:
    fs.put("alice/big", blob(3000))
    target = tmp_path / "big"
    part = transfer.part_path(target)
    part.write_bytes(blob(3000)[:1000])
    transfer.etag_path(part).write_text(fs.etag("alice/big"))
    fs.put("alice/big", blob(2500, seed=9))  # a new version: If-Range no longer matches -> 200
    transfer.download_file(client, "storage:big", target)
    assert target.read_bytes() == blob(2500, seed=9)


def test_a_part_file_without_its_etag_is_not_trusted(fs: FakeStorage, client: KilnClient, tmp_path: Path) -> None:
    fs.put("alice/a", b"new content")
    target = tmp_path / "a"
    transfer.part_path(target).write_bytes(b"old")
    transfer.download_file(client, "storage:a", target)
    assert target.read_bytes() == b"new content"
    assert "Range" not in fs.seen("GET", "content/")[0].headers


def test_download_replaces_the_target_only_at_the_end(
    fs: FakeStorage, client: KilnClient, tmp_path: Path, sleeps: list[float]
) -> None:
    fs.put("alice/a", b"fresh bytes")
    target = tmp_path / "a"
    target.write_bytes(b"old")
    fs.get_faults = [4, 0, 0, 0]  # some bytes, then a server that never sends any more
    with pytest.raises(KilnError) as info:
        transfer.download_file(client, "storage:a", target, retries=2)
    assert info.value.exit_code == 6
    assert target.read_bytes() == b"old"
    assert transfer.part_path(target).read_bytes() == b"fres"  # kept for the next run
    assert sleeps == [0.5, 1.0]  # two retries; the first failure came after progress
    transfer.download_file(client, "storage:a", target)
    assert target.read_bytes() == b"fresh bytes"
    assert fs.seen("GET", "content/")[-1].headers["Range"] == "bytes=4-"


# --- cp --------------------------------------------------------------------------------------------


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(blob(70))
    (root / "sub" / "deeper" / "c d.txt").write_bytes(b"")


def tree(root: Path) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            found[os.path.relpath(os.path.join(folder, name), root)] = Path(folder, name).read_bytes()
    return found


def test_cp_r_up_and_back_down(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    up = kiln("cp", "-r", "--chunk-size", "32", str(src), "storage:backup")
    assert up.exit_code == 0, up.output
    assert fs.files["alice/backup/sub/b.bin"] == blob(70) and "alice/backup/empty" in fs.dirs
    assert fs.seen("POST", "uploads/")  # b.bin went through the resumable path
    (tmp_path / "down").mkdir()
    down = kiln("cp", "-r", "storage:backup", str(tmp_path / "down"))
    assert down.exit_code == 0, down.output
    assert tree(tmp_path / "down" / "backup") == tree(src)
    results = json.loads(kiln("cp", "-r", "--json", "storage:backup", str(tmp_path / "again")).stdout)
    assert {r["action"] for r in results} == {"download"} and len(results) == 3
    assert tree(tmp_path / "again") == tree(src)


def test_cp_into_an_existing_folder_or_as_a_new_name(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"A")
    fs.dirs.add("alice/dir")
    assert kiln("cp", str(tmp_path / "a.txt"), "storage:dir").exit_code == 0
    assert kiln("cp", str(tmp_path / "a.txt"), "storage:renamed.txt").exit_code == 0
    assert fs.files["alice/dir/a.txt"] == b"A" and fs.files["alice/renamed.txt"] == b"A"
    assert kiln("cp", "storage:renamed.txt", str(tmp_path)).exit_code == 0
    assert (tmp_path / "renamed.txt").read_bytes() == b"A"
    several = kiln("cp", str(tmp_path / "a.txt"), str(tmp_path / "renamed.txt"), "storage:nope")
    assert several.exit_code == 65 and "folder" in several.stderr


def test_cp_refuses_folders_without_r(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    result = kiln("cp", str(tmp_path / "d"), "storage:x")
    assert result.exit_code == 7 and "-r" in result.stderr
    fs.dirs.add("alice/remote")
    assert kiln("cp", "storage:remote", str(tmp_path / "r")).exit_code == 7
    assert kiln("cp", "storage:remote", "storage:copy").exit_code == 7
    assert not fs.seen("POST", "copy/")


def test_cp_no_clobber_skips_existing_files(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    fs.put("alice/a.txt", b"remote")
    (tmp_path / "a.txt").write_bytes(b"local")
    up = kiln("cp", "-n", "--json", str(tmp_path / "a.txt"), "storage:a.txt")
    assert up.exit_code == 0 and json.loads(up.stdout)[0]["skipped"] is True
    assert fs.files["alice/a.txt"] == b"remote"
    assert fs.seen("PUT", "content/")[0].url.params["overwrite"] == "0"
    down = kiln("cp", "-n", "storage:a.txt", str(tmp_path / "a.txt"))
    assert down.exit_code == 0 and (tmp_path / "a.txt").read_bytes() == b"local"
    over = kiln("cp", "storage:a.txt", str(tmp_path / "a.txt"))
    assert over.exit_code == 0 and (tmp_path / "a.txt").read_bytes() == b"remote"


def test_cp_storage_to_storage_copies_on_the_server(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/a.txt", b"one")
    fs.put("alice/b.txt", b"two")
    assert kiln("cp", "storage:a.txt", "storage:/bob/").exit_code == 0
    assert fs.files["bob/a.txt"] == b"one"
    result = kiln("cp", "storage:a.txt", "storage:b.txt")  # replaces b.txt like cp
    assert result.exit_code == 0, result.output
    assert fs.files["alice/b.txt"] == b"one"
    assert fs.seen("POST", "delete/") and len(fs.seen("POST", "copy/")) == 2
    same = kiln("cp", "storage:a.txt", "storage://default/alice/a.txt")
    assert same.exit_code == 7 and fs.files["alice/a.txt"] == b"one"


def test_cp_local_to_local_and_missing_sources(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    assert kiln("cp", str(tmp_path), str(tmp_path / "x")).exit_code == 65
    missing = kiln("cp", str(tmp_path / "nope"), "storage:x")
    assert missing.exit_code == 4 and "nope" in missing.stderr
    fs.put("alice/a", b"a")
    nowhere = kiln("cp", "storage:a", str(tmp_path / "no" / "such" / "a"))
    assert nowhere.exit_code == 4 and "no such local folder" in nowhere.stderr
    assert kiln("cp", "storage:a", "job:x").exit_code == 65


def test_cp_continues_after_one_failure(kiln: Any, fs: FakeStorage, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    fs.forbidden.add("alice/dir/a")
    result = kiln("cp", str(tmp_path / "a"), str(tmp_path / "b"), "storage:dir/")
    assert result.exit_code == 5
    assert fs.files["alice/dir/b"] == b"b" and "forbidden" in result.stderr


# --- rm, mv ----------------------------------------------------------------------------------------


def test_rm_refuses_folders_without_r(kiln: Any, fs: FakeStorage) -> None:
    fs.dirs.add("alice/empty")
    fs.put("alice/full/x", b"x")
    refused = kiln("rm", "storage:empty")
    assert refused.exit_code == 7 and "rm -r" in refused.stderr and "alice/empty" in fs.dirs
    assert kiln("rm", "-r", "storage:full", "storage:empty").exit_code == 0
    assert "alice/full/x" not in fs.files and "alice/empty" not in fs.dirs
    assert fs.seen("POST", "delete/")[0].read() == b'{"uri":"storage://default/alice/full","recursive":true}'


def test_rm_missing_paths(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/a", b"a")
    assert kiln("rm", "storage:nope", "storage:a").exit_code == 4
    assert "alice/a" not in fs.files
    assert kiln("rm", "-f", "storage:nope").exit_code == 0


def test_rm_forbidden_exits_5(kiln: Any, fs: FakeStorage) -> None:
    fs.put("bob/x", b"x")
    fs.forbidden.add("bob/x")
    result = kiln("rm", "storage:/bob/x")
    assert result.exit_code == 5 and result.stderr.count("\n") == 1


def test_mv_renames_moves_into_folders_and_replaces_files(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/a", b"a")
    fs.put("alice/b", b"b")
    fs.put("alice/c", b"c")
    fs.dirs.add("alice/dir")
    assert kiln("mv", "storage:a", "storage:a2").exit_code == 0
    assert kiln("mv", "storage:a2", "storage:b", "storage:dir").exit_code == 0
    assert set(fs.files) == {"alice/dir/a2", "alice/dir/b", "alice/c"}
    assert kiln("mv", "-n", "storage:c", "storage:dir/b").exit_code == 0 and fs.files["alice/c"] == b"c"
    assert kiln("mv", "storage:c", "storage:dir/b").exit_code == 0
    assert fs.files["alice/dir/b"] == b"c" and "alice/c" not in fs.files
    assert kiln("mv", "storage:dir", "storage:nowhere", "storage:file-not-folder").exit_code == 65


# --- links -----------------------------------------------------------------------------------------


def test_link_create_prints_the_full_url(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/report.pdf", b"%PDF")
    result = kiln("link", "create", "storage:report.pdf")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{URL}/s/{fs.links[1]['token']}/\n"
    assert fs.links[1]["body"] == {"uri": "storage:report.pdf"}  # permanent by default
    temporary = kiln("link", "create", "storage:report.pdf", "--expires", "7d")
    assert fs.links[2]["body"] == {"uri": "storage:report.pdf", "expires_in": 604_800}
    assert "Expires" in temporary.stderr and "(in 6d" in temporary.stderr
    assert kiln("link", "create", "storage:report.pdf", "--expires", "soon").exit_code == 65
    assert len(fs.links) == 2


def test_link_ls_and_revoke_by_id_and_url(kiln: Any, fs: FakeStorage) -> None:
    fs.put("alice/a", b"a")
    kiln("link", "create", "storage:a")
    kiln("link", "create", "storage:a", "--expires", "1h")
    lines = kiln("link", "ls", "storage:a").stdout.splitlines()
    assert lines[0].split() == ["ID", "PATH", "URL", "CREATED", "BY", "EXPIRES"]
    assert "never" in lines[1] and f"{URL}/s/{fs.links[1]['token']}/" in lines[1] and "(in " in lines[2]
    assert fs.seen("GET", "links/")[0].url.params["uri"] == "storage:a"
    assert kiln("link", "revoke", "1").exit_code == 0
    by_url = kiln("link", "revoke", f"{URL}/s/{fs.links[2]['token']}/")
    assert by_url.exit_code == 0, by_url.output
    assert "Revoked link 2 to storage://default/alice/a" in by_url.stdout
    assert not any(link["active"] for link in fs.links.values())
    assert kiln("link", "ls").stdout == "No links.\n"
    assert "revoked" in kiln("link", "ls", "--all").stdout
    unknown = kiln("link", "revoke", f"{URL}/s/{'z' * 43}/")
    assert unknown.exit_code == 4 and "ID" in unknown.stderr
