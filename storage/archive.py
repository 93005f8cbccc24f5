"""A folder as a streamed zip: written entry by entry into a tiny sink that is emptied after every
chunk, so neither the archive nor any file in it is ever held whole (ZIP64 where sizes need it)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

from storage.backends.base import Entry, Key, PathNotFound, StorageBackend

ZIP64_FROM = 1 << 30  # files this big get ZIP64 sizes up front, so one that grows while read still fits


class _Sink:
    """A write-only, unseekable file: ``zipfile`` then writes data descriptors after each entry."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _date_time(entry: Entry) -> tuple[int, int, int, int, int, int]:
    moment = entry.mtime or datetime.now(UTC)
    if moment.year < 1980:  # the zip format starts in 1980
        return (1980, 1, 1, 0, 0, 0)
    return moment.timetuple()[:6]


def zip_chunks(backend: StorageBackend, key: Key, *, root_name: str) -> Iterator[bytes]:
    """The zip of the folder ``key``, entries under ``<root_name>/``, in chunks as they are made."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        folder = zipfile.ZipInfo(f"{root_name}/", _date_time(Entry(root_name, "dir")))
        folder.external_attr = (0o40755 << 16) | 0x10
        archive.writestr(folder, b"")
        for relpath, entry in backend.walk(key):
            name = f"{root_name}/{relpath}"
            info = zipfile.ZipInfo(name + ("/" if entry.is_dir else ""), _date_time(entry))
            if entry.is_dir:
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                try:
                    reader = backend.read(Key(key.owner, (*key.parts, *relpath.split("/")), key.cluster))
                except PathNotFound:
                    continue  # deleted since the walk saw it
                info.external_attr = 0o100644 << 16
                info.file_size = entry.size or 0
                try:
                    with archive.open(info, mode="w", force_zip64=(entry.size or 0) >= ZIP64_FROM) as member:
                        for chunk in reader:
                            member.write(chunk)
                            data = sink.take()
                            if data:
                                yield data
                finally:
                    reader.close()  # type: ignore[attr-defined]
            data = sink.take()
            if data:
                yield data
    data = sink.take()
    if data:
        yield data
