"""Writes of the core: sharing, API tokens, teams, the first user."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import transaction
from django.utils import timezone

from console.errors import Conflict, Forbidden, InvalidInput, NotFound
from console.models import ApiToken, Level, Resource, ResourceGroupGrant, ResourceUserGrant, Team
from console.realtime import notify_access_changed, publish_resource_event
from console.resource_kinds import resource_kind
from console.selectors import Grant, Principal, as_uri, ensure_access, principal_get
from console.uris import Uri

User = get_user_model()
TOKEN_PREFIX = "kiln_"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


# --- sharing ------------------------------------------------------------------------------------


def _resource_for(uri: Uri) -> Resource:
    resource, _ = Resource.objects.get_or_create(
        uri=str(uri), defaults={"scheme": uri.scheme, "cluster": uri.cluster, "owner": uri.owner}
    )
    return resource


def _permission(level: Level) -> Permission:
    """The guardian permission for ``level``, looked up by natural key rather than through the
    cached ContentType id that ``guardian.shortcuts.assign_perm`` relies on."""
    return Permission.objects.get(content_type__app_label="console", content_type__model="resource",
                                  codename=level.codename)


def _principal_users(principal: Principal) -> list[AbstractBaseUser]:
    if principal.kind == "user":
        return list(User.objects.filter(username=principal.name))
    return list(User.objects.filter(groups__name=principal.name))


def _remove_grants(resource: Resource, principal: Principal) -> int:
    if principal.kind == "user":
        rows = ResourceUserGrant.objects.filter(content_object=resource, user__username=principal.name)
    else:
        rows = ResourceGroupGrant.objects.filter(content_object=resource, group__name=principal.name)
    deleted, _ = rows.delete()
    return deleted


def share(*, by: AbstractBaseUser, uri: Uri | str, principal: str, level: Level | str) -> Grant:
    """Grant ``principal`` (user or group) ``level`` on ``uri`` and everything below it.

    Needs ``manage``. A principal holds one level per URI: sharing again replaces it.
    """
    uri = as_uri(by, uri)
    try:
        level = Level.parse(level)
    except ValueError as error:
        raise InvalidInput(str(error), details={"level": [str(error)]}) from None
    if not uri.owner:
        raise InvalidInput(f"{uri} names no owner: share something below {uri}/<user>")
    ensure_access(by, uri, Level.MANAGE)
    if not resource_kind(uri.scheme).exists(uri):
        raise NotFound(f"No such resource: {uri}")
    target = principal_get(principal)
    if target.kind == "user" and target.name == uri.owner:
        raise InvalidInput(f"{target.name} owns {uri} already", details={"principal": ["is the owner"]})
    with transaction.atomic():
        resource = _resource_for(uri)
        _remove_grants(resource, target)
        # bulk_create, not save(): guardian's save() re-checks the permission's content type
        # against a process-wide ContentType cache, which goes stale when content types are
        # recreated (as the test suite's flushes do); the natural-key lookup above is the check.
        permission = _permission(level)
        if target.kind == "user":
            ResourceUserGrant.objects.bulk_create([ResourceUserGrant(
                user=User.objects.get(username=target.name), permission=permission, content_object=resource,
                granted_by=by)])
        else:
            ResourceGroupGrant.objects.bulk_create([ResourceGroupGrant(
                group=Group.objects.get(name=target.name), permission=permission, content_object=resource,
                granted_by=by)])
    grant = Grant(str(uri), target, level)
    _after_acl_change(uri, target, {"type": "acl.shared", **grant.as_dict()})
    return grant


def revoke(*, by: AbstractBaseUser, uri: Uri | str, principal: str) -> None:
    """Take back whatever ``principal`` was granted on exactly ``uri``. Needs ``manage``."""
    uri = as_uri(by, uri)
    ensure_access(by, uri, Level.MANAGE)
    target = principal_get(principal)
    resource = Resource.objects.filter(uri=str(uri)).first()
    if resource is None or not _remove_grants(resource, target):
        raise NotFound(f"{target.kind} {target.name} has no grant on {uri}")
    _after_acl_change(uri, target, {"type": "acl.revoked", "uri": str(uri), "principal": target.as_dict()})


def _after_acl_change(uri: Uri, principal: Principal, event: dict) -> None:
    def notify() -> None:
        publish_resource_event(uri, event)
        notify_access_changed([user.pk for user in _principal_users(principal)])

    transaction.on_commit(notify)


# --- API tokens ---------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new personal token; the clear value is returned once and never stored."""
    name = (name or "").strip()[:100] or "token"
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=clear[:12], digest=_digest(clear))
    return token, clear


def token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise NotFound(f"No such token: {token_id}")


def token_authenticate(*, clear: str) -> ApiToken | None:
    """The live token matching ``clear`` (and mark it used), or ``None``."""
    if not clear.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(clear), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- teams --------------------------------------------------------------------------------------


def team_create(*, by: AbstractBaseUser, name: str) -> Group:
    name = (name or "").strip()
    if not name or len(name) > 150 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InvalidInput("A group name is 1–150 letters, digits, '-', '_' or '.'", details={"name": ["invalid"]})
    if User.objects.filter(username=name).exists():
        raise Conflict(f"{name!r} is a user name; pick another group name so shares stay unambiguous")
    with transaction.atomic():
        group, created = Group.objects.get_or_create(name=name)
        if not created:
            raise Conflict(f"A group named {name!r} exists already")
        Team.objects.create(group=group, owner=by)
        group.user_set.add(by)
    return group


def _ensure_team_manager(by: AbstractBaseUser, group: Group) -> None:
    team = getattr(group, "team", None)
    if not (by.is_staff or (team is not None and team.owner_id == by.pk)):
        raise Forbidden(f"Only the owner of group {group.name} can change its members")


def team_member_add(*, by: AbstractBaseUser, group: Group, username: str) -> Group:
    _ensure_team_manager(by, group)
    member = User.objects.filter(username=username, is_active=True).first()
    if member is None:
        raise NotFound(f"No such user: {username}")
    group.user_set.add(member)
    transaction.on_commit(lambda: notify_access_changed([member.pk]))
    return group


def team_member_remove(*, by: AbstractBaseUser, group: Group, username: str) -> None:
    _ensure_team_manager(by, group)
    member = group.user_set.filter(username=username).first()
    if member is None:
        raise NotFound(f"{username} is not a member of {group.name}")
    group.user_set.remove(member)
    transaction.on_commit(lambda: notify_access_changed([member.pk]))


# --- set-up -------------------------------------------------------------------------------------


def first_user_ensure(
    *, username: str, password: str | None, email: str = ""
) -> tuple[AbstractBaseUser | None, str | None]:
    """Create the first (administrator) account when there is no user yet.

    Returns the user and the generated password (``None`` when one was given), or ``(None, None)``
    when users exist already.
    """
    if User.objects.exists():
        return None, None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username=username, email=email, password=password)
    return user, generated
