"""DRF authentication by personal API token: ``Authorization: Bearer kiln_…``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from console.services import token_authenticate


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin1")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != self.keyword:
            return None
        value = value.strip()
        if not value:
            raise exceptions.AuthenticationFailed("Empty bearer token")
        token = token_authenticate(clear=value)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="kiln"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer token in the OpenAPI schema."""

    target_class = "console.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token: kiln_…"}
