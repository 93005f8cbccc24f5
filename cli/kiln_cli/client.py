"""The one HTTP client every verb uses.

`KilnClient` knows the base URL and the token, sends `Authorization: Bearer <token>`, and turns
every failure into a `KilnError`: the server's error JSON `{"error": {code, message, details}}`
by status (404 -> exit 4, …), and connection failures into exit 6 (server unreachable).

Tests (and anything else) inject an `httpx.BaseTransport`, e.g. `httpx.MockTransport(handler)`,
instead of the network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from kiln_cli import __version__
from kiln_cli.errors import ExitCode, KilnError, one_line

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USE_DEFAULT: Any = object()  # "no per-request timeout given": the client's own applies
USER_AGENT = f"kiln-cli/{__version__}"

__all__ = ["ExitCode", "KilnClient", "KilnError", "error_from_response"]


def error_from_response(response: httpx.Response) -> KilnError:
    """Map a non-2xx answer to a `KilnError`, using the server's error JSON when there is one."""
    status = response.status_code
    method = response.request.method
    path = response.request.url.path
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return KilnError.for_status(status, str(error["message"]), code=error.get("code"), details=error.get("details"))
    if isinstance(body, dict) and isinstance(body.get("detail"), str):  # plain DRF shape
        return KilnError.for_status(status, body["detail"])
    reason = response.reason_phrase or "error"
    message = f"HTTP {status} {reason} for {method} {path}"
    if status == 404:
        message += " (is the URL a Kiln server?)"
    return KilnError.for_status(status, message)


class KilnClient:
    """Thin wrapper over `httpx.Client` bound to one Kiln server (and maybe a token)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------------
    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise KilnError(
                f"server unreachable: {self.base_url} did not answer in time ({type(exc).__name__})",
                ExitCode.UNREACHABLE,
            ) from exc
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            raise KilnError(
                f"server unreachable: cannot connect to {self.base_url} ({detail})",
                ExitCode.UNREACHABLE,
            ) from exc
        if response.is_redirect:
            location = response.headers.get("location", "?")
            response.close()
            raise KilnError(
                f"unexpected redirect to {location} for {request.method} {request.url.path} "
                "(is the server URL right? http vs https?)"
            )
        if response.is_error:
            if stream:
                response.read()
            error = error_from_response(response)
            if response.status_code == 401 and self.token:  # the token was refused
                error.message += f" (log in again: kiln login {self.base_url})"
            raise error
        return response

    def fetch(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        content: Any = None,
        timeout: httpx.Timeout | float | None | object = USE_DEFAULT,
    ) -> httpx.Response:
        """Send one request and return the whole (read, error-checked) answer, headers included.

        `content` may be bytes or an iterator of bytes (streamed; give `Content-Length` in
        `headers` to avoid chunked encoding). `timeout` overrides the client's for this request.
        """
        extra: dict[str, Any] = {} if timeout is USE_DEFAULT else {"timeout": timeout}
        request = self._http.build_request(
            method, path, params=_clean(params), json=json, headers=headers, content=content, **extra
        )
        return self._send(request)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        content: Any = None,
        timeout: httpx.Timeout | float | None | object = USE_DEFAULT,
    ) -> Any:
        """Send one request; return the decoded JSON body (None for an empty answer, e.g. 204)."""
        response = self.fetch(method, path, params=params, json=json, headers=headers, content=content, timeout=timeout)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise KilnError(
                f"unexpected answer from server for {method} {response.request.url.path}: not JSON "
                f"({one_line(response.text, 80)!r})"
            ) from exc

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, params=params, json=json)

    def delete(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: Any = None,
        timeout: httpx.Timeout | float | None | object = USE_DEFAULT,
    ) -> Iterator[httpx.Response]:
        """A streamed answer (downloads), already checked for errors; closed on exit."""
        extra: dict[str, Any] = {} if timeout is USE_DEFAULT else {"timeout": timeout}
        request = self._http.build_request(
            method, path, params=_clean(params), headers=headers, content=content, **extra
        )
        response = self._send(request, stream=True)
        try:
            yield response
        except httpx.TransportError as exc:
            raise KilnError(
                f"server unreachable: connection to {self.base_url} broke ({exc})",
                ExitCode.UNREACHABLE,
            ) from exc
        finally:
            response.close()

    def paginate(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following `next` links (`{"next", "results"}`)."""
        page = self.get(path, params=params)
        seen: set[str] = set()
        while True:
            if isinstance(page, list):  # tolerate an unpaginated list
                yield from page
                return
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise KilnError(f"unexpected answer from server for GET {path}: no 'results' list")
            yield from page["results"]
            next_url = page.get("next")
            if not next_url or next_url in seen:
                return
            seen.add(next_url)
            page = self.get(self._same_server(next_url))

    def _same_server(self, url: str) -> str:
        """A `next` link as a path on *our* server: never send the token to another host.

        Servers behind a proxy often build `next` with an internal host name, so keep only the
        path and query and resolve them against the base URL's origin.
        """
        parts = urlsplit(url)
        base = urlsplit(self.base_url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return f"{base.scheme}://{base.netloc}{target}"


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop None values so optional filters are simply left out."""
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None}
