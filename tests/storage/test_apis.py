"""The Files API in process (DRF test client), on both backends: every operation, its errors, and
who may do what."""

from __future__ import annotations

import os

import pytest

from console import services as sharing
from tests.storage.helpers import body, get, names, put, unzip, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_client(storage, bob, client_for):
    return client_for(bob)


def test_upload_then_stat_list_and_download(bob_client):
    created = put(bob_client, "storage:data/a.txt", b"hello")
    assert created.status_code == 201
    assert created.json()["uri"] == "storage://default/bob/data/a.txt"
    assert created.json()["type"] == "file" and created.json()["size"] == 5
    stat = bob_client.get(url("stat", uri="storage:data/a.txt")).json()
    assert (stat["type"], stat["size"], stat["my_level"]) == ("file", 5, "manage") and stat["mtime"]
    listing = bob_client.get(url("list", uri="storage:data")).json()
    assert listing["uri"] == "storage://default/bob/data"
    assert [(e["name"], e["type"], e["size"]) for e in listing["results"]] == [("a.txt", "file", 5)]
    assert listing["next"] is None
    home = bob_client.get(url("list")).json()  # no uri: my home
    assert [(e["name"], e["type"]) for e in home["results"]] == [("data", "dir")]
    download = get(bob_client, "storage:/bob/data/a.txt")
    assert download.status_code == 200 and body(download) == b"hello"
    assert download["Content-Length"] == "5" and download["Accept-Ranges"] == "bytes"
    assert download["Content-Disposition"] == 'attachment; filename="a.txt"'
    assert download["X-Content-Type-Options"] == "nosniff"


def test_an_empty_home_lists_empty_and_stats_as_a_folder(bob_client):
    assert bob_client.get(url("list", uri="storage:")).json()["results"] == []
    assert bob_client.get(url("stat", uri="storage:")).json()["type"] == "dir"


def test_upload_creates_parents_overwrites_by_default_and_refuses_with_overwrite_0(bob_client):
    assert put(bob_client, "storage:a/b/c/f.bin", b"one").status_code == 201
    assert names(bob_client, "storage:a/b") == ["c"]
    assert put(bob_client, "storage:a/b/c/f.bin", b"two").status_code == 201
    refused = put(bob_client, "storage:a/b/c/f.bin", b"three", overwrite=0)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert body(get(bob_client, "storage:a/b/c/f.bin")) == b"two"
    assert put(bob_client, "storage:a/new.bin", b"x", overwrite=0).status_code == 201


def test_upload_onto_a_folder_or_below_a_file_is_a_conflict(bob_client):
    put(bob_client, "storage:d/f.txt", b"x")
    assert put(bob_client, "storage:d", b"x").status_code == 409
    below_file = put(bob_client, "storage:d/f.txt/inner", b"x")
    assert below_file.status_code == 409 and "is a file" in below_file.json()["error"]["message"]


def test_empty_file_uploads(bob_client):
    assert put(bob_client, "storage:empty", b"").json()["size"] == 0
    assert body(get(bob_client, "storage:empty")) == b""


def test_mkdir_with_and_without_parents(bob_client):
    missing_parent = bob_client.post(url("mkdir"), {"uri": "storage:x/y"}, format="json")
    assert missing_parent.status_code == 404
    made = bob_client.post(url("mkdir"), {"uri": "storage:x/y", "parents": True}, format="json")
    assert made.status_code == 201 and made.json()["type"] == "dir"
    assert bob_client.post(url("mkdir"), {"uri": "storage:x/y"}, format="json").status_code == 409
    assert bob_client.post(url("mkdir"), {"uri": "storage:x/y", "parents": True}, format="json").status_code == 201
    assert bob_client.post(url("mkdir"), {"uri": "storage:x/y/z"}, format="json").status_code == 201
    assert names(bob_client, "storage:x/y") == ["z"]
    put(bob_client, "storage:file", b"x")
    assert bob_client.post(url("mkdir"), {"uri": "storage:file/sub", "parents": True},
                           format="json").status_code == 409


def test_listing_pages_with_a_cursor(bob_client):
    for name in ["e", "a", "c", "g", "b"]:
        put(bob_client, f"storage:many/{name}.txt", name.encode())
    for name in ["d", "f"]:
        bob_client.post(url("mkdir"), {"uri": f"storage:many/{name}", "parents": True}, format="json")
    put(bob_client, "storage:many/d/inside", b"not listed at this level")
    seen, link = [], url("list", uri="storage:many", limit=3)
    while link:
        page = bob_client.get(link).json()
        assert len(page["results"]) <= 3
        seen += [(e["name"], e["type"]) for e in page["results"]]
        link = page["next"]
    assert seen == [("a.txt", "file"), ("b.txt", "file"), ("c.txt", "file"), ("d", "dir"), ("e.txt", "file"),
                    ("f", "dir"), ("g.txt", "file")]
    assert bob_client.get(url("list", uri="storage:many", cursor="%%%")).status_code == 400


def test_listing_a_file_or_nothing(bob_client):
    put(bob_client, "storage:f.txt", b"x")
    assert bob_client.get(url("list", uri="storage:f.txt")).status_code == 409
    assert bob_client.get(url("list", uri="storage:nothing")).status_code == 404
    assert bob_client.get(url("stat", uri="storage:nothing")).status_code == 404
    assert get(bob_client, "storage:nothing").status_code == 404


def test_delete_files_and_folders(bob_client):
    put(bob_client, "storage:t/sub/f1", b"1")
    put(bob_client, "storage:t/f2", b"2")
    not_empty = bob_client.post(url("delete"), {"uri": "storage:t"}, format="json")
    assert not_empty.status_code == 409
    assert bob_client.post(url("delete"), {"uri": "storage:t/f2"}, format="json").status_code == 204
    assert bob_client.post(url("delete"), {"uri": "storage:t/sub/f1"}, format="json").status_code == 204
    assert names(bob_client, "storage:t") == ["sub"]  # a folder outlives its last file, on S3 too
    assert bob_client.post(url("delete"), {"uri": "storage:t/sub"}, format="json").status_code == 204
    put(bob_client, "storage:t/deep/er/f", b"x")
    assert bob_client.post(url("delete"), {"uri": "storage:t", "recursive": True}, format="json").status_code == 204
    assert names(bob_client, "storage:") == []
    assert bob_client.post(url("delete"), {"uri": "storage:t"}, format="json").status_code == 404
    home = bob_client.post(url("delete"), {"uri": "storage:", "recursive": True}, format="json")
    assert home.status_code == 400


def test_move_and_rename(bob_client):
    put(bob_client, "storage:src/a.txt", b"A")
    put(bob_client, "storage:src/sub/b.txt", b"B")
    moved = bob_client.post(url("move"), {"src": "storage:src/a.txt", "dst": "storage:other/renamed.txt"},
                            format="json")
    assert moved.status_code == 200 and moved.json()["uri"] == "storage://default/bob/other/renamed.txt"
    assert body(get(bob_client, "storage:other/renamed.txt")) == b"A"
    assert names(bob_client, "storage:src") == ["sub"]
    folder = bob_client.post(url("move"), {"src": "storage:src", "dst": "storage:dst"}, format="json")
    assert folder.status_code == 200 and folder.json()["type"] == "dir"
    assert body(get(bob_client, "storage:dst/sub/b.txt")) == b"B"
    assert bob_client.get(url("stat", uri="storage:src")).status_code == 404
    onto = bob_client.post(url("move"), {"src": "storage:dst", "dst": "storage:other"}, format="json")
    assert onto.status_code == 409
    into_itself = bob_client.post(url("move"), {"src": "storage:dst", "dst": "storage:dst/sub/x"}, format="json")
    assert into_itself.status_code == 400
    assert bob_client.post(url("move"), {"src": "storage:gone", "dst": "storage:x"}, format="json").status_code == 404


def test_copy_files_and_folders(bob_client):
    put(bob_client, "storage:c/a.txt", b"A")
    put(bob_client, "storage:c/sub/b.txt", b"B")
    bob_client.post(url("mkdir"), {"uri": "storage:c/empty"}, format="json")
    copied = bob_client.post(url("copy"), {"src": "storage:c", "dst": "storage:c2"}, format="json")
    assert copied.status_code == 201 and copied.json()["type"] == "dir"
    assert names(bob_client, "storage:c2") == ["a.txt", "empty", "sub"]
    assert body(get(bob_client, "storage:c2/sub/b.txt")) == b"B"
    assert body(get(bob_client, "storage:c/sub/b.txt")) == b"B"
    one = bob_client.post(url("copy"), {"src": "storage:c/a.txt", "dst": "storage:c2/sub/a-copy.txt"}, format="json")
    assert one.status_code == 201 and body(get(bob_client, "storage:c2/sub/a-copy.txt")) == b"A"
    assert bob_client.post(url("copy"), {"src": "storage:c", "dst": "storage:c2"}, format="json").status_code == 409
    assert bob_client.post(url("copy"), {"src": "storage:c", "dst": "storage:c/in"}, format="json").status_code == 400


def test_disk_usage_of_a_path_and_of_the_home(bob_client):
    put(bob_client, "storage:u/a", b"12345")
    put(bob_client, "storage:u/b/c", b"123")
    put(bob_client, "storage:v", b"1")
    assert bob_client.get(url("du", uri="storage:u")).json() == {
        "uri": "storage://default/bob/u", "size": 8, "files": 2, "dirs": 1}
    assert bob_client.get(url("du", uri="storage:u/a")).json()["size"] == 5
    home = bob_client.get(url("du")).json()
    assert (home["uri"], home["size"], home["files"]) == ("storage://default/bob", 9, 3)


def test_range_requests(bob_client):
    data = bytes(range(256)) * 4
    put(bob_client, "storage:r.bin", data)

    def ranged(header, **extra):
        return get(bob_client, "storage:r.bin", HTTP_RANGE=header, **extra)

    part = ranged("bytes=10-19")
    assert part.status_code == 206 and body(part) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}" and part["Content-Length"] == "10"
    assert body(ranged("bytes=1000-")) == data[1000:]
    assert body(ranged("bytes=-5")) == data[-5:]
    assert body(ranged("bytes=1020-5000")) == data[1020:]
    unsatisfiable = ranged(f"bytes={len(data)}-")
    assert unsatisfiable.status_code == 416 and unsatisfiable["Content-Range"] == f"bytes */{len(data)}"
    several = ranged("bytes=0-1,5-6")
    assert several.status_code == 200 and body(several) == data
    etag = part["ETag"]
    assert ranged("bytes=0-1", HTTP_IF_RANGE=etag).status_code == 206
    assert ranged("bytes=0-1", HTTP_IF_RANGE='"stale"').status_code == 200


def test_head_answers_headers_only(bob_client):
    put(bob_client, "storage:h.txt", b"hello")
    response = bob_client.head(url("content", uri="storage:h.txt"))
    assert response.status_code == 200 and response["Content-Length"] == "5" and body(response) == b""


def test_inline_is_for_media_and_text_only(bob_client):
    put(bob_client, "storage:page.html", b"<script>alert(1)</script>")
    put(bob_client, "storage:notes.md", b"# hi")
    page = bob_client.get(url("content", uri="storage:page.html", inline=1))
    assert page["Content-Type"].startswith("text/plain") and page["Content-Disposition"].startswith("inline")
    assert page["Content-Security-Policy"] == "sandbox"
    put(bob_client, "storage:x.svg", b"<svg/>")
    assert bob_client.get(url("content", uri="storage:x.svg", inline=1))["Content-Disposition"].startswith(
        "attachment")


def test_zip_of_a_folder(bob_client):
    put(bob_client, "storage:z/a.txt", b"A" * 1000)
    put(bob_client, "storage:z/sub/b.bin", os.urandom(3000))
    bob_client.post(url("mkdir"), {"uri": "storage:z/empty"}, format="json")
    response = bob_client.get(url("zip", uri="storage:z"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="z.zip"'
    members = unzip(body(response))
    assert members["z/a.txt"] == b"A" * 1000
    assert members["z/sub/b.bin"] == body(get(bob_client, "storage:z/sub/b.bin"))
    assert {"z/", "z/sub/", "z/empty/"} <= {name for name, data in members.items() if data is None}
    assert bob_client.get(url("zip", uri="storage:z/a.txt")).status_code == 409


@pytest.mark.parametrize("bad", [
    "storage:a/../../etc/passwd", "storage:a/\x00b", "storage:a/\x07b", "storage:a/b\u0085c",
    "job:x", "storage:" + "n" * 256, "storage:/.kiln-uploads/x", "storage://Bad_Cluster/bob/x",
])
def test_bad_paths_are_refused_with_a_400_that_says_why(bob_client, bad):
    for response in [bob_client.get(url("stat", uri=bad)), put(bob_client, bad, b"x"),
                     bob_client.post(url("mkdir"), {"uri": bad, "parents": True}, format="json")]:
        assert response.status_code == 400, (bad, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["message"]


# --- who may do what --------------------------------------------------------------------------------


def _every_endpoint(client, uri: str, other: str):
    """One request to each endpoint on ``uri`` (another user's), with ``other`` a path of the caller."""
    return {
        "list": client.get(url("list", uri=uri)),
        "stat": client.get(url("stat", uri=uri)),
        "download": get(client, uri),
        "head": client.head(url("content", uri=uri)),
        "zip": client.get(url("zip", uri=uri)),
        "du": client.get(url("du", uri=uri)),
        "upload": put(client, uri + "/new", b"x"),
        "mkdir": client.post(url("mkdir"), {"uri": uri + "/dir"}, format="json"),
        "delete": client.post(url("delete"), {"uri": uri, "recursive": True}, format="json"),
        "move-from": client.post(url("move"), {"src": uri, "dst": other}, format="json"),
        "move-to": client.post(url("move"), {"src": other, "dst": uri + "/moved"}, format="json"),
        "copy-from": client.post(url("copy"), {"src": uri, "dst": other + "-copy"}, format="json"),
        "copy-to": client.post(url("copy"), {"src": other, "dst": uri + "/copied"}, format="json"),
        "upload-session": client.post(url("uploads"), {"uri": uri + "/big", "size": 10}, format="json"),
        "link": client.post(url("links"), {"uri": uri}, format="json"),
        "links": client.get(url("links", uri=uri)),
        "share": client.post("/api/v1/shares/", {"uri": uri, "principal": "carol", "level": "read"}, format="json"),
    }


def test_a_stranger_gets_404_on_every_endpoint(storage, bob, alice, client_for):
    put(client_for(bob), "storage:secret/f.txt", b"secret")
    put(client_for(alice), "storage:mine", b"mine")
    answers = _every_endpoint(client_for(alice), "storage:/bob/secret", "storage:mine")
    assert {name: r.status_code for name, r in answers.items() if r.status_code != 404} == {}
    assert body(get(client_for(bob), "storage:secret/f.txt")) == b"secret"
    assert names(client_for(bob), "storage:secret") == ["f.txt"]


def test_anonymous_gets_401_on_every_endpoint(storage, bob, client_for):
    put(client_for(bob), "storage:f.txt", b"x")
    answers = _every_endpoint(client_for(None), "storage:/bob/f.txt", "storage:/bob/other")
    answers["uploads"] = client_for(None).get(url("uploads"))
    answers["my-links"] = client_for(None).get(url("links"))
    assert {name: r.status_code for name, r in answers.items() if r.status_code != 401} == {}
    assert answers["list"].json()["error"]["code"] == "not_authenticated"


def test_a_reader_reads_the_shared_subtree_but_cannot_change_it(storage, bob, alice, client_for):
    owner, reader = client_for(bob), client_for(alice)
    put(owner, "storage:data/train/x.csv", b"1,2")
    put(owner, "storage:private.txt", b"no")
    sharing.share(by=bob, uri="storage:data", principal="alice", level="read")
    put(reader, "storage:mine.txt", b"m")
    assert body(get(reader, "storage:/bob/data/train/x.csv")) == b"1,2"
    assert names(reader, "storage:/bob/data/train") == ["x.csv"]
    assert reader.get(url("stat", uri="storage:/bob/data")).json()["my_level"] == "read"
    answers = _every_endpoint(reader, "storage:/bob/data/train", "storage:mine.txt")
    writes = {"upload", "mkdir", "delete", "move-from", "move-to", "copy-to", "upload-session", "link", "links",
              "share"}
    assert {name for name, r in answers.items() if r.status_code == 403} == writes
    assert answers["copy-from"].status_code == 201  # read there, write here
    assert names(reader, "storage:mine.txt-copy") == ["x.csv"]
    assert get(reader, "storage:/bob/private.txt").status_code == 404


def test_a_writer_changes_the_shared_folder_and_a_manager_shares_it(storage, bob, alice, carol, client_for):
    owner, writer = client_for(bob), client_for(alice)
    owner.post(url("mkdir"), {"uri": "storage:team"}, format="json")
    sharing.share(by=bob, uri="storage:team", principal="alice", level="write")
    assert put(writer, "storage:/bob/team/from-alice.txt", b"hi").status_code == 201
    assert body(get(owner, "storage:team/from-alice.txt")) == b"hi"
    share = writer.post("/api/v1/shares/", {"uri": "storage:/bob/team", "principal": "carol", "level": "read"},
                        format="json")
    assert share.status_code == 403
    sharing.share(by=bob, uri="storage:team", principal="alice", level="manage")
    share = writer.post("/api/v1/shares/", {"uri": "storage:/bob/team/from-alice.txt", "principal": "carol",
                                            "level": "read"}, format="json")
    assert share.status_code == 201
    assert body(get(client_for(carol), "storage:/bob/team/from-alice.txt")) == b"hi"


def test_ancestors_of_a_shared_path_list_only_the_way_down(storage, bob, alice, client_for):
    owner, reader = client_for(bob), client_for(alice)
    put(owner, "storage:projects/cifar/train.csv", b"x")
    put(owner, "storage:projects/secret/plan.txt", b"x")
    put(owner, "storage:other.txt", b"x")
    sharing.share(by=bob, uri="storage:projects/cifar", principal="alice", level="read")
    root = reader.get(url("list", uri="storage:/bob")).json()
    assert [(e["name"], e["type"]) for e in root["results"]] == [("projects", "dir")]
    assert root["my_level"] is None
    assert names(reader, "storage:/bob/projects") == ["cifar"]
    assert names(reader, "storage:/bob/projects/cifar") == ["train.csv"]
    assert reader.get(url("stat", uri="storage:/bob/projects")).json()["my_level"] is None
    assert reader.get(url("list", uri="storage:/bob/projects/secret")).status_code == 404
    assert reader.get(url("du", uri="storage:/bob/projects")).status_code == 404
    assert reader.get(url("zip", uri="storage:/bob/projects")).status_code == 404
    assert reader.get(url("stat", uri="storage:/bob/other.txt")).status_code == 404


def test_sharing_a_path_that_does_not_exist_is_a_404(storage, bob, alice, client_for):
    owner = client_for(bob)
    missing = owner.post("/api/v1/shares/", {"uri": "storage:nope", "principal": "alice", "level": "read"},
                         format="json")
    assert missing.status_code == 404
    put(owner, "storage:yes/f", b"x")
    ok = owner.post("/api/v1/shares/", {"uri": "storage:yes", "principal": "alice", "level": "read"}, format="json")
    assert ok.status_code == 201
    assert owner.post("/api/v1/shares/", {"uri": "storage:", "principal": "alice", "level": "read"},
                      format="json").status_code == 201  # the home always exists


def test_writes_publish_storage_changed_on_the_parent_folder(bob_client, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    events = []
    monkeypatch.setattr("storage.services.publish_resource_event", lambda uri, event: events.append((str(uri), event)))
    with django_capture_on_commit_callbacks(execute=True):
        put(bob_client, "storage:ev/a.txt", b"x")
        bob_client.post(url("move"), {"src": "storage:ev/a.txt", "dst": "storage:ev2/b.txt"}, format="json")
        bob_client.post(url("delete"), {"uri": "storage:ev2/b.txt"}, format="json")
    assert [(folder, event["action"], event["path"]) for folder, event in events] == [
        ("storage://default/bob/ev", "upload", "storage://default/bob/ev/a.txt"),
        ("storage://default/bob/ev", "delete", "storage://default/bob/ev/a.txt"),
        ("storage://default/bob/ev2", "move", "storage://default/bob/ev2/b.txt"),
        ("storage://default/bob/ev2", "delete", "storage://default/bob/ev2/b.txt"),
    ]
    assert all(event["type"] == "storage.changed" for _, event in events)


def test_session_auth_needs_csrf_for_uploads(storage, bob):
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="bob", password=PASSWORD)
    refused = put(client, "storage:f", b"x")
    assert refused.status_code == 403
    token = client.get("/api/v1/auth/csrf/").json()["csrf_token"]
    ok = client.put(url("content", uri="storage:f"), data=b"x", content_type="application/octet-stream",
                    HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 201
