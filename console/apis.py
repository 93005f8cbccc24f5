"""HTTP API of the core: auth, tokens, users and groups, sharing, health (thin views)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.models import Group
from django.middleware.csrf import get_token
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from console import selectors, services
from console.errors import InvalidInput
from console.fields import UriField
from console.models import ApiToken
from console.uris import SCHEMES


def user_output(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "full_name": user.get_full_name(),
        "is_staff": user.is_staff,
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def token_output(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
    }


def group_output(group: Group) -> dict[str, Any]:
    team = getattr(group, "team", None)
    return {
        "name": group.name,
        "owner": team.owner.username if team else None,
        "members": sorted(user.username for user in group.user_set.all()),
        "created_at": team.created_at if team else None,
    }


def parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- auth -------------------------------------------------------------------------------------------


class CredentialsInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class CsrfApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request)})


class CredentialsApi(APIView):
    """Base of the two ways in by username and password (rate-limited per client)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def credentials(self, request: Request) -> tuple[Any, dict[str, Any]]:
        data = parse(CredentialsInput, request.data)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            raise InvalidInput("Wrong username or password")
        return user, data


class LoginApi(CredentialsApi):
    """Session login for the SPA. CSRF is enforced even though no one is logged in yet."""

    @extend_schema(request=CredentialsInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        SessionAuthentication().enforce_csrf(request)
        user, _ = self.credentials(request)
        login(request._request, user)
        return Response(user_output(user))


class LogoutApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(user_output(request.user))


class TokenObtainApi(CredentialsApi):
    """``kiln login``: trade a username and password for a personal API token."""

    @extend_schema(request=CredentialsInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        user, data = self.credentials(request)
        token, clear = services.token_create(user=user, name=data.get("name") or "cli")
        return Response({**token_output(token), "token": clear, "username": user.username}, status=201)


class TokenNameInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class TokenListApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": [token_output(token) for token in selectors.token_list(user=request.user)]})

    @extend_schema(request=TokenNameInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(TokenNameInput, request.data)
        token, clear = services.token_create(user=request.user, name=data["name"])
        return Response({**token_output(token), "token": clear}, status=201)


class TokenRevokeApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        services.token_revoke(user=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- users and groups -----------------------------------------------------------------------------------

_Q = OpenApiParameter("q", str, description="Prefix of a user or group name")


class UserSearchApi(APIView):
    @extend_schema(parameters=[_Q], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        users = selectors.user_search(query=request.query_params.get("q", "").strip())
        return Response({"results": [{"username": u.username, "full_name": u.get_full_name()} for u in users]})


class PrincipalSearchApi(APIView):
    @extend_schema(parameters=[_Q], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": selectors.principal_search(query=request.query_params.get("q", "").strip())})


class GroupNameInput(serializers.Serializer):
    name = serializers.CharField(max_length=150)


class UsernameInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class GroupListApi(APIView):
    @extend_schema(operation_id="v1_groups_list", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": [group_output(g) for g in selectors.team_list_visible(user=request.user)]})

    @extend_schema(request=GroupNameInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        group = services.team_create(by=request.user, name=parse(GroupNameInput, request.data)["name"])
        return Response(group_output(group), status=201)


class GroupDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, name: str) -> Response:
        return Response(group_output(selectors.team_get_visible(user=request.user, name=name)))


class GroupMemberAddApi(APIView):
    @extend_schema(request=UsernameInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, name: str) -> Response:
        group = selectors.team_get_visible(user=request.user, name=name)
        username = parse(UsernameInput, request.data)["username"]
        return Response(group_output(services.team_member_add(by=request.user, group=group, username=username)), 201)


class GroupMemberRemoveApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str, username: str) -> Response:
        group = selectors.team_get_visible(user=request.user, name=name)
        services.team_member_remove(by=request.user, group=group, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- sharing --------------------------------------------------------------------------------------------


class ShareInput(serializers.Serializer):
    uri = UriField(max_length=1024)
    principal = serializers.CharField(max_length=160)
    level = serializers.ChoiceField(choices=["read", "write", "manage"])


class RevokeInput(serializers.Serializer):
    uri = UriField(max_length=1024)
    principal = serializers.CharField(max_length=160)


class ShareApi(APIView):
    @extend_schema(request=ShareInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(ShareInput, request.data)
        grant = services.share(by=request.user, uri=data["uri"], principal=data["principal"], level=data["level"])
        return Response(grant.as_dict(), status=201)


class RevokeApi(APIView):
    @extend_schema(request=RevokeInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = parse(RevokeInput, request.data)
        services.revoke(by=request.user, uri=data["uri"], principal=data["principal"])
        return Response(status=status.HTTP_204_NO_CONTENT)


_URI = OpenApiParameter("uri", str, required=True, description="A long or short URI, e.g. job:my-job")
_SCHEME = OpenApiParameter("scheme", str, description="job, storage, image or flow")


class AclApi(APIView):
    @extend_schema(parameters=[_URI], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        uri = request.query_params.get("uri", "")
        if not uri:
            raise InvalidInput("The uri query parameter is required", details={"uri": ["required"]})
        return Response(selectors.acl_for_uri(user=request.user, uri=uri))


def scheme_param(request: Request) -> str | None:
    scheme = request.query_params.get("scheme") or None
    if scheme is not None and scheme not in SCHEMES:
        raise InvalidInput(f"Unknown scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    return scheme


class SharedWithMeApi(APIView):
    @extend_schema(parameters=[_SCHEME], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        grants = selectors.shares_with_me(user=request.user, scheme=scheme_param(request))
        return Response({"results": [grant.as_dict() for grant in grants]})


class SharedByMeApi(APIView):
    @extend_schema(parameters=[_SCHEME], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        grants = selectors.shares_by_me(user=request.user, scheme=scheme_param(request))
        return Response({"results": [grant.as_dict() for grant in grants]})


# --- health -----------------------------------------------------------------------------------------------


class HealthApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        report = selectors.health_report(with_workers=request.query_params.get("workers") in {"1", "true"})
        healthy = all(value != "down" for value in report.values())
        return Response({"status": "ok" if healthy else "down", **report}, status=200 if healthy else 503)
