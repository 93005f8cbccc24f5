"""WebSocket helper: same server and same `Authorization: Bearer` header as the HTTP client.

- `open_socket(url, token, path, params)` — one connection (for `exec`-like verbs).
- `messages(url, token, path, params)` — a reconnecting iterator of decoded JSON messages
  (for `logs -f`, bake events, …). After a drop it reconnects with back-off; `params` may be a
  function so each reconnect can ask for what it missed (e.g. `lambda: {"after": last_offset}`).
  The server sends a `state` message first on every (re)connect, so callers resync from it.

Refusals become `KilnError`s like REST ones: `{"type":"error","code":"not_found"}` or close code
4404 -> exit 4, `not_authenticated`/4401 -> exit 3; a server that cannot be reached -> exit 6.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import (
    ConnectionClosed,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.sync.client import ClientConnection, connect

from kiln_cli import __version__
from kiln_cli.errors import CODE_STATUS, ExitCode, KilnError

Params = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None

CLOSE_CODES = {4401: "not_authenticated", 4403: "forbidden", 4404: "not_found"}


def ws_url(base_url: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """`http://h:8000` + `/ws/events/` -> `ws://h:8000/ws/events/` (https -> wss)."""
    base = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(base.scheme, base.scheme)
    query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
    return urlunsplit((scheme, base.netloc, base.path + path, query, ""))


def _refused(code: str | None, message: str | None = None) -> KilnError:
    status = CODE_STATUS.get(code or "", 0)
    text = message or (code or "refused").replace("_", " ")
    if status:
        return KilnError.for_status(status, text, code=code)
    return KilnError(f"websocket refused: {text}", ExitCode.ERROR, code=code)


@contextmanager
def open_socket(
    base_url: str,
    token: str | None,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    open_timeout: float = 10.0,
) -> Iterator[ClientConnection]:
    """One authenticated connection; handshake failures become `KilnError`."""
    url = ws_url(base_url, path, params)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    stack = ExitStack()
    try:  # `with connect(…)` works with both the current and the future websockets default
        conn = stack.enter_context(
            connect(
                url,
                additional_headers=headers,
                open_timeout=open_timeout,
                user_agent_header=f"kiln-cli/{__version__}",
            )
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise KilnError.for_status(status, f"websocket {path} refused (HTTP {status})") from exc
    except InvalidURI as exc:
        raise KilnError(f"invalid websocket URL {url}", ExitCode.BAD_INPUT) from exc
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise KilnError(
            f"server unreachable: cannot open {url} ({exc or type(exc).__name__})",
            ExitCode.UNREACHABLE,
        ) from exc
    with stack:
        yield conn


def _decode(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise KilnError("unexpected websocket message (not JSON)") from exc
    if not isinstance(message, dict):
        raise KilnError("unexpected websocket message (not a JSON object)")
    if message.get("type") == "error":
        raise _refused(message.get("code"), message.get("message"))
    return message


def messages(
    base_url: str,
    token: str | None,
    path: str,
    params: Params = None,
    *,
    reconnect: bool = True,
    max_delay: float = 10.0,
    max_attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Decoded JSON messages, reconnecting with back-off after drops.

    The first connection must succeed (else `KilnError`, exit 6); later drops are retried
    `max_attempts` times in a row (forever when None). A close with a 44xx code is final.
    Stops when the server closes normally (1000) and `reconnect` is False.
    """
    failures = 0
    connected_once = False
    while True:
        query = params() if callable(params) else params
        try:
            with open_socket(base_url, token, path, query) as conn:
                connected_once = True
                failures = 0
                for raw in conn:
                    yield _decode(raw)
                close = conn.close_code
        except ConnectionClosed as exc:
            close = exc.rcvd.code if exc.rcvd else None
        except KilnError as exc:
            if exc.exit_code != ExitCode.UNREACHABLE or not connected_once:
                raise
            close = None
        if close in CLOSE_CODES:
            raise _refused(CLOSE_CODES[close])
        if not reconnect:
            return
        failures += 1
        if max_attempts is not None and failures > max_attempts:
            raise KilnError(f"server unreachable: lost {path} and could not reconnect", ExitCode.UNREACHABLE)
        sleep(min(max_delay, 0.5 * 2 ** (failures - 1)))
