"""Reads of the storage app: the backend in use, stat, listings (with navigation down to what was
shared), disk usage, downloads and zips, share links, upload sessions, and host paths for jobs.

Every read that takes a ``user`` checks access through the sharing core (``console.selectors``):
what the user cannot read answers 404.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from console.errors import InvalidInput, NotFound
from console.models import Level
from console.selectors import (
    AnyUser,
    access_level,
    as_uri,
    ensure_access,
    granted_prefixes,
    has_access,
    has_grant_below,
)
from console.uris import InvalidUri, Uri, parse_uri
from storage.archive import zip_chunks
from storage.backends.base import (
    Entry,
    IsADirectory,
    Key,
    NotADirectory,
    PathNotFound,
    PathRefused,
    StorageBackend,
    Usage,
    key_for,
)
from storage.models import ShareLink, UploadSession

DEFAULT_PAGE = 100
MAX_PAGE = 1000


# --- the backend ------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _backend(kind: str, root: str, s3: tuple[tuple[str, Any], ...], part_size: int, fsync: bool) -> StorageBackend:
    if kind == "local":
        from storage.backends.local import LocalBackend

        return LocalBackend(root, fsync=fsync)
    if kind == "s3":
        from storage.backends.s3 import S3Backend

        return S3Backend(**dict(s3), part_size=part_size)
    raise ValueError(f"KILN_STORAGE_BACKEND must be 'local' or 's3', not {kind!r}")


def backend_for() -> StorageBackend:
    """The configured backend (``settings.KILN_STORAGE_BACKEND``: local | s3), built once per
    configuration (an S3 client is costly to make; settings may change in tests)."""
    s3 = tuple(sorted((name, value) for name, value in (settings.KILN_S3 or {}).items()))
    return _backend(
        settings.KILN_STORAGE_BACKEND,
        str(settings.KILN_STORAGE_ROOT),
        s3,
        int(getattr(settings, "KILN_S3_PART_SIZE", 8 << 20)),
        bool(getattr(settings, "KILN_STORAGE_FSYNC", True)),
    )


# --- URIs and keys ----------------------------------------------------------------------------------


def storage_uri(user: AnyUser | None, uri: Uri | str) -> Uri:
    """Parse a ``storage:`` URI (any long or short form) relative to ``user``; 400 otherwise."""
    try:
        parsed = as_uri(user, uri)
    except InvalidUri as error:
        raise InvalidInput(str(error), details={"uri": [str(error)]}) from None
    if parsed.scheme != "storage":
        raise InvalidInput(f"{parsed} is not a storage URI (storage:…)", details={"uri": ["not a storage URI"]})
    key_for(parsed)  # refuses bad names early, with a 400 that says why
    return parsed


def storage_key(uri: Uri) -> Key:
    return key_for(uri)


def storage_exists(uri: Uri) -> bool:
    """For the sharing core: does ``uri`` name a file or folder (a home always exists)?"""
    try:
        key = key_for(uri)
        return key.is_home or backend_for().stat(key) is not None
    except (PathRefused, InvalidInput):
        return False


def storage_local_path(uri: Uri) -> Path | None:
    """The real host folder of ``uri`` on the local-disk backend (to bind into a job's sandbox);
    ``None`` on S3, where volumes are staged. Refuses (``PathRefused``) paths and symlinks that
    escape the owner's home. The path may not exist yet. No permission check: the caller checked."""
    return backend_for().local_path(key_for(uri))


# --- stat, list, du ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    uri: Uri
    entry: Entry
    level: Level | None  # None: not readable, only a way down to something shared


@dataclass(frozen=True)
class Listing:
    uri: Uri
    level: Level | None
    entries: list[tuple[Uri, Entry]]
    next_cursor: str | None


def _not_found(uri: Uri) -> NotFound:
    return NotFound(f"No such resource: {uri}")


def _shared_children(user: AnyUser, uri: Uri) -> set[str]:
    """Names of the children of ``uri`` that lead to (or are) something shared with ``user``."""
    names = set()
    for prefix in granted_prefixes(user, scheme="storage"):
        if prefix.is_within(uri) and prefix != uri:
            names.add(prefix.parts[len(uri.parts)])
    return names


def storage_stat(*, user: AnyUser, uri: Uri | str) -> Stat:
    uri = storage_uri(user, uri)
    level = access_level(user, uri)
    if level is None and not has_grant_below(user, uri):
        raise _not_found(uri)
    entry = backend_for().stat(key_for(uri))
    if entry is None or (level is None and not entry.is_dir):
        raise PathNotFound(key_for(uri)) if level is not None else _not_found(uri)
    return Stat(uri, entry, level)


def storage_list(*, user: AnyUser, uri: Uri | str, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> Listing:
    """A folder's entries in name order, a page at a time. A user who cannot read the folder but
    holds a grant below it sees only the children on the way to what was shared."""
    uri = storage_uri(user, uri)
    limit = max(1, min(MAX_PAGE, limit))
    level = access_level(user, uri)
    backend = backend_for()
    key = key_for(uri)
    if level is None:
        if not has_grant_below(user, uri):
            raise _not_found(uri)
        found = backend.stat(key)
        if found is None or not found.is_dir:
            raise _not_found(uri)
        entries = []
        for name in sorted(_shared_children(user, uri)):
            try:
                child = key.child(name)
                entry = backend.stat(child)
            except (PathRefused, InvalidUri):
                continue
            if entry is not None:
                entries.append((uri.child(name), entry))
        return Listing(uri, None, entries, None)
    entries, next_cursor = backend.list_dir(key, after=cursor, limit=limit)
    return Listing(uri, level, [(uri.child(entry.name), entry) for entry in entries], next_cursor)


def storage_du(*, user: AnyUser, uri: Uri | str) -> tuple[Uri, Usage]:
    """Disk usage of a file or folder (``storage:`` alone: the user's whole home)."""
    uri = storage_uri(user, uri)
    ensure_access(user, uri, Level.READ)
    return uri, backend_for().usage(key_for(uri))


# --- downloads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    """A readable file: its entry, and its bytes on demand."""

    uri: Uri
    entry: Entry
    backend: StorageBackend

    def chunks(self, *, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self.backend.read(key_for(self.uri), start=start, length=length)


def _file_at(uri: Uri) -> StoredFile:
    backend = backend_for()
    key = key_for(uri)
    entry = backend.stat(key)
    if entry is None:
        raise PathNotFound(key)
    if entry.is_dir:
        raise IsADirectory(key)
    return StoredFile(uri, entry, backend)


def _folder_zip(uri: Uri) -> Iterator[bytes]:
    backend = backend_for()
    key = key_for(uri)
    entry = backend.stat(key)
    if entry is None:
        raise PathNotFound(key)
    if not entry.is_dir:
        raise NotADirectory(key)
    return zip_chunks(backend, key, root_name=key.name)


def storage_file_get(*, user: AnyUser, uri: Uri | str) -> StoredFile:
    """A file the user may read (404 otherwise; 409 for a folder)."""
    uri = storage_uri(user, uri)
    ensure_access(user, uri, Level.READ)
    return _file_at(uri)


def storage_zip_get(*, user: AnyUser, uri: Uri | str) -> tuple[Uri, Iterator[bytes]]:
    """A folder the user may read, as the chunks of a streamed zip."""
    uri = storage_uri(user, uri)
    ensure_access(user, uri, Level.READ)
    return uri, _folder_zip(uri)


# --- share links ------------------------------------------------------------------------------------


def link_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _live(queryset: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
    now = timezone.now()
    return queryset.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def link_list(*, user: AnyUser, uri: Uri | str | None = None, include_inactive: bool = False) -> QuerySet[ShareLink]:
    """Links on exactly ``uri`` (needs manage there), or the links ``user`` made (no ``uri``)."""
    if uri is not None:
        uri = storage_uri(user, uri)
        ensure_access(user, uri, Level.MANAGE)
        links = ShareLink.objects.filter(uri=str(uri))
    else:
        links = ShareLink.objects.filter(created_by=user)
    links = links.select_related("created_by")
    return links if include_inactive else _live(links)


def link_get(*, user: AnyUser, link_id: int) -> ShareLink:
    """A link its creator, or a manager of its path, may see (404 for anyone else)."""
    link = ShareLink.objects.select_related("created_by").filter(pk=link_id).first()
    if link is None or not (link.created_by_id == getattr(user, "pk", None)
                            or has_access(user, link.uri, Level.MANAGE)):
        raise NotFound(f"No such link: {link_id}")
    return link


def link_resolve(*, token: str) -> ShareLink:
    """The live link with this token, or 404. A link works while it is neither revoked nor expired
    and its creator can still read its path (a link never gives more than its creator has)."""
    dead = NotFound("This link does not exist, has expired or was revoked")
    if not token or len(token) > 64:
        raise dead
    link = ShareLink.objects.select_related("created_by").filter(digest=link_digest(token)).first()
    if link is None or not hmac.compare_digest(link.token.encode(), token.encode("utf-8", "surrogatepass")):
        raise dead
    creator = link.created_by
    if not link.is_live() or not creator.is_active or not has_access(creator, link.uri, Level.READ):
        raise dead
    return link


def link_uri(link: ShareLink) -> Uri:
    return parse_uri(link.uri)


def link_target(*, link: ShareLink, subpath: str = "") -> Uri:
    """The URI a link request names: the link's path, or (folder links) a path below it."""
    base = link_uri(link)
    if not subpath.strip("/"):
        return base
    try:
        target = base.child(subpath)
        key_for(target)
    except InvalidUri as error:
        raise InvalidInput(str(error), details={"path": [str(error)]}) from None
    if not target.is_within(base):
        raise NotFound("No such file or folder in this link")
    return target


def link_stat(*, uri: Uri) -> Entry:
    """What a link request names (the link was resolved already)."""
    entry = backend_for().stat(key_for(uri))
    if entry is None:
        raise NotFound("No such file or folder in this link")
    return entry


def link_list_dir(*, uri: Uri, cursor: str | None, limit: int) -> Listing:
    entries, next_cursor = backend_for().list_dir(key_for(uri), after=cursor, limit=max(1, min(MAX_PAGE, limit)))
    return Listing(uri, Level.READ, [(uri.child(entry.name), entry) for entry in entries], next_cursor)


def link_file(*, uri: Uri) -> StoredFile:
    return _file_at(uri)


def link_zip(*, uri: Uri) -> Iterator[bytes]:
    return _folder_zip(uri)


# --- upload sessions --------------------------------------------------------------------------------


def upload_list(*, user: AnyUser) -> QuerySet[UploadSession]:
    """The user's unfinished, unexpired resumable uploads (to resume after a reload)."""
    return UploadSession.objects.filter(created_by=user, completed_at__isnull=True, expires_at__gt=timezone.now())


def upload_get(*, user: AnyUser, upload_id: Any) -> UploadSession:
    """One of the user's upload sessions (404 for another user's, an unknown or an expired one)."""
    session = UploadSession.objects.filter(pk=upload_id, created_by=user, expires_at__gt=timezone.now()).first()
    if session is None:
        raise NotFound(f"No such upload: {upload_id}")
    return session
