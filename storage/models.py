"""Models of the storage app. Files have no rows (the backend is their source of truth); only
resumable upload sessions and share links do."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class UploadSession(models.Model):
    """A resumable upload in progress (tus-style): ``offset`` bytes of ``size`` are stored so far.

    ``state`` is the backend's bookkeeping (a temporary file name, or an S3 multipart upload id and
    its parts). One request at a time appends to a session: it holds the lease (``lease`` token,
    valid until ``lease_until``) while it writes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="storage_uploads")
    uri = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    overwrite = models.BooleanField(default=True)
    backend = models.CharField(max_length=16)
    state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"]), models.Index(fields=["created_by", "completed_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="storage_upload_size_gte_0"),
            models.CheckConstraint(condition=models.Q(offset__gte=0) & models.Q(offset__lte=models.F("size")),
                                   name="storage_upload_offset_within_size"),
        ]

    def __str__(self) -> str:
        return f"upload {self.id} → {self.uri} ({self.offset}/{self.size})"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class ShareLink(models.Model):
    """A link that lets anyone holding its token read a file or folder, until it is revoked or
    (temporary links) expires.

    The token is stored in clear so its creator and the path's managers can list the link's URL
    again; it is looked up by its SHA-256 ``digest`` (an index on the secret itself would let
    response timing hint at it) and compared in constant time (see docs/storage.md).
    """

    uri = models.CharField(max_length=1024, db_index=True)
    owner = models.CharField(max_length=150, db_index=True)  # owner of the path, not of the link
    token = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="storage_links")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: permanent
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link {self.pk} on {self.uri}"

    @property
    def kind(self) -> str:
        return "permanent" if self.expires_at is None else "temporary"

    def is_live(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
