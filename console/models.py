"""Accounts (API tokens, teams) and the sharing core (resources and their grants)."""

from __future__ import annotations

import enum

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Level(enum.IntEnum):
    """Permission levels, ordered: a higher level includes every lower one (DESIGN §3)."""

    READ = 1
    WRITE = 2
    MANAGE = 3

    @property
    def codename(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Level) -> Level:
        if isinstance(value, Level):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(f"Unknown level {value!r}: expected read, write or manage") from None

    def and_above(self) -> list[str]:
        return [level.codename for level in Level if level >= self]


class ApiToken(models.Model):
    """A personal API token for the CLI and scripts; only its SHA-256 digest is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user}:{self.name} ({self.prefix}…)"


class Team(models.Model):
    """A group of users (Django ``Group``) with an owner who manages its members."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="team")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_teams")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.group.name


class Resource(models.Model):
    """One row per URI that was ever shared; grants hang off it as guardian object permissions."""

    uri = models.CharField(max_length=1024, unique=True)
    scheme = models.CharField(max_length=16)
    cluster = models.CharField(max_length=64)
    owner = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        permissions = [(level.codename, level.name.title()) for level in Level]
        indexes = [models.Index(fields=["scheme", "owner"])]

    def __str__(self) -> str:
        return self.uri


class ResourceUserGrant(UserObjectPermissionBase):
    """guardian's user object permission, with a direct foreign key for fast joins."""

    content_object = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="user_grants")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now=True)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class ResourceGroupGrant(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="group_grants")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now=True)

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False
