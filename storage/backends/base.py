"""The one storage interface, the keys it takes and the errors it raises.

A backend never sees a URI: it takes a ``Key`` — the owner and the path segments below the owner's
home — built only by ``key_for`` from a parsed ``storage:`` URI, after every segment was checked.
Backends confine what they do to the owner's home (``<root>/<owner>`` on disk, ``<prefix><owner>/``
in a bucket); the checks here are the first fence, each backend's own resolution the second.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from console.errors import Conflict, InvalidInput, NotFound
from console.uris import Uri

EntryType = Literal["file", "dir"]

MAX_NAME_BYTES = 255  # NAME_MAX on Linux file systems
MAX_KEY_BYTES = 960  # S3 keys are at most 1024 bytes; leave room for the bucket prefix
UPLOADS_AREA = ".kiln-uploads"  # hidden area next to the homes; no owner name may start with '.'


# --- errors (domain errors: the API's exception handler shapes them) ---------------------------------


class PathNotFound(NotFound):
    def __init__(self, key: Key) -> None:
        super().__init__(f"No such file or folder: {key.uri}")


class PathExists(Conflict):
    def __init__(self, key: Key) -> None:
        super().__init__(f"{key.uri} exists already", details={"uri": [str(key.uri)]})


class NotADirectory(Conflict):
    def __init__(self, key: Key) -> None:
        super().__init__(f"{key.uri} is a file, not a folder", details={"uri": [str(key.uri)]})


class IsADirectory(Conflict):
    def __init__(self, key: Key) -> None:
        super().__init__(f"{key.uri} is a folder, not a file", details={"uri": [str(key.uri)]})


class DirectoryNotEmpty(Conflict):
    def __init__(self, key: Key) -> None:
        super().__init__(f"{key.uri} is a folder that is not empty (delete it recursively)",
                         details={"uri": [str(key.uri)]})


class PathRefused(InvalidInput):
    """A path that is not allowed: bad characters, too long, or escaping the owner's home."""

    def __init__(self, message: str) -> None:
        super().__init__(message, details={"uri": [message]})


class UploadInterrupted(InvalidInput):
    """The client went away (or sent less than it announced) before the upload was complete."""


# --- keys -------------------------------------------------------------------------------------------


def _check_name(name: str, uri: Uri) -> None:
    if name in ("", ".", ".."):
        raise PathRefused(f"{name!r} is not a file or folder name (in {uri})")
    if "/" in name:
        raise PathRefused(f"A name cannot contain '/' (in {uri})")
    bad = next((ch for ch in name if unicodedata.category(ch) in ("Cc", "Cs")), None)
    if bad is not None:
        raise PathRefused(f"A path cannot contain NUL or control characters (found U+{ord(bad):04X})")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise PathRefused(f"A name is at most {MAX_NAME_BYTES} bytes long (in {uri!s:.200})")


@dataclass(frozen=True)
class Key:
    """A checked storage path: ``owner`` and the segments below the owner's home."""

    owner: str
    parts: tuple[str, ...] = ()
    cluster: str = field(default="default", compare=False)

    @property
    def text(self) -> str:
        return "/".join((self.owner, *self.parts))

    @property
    def rel(self) -> str:
        """The path below the owner's home ('' for the home itself)."""
        return "/".join(self.parts)

    @property
    def uri(self) -> Uri:
        return Uri("storage", self.cluster, self.owner, self.rel)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else self.owner

    @property
    def is_home(self) -> bool:
        return not self.parts

    @property
    def parent(self) -> Key:
        return Key(self.owner, self.parts[:-1], self.cluster) if self.parts else self

    def child(self, *names: str) -> Key:
        return key_for(self.uri.child(*names))

    def is_within(self, other: Key) -> bool:
        return self.owner == other.owner and self.parts[: len(other.parts)] == other.parts

    def ancestors(self) -> list[Key]:
        """Every folder above this key, the home first (this key not included)."""
        return [Key(self.owner, self.parts[:i], self.cluster) for i in range(len(self.parts))]


def key_for(uri: Uri) -> Key:
    """The backend key of a parsed ``storage:`` URI; raises ``PathRefused`` (400) for anything that
    could not be a path inside the owner's home."""
    if uri.scheme != "storage":
        raise PathRefused(f"{uri} is not a storage URI")
    if not uri.owner:
        raise PathRefused(f"{uri} names no user: write storage:/<user>/<path>")
    if uri.owner.startswith("."):
        raise PathRefused(f"{uri.owner!r} cannot own storage")
    for name in uri.parts:
        _check_name(name, uri)
    key = Key(uri.owner, uri.parts, uri.cluster)
    if len(key.text.encode("utf-8")) > MAX_KEY_BYTES:
        raise PathRefused(f"A path is at most {MAX_KEY_BYTES} bytes long")
    return key


# --- entries ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str
    type: EntryType
    size: int | None = None  # bytes for files; None for folders
    mtime: datetime | None = None  # aware UTC; None when the backend does not know (S3 folders)
    etag: str | None = None  # changes whenever the content does (files only)

    @property
    def is_dir(self) -> bool:
        return self.type == "dir"


@dataclass
class Usage:
    size: int = 0  # bytes in files
    files: int = 0
    dirs: int = 0  # folders below the one measured

    def as_dict(self) -> dict[str, int]:
        return {"size": self.size, "files": self.files, "dirs": self.dirs}


Renew = Callable[[], None]


class ChunkReader(Iterator[bytes]):
    """Chunks of at most ``chunk_size`` bytes from a readable (a file, an S3 body), ``remaining`` of
    them in all (until the end when ``None``); closes the readable at the end or on ``close()``."""

    def __init__(self, readable: Any, *, remaining: int | None, chunk_size: int) -> None:
        self._readable = readable
        self._remaining = remaining
        self._chunk_size = chunk_size
        self._closed = False

    def __next__(self) -> bytes:
        if self._closed or self._remaining == 0:
            self.close()
            raise StopIteration
        want = self._chunk_size if self._remaining is None else min(self._chunk_size, self._remaining)
        data = self._readable.read(want)
        if not data:
            self.close()
            raise StopIteration
        if self._remaining is not None:
            self._remaining -= len(data)
        return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._readable.close()


class FileChunkReader(ChunkReader):
    """A ``ChunkReader`` over an open regular file on a local disk, ``length`` bytes from ``start``
    (to the end when ``None``); it also offers the file itself, so a server can send those bytes
    with sendfile(2) instead of reading them (``storage.http.file_response``)."""

    def __init__(self, file: Any, *, start: int, length: int | None, chunk_size: int) -> None:
        super().__init__(file, remaining=length, chunk_size=chunk_size)
        self.file = file
        self.start = start
        self.length = length


class StorageBackend(ABC):
    """Files of every user's home, on one medium. All paths are ``Key``s; all methods are
    synchronous and stream: none holds a whole file in memory."""

    name: ClassVar[str]
    #: how many bytes a reader or writer moves at once
    chunk_size: ClassVar[int] = 1 << 20

    # reads
    @abstractmethod
    def stat(self, key: Key) -> Entry | None:
        """The entry at ``key`` (following symlinks that stay inside the home), or ``None``."""

    @abstractmethod
    def list_dir(self, key: Key, *, after: str | None, limit: int) -> tuple[list[Entry], str | None]:
        """Up to ``limit`` entries of the folder ``key`` in name order, starting after the position
        ``after`` (an opaque cursor from an earlier call); returns them and the next cursor (``None``
        at the end). A page may hold fewer than ``limit`` entries even when more follow."""

    @abstractmethod
    def read(self, key: Key, *, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of the file ``key`` from ``start``, ``length`` of them (all when ``None``), in
        chunks. Opens the file at once (raising ``PathNotFound``); closing the iterator frees it."""

    @abstractmethod
    def walk(self, key: Key) -> Iterator[tuple[str, Entry]]:
        """Everything below the folder ``key``: ``(relative path, entry)``, folders before what they
        hold. Symlinks are not followed into folders."""

    @abstractmethod
    def usage(self, key: Key) -> Usage:
        """Bytes, files and folders below ``key`` (a file counts itself)."""

    # writes
    @abstractmethod
    def write(self, key: Key, chunks: Iterable[bytes], *, overwrite: bool = True, size: int | None = None) -> Entry:
        """Store the file ``key`` from ``chunks``, creating missing parent folders. Atomic: the file
        appears (or replaces the old one) only once every chunk arrived; when ``chunks`` raises,
        nothing is left behind and the old file, if any, is untouched."""

    @abstractmethod
    def mkdir(self, key: Key, *, parents: bool = False) -> Entry:
        """Create the folder ``key``; with ``parents`` create missing parents and accept an existing
        folder (``mkdir -p``)."""

    @abstractmethod
    def delete(self, key: Key, *, recursive: bool = False) -> None:
        """Delete a file, an empty folder, or (``recursive``) a folder and all it holds. A symlink
        is deleted itself, never what it points at."""

    @abstractmethod
    def move(self, src: Key, dst: Key) -> None:
        """Move or rename ``src`` to ``dst`` (which must not exist; its parent folders are created)."""

    @abstractmethod
    def copy(self, src: Key, dst: Key) -> None:
        """Copy the file or folder ``src`` to ``dst`` (which must not exist)."""

    # resumable uploads: the state is JSON kept by the caller in its session row
    @abstractmethod
    def session_begin(self, key: Key, *, session_id: str, size: int) -> dict[str, Any]:
        """Start a resumable upload of ``size`` bytes to ``key``; returns the state to keep."""

    @abstractmethod
    def session_append(self, state: dict[str, Any], *, offset: int, chunks: Iterable[bytes],
                       renew: Renew) -> tuple[int, dict[str, Any]]:
        """Append ``chunks`` at ``offset`` (what was stored before); keep every byte that arrived
        when ``chunks`` ends early. Returns the new offset and state. ``renew`` is called now and
        then on long writes. When ``chunks`` raises, the bytes of this call may be lost but the
        upload stays consistent at ``offset``."""

    @abstractmethod
    def session_finish(self, key: Key, state: dict[str, Any], *, overwrite: bool) -> Entry:
        """Make the complete upload appear at ``key`` atomically; frees the session's space."""

    @abstractmethod
    def session_discard(self, state: dict[str, Any]) -> None:
        """Throw an unfinished upload away (idempotent)."""

    @abstractmethod
    def cleanup(self, *, before: datetime, live: list[dict[str, Any]]) -> int:
        """Remove leftovers older than ``before`` (temporary files of uploads cut by a crash,
        abandoned multipart uploads) that belong to none of the ``live`` session states; returns
        how many were removed."""

    # jobs
    def local_path(self, key: Key) -> Path | None:
        """The real host path of ``key`` when the backend is a local disk; ``None`` otherwise."""
        return None
