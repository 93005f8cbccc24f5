"""Domain errors and the one JSON error shape of the API (DESIGN §8).

Services raise these; ``api_exception_handler`` turns them (and DRF's own exceptions) into
``{"error": {"code", "message", "details"}}`` with the right HTTP status.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from console.uris import InvalidUri


class KilnError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(KilnError):
    status, code = 400, "invalid"


class NotAuthenticated(KilnError):
    status, code = 401, "not_authenticated"


class Forbidden(KilnError):
    status, code = 403, "forbidden"


class NotFound(KilnError):
    status, code = 404, "not_found"


class Conflict(KilnError):
    status, code = 409, "conflict"


class TooLarge(KilnError):
    status, code = 413, "too_large"


class Unprocessable(KilnError):
    status, code = 422, "unprocessable"


class Unavailable(KilnError):
    """A capability this server lacks or cannot give right now (a tool not installed)."""

    status, code = 503, "unavailable"


_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.NotAuthenticated, "not_authenticated"),
    (drf.AuthenticationFailed, "not_authenticated"),
    (drf.PermissionDenied, "forbidden"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.NotAcceptable, "not_acceptable"),
    (drf.UnsupportedMediaType, "unsupported_media_type"),
    (drf.Throttled, "throttled"),
    (drf.ParseError, "invalid"),
    (drf.ValidationError, "invalid"),
]


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_message(details: Any) -> str:
    if isinstance(details, dict):
        for field, messages in details.items():
            first = messages[0] if isinstance(messages, list) and messages else messages
            if field == "non_field_errors":
                return str(first)
            return f"{field}: {first}"
    if isinstance(details, list) and details:
        return str(details[0])
    return "Invalid input"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidUri):
        exc = InvalidInput(str(exc), details={"uri": [str(exc)]})
    if isinstance(exc, KilnError):
        response = Response(exc.as_dict(), status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="kiln"'
        return response
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found"), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", "Forbidden"), status=403)
    if isinstance(exc, drf.APIException):
        code = next((name for cls, name in _DRF_CODES if isinstance(exc, cls)), "error")
        if isinstance(exc, drf.ValidationError):
            details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            body = error_body(code, _validation_message(exc.detail), details)
        else:
            body = error_body(code, str(exc.detail))
        response = Response(body, status=exc.status_code)
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            response["WWW-Authenticate"] = 'Bearer realm="kiln"'
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    return None
