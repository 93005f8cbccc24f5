"""Paths are normalised and confined: nothing a user can write resolves outside their home —
not with '..', absolute forms, odd characters, nor symlinks planted in the local root."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from console.errors import InvalidInput, KilnError
from console.uris import InvalidUri, parse_uri
from storage.backends.base import Key, PathRefused, key_for
from storage.backends.local import LocalBackend
from storage.selectors import storage_local_path
from tests.storage.helpers import body, get, names, put, unzip, url

SPECIAL = ["..", ".", "", "/", "//", "\\", "\x00", "\x1f", "\x7f", "\u0085", "\u2028", "~", "$HOME", "%2e%2e",
           "link-out", "link-in", "peek", "..%2f", "\ud800", "é", "a" * 300, ".kiln-uploads", "alice", "bob"]
NAMES = ["link-out", "link-in", "peek", "sub", "x", "é", "secret.txt", "private.txt", ".hidden"]
segment = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(SPECIAL),
                    st.text(min_size=0, max_size=12))
raw_path = st.one_of(
    st.lists(segment, max_size=8).map("/".join),
    st.text(max_size=60),
)
prefix = st.sampled_from(["storage:/alice/", "storage:", "storage://default/alice/", "storage:/", "storage://default/",
                          "storage:///", "storage:/alice/../", ""])


def _plant(root: Path) -> Path:
    """A root with alice's and bob's homes, a secret outside it, and symlinks in alice's home."""
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "alice" / "sub").mkdir(parents=True)
    (root / "bob").mkdir()
    (root / "bob" / "private.txt").write_text("bob's")
    os.symlink(outside, root / "alice" / "link-out")
    os.symlink(root / "alice" / "sub", root / "alice" / "link-in")
    os.symlink(root / "bob", root / "alice" / "peek")
    return outside


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _within(path: Path, home: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == home or home in real.parents


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=prefix, path=raw_path, make_parents=st.booleans())
def test_no_generated_path_resolves_outside_the_users_home(head, path, make_parents):
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "root"
        root.mkdir()
        outside = _plant(root)
        backend = LocalBackend(root, fsync=False)
        home = Path(os.path.realpath(root / "alice"))
        before = sorted(p.name for p in outside.iterdir())
        try:
            uri = parse_uri(head + path, username="alice")
            key = key_for(uri)
        except (InvalidUri, InvalidInput):
            event("refused by the URI parser or key_for")
            return
        if key.owner != "alice":
            event("another user's path")
            assert uri.owner == key.owner  # another user's path is named as such, and checked as such
            return
        try:
            resolved = backend._resolve(key, make_parents=make_parents)
        except KilnError:
            event("refused while resolving (symlink escape)")
            return
        except OSError:
            return  # a name the file system itself refuses (e.g. too long), nothing created
        event("resolved inside the home")
        assert _within(resolved, home), (uri, resolved)
        assert sorted(p.name for p in outside.iterdir()) == before
        assert sorted(p.name for p in (root / "bob").iterdir()) == ["private.txt"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(head=prefix, path=raw_path)
def test_uploads_through_the_api_land_in_the_callers_home_or_nowhere(local_storage, alice, client_for, head, path):
    assume(_encodable(head + path))
    root = local_storage.root
    client = client_for(alice)
    response = put(client, head + path, b"x")
    assert response.status_code in (201, 400, 404, 409), response.content
    event(f"HTTP {response.status_code}")
    for found in root.rglob("*"):
        relative = found.relative_to(root)
        assert relative.parts[0] == "alice" or (relative.parts[0] == ".kiln-uploads" and found.is_dir()), found
    if response.status_code == 201:
        uri = response.json()["uri"]
        assert uri.startswith("storage://default/alice/")
        assert body(get(client, uri)) == b"x"


def test_key_for_refuses_what_cannot_be_a_path_inside_a_home():
    from console.uris import Uri

    for bad in [Uri("storage", "default", "bob", "a/../b"), Uri("storage", "default", "bob", "a//b"),
                Uri("storage", "default", "bob", "a/./b"), Uri("storage", "default", ".hidden", "x"),
                Uri("storage", "default", "", ""), Uri("job", "default", "bob", "x"),
                Uri("storage", "default", "bob", "x\udcff")]:
        with pytest.raises(PathRefused):
            key_for(bad)
    assert key_for(parse_uri("storage:/bob/a/b")) == Key("bob", ("a", "b"))


# --- symlinks planted in the local root (e.g. by a job) ---------------------------------------------


@pytest.fixture
def planted(local_storage, bob, alice):
    root = local_storage.root
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "bob" / "real").mkdir(parents=True)
    (root / "bob" / "real" / "ok.txt").write_text("fine")
    (root / "alice").mkdir()
    (root / "alice" / "hers.txt").write_text("alice's")
    os.symlink(outside, root / "bob" / "escape")
    os.symlink(outside / "secret.txt", root / "bob" / "passwd")
    os.symlink(root / "alice", root / "bob" / "peek")
    os.symlink("real", root / "bob" / "alias")  # relative, stays inside: fine
    os.symlink(root / "bob" / "real" / "ok.txt", root / "bob" / "ok-link.txt")
    return outside


def test_links_out_of_the_home_are_neither_listed_nor_followed(planted, bob, client_for):
    client = client_for(bob)
    assert names(client, "storage:") == ["alias", "ok-link.txt", "real"]
    for uri in ["storage:escape/secret.txt", "storage:passwd", "storage:peek/hers.txt"]:
        response = get(client, uri)
        assert response.status_code == 400, uri
        assert "symbolic link" in response.json()["error"]["message"]
    assert client.get(url("list", uri="storage:escape")).status_code == 400
    assert client.get(url("zip", uri="storage:escape")).status_code == 400
    assert client.get(url("du", uri="storage:peek")).status_code == 400


def test_links_out_of_the_home_cannot_be_written_through(planted, bob, client_for):
    client = client_for(bob)
    assert put(client, "storage:escape/new.txt", b"x").status_code == 400
    assert client.post(url("mkdir"), {"uri": "storage:escape/dir/sub", "parents": True},
                       format="json").status_code == 400
    stolen = client.post(url("copy"), {"src": "storage:escape", "dst": "storage:stolen"}, format="json")
    assert stolen.status_code == 400
    assert client.post(url("move"), {"src": "storage:real/ok.txt", "dst": "storage:escape/ok.txt"},
                       format="json").status_code == 400
    assert sorted(p.name for p in planted.iterdir()) == ["secret.txt"]
    # Deleting a link removes the link, never what it points at.
    assert client.post(url("delete"), {"uri": "storage:escape", "recursive": True}, format="json").status_code == 204
    assert (planted / "secret.txt").read_text() == "secret"


def test_links_that_stay_inside_the_home_work(planted, bob, client_for):
    client = client_for(bob)
    assert names(client, "storage:alias") == ["ok.txt"]
    assert body(get(client, "storage:alias/ok.txt")) == b"fine"
    assert body(get(client, "storage:ok-link.txt")) == b"fine"
    assert put(client, "storage:alias/new.txt", b"new").status_code == 201
    assert (planted.parent / "storage-root" / "bob" / "real" / "new.txt").read_bytes() == b"new"
    members = unzip(body(client.get(url("zip", uri="storage:"))))
    assert "bob/real/ok.txt" in members and "bob/ok-link.txt" in members
    assert not any("secret" in name or name.startswith(("bob/escape", "bob/peek")) for name in members)
    assert client.get(url("du", uri="storage:")).json()["files"] == 2  # links are not counted twice


def test_storage_local_path_is_confined(planted, bob):
    root = planted.parent / "storage-root"
    assert storage_local_path(parse_uri("storage:/bob/real")) == root / "bob" / "real"
    assert storage_local_path(parse_uri("storage:/bob/alias")) == root / "bob" / "real"
    assert storage_local_path(parse_uri("storage:/bob/not/yet")) == root / "bob" / "not" / "yet"
    for escaping in ["storage:/bob/escape", "storage:/bob/escape/x", "storage:/bob/peek"]:
        with pytest.raises(PathRefused):
            storage_local_path(parse_uri(escaping))
