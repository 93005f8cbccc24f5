"""Plain Django views: the SPA's index page for every client-side route, and API 404s."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie

from console.errors import error_body


@ensure_csrf_cookie
def spa_index(request: HttpRequest) -> HttpResponse:
    index = settings.FRONTEND_DIST / "index.html"
    if not index.is_file():
        return HttpResponse(
            "<h1>Kiln</h1><p>The web app is not built: run <code>npm ci && npm run build</code> in frontend/.</p>",
            status=503,
        )
    response = HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}"), status=404)


def add_slash(request: HttpRequest, **_: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(request.path + "/")
