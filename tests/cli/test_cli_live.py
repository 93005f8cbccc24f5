"""The `kiln` command as a subprocess against a live server: login, config, share, acl, errors."""

import json
import os
import stat
import subprocess
import sys

import pytest

from console import services
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def kiln(tmp_path, asgi_server):
    config = tmp_path / "kiln" / "config.json"

    def run(*args: str, stdin: str | None = None, env: dict | None = None, config_path=config):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        environment.update({"KILN_CONFIG": str(config_path), **(env or {})})
        return subprocess.run([sys.executable, "-m", "kiln_cli", *args], input=stdin, capture_output=True,
                              text=True, env=environment, timeout=60)

    run.config = config
    return run


def login(kiln, server, user: str, **kw):
    result = kiln("login", server.url, "--username", user, stdin=PASSWORD + "\n", **kw)
    assert result.returncode == 0, result.stderr
    return result


def test_login_stores_a_private_token_and_config_show_hides_it(kiln, asgi_server, bob):
    result = login(kiln, asgi_server, "bob")
    assert f"Logged in to {asgi_server.url} as bob" in result.stdout
    assert stat.S_IMODE(kiln.config.stat().st_mode) == 0o600
    token = json.loads(kiln.config.read_text())["token"]
    shown = kiln("config", "show", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["username"] == "bob"
    assert token not in shown.stdout
    assert bob.api_tokens.filter(revoked_at__isnull=True).count() == 1


def test_wrong_password_fails_with_one_line(kiln, asgi_server, bob):
    result = kiln("login", asgi_server.url, "--username", "bob", stdin="nope\n")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_share_acl_revoke_round_trip(kiln, asgi_server, bob, alice, carol, tmp_path):
    login(kiln, asgi_server, "bob")
    shared = kiln("share", "image:data", "alice", "read", "--json")
    assert shared.returncode == 0, shared.stderr
    assert json.loads(shared.stdout)["uri"] == "image://default/bob/data"

    acl = kiln("acl", "image:data/train")
    assert acl.returncode == 0 and "alice" in acl.stdout and "read" in acl.stdout

    alice_kiln_config = tmp_path / "alice.json"
    login(kiln, asgi_server, "alice", config_path=alice_kiln_config)
    mine = kiln("acl", "--json", config_path=alice_kiln_config)
    assert "image://default/bob/data" in mine.stdout
    forbidden = kiln("share", "image:/bob/data", "carol", "read", config_path=alice_kiln_config)
    assert forbidden.returncode == 5 and forbidden.stderr.startswith("kiln:")

    carol_config = tmp_path / "carol.json"
    login(kiln, asgi_server, "carol", config_path=carol_config)
    hidden = kiln("acl", "image:/bob/data", config_path=carol_config)
    assert hidden.returncode == 4

    revoked = kiln("revoke", "image:data", "alice")
    assert revoked.returncode == 0, revoked.stderr
    assert kiln("acl", "image:/bob/data", config_path=alice_kiln_config).returncode == 4


def test_errors_have_exit_codes(kiln, asgi_server, bob):
    assert kiln("acl", "image:x").returncode == 3  # not logged in
    login(kiln, asgi_server, "bob")
    bad = kiln("share", "ftp:x", "alice", "read")
    assert bad.returncode == 65 and "kiln:" in bad.stderr
    unreachable = kiln("acl", "job:", env={"KILN_URL": "http://127.0.0.1:9", "KILN_TOKEN": "kiln_x"})
    assert unreachable.returncode == 6


def test_env_token_overrides_config_and_logout_revokes(kiln, asgi_server, bob):
    _, clear = services.token_create(user=bob, name="ci")
    via_env = kiln("acl", "job:", "--json", env={"KILN_URL": asgi_server.url, "KILN_TOKEN": clear})
    assert via_env.returncode == 0, via_env.stderr
    login(kiln, asgi_server, "bob")
    assert kiln("logout").returncode == 0
    assert bob.api_tokens.filter(revoked_at__isnull=True, name__startswith="kiln-cli").count() == 0
    assert kiln("acl", "job:").returncode == 3
