"""kiln login / logout."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest
from conftest import TOKEN, URL, FakeServer, Run

# isort: split
from kiln_cli.commands import auth

OBTAIN = "/api/v1/auth/tokens/obtain/"
NEW_TOKEN = "kiln_NEWTOKEN_abcdefghijklmnop"


def obtain_ok(server: FakeServer, token_id: int = 42) -> None:
    server.on(
        "POST",
        OBTAIN,
        201,
        {"id": token_id, "name": "kiln-cli@h", "prefix": NEW_TOKEN[:12], "token": NEW_TOKEN},
    )


def test_login_reads_the_password_from_stdin(
    config_path: Path, run: Run, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth.socket, "gethostname", lambda: "laptop")
    obtain_ok(server)
    result = run(["login", URL + "/", "--username", "alice"], input="s3cret pw\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Logged in to {URL} as alice\n"
    sent = server.body(server.last("POST", OBTAIN))
    assert sent == {"username": "alice", "password": "s3cret pw", "name": "kiln-cli@laptop"}
    assert "Authorization" not in server.last("POST", OBTAIN).headers
    stored = json.loads(config_path.read_text())
    assert stored == {"url": URL, "username": "alice", "token": NEW_TOKEN, "token_id": "42"}
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600


def test_login_prompts_at_a_terminal(
    config_path: Path, run: Run, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_stdin_is_tty", lambda: True)
    obtain_ok(server)
    result = run(["login", URL], input="bob\nhunter2\n")
    assert result.exit_code == 0, result.stderr
    assert server.body(server.requests[-1])["username"] == "bob"
    assert server.body(server.requests[-1])["password"] == "hunter2"
    assert "hunter2" not in result.output  # hidden input is not echoed
    assert result.stdout.endswith(f"Logged in to {URL} as bob\n")


def test_login_needs_a_username_when_stdin_is_a_pipe(config_path: Path, run: Run) -> None:
    result = run(["login", URL], input="pw\n")
    assert result.exit_code == 2
    assert "--username" in result.stderr


def test_login_with_bad_credentials_exits_3(config_path: Path, run: Run, server: FakeServer) -> None:
    server.error("POST", OBTAIN, 400, "invalid", "Invalid username or password.")
    result = run(["login", URL, "-u", "alice"], input="wrong\n")
    assert result.exit_code == 3
    assert result.stderr == "kiln: login failed: Invalid username or password.\n"
    assert not config_path.exists()


def test_login_to_an_unreachable_server_exits_6(config_path: Path, run: Run) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    result = run(["login", URL, "-u", "alice"], input="pw\n", transport=httpx.MockTransport(refuse))
    assert result.exit_code == 6
    assert result.stderr.startswith(f"kiln: server unreachable: cannot connect to {URL}")


def test_login_rejects_a_url_without_scheme(config_path: Path, run: Run) -> None:
    result = run(["login", "localhost:8000", "-u", "alice"], input="pw\n")
    assert result.exit_code == 65
    assert "http://" in result.stderr


def test_login_json_never_shows_the_token(config_path: Path, run: Run, server: FakeServer) -> None:
    obtain_ok(server)
    result = run(["login", URL, "-u", "alice", "--json"], input="pw\n")
    data = json.loads(result.stdout)
    assert data["url"] == URL and data["username"] == "alice" and data["token_id"] == "42"
    assert NEW_TOKEN not in result.stdout


def test_login_again_revokes_the_replaced_token(logged_in: Path, run: Run, server: FakeServer) -> None:
    obtain_ok(server)
    server.on("DELETE", "/api/v1/auth/tokens/7/", 204)
    result = run(["login", "-u", "alice"], input="pw\n")  # URL defaults to the stored one
    assert result.exit_code == 0, result.stderr
    revoke = server.last("DELETE", "/api/v1/auth/tokens/7/")
    assert revoke.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(logged_in.read_text())["token"] == NEW_TOKEN


def test_logout_revokes_the_token_and_forgets_it(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("DELETE", "/api/v1/auth/tokens/7/", 204)
    result = run(["logout"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Logged out of {URL}\n"
    assert server.last("DELETE", "/api/v1/auth/tokens/7/").headers["Authorization"] == (f"Bearer {TOKEN}")
    stored = json.loads(logged_in.read_text())
    assert "token" not in stored and "token_id" not in stored
    assert stored["url"] == URL


def test_logout_finds_the_token_id_by_prefix_when_not_stored(logged_in: Path, run: Run, server: FakeServer) -> None:
    data = json.loads(logged_in.read_text())
    del data["token_id"]
    logged_in.write_text(json.dumps(data))
    server.on(
        "GET",
        "/api/v1/auth/tokens/",
        body={"results": [{"id": 3, "prefix": "kiln_other0"}, {"id": 9, "prefix": TOKEN[:12]}]},
    )
    server.on("DELETE", "/api/v1/auth/tokens/9/", 204)
    result = run(["--json", "logout"])
    assert json.loads(result.stdout) == {"url": URL, "logged_out": True, "revoked": True}


def test_logout_forgets_the_token_even_when_the_server_is_down(logged_in: Path, run: Run) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    result = run(["logout"], transport=httpx.MockTransport(refuse))
    assert result.exit_code == 0
    assert "token not revoked on the server" in result.stderr
    assert "token" not in json.loads(logged_in.read_text())


def test_logout_when_not_logged_in(config_path: Path, run: Run, server: FakeServer) -> None:
    result = run(["logout"])
    assert (result.exit_code, result.stdout) == (0, "Not logged in\n")
    assert server.requests == []
