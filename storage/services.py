"""Writes of the storage app: uploads (one-shot and resumable), mkdir, delete, move, copy, share
links, upload-session expiry, and staging of job volumes between a backend and a local folder.

Every service that takes ``by`` checks access through the sharing core first (write to change a
path, read to copy from one, manage to make links), before a single byte of a body is read. After
a change, a ``storage.changed`` event goes to watchers of the parent folder (after commit).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from console.errors import Conflict, InvalidInput, NotFound, TooLarge
from console.models import Level
from console.realtime import publish_resource_event
from console.selectors import ensure_access
from console.uris import Uri, parse_uri
from storage.backends.base import Entry, Key, PathExists, PathNotFound, PathRefused, UploadInterrupted, key_for
from storage.models import ShareLink, UploadSession
from storage.selectors import backend_for, link_digest, storage_uri

LINK_MIN = timedelta(minutes=1)
LINK_MAX = timedelta(days=3 * 366)  # "months": up to about three years; longer is what permanent links are for
LEASE = timedelta(minutes=5)


def _setting_seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name, default)))


def upload_ttl() -> timedelta:
    """How long an idle resumable upload is kept (``KILN_STORAGE_UPLOAD_TTL`` seconds; 24 h)."""
    return _setting_seconds("KILN_STORAGE_UPLOAD_TTL", 24 * 3600)


def max_upload() -> int | None:
    """The largest accepted file (``KILN_STORAGE_MAX_UPLOAD`` bytes); ``None``: no limit."""
    value = getattr(settings, "KILN_STORAGE_MAX_UPLOAD", None)
    return int(value) if value else None


# --- events -----------------------------------------------------------------------------------------


def _changed(uri: Uri, action: str, **extra: Any) -> None:
    """``storage.changed`` to watchers of the folder holding ``uri`` (and of every folder above)."""
    parent = uri.parent()
    folder = parent if parent is not None and parent.owner else uri
    event = {"type": "storage.changed", "action": action, "path": str(uri), **extra}
    transaction.on_commit(lambda: publish_resource_event(folder, event))


# --- bodies -----------------------------------------------------------------------------------------


def _check_size(size: int | None) -> None:
    limit = max_upload()
    if size is not None:
        if size < 0:
            raise InvalidInput("A size cannot be negative", details={"size": ["must be ≥ 0"]})
        if limit is not None and size > limit:
            raise TooLarge(f"Files are at most {limit} bytes here; this one has {size}")


def _exact(chunks: Iterable[bytes], size: int | None) -> Iterator[bytes]:
    """The body of a one-shot upload: exactly ``size`` bytes when given, within the limit always;
    anything else raises, and the backend then leaves nothing behind."""
    limit = max_upload()
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if size is not None and received > size:
            raise InvalidInput(f"The body is longer than the {size} bytes announced")
        if limit is not None and received > limit:
            raise TooLarge(f"Files are at most {limit} bytes here")
        yield chunk
    if size is not None and received != size:
        raise UploadInterrupted(f"The upload ended after {received} of {size} bytes: nothing was stored")


# --- files and folders ------------------------------------------------------------------------------


def storage_upload(*, by: AbstractBaseUser, uri: Uri | str, chunks: Iterable[bytes], size: int | None = None,
                   overwrite: bool = True) -> tuple[Uri, Entry]:
    """Store a file from a stream of chunks (missing parent folders are created). The file appears
    only when every byte arrived; an upload cut short leaves nothing (and an old file untouched)."""
    uri = storage_uri(by, uri)
    ensure_access(by, uri, Level.WRITE)
    _check_size(size)
    entry = backend_for().write(key_for(uri), _exact(chunks, size), overwrite=overwrite, size=size)
    _changed(uri, "upload")
    return uri, entry


def storage_mkdir(*, by: AbstractBaseUser, uri: Uri | str, parents: bool = False) -> tuple[Uri, Entry]:
    uri = storage_uri(by, uri)
    ensure_access(by, uri, Level.WRITE)
    entry = backend_for().mkdir(key_for(uri), parents=parents)
    _changed(uri, "mkdir")
    return uri, entry


def storage_delete(*, by: AbstractBaseUser, uri: Uri | str, recursive: bool = False) -> Uri:
    """Delete a file or an empty folder; a folder with content only when ``recursive``."""
    uri = storage_uri(by, uri)
    ensure_access(by, uri, Level.WRITE)
    backend_for().delete(key_for(uri), recursive=recursive)
    _changed(uri, "delete")
    return uri


def storage_move(*, by: AbstractBaseUser, src: Uri | str, dst: Uri | str) -> tuple[Uri, Entry]:
    """Move or rename: needs write on both paths; ``dst`` must not exist (409)."""
    src, dst = storage_uri(by, src), storage_uri(by, dst)
    ensure_access(by, src, Level.WRITE)
    ensure_access(by, dst, Level.WRITE)
    backend = backend_for()
    backend.move(key_for(src), key_for(dst))
    _changed(src, "delete")
    _changed(dst, "move", source=str(src))
    entry = backend.stat(key_for(dst))
    if entry is None:  # moved away again at once by someone else
        raise PathNotFound(key_for(dst))
    return dst, entry


def storage_copy(*, by: AbstractBaseUser, src: Uri | str, dst: Uri | str) -> tuple[Uri, Entry]:
    """Copy a file or folder: needs read on ``src`` and write on ``dst`` (which must not exist)."""
    src, dst = storage_uri(by, src), storage_uri(by, dst)
    ensure_access(by, src, Level.READ)
    ensure_access(by, dst, Level.WRITE)
    backend = backend_for()
    backend.copy(key_for(src), key_for(dst))
    _changed(dst, "copy", source=str(src))
    entry = backend.stat(key_for(dst))
    if entry is None:
        raise PathNotFound(key_for(dst))
    return dst, entry


# --- resumable uploads ------------------------------------------------------------------------------


def upload_create(*, by: AbstractBaseUser, uri: Uri | str, size: int, overwrite: bool = True) -> UploadSession:
    """Open a resumable upload of ``size`` bytes to ``uri``. A zero-byte upload completes at once."""
    uri = storage_uri(by, uri)
    ensure_access(by, uri, Level.WRITE)
    _check_size(size)
    backend = backend_for()
    key = key_for(uri)
    if not overwrite and backend.stat(key) is not None:
        raise PathExists(key)
    now = timezone.now()
    session = UploadSession(created_by=by, uri=str(uri), size=size, overwrite=overwrite, backend=backend.name,
                            created_at=now, updated_at=now, expires_at=now + upload_ttl())
    if size == 0:
        backend.write(key, [], overwrite=overwrite, size=0)
        session.completed_at = now
        session.save()
        _changed(uri, "upload")
        return session
    session.state = backend.session_begin(key, session_id=str(session.id), size=size)
    try:
        session.save()
    except BaseException:
        backend.session_discard(session.state)
        raise
    return session


def _appended(chunks: Iterable[bytes], remaining: int) -> Iterator[bytes]:
    """A PATCH body: at most ``remaining`` bytes; when the client goes away midway, the bytes that
    arrived are kept (the iteration just ends)."""
    received = 0
    try:
        for chunk in chunks:
            received += len(chunk)
            if received > remaining:
                raise TooLarge(f"The upload has only {remaining} bytes left to receive")
            yield chunk
    except UploadInterrupted:
        return


def _lease(session: UploadSession, offset: int) -> str:
    now = timezone.now()
    token = secrets.token_hex(16)
    taken = (
        UploadSession.objects.filter(pk=session.pk, offset=offset, completed_at__isnull=True)
        .exclude(lease_until__gte=now)
        .update(lease=token, lease_until=now + LEASE)
    )
    if not taken:
        session.refresh_from_db()
        if session.is_complete:
            raise Conflict("This upload is complete already", details={"offset": session.offset})
        if session.offset != offset:
            raise Conflict(f"The upload is at offset {session.offset}, not {offset}",
                           details={"offset": session.offset})
        raise Conflict("Another request is writing to this upload; retry when it is done",
                       details={"offset": session.offset})
    return token


def _renewer(session: UploadSession, token: str) -> Any:
    def renew() -> None:
        kept = UploadSession.objects.filter(pk=session.pk, lease=token).update(lease_until=timezone.now() + LEASE)
        if not kept:
            raise Conflict("This upload was taken over by another request")

    return renew


def upload_write(*, by: AbstractBaseUser, upload: UploadSession, offset: int, chunks: Iterable[bytes],
                 length: int | None = None) -> UploadSession:
    """Append a chunk at ``offset`` (which must be the session's current offset: 409 otherwise).
    Bytes that arrived before a dropped connection are kept; ``HEAD`` tells where to resume. When
    the last byte arrives the file appears at its path, atomically."""
    uri = parse_uri(upload.uri)
    ensure_access(by, uri, Level.WRITE)
    if upload.is_complete:
        raise Conflict("This upload is complete already", details={"offset": upload.offset})
    if offset != upload.offset:
        raise Conflict(f"The upload is at offset {upload.offset}, not {offset}", details={"offset": upload.offset})
    remaining = upload.size - offset
    if length is not None and length > remaining:
        raise TooLarge(f"The upload has only {remaining} bytes left to receive; this chunk has {length}")
    backend = backend_for()
    if upload.backend != backend.name:
        raise NotFound(f"No such upload: {upload.pk} (the storage backend changed)")
    token = _lease(upload, offset)
    try:
        new_offset, state = backend.session_append(upload.state, offset=offset, chunks=_appended(chunks, remaining),
                                                   renew=_renewer(upload, token))
        now = timezone.now()
        saved = UploadSession.objects.filter(pk=upload.pk, lease=token).update(
            offset=new_offset, state=state, updated_at=now, expires_at=now + upload_ttl())
        if not saved:
            raise Conflict("This upload was taken over by another request")
        upload.offset, upload.state, upload.updated_at = new_offset, state, now
        if new_offset == upload.size:
            _upload_finish(upload)
    finally:
        UploadSession.objects.filter(pk=upload.pk, lease=token).update(lease="", lease_until=None)
    upload.refresh_from_db()
    return upload


def _upload_finish(upload: UploadSession) -> None:
    backend = backend_for()
    uri = parse_uri(upload.uri)
    try:
        backend.session_finish(key_for(uri), upload.state, overwrite=upload.overwrite)
    except (Conflict, PathRefused):
        # The path became a folder, or (no overwrite) a file appeared: this upload can never land.
        backend.session_discard(upload.state)
        upload.delete()
        raise
    now = timezone.now()
    UploadSession.objects.filter(pk=upload.pk).update(completed_at=now, state={}, updated_at=now)
    _changed(uri, "upload")


def upload_abort(*, by: AbstractBaseUser, upload: UploadSession) -> None:
    """Cancel an upload: its bytes are thrown away (nothing ever appeared at its path)."""
    if upload.created_by_id != by.pk:
        raise NotFound(f"No such upload: {upload.pk}")
    if not upload.is_complete and upload.backend == backend_for().name:
        backend_for().session_discard(upload.state)
    upload.delete()


def uploads_expire(*, now: datetime | None = None) -> int:
    """Throw away sessions idle past their expiry, and leftovers of uploads cut by a crash (temporary
    files, abandoned S3 multipart uploads) older than the upload TTL. Returns how many went."""
    now = now or timezone.now()
    backend = backend_for()
    removed = 0
    for session in UploadSession.objects.filter(expires_at__lt=now).iterator():
        if not session.is_complete and session.backend == backend.name:
            backend.session_discard(session.state)
        session.delete()
        removed += 1
    live = [state for state in UploadSession.objects.filter(completed_at__isnull=True).values_list("state", flat=True)]
    removed += backend.cleanup(before=now - upload_ttl(), live=live)
    return removed


# --- share links ------------------------------------------------------------------------------------


def link_create(*, by: AbstractBaseUser, uri: Uri | str, expires_in: int | float | None = None,
                expires_at: datetime | None = None) -> ShareLink:
    """A link anyone can use to read ``uri`` (a file, or a folder and all below it): permanent, or
    temporary when ``expires_in`` (seconds) or ``expires_at`` is given. Needs manage."""
    uri = storage_uri(by, uri)
    ensure_access(by, uri, Level.MANAGE)
    key = key_for(uri)
    if backend_for().stat(key) is None:
        raise PathNotFound(key)
    now = timezone.now()
    if expires_in is not None and expires_at is not None:
        raise InvalidInput("Give expires_in or expires_at, not both", details={"expires_in": ["not with expires_at"]})
    if expires_in is not None:
        expires_at = now + timedelta(seconds=float(expires_in))
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at - now < LINK_MIN:
            raise InvalidInput("A temporary link lives at least one minute",
                               details={"expires_at": ["at least one minute from now"]})
        if expires_at - now > LINK_MAX:
            raise InvalidInput("A temporary link lives at most about three years; make a permanent link instead",
                               details={"expires_at": ["too far in the future"]})
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(uri=str(uri), owner=uri.owner, token=token, digest=link_digest(token),
                                    created_by=by, created_at=now, expires_at=expires_at)
    transaction.on_commit(lambda: publish_resource_event(uri, {"type": "storage.links_changed", "action": "created",
                                                               "link": link.pk}))
    return link


def link_revoke(*, by: AbstractBaseUser, link: ShareLink) -> ShareLink:
    """Kill a link at once. Its creator or any manager of its path may."""
    if link.created_by_id != by.pk:
        ensure_access(by, link.uri, Level.MANAGE)
    if link.revoked_at is None:
        now = timezone.now()
        ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
        link.refresh_from_db()
        uri = parse_uri(link.uri)
        transaction.on_commit(lambda: publish_resource_event(uri, {"type": "storage.links_changed",
                                                                   "action": "revoked", "link": link.pk}))
    return link


# --- job volumes ------------------------------------------------------------------------------------


def _mtime(entry: Entry) -> float | None:
    return entry.mtime.timestamp() if entry.mtime else None


def storage_stage_down(*, uri: Uri, dest: Path, missing_ok: bool = False) -> None:
    """Copy ``uri`` from whatever backend into the local ``dest``: a folder's content into the folder
    ``dest`` (created), a file to the file ``dest``. Local files keep the stored mtimes, so
    ``storage_stage_up`` later sends back only what the job changed. No permission check: the
    jobs runtime checked access when the job was submitted."""
    backend = backend_for()
    key = key_for(uri)
    dest = Path(dest)
    entry = backend.stat(key)
    if entry is None:
        if not missing_ok:
            raise PathNotFound(key)
        dest.mkdir(parents=True, exist_ok=True)
        return
    if not entry.is_dir:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _download(backend.read(key), dest, entry)
        return
    dest.mkdir(parents=True, exist_ok=True)
    for relpath, child in backend.walk(key):
        target = dest.joinpath(*relpath.split("/"))
        if child.is_dir:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            _download(backend.read(Key(key.owner, (*key.parts, *relpath.split("/")), key.cluster)), target, child)


def _download(chunks: Iterator[bytes], target: Path, entry: Entry) -> None:
    temp = target.with_name(f".{target.name}.kiln-part")
    try:
        with open(temp, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    mtime = _mtime(entry)
    if mtime is not None:
        os.utime(target, (mtime, mtime))


def _file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def storage_stage_up(*, src: Path, uri: Uri, delete: bool = False) -> None:
    """Send a local folder back to ``uri`` (like ``aws s3 sync``): files that are new, or differ in
    size, or were modified after the stored copy are uploaded; empty folders are created; with
    ``delete``, stored files and folders absent from ``src`` are deleted. Symlinks are skipped.
    No permission check: the jobs runtime checked write access when the job was submitted."""
    backend = backend_for()
    key = key_for(uri)
    src = Path(src)
    if not src.is_dir():
        raise InvalidInput(f"{src} is not a folder")
    found = backend.stat(key)
    if found is None:
        backend.mkdir(key, parents=True)
    elif not found.is_dir:
        raise Conflict(f"{uri} is a file, not a folder")
    remote: dict[str, Entry] = dict(backend.walk(key))
    local: set[str] = set()
    for folder, dirnames, filenames in os.walk(src):
        base = Path(folder)
        rel_base = base.relative_to(src).as_posix()
        rel_base = "" if rel_base == "." else rel_base
        dirnames[:] = [name for name in dirnames if not (base / name).is_symlink()]
        for name in dirnames:
            relpath = f"{rel_base}/{name}" if rel_base else name
            local.add(relpath)
            if relpath not in remote:
                backend.mkdir(key_for(uri.child(relpath)), parents=True)
        for name in filenames:
            path = base / name
            if path.is_symlink() or not path.is_file():
                continue
            relpath = f"{rel_base}/{name}" if rel_base else name
            local.add(relpath)
            stored = remote.get(relpath)
            status = path.stat()
            stored_mtime = _mtime(stored) if stored else None
            unchanged = (stored is not None and not stored.is_dir and stored.size == status.st_size
                         and stored_mtime is not None and int(status.st_mtime) <= int(stored_mtime))
            if unchanged:
                continue
            child = key_for(uri.child(relpath))
            if stored is not None and stored.is_dir:
                backend.delete(child, recursive=True)
            backend.write(child, _file_chunks(path), overwrite=True, size=status.st_size)
    if delete:
        for relpath in sorted(set(remote) - local, key=lambda text: text.count("/")):
            try:
                backend.delete(key_for(uri.child(relpath)), recursive=True)
            except PathNotFound:
                pass  # its folder went first
    _changed(uri, "sync")


