"""Where URL and token come from, and how the config file is kept."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from conftest import TOKEN, URL, FakeServer, Run

# isort: split
from kiln_cli.config import ConfigFile, resolve


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_config_file_is_created_0600_in_a_0700_folder(config_path: Path) -> None:
    ConfigFile(config_path, {"url": URL, "token": TOKEN}).save()
    assert mode(config_path) == 0o600
    assert mode(config_path.parent) == 0o700
    assert json.loads(config_path.read_text())["token"] == TOKEN


def test_saving_over_a_world_readable_file_makes_it_0600(config_path: Path) -> None:
    config_path.parent.mkdir(parents=True)
    config_path.write_text("{}")
    config_path.chmod(0o644)
    ConfigFile(config_path, {"url": URL, "token": TOKEN}).save()
    assert mode(config_path) == 0o600


def test_url_option_beats_env_beats_config_file(logged_in: Path) -> None:
    file = ConfigFile.load(logged_in)
    assert resolve(url_option=None, env={}, file=file).url == URL
    env = {"KILN_URL": "http://env.test/"}
    by_env = resolve(url_option=None, env=env, file=file)
    assert (by_env.url, by_env.url_source) == ("http://env.test", "KILN_URL")
    by_option = resolve(url_option="http://flag.test", env=env, file=file)
    assert (by_option.url, by_option.url_source) == ("http://flag.test", "--url")


def test_env_token_beats_the_stored_token(logged_in: Path) -> None:
    settings = resolve(url_option=None, env={"KILN_TOKEN": "kiln_fromenv"}, file=ConfigFile.load(logged_in))
    assert (settings.token, settings.token_source, settings.token_from_env) == (
        "kiln_fromenv",
        "KILN_TOKEN",
        True,
    )


def test_env_overrides_reach_the_server(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/acl/", body={"uri": "job://default/a/x", "grants": []})
    result = run(["acl", "job:x"], env={"KILN_URL": "http://other.test", "KILN_TOKEN": "kiln_envtoken"})
    assert result.exit_code == 0, result.stderr
    request = server.requests[-1]
    assert request.url.host == "other.test"
    assert request.headers["Authorization"] == "Bearer kiln_envtoken"


def test_stored_token_is_not_sent_to_another_server(logged_in: Path, run: Run, server: FakeServer) -> None:
    result = run(["acl", "job:x"], env={"KILN_URL": "http://other.test"})
    assert result.exit_code == 3
    assert "the stored token is for http://kiln.test" in result.stderr
    assert server.requests == []


def test_broken_config_file_is_a_one_line_error(config_path: Path, run: Run) -> None:
    config_path.parent.mkdir(parents=True)
    config_path.write_text("{not json")
    result = run(["acl"])
    assert result.exit_code == 1
    assert result.stderr.startswith("kiln: config file ")
    assert result.stderr.count("\n") == 1


def test_config_show_prints_a_token_prefix_never_the_token(logged_in: Path, run: Run) -> None:
    result = run(["config", "show"])
    assert result.exit_code == 0
    assert TOKEN not in result.stdout
    assert TOKEN[:12] + "…" in result.stdout
    assert f"URL:         {URL}  (from the config file)" in result.stdout
    assert "User:        alice" in result.stdout
    assert str(logged_in) in result.stdout


def test_config_show_json_says_where_the_token_came_from(logged_in: Path, run: Run) -> None:
    result = run(["config", "show", "--json"], env={"KILN_TOKEN": "kiln_envtoken_0123456789"})
    data = json.loads(result.stdout)
    assert data["token_from_env"] is True
    assert data["token_source"] == "KILN_TOKEN"
    assert data["token_prefix"] == "kiln_envtoke…"
    assert "kiln_envtoken_0123456789" not in result.stdout
    assert data["url"] == URL and data["config_path"] == str(logged_in)


def test_config_show_when_nothing_is_configured(config_path: Path, run: Run) -> None:
    result = run(["--json", "config", "show"])
    data = json.loads(result.stdout)
    assert data["logged_in"] is False and data["url"] is None
    assert data["config_exists"] is False
