"""``/jobs/<ref>/browse/…``: a reverse proxy (HTTP and WebSocket upgrades) to a running job's
``http_port`` on its worker. Access is decided by ``job_browse_target`` (read, unless the job set
``http_auth: false``). Kiln's own cookies and tokens never reach the job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import httpx
import websockets
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from console.errors import KilnError
from console.services import token_authenticate
from jobs.selectors import job_browse_target

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
KILN_COOKIES = {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
_client: httpx.AsyncClient | None = None


def _upstream_client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None), follow_redirects=False)
    return _client


def _strip_kiln_cookies(header: str) -> str:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return ""
    return "; ".join(f"{key}={morsel.coded_value}" for key, morsel in jar.items() if key not in KILN_COOKIES)


def _forward_headers(headers: dict[str, str], *, prefix: str, client: str, scheme: str, host: str) -> dict[str, str]:
    out = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower in HOP_BY_HOP or lower in {"authorization", "x-csrftoken"} or lower.startswith("sec-websocket"):
            continue
        if lower == "cookie":
            value = _strip_kiln_cookies(value)
            if not value:
                continue
        out[key] = value
    out.update({"X-Forwarded-For": client, "X-Forwarded-Proto": scheme, "X-Forwarded-Host": host,
                "X-Forwarded-Prefix": prefix})
    return out


async def _user_of(request: HttpRequest) -> Any:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = await sync_to_async(token_authenticate)(clear=header[7:].strip())
        return token.user if token else None
    return await request.auser()


def _error(error: KilnError) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=error.status)


@csrf_exempt  # the job's own forms post here; Kiln's session cookie is not forwarded
async def browse_proxy(request: HttpRequest, ref: str, path: str) -> HttpResponse:
    user = await _user_of(request)
    try:
        job, target = await sync_to_async(job_browse_target)(user=user, ref=ref)
    except KilnError as error:
        if error.status == 404 and (user is None or not user.is_authenticated):
            return HttpResponseRedirect(f"/login?next={quote(request.get_full_path())}")
        return _error(error)
    prefix = f"/jobs/{ref}/browse"
    url = f"http://{target}/{path}"
    if request.META.get("QUERY_STRING"):
        url += f"?{request.META['QUERY_STRING']}"
    headers = _forward_headers(dict(request.headers), prefix=prefix, client=request.META.get("REMOTE_ADDR", ""),
                               scheme=request.scheme, host=request.get_host())
    client = _upstream_client()
    try:
        upstream = await client.send(
            client.build_request(request.method, url, headers=headers, content=request.body), stream=True)
    except httpx.HTTPError as error:
        return JsonResponse({"error": {"code": "bad_gateway", "message": f"Job {job.pk} does not answer on port "
                                       f"{job.http_port}: {error}", "details": {}}}, status=502)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    response = StreamingHttpResponse(body(), status=upstream.status_code)
    for key, value in upstream.headers.multi_items():
        if key.lower() in HOP_BY_HOP:
            continue
        if key.lower() == "location" and value.startswith("/") and not value.startswith(prefix + "/"):
            value = prefix + value  # keep the app's absolute redirects under its browse prefix
        response[key] = value
    if settings.KILN_BROWSE_SANDBOX:
        # The job's pages share Kiln's origin: a CSP sandbox keeps their scripts from acting as
        # the logged-in user. Serve jobs from a domain of their own to lift it (docs/jobs.md).
        response["Content-Security-Policy"] = "sandbox allow-scripts allow-forms allow-popups allow-downloads " \
                                              "allow-modals"
    return response


class BrowseWebSocketProxy(AsyncWebsocketConsumer):
    """WebSocket upgrades under ``/jobs/<ref>/browse/…`` relayed to the job."""

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        user = self.scope.get("user")
        try:
            job, target = await sync_to_async(job_browse_target)(user=user, ref=kwargs["ref"])
        except KilnError:
            await self.close(code=4404)
            return
        query = self.scope.get("query_string", b"").decode()
        url = f"ws://{target}/{kwargs['path']}" + (f"?{query}" if query else "")
        try:
            self.upstream = await websockets.connect(url, open_timeout=10, max_size=None)
        except Exception:
            await self.close(code=1011)
            return
        await self.accept()
        self.pump = asyncio.create_task(self._from_upstream())

    async def _from_upstream(self) -> None:
        try:
            async for message in self.upstream:
                if isinstance(message, bytes):
                    await self.send(bytes_data=message)
                else:
                    await self.send(text_data=message)
        finally:
            await self.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.upstream.send(bytes_data if bytes_data is not None else text_data)

    async def disconnect(self, code: int) -> None:
        upstream = getattr(self, "upstream", None)
        if upstream is not None:
            await upstream.close()
        pump = getattr(self, "pump", None)
        if pump is not None:
            pump.cancel()
