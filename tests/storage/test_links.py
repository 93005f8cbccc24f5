"""Share links: permanent and temporary, on files and folders, used without an account under /s/,
listed, revoked, dead after expiry, revocation, or the creator losing access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console import services as sharing
from tests.storage.helpers import body, put, unzip, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = timezone.now()

        def advance(self, **delta: float) -> None:
            self.now += timedelta(**delta)

    frozen = Clock()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


def make_link(client, uri: str, **extra):
    return client.post(url("links"), {"uri": uri, **extra}, format="json")


def public(client, link: dict, sub: str = "", **extra):
    return client.get(f"/s/{link['token']}/{sub}", **extra)


def test_a_permanent_link_to_a_file_downloads_without_an_account(storage, bob, client_for):
    owner, anyone = client_for(bob), client_for(None)
    put(owner, "storage:report.pdf", b"%PDF-1.4 report")
    created = make_link(owner, "storage:report.pdf")
    assert created.status_code == 201
    link = created.json()
    assert (link["kind"], link["expires_at"], link["created_by"], link["active"]) == ("permanent", None, "bob", True)
    assert link["uri"] == "storage://default/bob/report.pdf" and len(link["token"]) >= 43
    assert link["url"] == f"http://testserver/s/{link['token']}/"
    response = public(anyone, link)
    assert response.status_code == 200 and body(response) == b"%PDF-1.4 report"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["Referrer-Policy"] == "no-referrer"
    ranged = public(anyone, link, HTTP_RANGE="bytes=5-7")
    assert ranged.status_code == 206 and body(ranged) == b"1.4"
    assert anyone.head(f"/s/{link['token']}/")["Content-Length"] == "15"
    assert public(anyone, link, "anything/below").status_code == 404


def test_a_folder_link_lists_browses_and_zips(storage, bob, client_for):
    owner, anyone = client_for(bob), client_for(None)
    put(owner, "storage:ds/a.txt", b"A")
    put(owner, "storage:ds/sub/b.txt", b"BB")
    put(owner, "storage:outside.txt", b"not shared")
    link = make_link(owner, "storage:ds").json()
    top = public(anyone, link)
    assert top.status_code == 200
    listing = top.json()
    assert (listing["name"], listing["path"], listing["link"]["kind"]) == ("ds", "", "permanent")
    assert [(e["name"], e["type"], e["size"], e["url"]) for e in listing["results"]] == [
        ("a.txt", "file", 1, f"/s/{link['token']}/a.txt"), ("sub", "dir", None, f"/s/{link['token']}/sub/")]
    assert public(anyone, link, "sub/").json()["results"][0]["path"] == "sub/b.txt"
    assert body(public(anyone, link, "sub/b.txt")) == b"BB"
    members = unzip(body(public(anyone, link, data={"download": "zip"})))
    assert members["ds/a.txt"] == b"A" and members["ds/sub/b.txt"] == b"BB"
    assert unzip(body(public(anyone, link, "sub/", data={"download": "zip"}))) == {"sub/": None, "sub/b.txt": b"BB"}
    html = public(anyone, link, HTTP_ACCEPT="text/html")
    assert html["Content-Type"].startswith("text/html") and b"a.txt" in html.content
    assert public(anyone, link, "nothing").status_code == 404
    assert public(anyone, link, "%2e%2e/outside.txt").status_code in (400, 404)
    assert public(anyone, link, "sub/%00x").status_code == 400
    assert b"not shared" not in b"".join(public(anyone, link, p).content for p in ["", "sub/"])


def test_html_listing_escapes_names(storage, bob, client_for):
    owner = client_for(bob)
    put(owner, "storage:x/<img src=x onerror=alert(1)>.txt", b"!")
    link = make_link(owner, "storage:x").json()
    html = public(client_for(None), link, HTTP_ACCEPT="text/html").content.decode()
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_a_temporary_link_dies_when_it_expires(storage, bob, client_for, clock):
    owner, anyone = client_for(bob), client_for(None)
    put(owner, "storage:t.txt", b"soon gone")
    link = make_link(owner, "storage:t.txt", expires_in=3600).json()
    assert link["kind"] == "temporary"
    assert body(public(anyone, link)) == b"soon gone"
    clock.advance(minutes=59)
    assert public(anyone, link).status_code == 200
    clock.advance(minutes=2)
    dead = public(anyone, link)
    assert dead.status_code == 404 and dead.json()["error"]["code"] == "not_found"
    assert owner.get(url("links")).json()["results"] == []
    expired = owner.get(url("links", all=1)).json()["results"]
    assert [(item["id"], item["active"]) for item in expired] == [(link["id"], False)]


def test_expiry_is_a_period_or_a_moment_within_bounds(storage, bob, client_for, clock):
    owner = client_for(bob)
    put(owner, "storage:f", b"x")
    moment = (clock.now + timedelta(days=30)).isoformat()
    at = make_link(owner, "storage:f", expires_at=moment)
    assert at.status_code == 201 and at.json()["expires_at"].startswith(moment[:16])
    assert make_link(owner, "storage:f", expires_in=60, expires_at=moment).status_code == 400
    assert make_link(owner, "storage:f", expires_in=30).status_code == 400  # under a minute
    assert make_link(owner, "storage:f", expires_at=(clock.now - timedelta(days=1)).isoformat()).status_code == 400
    assert make_link(owner, "storage:f", expires_in=10 * 365 * 86400).status_code == 400
    assert make_link(owner, "storage:f", expires_in=90 * 86400).status_code == 201  # months are fine


def test_a_revoked_link_is_dead_at_once(storage, bob, alice, client_for):
    owner, anyone = client_for(bob), client_for(None)
    put(owner, "storage:r.txt", b"x")
    link = make_link(owner, "storage:r.txt").json()
    assert client_for(alice).delete(url(f"links/{link['id']}")).status_code == 404  # a stranger
    assert owner.delete(url(f"links/{link['id']}")).status_code == 204
    assert public(anyone, link).status_code == 404
    shown = owner.get(url(f"links/{link['id']}")).json()
    assert shown["active"] is False and shown["revoked_at"]


def test_links_are_listed_per_path_for_managers_and_per_creator(storage, bob, alice, carol, client_for):
    owner, manager, reader = client_for(bob), client_for(alice), client_for(carol)
    put(owner, "storage:shared/f.txt", b"x")
    sharing.share(by=bob, uri="storage:shared", principal="alice", level="manage")
    sharing.share(by=bob, uri="storage:shared", principal="carol", level="read")
    by_alice = make_link(manager, "storage:/bob/shared/f.txt", expires_in=86400).json()
    by_bob = make_link(owner, "storage:shared/f.txt").json()
    on_path = owner.get(url("links", uri="storage:shared/f.txt")).json()["results"]
    assert {(item["id"], item["created_by"]) for item in on_path} == {(by_alice["id"], "alice"), (by_bob["id"], "bob")}
    assert [item["id"] for item in manager.get(url("links")).json()["results"]] == [by_alice["id"]]
    assert reader.get(url("links", uri="storage:/bob/shared/f.txt")).status_code == 403
    assert make_link(reader, "storage:/bob/shared/f.txt").status_code == 403
    assert reader.get(url(f"links/{by_bob['id']}")).status_code == 404
    assert owner.delete(url(f"links/{by_alice['id']}")).status_code == 204  # a manager revokes anyone's link


def test_a_link_stops_working_when_its_creator_loses_access(storage, bob, alice, client_for):
    owner, anyone = client_for(bob), client_for(None)
    put(owner, "storage:proj/f.txt", b"x")
    sharing.share(by=bob, uri="storage:proj", principal="alice", level="manage")
    link = make_link(client_for(alice), "storage:/bob/proj").json()
    assert public(anyone, link, "f.txt").status_code == 200
    sharing.share(by=bob, uri="storage:proj", principal="alice", level="read")
    assert public(anyone, link, "f.txt").status_code == 200  # still a reader: the link still reads
    sharing.revoke(by=bob, uri="storage:proj", principal="alice")
    assert public(anyone, link, "f.txt").status_code == 404


def test_links_need_an_existing_path_and_manage(storage, bob, alice, client_for):
    owner = client_for(bob)
    assert make_link(owner, "storage:missing").status_code == 404
    put(owner, "storage:p", b"x")
    assert make_link(client_for(alice), "storage:/bob/p").status_code == 404
    link = make_link(owner, "storage:p").json()
    owner.post(url("delete"), {"uri": "storage:p"}, format="json")
    assert public(client_for(None), link).status_code == 404


def test_tokens_that_almost_match_find_nothing(storage, bob, client_for):
    owner, anyone = client_for(bob), client_for(None)
    put(owner, "storage:f", b"x")
    token = make_link(owner, "storage:f").json()["token"]
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in [near, token[:-1], token + "x", "x" * 43, "x" * 100]:
        assert anyone.get(f"/s/{wrong}/").status_code == 404
