"""Share links, served without an account under /s/<token>/… (see docs/storage.md).

A file link answers the file's bytes (with Range); a folder link answers a JSON listing (an HTML
page when a browser asks for one), files below it, and ``?download=zip`` for a folder as a zip.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.html import format_html, format_html_join
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from storage import selectors
from storage.apis import decode_cursor, encode_cursor
from storage.http import file_response, zip_response
from storage.models import ShareLink


def _public(response: Any) -> Any:
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL: never pass it on
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


def _wants_html(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return False
    accept = request.headers.get("Accept", "")
    return "text/html" in accept


def _link_info(link: ShareLink) -> dict[str, Any]:
    return {"kind": link.kind, "created_by": link.created_by.username, "created_at": link.created_at,
            "expires_at": link.expires_at}


class _JsonAlways(BaseContentNegotiation):
    """Bytes, an HTML page or JSON are chosen by the view; errors are JSON whatever was asked."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class LinkPublicApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonAlways

    @extend_schema(operation_id="share_link_root",
                   parameters=[OpenApiParameter("download", str, enum=["zip"]), OpenApiParameter("cursor", str),
                               OpenApiParameter("limit", int)],
                   responses={(200, "*/*"): OpenApiTypes.BINARY}, auth=[])
    def get(self, request: Request, token: str, subpath: str = "") -> Any:
        return self._serve(request, token, subpath, head=False)

    def head(self, request: Request, token: str, subpath: str = "") -> Any:
        return self._serve(request, token, subpath, head=True)

    def _serve(self, request: Request, token: str, subpath: str, *, head: bool) -> Any:
        link = selectors.link_resolve(token=token)
        base = selectors.link_uri(link)
        uri = selectors.link_target(link=link, subpath=subpath)
        entry = selectors.link_stat(uri=uri)
        if not entry.is_dir:
            stored = selectors.link_file(uri=uri)
            return _public(file_response(request._request, entry=entry, open_chunks=stored.chunks, head=head,
                                         inline=request.query_params.get("inline") in ("1", "true")))
        if request.query_params.get("download") == "zip":
            return _public(zip_response(request._request, name=uri.name, chunks=selectors.link_zip(uri=uri)))
        try:
            limit = int(request.query_params.get("limit", selectors.DEFAULT_PAGE))
        except ValueError:
            limit = selectors.DEFAULT_PAGE
        listing = selectors.link_list_dir(uri=uri, cursor=decode_cursor(request.query_params.get("cursor")),
                                          limit=limit)
        here = "/".join(uri.parts[len(base.parts):])
        root = f"/s/{token}/"
        results = []
        for child, child_entry in listing.entries:
            relpath = "/".join(child.parts[len(base.parts):])
            results.append({
                "name": child_entry.name, "type": child_entry.type, "size": child_entry.size,
                "mtime": child_entry.mtime, "path": relpath,
                "url": root + quote(relpath) + ("/" if child_entry.is_dir else ""),
            })
        cursor = encode_cursor(listing.next_cursor)
        here_url = root + (quote(here) + "/" if here else "")
        body = {
            "name": uri.name, "type": "dir", "path": here, "link": _link_info(link), "results": results,
            "zip_url": f"{here_url}?download=zip",
            "next_cursor": cursor, "next": f"{here_url}?cursor={cursor}" if cursor else None,
        }
        if _wants_html(request):
            return _public(HttpResponse(_html(body), content_type="text/html; charset=utf-8"))
        return _public(Response(body))


class LinkPublicPathApi(LinkPublicApi):
    """A file or folder below a folder link."""

    @extend_schema(operation_id="share_link_path",
                   parameters=[OpenApiParameter("download", str, enum=["zip"]), OpenApiParameter("cursor", str),
                               OpenApiParameter("limit", int)],
                   responses={(200, "*/*"): OpenApiTypes.BINARY}, auth=[])
    def get(self, request: Request, token: str, subpath: str = "") -> Any:
        return self._serve(request, token, subpath, head=False)


def _html(body: dict[str, Any]) -> str:
    rows = format_html_join(
        "\n", '<tr><td><a href="{}">{}{}</a></td><td>{}</td></tr>',
        ((item["url"], item["name"], "/" if item["type"] == "dir" else "",
          "" if item["size"] is None else f"{item['size']:,} B") for item in body["results"]),
    )
    more = format_html('<p><a href="{}">More…</a></p>', body["next"]) if body["next"] else ""
    expires = body["link"]["expires_at"]
    note = f"expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "permanent link"
    return format_html(
        "<!doctype html><html><head><meta charset=utf-8><meta name=robots content=noindex>"
        "<title>{}</title><style>body{{font:14px system-ui;margin:2rem}}td{{padding:2px 12px}}</style></head>"
        "<body><h1>{}</h1><p>Shared by {} · {} · <a href=\"{}\">download all (.zip)</a></p>"
        "<table>{}</table>{}</body></html>",
        body["name"], body["name"], body["link"]["created_by"], note, body["zip_url"], rows, more,
    )
