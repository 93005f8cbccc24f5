"""kiln share / revoke / acl: requests sent, tables and JSON printed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from conftest import TOKEN, FakeServer, Run

GRANT = {
    "uri": "storage://default/alice/cifar-10",
    "principal": {"kind": "user", "name": "bob"},
    "level": "read",
    "inherited": False,
}


def test_share_posts_the_grant_and_prints_the_canonical_uri(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/shares/", 201, GRANT)
    result = run(["share", "storage:cifar-10", "bob", "READ"])
    assert result.exit_code == 0, result.stderr
    request = server.last("POST", "/api/v1/shares/")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert server.body(request) == {"uri": "storage:cifar-10", "principal": "bob", "level": "read"}
    assert result.stdout == "Granted read on storage://default/alice/cifar-10 to user:bob\n"


def test_share_passes_principal_syntax_as_is(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/shares/", 201, GRANT)
    run(["share", "job:", "group:ml-team", "manage"])
    assert server.body(server.requests[-1])["principal"] == "group:ml-team"


def test_json_works_globally_and_per_verb(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/shares/", 201, GRANT)
    assert json.loads(run(["--json", "share", "storage:cifar-10", "bob", "read"]).stdout) == GRANT
    assert json.loads(run(["share", "storage:cifar-10", "bob", "read", "--json"]).stdout) == GRANT


def test_revoke_posts_uri_and_principal(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/shares/revoke/", 204)
    result = run(["revoke", "storage:cifar-10", "user:bob"])
    assert result.exit_code == 0, result.stderr
    assert server.body(server.requests[-1]) == {"uri": "storage:cifar-10", "principal": "user:bob"}
    assert result.stdout == "Revoked user:bob's access to storage:cifar-10\n"


def test_revoke_of_a_missing_grant_exits_4(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.error("POST", "/api/v1/shares/revoke/", 404, "not_found", "No such grant.")
    result = run(["revoke", "job:x", "bob"])
    assert (result.exit_code, result.stderr) == (4, "kiln: not found: No such grant.\n")


ACL_ANSWER = {
    "uri": "storage://default/alice/cifar-10/train",
    "owner": "alice",
    "my_level": "manage",
    "grants": [
        {
            "uri": "storage://default/alice/cifar-10",
            "principal": {"kind": "group", "name": "ml-team"},
            "level": "write",
            "inherited": True,
        },
        {
            "uri": "storage://default/alice/cifar-10/train",
            "principal": {"kind": "user", "name": "bob"},
            "level": "read",
            "inherited": False,
        },
    ],
}


def test_acl_of_a_uri_renders_a_table_and_my_level(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/acl/", body=ACL_ANSWER)
    result = run(["acl", "storage:cifar-10/train"])
    assert result.exit_code == 0, result.stderr
    assert server.requests[-1].url.params["uri"] == "storage:cifar-10/train"
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["URI", "PRINCIPAL", "KIND", "LEVEL", "INHERITED"]
    assert lines[1].split() == [
        "storage://default/alice/cifar-10",
        "ml-team",
        "group",
        "write",
        "yes",
    ]
    assert lines[2].split() == [
        "storage://default/alice/cifar-10/train",
        "bob",
        "user",
        "read",
        "no",
    ]
    assert "Owner: alice" in lines
    assert lines[-1] == "You have: manage"


def test_acl_json_is_the_server_answer(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/acl/", body=ACL_ANSWER)
    assert json.loads(run(["acl", "storage:cifar-10/train", "--json"]).stdout) == ACL_ANSWER


def test_acl_without_grants(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/acl/", body={**ACL_ANSWER, "grants": []})
    result = run(["acl", "job:x"])
    assert result.stdout.splitlines()[0] == "No grants."


def test_acl_without_uri_shows_both_sections_and_follows_pages(logged_in: Path, run: Run, server: FakeServer) -> None:
    def with_me(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "2":
            return httpx.Response(200, json={"next": None, "results": [GRANT]})
        # a `next` built with an internal host name must still go to our server
        nxt = "http://internal:8000/api/v1/shares/with-me/?cursor=2&scheme=storage"
        return httpx.Response(200, json={"next": nxt, "results": [ACL_ANSWER["grants"][0]]})

    server.on("GET", "/api/v1/shares/with-me/", handler=with_me)
    server.on("GET", "/api/v1/shares/by-me/", body={"next": None, "results": []})
    result = run(["acl", "--scheme", "storage"])
    assert result.exit_code == 0, result.stderr
    assert [r.url.host for r in server.requests] == ["kiln.test"] * 3
    assert all(r.url.params["scheme"] == "storage" for r in server.requests)
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    lines = result.stdout.splitlines()
    assert lines[0] == "Shared with me"
    assert lines[1].split() == ["URI", "PRINCIPAL", "KIND", "LEVEL"]
    assert lines[2].split() == ["storage://default/alice/cifar-10", "ml-team", "group", "write"]
    assert lines[3].split() == ["storage://default/alice/cifar-10", "bob", "user", "read"]
    assert lines[4:] == ["", "Shared by me", "  (nothing)"]


def test_acl_without_uri_json(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/shares/with-me/", body={"results": [GRANT]})
    server.on("GET", "/api/v1/shares/by-me/", body={"results": []})
    data = json.loads(run(["--json", "acl"]).stdout)
    assert data == {"shared_with_me": [GRANT], "shared_by_me": []}
    assert "scheme" not in server.requests[0].url.params


def test_long_uris_are_never_folded_when_piped(logged_in: Path, run: Run, server: FakeServer) -> None:
    long_uri = "storage://default/alice/" + "/".join(["a-rather-long-folder-name"] * 8)
    server.on("GET", "/api/v1/shares/with-me/", body={"results": [{**GRANT, "uri": long_uri}]})
    server.on("GET", "/api/v1/shares/by-me/", body={"results": []})
    result = run(["acl"])
    assert result.stdout.splitlines()[2].split()[0] == long_uri
    assert all(line == line.rstrip() for line in result.stdout.splitlines())
