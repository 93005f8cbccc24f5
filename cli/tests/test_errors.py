"""Every failure is one line on stderr with the documented exit code, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import FakeServer, Run

# isort: split
from kiln_cli.app import App
from kiln_cli.main import cli

ACL = "/api/v1/acl/"


@pytest.mark.parametrize(
    ("status", "code", "exit_code", "label"),
    [
        (400, "invalid", 65, "invalid input"),
        (401, "not_authenticated", 3, "not logged in"),
        (403, "forbidden", 5, "forbidden"),
        (404, "not_found", 4, "not found"),
        (409, "conflict", 7, "conflict"),
        (413, "too_large", 65, "too large"),
        (422, "unprocessable", 65, "unprocessable"),
        (500, "server_error", 1, "server error"),
    ],
)
def test_server_errors_map_to_exit_codes(
    logged_in: Path,
    run: Run,
    server: FakeServer,
    status: int,
    code: str,
    exit_code: int,
    label: str,
) -> None:
    server.error("GET", ACL, status, code, "No such resource: job://default/bob/x")
    result = run(["acl", "job://default/bob/x"])
    assert result.exit_code == exit_code
    hint = " (log in again: kiln login http://kiln.test)" if status == 401 else ""
    assert result.stderr == f"kiln: {label}: No such resource: job://default/bob/x{hint}\n"
    assert result.stdout == ""


def test_field_details_are_kept_on_the_one_line(logged_in: Path, run: Run, server: FakeServer) -> None:
    body = {
        "error": {
            "code": "invalid",
            "message": "Invalid input.",
            "details": {"principal": ["No user or group named zed."]},
        }
    }
    server.on("POST", "/api/v1/shares/", 400, body)
    result = run(["share", "job:x", "zed", "read"])
    assert result.exit_code == 65
    assert result.stderr == ("kiln: invalid input: Invalid input. (principal: No user or group named zed.)\n")


def test_a_non_json_error_page_is_still_one_line(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", ACL, handler=lambda r: httpx.Response(502, text="<html>\n<h1>Bad gateway</h1>\n"))
    result = run(["acl", "job:x"])
    assert result.exit_code == 1
    assert result.stderr == "kiln: server error: HTTP 502 Bad Gateway for GET /api/v1/acl/\n"


def test_refused_connection_exits_6(logged_in: Path, run: Run) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    result = run(["acl"], transport=httpx.MockTransport(refuse))
    assert result.exit_code == 6
    assert result.stderr.startswith("kiln: server unreachable: cannot connect to http://kiln.test")
    assert result.stderr.count("\n") == 1


def test_timeout_exits_6(logged_in: Path, run: Run) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    result = run(["acl"], transport=httpx.MockTransport(slow))
    assert result.exit_code == 6
    assert "did not answer in time" in result.stderr


def test_really_unreachable_server_exits_6(config_path: Path, run: Run) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"KILN_URL": f"http://127.0.0.1:{port}", "KILN_TOKEN": "kiln_x"}
    result = CliRunner().invoke(cli, ["acl"], obj=App(), env=env)  # real network, no mock
    assert result.exit_code == 6
    assert result.stderr.startswith(f"kiln: server unreachable: cannot connect to http://127.0.0.1:{port}")


def test_no_login_exits_3_without_calling_the_server(config_path: Path, run: Run, server: FakeServer) -> None:
    result = run(["acl"], env={"KILN_URL": "http://kiln.test"})
    assert result.exit_code == 3
    assert result.stderr == ("kiln: not logged in: run `kiln login http://kiln.test` or set KILN_TOKEN\n")
    assert server.requests == []


@pytest.mark.parametrize("uri", ["cifar-10", "ftp://x/y", "", "C:\\data"])
def test_obviously_bad_uris_exit_65_without_calling_the_server(
    logged_in: Path, run: Run, server: FakeServer, uri: str
) -> None:
    result = run(["acl", uri])
    assert result.exit_code == 65
    assert result.stderr.startswith("kiln: invalid input: ")
    assert server.requests == []


def test_bad_principal_exits_65(logged_in: Path, run: Run, server: FakeServer) -> None:
    result = run(["share", "job:x", "team:ml", "read"])
    assert result.exit_code == 65
    assert server.requests == []


def test_unknown_level_is_a_usage_error(logged_in: Path, run: Run) -> None:
    assert run(["share", "job:x", "alice", "admin"]).exit_code == 2


def test_an_unexpected_bug_is_one_line_not_a_traceback(logged_in: Path, run: Run) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise ValueError("boom")

    result = run(["acl"], transport=httpx.MockTransport(broken))
    assert result.exit_code == 1
    assert result.stderr.startswith("kiln: internal error: ValueError: boom")
    assert "Traceback" not in result.output


def test_a_redirect_is_reported_not_followed(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on(
        "GET",
        ACL,
        handler=lambda r: httpx.Response(301, headers={"Location": "https://kiln.test/api/v1/acl/"}),
    )
    result = run(["acl", "job:x"])
    assert result.exit_code == 1
    assert "unexpected redirect to https://kiln.test/api/v1/acl/" in result.stderr
