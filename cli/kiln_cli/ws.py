"""WebSocket helper: same server and same `Authorization: Bearer` header as the HTTP client.

- `open_socket(url, token, path, params)` — one connection (for `exec`-like verbs).
- `messages(url, token, path, params)` — a reconnecting iterator of decoded JSON messages
  (for `logs -f`, bake events, …). After a drop it reconnects with back-off; `params` may be a
  function so each reconnect can ask for what it missed (e.g. `lambda: {"after": last_offset}`).
  The server sends a `state` message first on every (re)connect, so callers resync from it.
  `give_up_after=60` bounds how long it keeps trying once the server has gone away.
- `decode_message(raw)` / `close_error(code)` — the same decoding and refusal mapping, for
  callers that drive a connection themselves (binary frames and all).

Refusals become `KilnError`s like REST ones: `{"type":"error","code":"not_found"}` or close code
4404 -> exit 4, `not_authenticated`/4401 -> exit 3, 4409 -> exit 7 (any 4400–4599 close code is
4000 + an HTTP status); a server that cannot be reached -> exit 6.
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

CLOSE_CODES = {
    4400: "invalid",
    4401: "not_authenticated",
    4403: "forbidden",
    4404: "not_found",
    4409: "conflict",
}


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


def close_error(code: int | None) -> KilnError | None:
    """The `KilnError` a refusal close code stands for (4000 + HTTP status), or None."""
    if code is None:
        return None
    if code in CLOSE_CODES:
        return _refused(CLOSE_CODES[code])
    if 4400 <= code < 4600:
        return KilnError.for_status(code - 4000, f"websocket closed by the server (code {code})")
    return None


def decode_message(raw: str | bytes) -> dict[str, Any]:
    """A JSON object from a text frame; an `error` message raises its `KilnError`."""
    return _decode(raw)


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
    give_up_after: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[dict[str, Any]]:
    """Decoded JSON messages, reconnecting with back-off after drops.

    The first connection must succeed (else `KilnError`, exit 6); later drops are retried
    `max_attempts` times in a row (forever when None), and for at most `give_up_after` seconds
    since the connection was lost (no limit when None); then exit 6. A close with a 44xx code is
    final, so is a 4xx answer to a reconnect; a 5xx answer (a proxy while the server restarts)
    is retried. Stops when the server closes normally (1000) and `reconnect` is False.
    """
    failures = 0
    connected_once = False
    lost_at: float | None = None
    while True:
        query = params() if callable(params) else params
        try:
            with open_socket(base_url, token, path, query) as conn:
                connected_once = True
                failures = 0
                lost_at = None
                for raw in conn:
                    yield _decode(raw)
                close = conn.close_code
        except ConnectionClosed as exc:
            close = exc.rcvd.code if exc.rcvd else None
        except KilnError as exc:
            transient = exc.exit_code == ExitCode.UNREACHABLE or (exc.status or 0) >= 500
            if not transient or not connected_once:
                raise
            close = None
        refusal = close_error(close)
        if refusal is not None:
            raise refusal
        if not reconnect:
            return
        failures += 1
        if lost_at is None:
            lost_at = clock()
        if max_attempts is not None and failures > max_attempts:
            raise KilnError(f"server unreachable: lost {path} and could not reconnect", ExitCode.UNREACHABLE)
        if give_up_after is not None and clock() - lost_at >= give_up_after:
            raise KilnError(
                f"server unreachable: lost {path} and could not reconnect for {give_up_after:.0f} s",
                ExitCode.UNREACHABLE,
            )
        sleep(min(max_delay, 0.5 * 2 ** (failures - 1)))
