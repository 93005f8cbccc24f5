"""Reads: permission checks, ACLs, what is shared with whom, users, groups and tokens.

``has_access`` is the one permission check of Kiln (DESIGN §3): REST views, WebSocket consumers,
the browse proxy, share links and CLI paths all come through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Q, QuerySet

from console.errors import Forbidden, InvalidInput, NotFound
from console.models import ApiToken, Level, Resource, ResourceGroupGrant, ResourceUserGrant
from console.uris import InvalidUri, Uri, parse_uri

User = get_user_model()
AnyUser = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "group"
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class Grant:
    uri: str
    principal: Principal
    level: Level
    inherited: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "principal": self.principal.as_dict(),
            "level": self.level.codename,
            "inherited": self.inherited,
        }


def as_uri(user: AnyUser, uri: Uri | str) -> Uri:
    """Accept a parsed URI or any long/short text form, relative to ``user``."""
    if isinstance(uri, Uri):
        return uri
    return parse_uri(uri, username=getattr(user, "username", None) or None)


def _is_active(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _grant_level(codename: str) -> Level:
    return Level.parse(codename)


def access_level(user: AnyUser | None, uri: Uri | str) -> Level | None:
    """The highest level ``user`` holds on ``uri``: owner → manage; else the best grant on the URI
    or any ancestor, to the user or to one of their groups; ``None`` when none."""
    if not _is_active(user):
        return None
    uri = as_uri(user, uri)
    if not uri.owner:
        return None
    if uri.owner == user.username:
        return Level.MANAGE
    ancestors = [str(node) for node in uri.ancestors()]
    codenames = set(
        ResourceUserGrant.objects.filter(user=user, content_object__uri__in=ancestors).values_list(
            "permission__codename", flat=True
        )
    ) | set(
        ResourceGroupGrant.objects.filter(group__user=user, content_object__uri__in=ancestors).values_list(
            "permission__codename", flat=True
        )
    )
    return max((_grant_level(code) for code in codenames), default=None)


def has_access(user: AnyUser | None, uri: Uri | str, level: Level | str) -> bool:
    """Owner, or a grant of at least ``level`` on ``uri`` or any URI above it."""
    held = access_level(user, uri)
    return held is not None and held >= Level.parse(level)


def ensure_access(user: AnyUser | None, uri: Uri | str, level: Level | str) -> Level:
    """Raise ``NotFound`` when the user cannot even read ``uri`` (so nothing is revealed), and
    ``Forbidden`` when they can read it but not at ``level``. Returns the level held."""
    uri = as_uri(user, uri)
    held = access_level(user, uri)
    if held is None:
        raise NotFound(f"No such resource: {uri}")
    if held < Level.parse(level):
        raise Forbidden(f"You need {Level.parse(level).codename} access to {uri}; you have {held.codename}")
    return held


def has_grant_below(user: AnyUser | None, uri: Uri | str) -> bool:
    """True when something strictly below ``uri`` is shared with ``user``: such ancestors may be
    listed so the user can navigate down to what was shared (DESIGN §3)."""
    if not _is_active(user):
        return False
    uri = as_uri(user, uri)
    prefix = f"{uri}/"
    return (
        Resource.objects.filter(uri__startswith=prefix)
        .filter(Q(user_grants__user=user) | Q(group_grants__group__user=user))
        .exists()
    )


def granted_prefixes(user: AnyUser | None, *, scheme: str, level: Level = Level.READ) -> list[Uri]:
    """The URIs of ``scheme`` shared with ``user`` (directly or through a group) at ``level`` or
    above. Every grant covers its subtree, so these are prefixes for list filters."""
    if not _is_active(user):
        return []
    codenames = level.and_above()
    uris = (
        Resource.objects.filter(scheme=scheme)
        .filter(
            Q(user_grants__user=user, user_grants__permission__codename__in=codenames)
            | Q(group_grants__group__user=user, group_grants__permission__codename__in=codenames)
        )
        .values_list("uri", flat=True)
        .distinct()
    )
    return [parse_uri(uri) for uri in uris]


def uri_within_q(field: str, prefixes: list[Uri]) -> Q:
    """A database filter: ``field`` (a URI column) equals one of ``prefixes`` or lies below one."""
    condition = Q(pk__in=[])
    for prefix in prefixes:
        text = str(prefix)
        condition |= Q(**{field: text}) | Q(**{f"{field}__startswith": f"{text}/"})
    return condition


def visible_q(user: AnyUser | None, *, scheme: str, fields: tuple[str, ...] = ("uri",), owner_field: str = "owner",
              level: Level = Level.READ) -> Q:
    """The list-endpoint filter: rows the user owns, or whose URI (any of ``fields``) lies within a
    URI shared with them. One query for the prefixes, then pure SQL — no per-row checks."""
    if not _is_active(user):
        return Q(pk__in=[])
    prefixes = granted_prefixes(user, scheme=scheme, level=level)
    condition = Q(**{owner_field: user})
    for field in fields:
        condition |= uri_within_q(field, prefixes)
    return condition


def _grants_on(resources: QuerySet[Resource], *, asked: Uri | None = None) -> list[Grant]:
    grants: list[Grant] = []
    user_rows = ResourceUserGrant.objects.filter(content_object__in=resources).select_related(
        "user", "permission", "content_object"
    )
    group_rows = ResourceGroupGrant.objects.filter(content_object__in=resources).select_related(
        "group", "permission", "content_object"
    )
    for row in user_rows:
        grants.append(Grant(row.content_object.uri, Principal("user", row.user.username),
                            _grant_level(row.permission.codename),
                            inherited=asked is not None and row.content_object.uri != str(asked)))
    for row in group_rows:
        grants.append(Grant(row.content_object.uri, Principal("group", row.group.name),
                            _grant_level(row.permission.codename),
                            inherited=asked is not None and row.content_object.uri != str(asked)))
    grants.sort(key=lambda grant: (grant.inherited, grant.uri, grant.principal.kind, grant.principal.name))
    return grants


def acl_for_uri(*, user: AnyUser, uri: Uri | str) -> dict[str, Any]:
    """Who has what on ``uri``: grants on it and, marked inherited, on every URI above it."""
    uri = as_uri(user, uri)
    held = ensure_access(user, uri, Level.READ)
    resources = Resource.objects.filter(uri__in=[str(node) for node in uri.ancestors()])
    return {
        "uri": str(uri),
        "owner": uri.owner,
        "my_level": held.codename,
        "grants": [grant.as_dict() for grant in _grants_on(resources, asked=uri)],
    }


def shares_with_me(*, user: AnyUser, scheme: str | None = None) -> list[Grant]:
    """Grants that reach ``user`` directly or through one of their groups, on others' resources."""
    user_rows = ResourceUserGrant.objects.filter(user=user).select_related("permission", "content_object")
    group_rows = ResourceGroupGrant.objects.filter(group__user=user).select_related(
        "permission", "content_object", "group"
    )
    if scheme:
        user_rows = user_rows.filter(content_object__scheme=scheme)
        group_rows = group_rows.filter(content_object__scheme=scheme)
    grants = [
        Grant(row.content_object.uri, Principal("user", user.username), _grant_level(row.permission.codename))
        for row in user_rows.exclude(content_object__owner=user.username)
    ] + [
        Grant(row.content_object.uri, Principal("group", row.group.name), _grant_level(row.permission.codename))
        for row in group_rows.exclude(content_object__owner=user.username)
    ]
    return sorted(grants, key=lambda grant: (grant.uri, grant.principal.kind, grant.principal.name))


def shares_by_me(*, user: AnyUser, scheme: str | None = None) -> list[Grant]:
    """Grants on resources ``user`` owns."""
    resources = Resource.objects.filter(owner=user.username)
    if scheme:
        resources = resources.filter(scheme=scheme)
    return _grants_on(resources)


def principal_get(name: str) -> Principal:
    """``alice`` (a user, or a group when no user has that name), ``user:alice``, ``group:team``."""
    kind, sep, rest = name.partition(":")
    if sep and kind in {"user", "group"}:
        candidates = [(kind, rest)]
    else:
        candidates = [("user", name), ("group", name)]
    for kind, value in candidates:
        if kind == "user" and User.objects.filter(username=value, is_active=True).exists():
            return Principal("user", value)
        if kind == "group" and Group.objects.filter(name=value).exists():
            return Principal("group", value)
    raise NotFound(f"No user or group named {name!r}")


def user_search(*, query: str, limit: int = 20) -> QuerySet:
    users = User.objects.filter(is_active=True).order_by("username")
    if query:
        users = users.filter(
            Q(username__istartswith=query) | Q(first_name__istartswith=query) | Q(last_name__istartswith=query)
        )
    return users[:limit]


def principal_search(*, query: str, limit: int = 20) -> list[dict[str, str]]:
    results = [
        {"kind": "user", "name": user.username, "label": user.get_full_name() or user.username}
        for user in user_search(query=query, limit=limit)
    ]
    groups = Group.objects.order_by("name")
    if query:
        groups = groups.filter(name__istartswith=query)
    results += [{"kind": "group", "name": group.name, "label": f"{group.name} (group)"} for group in groups[:limit]]
    return results[:limit]


def token_list(*, user: AnyUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


def team_list_visible(*, user: AnyUser) -> QuerySet[Group]:
    return (
        Group.objects.filter(Q(user=user) | Q(team__owner=user))
        .distinct()
        .select_related("team__owner")
        .prefetch_related("user_set")
        .order_by("name")
    )


def team_get_visible(*, user: AnyUser, name: str) -> Group:
    group = team_list_visible(user=user).filter(name=name).first()
    if group is None:
        raise NotFound(f"No such group: {name}")
    return group


def health_report(*, with_workers: bool) -> dict[str, Any]:
    """``ok``/``down`` for the database and Redis; with ``with_workers``, how many Celery workers
    answered a ping within a second."""
    from django.conf import settings
    from django.db import connection

    report: dict[str, Any] = {}
    try:
        connection.ensure_connection()
        report["database"] = "ok"
    except Exception:
        report["database"] = "down"
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, driver_info=None).ping()
        report["redis"] = "ok"
    except Exception:
        report["redis"] = "down"
    if with_workers:
        from console.celery import app

        try:
            report["workers"] = len(app.control.ping(timeout=1.0) or [])
        except Exception:
            report["workers"] = 0
    return report


def owner_and_name(*, user: AnyUser, ref: str, scheme: str) -> tuple[str, str]:
    """Split a reference to one named thing of ``scheme`` (a job, a flow) into owner and name:
    a bare name is the caller's; ``job:x``, ``job:/alice/x`` and ``job://cluster/alice/x`` name
    alice's. Anything deeper than one name, or on another cluster, is a NotFound."""
    from django.conf import settings

    ref = (ref or "").strip()
    if not ref.startswith(f"{scheme}:"):
        return user.username, ref
    try:
        uri = parse_uri(ref, username=user.username)
    except InvalidUri as error:
        raise InvalidInput(str(error)) from None
    if not uri.path or "/" in uri.path or uri.cluster != settings.KILN_CLUSTER:
        raise NotFound(f"No such {scheme}: {ref}")
    return uri.owner, uri.path
