"""Where the server URL and the token come from.

Precedence, highest first:
- URL:   `--url` option > `KILN_URL` > the config file's `url`
- token: `KILN_TOKEN` > the config file's `token`

The config file (`$KILN_CONFIG`, default `~/.config/kiln/config.json`) holds
`{"url", "username", "token", "token_id"}` and is written with mode 0600 in a 0700 folder.
The file's token is only sent to the file's own URL: pointing `--url`/`KILN_URL` at another
server does not leak it there (set `KILN_TOKEN` for that server instead).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiln_cli.errors import KilnError, bad_input, not_logged_in

ENV_CONFIG = "KILN_CONFIG"
ENV_URL = "KILN_URL"
ENV_TOKEN = "KILN_TOKEN"
TOKEN_PREFIX_LEN = 12  # the server shows the same number of characters as a token's "prefix"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    return Path("~/.config/kiln/config.json").expanduser()


def normalize_url(url: str) -> str:
    """`http://host:8000/` -> `http://host:8000`; refuse what is not an http(s) URL."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_input(f"server URL {url!r} must start with http:// or https:// (e.g. http://localhost:8000)")
    if parts.query or parts.fragment:
        raise bad_input(f"server URL {url!r} must not have a query or fragment")
    return url


def token_prefix(token: str | None) -> str | None:
    """Enough of a token to recognise it, never the whole secret."""
    if not token:
        return None
    return token[:TOKEN_PREFIX_LEN] + "…"


@dataclass
class ConfigFile:
    """The stored login: read, changed, written back whole."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path, {})
        except OSError as exc:
            raise KilnError(f"cannot read config file {path}: {exc.strerror}") from exc
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise KilnError(f"config file {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise KilnError(f"config file {path} must hold a JSON object")
        return cls(path, data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def insecure(self) -> bool:
        """True when others than the owner may read the file (it holds a secret)."""
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return False
        return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))

    @property
    def url(self) -> str | None:
        return self.data.get("url") or None

    @property
    def username(self) -> str | None:
        return self.data.get("username") or None

    @property
    def token(self) -> str | None:
        return self.data.get("token") or None

    @property
    def token_id(self) -> str | None:
        value = self.data.get("token_id")
        return None if value in (None, "") else str(value)

    def save(self) -> None:
        """Write atomically with mode 0600; create the folder with mode 0700 when missing."""
        folder = self.path.parent
        try:
            if not folder.exists():
                folder.mkdir(parents=True, mode=0o700)
                os.chmod(folder, 0o700)
            fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=folder)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(self.data, fh, indent=2, sort_keys=True)
                    fh.write("\n")
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise KilnError(f"cannot write config file {self.path}: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class Settings:
    """The effective URL and token for this run, and where each came from."""

    config_path: Path
    url: str | None
    url_source: str  # "--url", "KILN_URL", "config" or "none"
    token: str | None
    token_source: str  # "KILN_TOKEN", "config" or "none"
    username: str | None  # known only when the token is the config file's
    config_url: str | None  # the URL the stored token belongs to
    note: str | None = None  # why the stored token was not used, if it was not

    @property
    def token_from_env(self) -> bool:
        return self.token_source == ENV_TOKEN

    def require_url(self) -> str:
        if not self.url:
            raise not_logged_in("no server configured; run `kiln login URL` or set KILN_URL")
        return self.url

    def require_token(self) -> str:
        url = self.require_url()
        if not self.token:
            hint = f"run `kiln login {url}` or set KILN_TOKEN"
            if self.note:
                hint = f"{self.note}; {hint}"
            raise not_logged_in(hint)
        return self.token


def resolve(
    *, url_option: str | None, env: Mapping[str, str] | None = None, file: ConfigFile | None = None
) -> Settings:
    """Combine the `--url` option, the environment and the config file."""
    env = os.environ if env is None else env
    file = file if file is not None else ConfigFile.load(config_path(env))

    config_url = normalize_url(file.url) if file.url else None
    if url_option:
        url, url_source = normalize_url(url_option), "--url"
    elif env.get(ENV_URL):
        url, url_source = normalize_url(env[ENV_URL]), ENV_URL
    elif config_url:
        url, url_source = config_url, "config"
    else:
        url, url_source = None, "none"

    note = None
    username = None
    if env.get(ENV_TOKEN):
        token, token_source = env[ENV_TOKEN].strip(), ENV_TOKEN
    elif file.token and url is not None and url == config_url:
        token, token_source, username = file.token, "config", file.username
    else:
        token, token_source = None, "none"
        if file.token and url != config_url:
            note = f"the stored token is for {config_url}, not {url}"
    return Settings(
        config_path=file.path,
        url=url,
        url_source=url_source,
        token=token,
        token_source=token_source,
        username=username,
        config_url=config_url,
        note=note,
    )
