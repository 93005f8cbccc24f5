"""Storage backends behind one interface (``StorageBackend``): local disk and S3."""

from storage.backends.base import (
    ChunkReader,
    DirectoryNotEmpty,
    Entry,
    IsADirectory,
    Key,
    NotADirectory,
    PathExists,
    PathNotFound,
    PathRefused,
    StorageBackend,
    UploadInterrupted,
    Usage,
    key_for,
)

__all__ = [
    "ChunkReader",
    "DirectoryNotEmpty",
    "Entry",
    "IsADirectory",
    "Key",
    "NotADirectory",
    "PathExists",
    "PathNotFound",
    "PathRefused",
    "StorageBackend",
    "UploadInterrupted",
    "Usage",
    "key_for",
]
