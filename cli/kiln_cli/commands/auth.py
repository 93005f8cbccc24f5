"""`kiln login`, `kiln logout`, `kiln config show`."""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import Any

import click

from kiln_cli.app import App, json_option, pass_app
from kiln_cli.config import ENV_TOKEN, ENV_URL, ConfigFile, normalize_url, token_prefix
from kiln_cli.errors import ExitCode, KilnError, bad_input

OBTAIN = "/api/v1/auth/tokens/obtain/"
TOKENS = "/api/v1/auth/tokens/"


def _stdin_is_tty() -> bool:
    """Separate so tests can pretend to be at a terminal."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise bad_input("no password on standard input")
    return password


def _token_name() -> str:
    return f"kiln-cli@{socket.gethostname() or 'unknown'}"


def _revoke(app: App, url: str, token: str, token_id: str | None) -> bool:
    """Revoke `token` on its server; True when the server confirmed. Raises `KilnError`."""
    with app.client_for(url, token) as client:
        if token_id is None:  # older config: find our token among the user's tokens by prefix
            prefix = token[:12]
            for item in client.paginate(TOKENS):
                if isinstance(item, dict) and item.get("prefix") and prefix.startswith(item["prefix"]):
                    token_id = str(item["id"])
                    break
            else:
                return False
        client.delete(f"{TOKENS}{token_id}/")
        return True


@click.command()
@click.argument("url", required=False, metavar="[URL]")
@click.option(
    "-u",
    "--username",
    help="Log in as this user (the password is then read from standard input when it is not a terminal).",
)
@json_option
@pass_app
def login(app: App, url: str | None, username: str | None) -> None:
    """Log in to a Kiln server and store a personal API token.

    Asks for the username and the (hidden) password. For scripts, give --username and pipe the
    password on standard input. The token is stored in ~/.config/kiln/config.json (or
    $KILN_CONFIG) with mode 0600; URL defaults to --url, KILN_URL or the stored server.
    Logging in again replaces (and revokes) the token stored before.

    \b
    Examples:
      kiln login http://localhost:8000
      echo "$PASSWORD" | kiln login https://kiln.example.com --username alice
    """
    out = app.out
    previous = app.config_file
    target = url or app.settings.url
    if not target:
        raise click.UsageError("give the server URL, e.g. kiln login http://localhost:8000")
    target = normalize_url(target)

    interactive = _stdin_is_tty()
    if not username:
        if not interactive:
            raise click.UsageError("--username is required when standard input is not a terminal")
        default = previous.username if previous.url and normalize_url(previous.url) == target else None
        username = click.prompt("Username", default=default, err=True)
    username = username.strip()
    if not username:
        raise bad_input("empty username")
    if interactive:
        password = click.prompt("Password", hide_input=True, err=True)
    else:
        password = _read_password_from_stdin()

    with app.client_for(target) as client:
        try:
            answer = client.post(OBTAIN, json={"username": username, "password": password, "name": _token_name()})
        except KilnError as exc:
            if exc.status in (400, 401):
                raise KilnError(f"login failed: {exc.reason}", ExitCode.NOT_LOGGED_IN, status=exc.status) from exc
            raise
    if not isinstance(answer, dict) or not answer.get("token"):
        raise KilnError(f"unexpected answer from {target}{OBTAIN}: no token in it")

    token = str(answer["token"])
    token_id = answer.get("id")
    stored = ConfigFile(previous.path, dict(previous.data))
    stored.data.update(
        {
            "url": target,
            "username": username,
            "token": token,
            "token_id": None if token_id is None else str(token_id),
        }
    )
    stored.save()

    # the replaced token for this same server belonged to this config only: revoke it,
    # quietly and best effort (a token for another server is left alone: it may be gone)
    if previous.token and previous.url and normalize_url(previous.url) == target and previous.token != token:
        with contextlib.suppress(KilnError):
            _revoke(app, normalize_url(previous.url), previous.token, previous.token_id)
    app.reload_config()

    env = app.environ
    if env.get(ENV_TOKEN):
        out.warn(f"{ENV_TOKEN} is set and takes precedence over the stored token")
    if env.get(ENV_URL) and normalize_url(env[ENV_URL]) != target:
        out.warn(f"{ENV_URL} points to {env[ENV_URL]}; commands will talk to that server")
    out.emit(
        {
            "url": target,
            "username": username,
            "token_id": stored.token_id,
            "token_prefix": token_prefix(token),
            "config_path": str(stored.path),
        },
        lambda: out.line(f"Logged in to {target} as {username}"),
    )


@click.command()
@json_option
@pass_app
def logout(app: App) -> None:
    """Revoke the stored token on the server and remove it from the config file.

    The token is removed locally even when the server cannot be reached (a warning says so).
    A token given in KILN_TOKEN is left alone.

    \b
    Example:
      kiln logout
    """
    out = app.out
    file = app.config_file
    if not file.token:
        out.emit(
            {"url": file.url, "logged_out": False, "revoked": False},
            lambda: out.line("Not logged in"),
        )
        return

    revoked = False
    if file.url:
        try:
            revoked = _revoke(app, normalize_url(file.url), file.token, file.token_id)
        except KilnError as exc:
            if exc.status not in (401, 404):  # 401/404: the token was already dead
                out.warn(f"token not revoked on the server ({exc.message}); removed it locally")
    stored = ConfigFile(file.path, {k: v for k, v in file.data.items() if k not in ("token", "token_id")})
    stored.save()
    app.reload_config()
    if app.environ.get(ENV_TOKEN):
        out.warn(f"{ENV_TOKEN} is still set in the environment and will keep being used")
    where = file.url or "the server"
    out.emit(
        {"url": file.url, "logged_out": True, "revoked": revoked},
        lambda: out.line(f"Logged out of {where}"),
    )


@click.group()
def config() -> None:
    """Inspect the CLI's configuration.

    \b
    Example:
      kiln config show
    """


_SOURCES = {
    "--url": "from --url",
    ENV_URL: f"from {ENV_URL}",
    "config": "from the config file",
    ENV_TOKEN: f"from {ENV_TOKEN}",
}


@config.command("show")
@json_option
@pass_app
def config_show(app: App) -> None:
    """Show the server URL, the user, the token (a prefix only) and where each comes from.

    Does not contact the server.

    \b
    Examples:
      kiln config show
      KILN_URL=http://other:8000 kiln config show --json
    """
    out = app.out
    s = app.settings
    data: dict[str, Any] = {
        "url": s.url,
        "url_source": s.url_source,
        "username": s.username,
        "logged_in": bool(s.url and s.token),
        "token_prefix": token_prefix(s.token),
        "token_source": s.token_source,
        "token_from_env": s.token_from_env,
        "config_path": str(s.config_path),
        "config_exists": s.config_path.exists(),
        "note": s.note,
    }

    def human() -> None:
        url = f"{s.url}  ({_SOURCES[s.url_source]})" if s.url else "not set"
        if s.token:
            token = f"{token_prefix(s.token)}  ({_SOURCES[s.token_source]})"
        else:
            token = "none (not logged in)"
        if s.username:
            user = s.username
        elif s.token_from_env:
            user = f"unknown (token from {ENV_TOKEN})"
        else:
            user = "-"
        config_line = str(s.config_path) + ("" if data["config_exists"] else "  (does not exist)")
        out.fields([("URL", url), ("User", user), ("Token", token), ("Config file", config_line)])
        if s.note:
            out.line(f"Note: {s.note}")

    out.emit(data, human)


COMMANDS: list[click.Command] = [login, logout, config]
