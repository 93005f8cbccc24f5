"""S3 backend (any S3-compatible endpoint, through boto3): a user's home is ``<prefix><user>/``.

Folders are prefixes; an empty folder is kept by a zero-byte marker object ``<folder>/``.
Uploads appear atomically: small ones with one PutObject, big ones as a multipart upload that
becomes visible only when completed (and is aborted on any failure). Resumable sessions keep the
bytes that do not fill a whole part yet in a temporary object under ``<prefix>.kiln-uploads/``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from storage.backends.base import (
    UPLOADS_AREA,
    ChunkReader,
    DirectoryNotEmpty,
    Entry,
    IsADirectory,
    Key,
    NotADirectory,
    PathExists,
    PathNotFound,
    PathRefused,
    Renew,
    StorageBackend,
    Usage,
)

MIN_PART = 5 << 20  # S3: every part but the last is at least 5 MiB
MAX_PART = 5 << 30
MAX_PARTS = 10_000
MAX_SINGLE_COPY = 5 << 30  # CopyObject copies at most 5 GiB; beyond, a multipart copy
LAST_CHAR = chr(0x10FFFF)  # sorts after every other character (and its UTF-8 after every byte string)
RENEW_EVERY = 10.0


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


def _valid_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)


class S3Backend(StorageBackend):
    name = "s3"

    def __init__(self, *, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region_name: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, part_size: int = 8 << 20) -> None:
        if not bucket:
            raise ValueError("KILN_S3['bucket'] must be set for the s3 storage backend")
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.area = f"{self.prefix}{UPLOADS_AREA}/"
        self.part_size = max(MIN_PART, part_size)
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 4, "mode": "standard"},
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # Many S3-compatible servers reject the newer default checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32,
        )
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region_name, aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key, config=config,
        )

    # --- names --------------------------------------------------------------------------------------

    def _object(self, key: Key) -> str:
        return f"{self.prefix}{key.text}"

    def _folder(self, key: Key) -> str:
        return f"{self.prefix}{key.text}/"

    def _head(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def _has_prefix(self, prefix: str) -> bool:
        answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        return answer.get("KeyCount", 0) > 0

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    @staticmethod
    def _file(name: str, size: int, modified: datetime | None, etag: str | None) -> Entry:
        return Entry(name, "file", int(size), modified, etag)

    def _check_parents(self, key: Key) -> None:
        for folder in key.ancestors()[1:]:
            if self._head(self._object(folder)) is not None:
                raise NotADirectory(folder)

    def _put_marker(self, key: Key) -> None:
        if not key.is_home:
            self.client.put_object(Bucket=self.bucket, Key=self._folder(key), Body=b"")

    def _part_size(self, size: int | None) -> int:
        if not size:
            return self.part_size
        needed = math.ceil(size / (MAX_PARTS - 1))
        return min(MAX_PART, max(self.part_size, math.ceil(needed / (1 << 20)) * (1 << 20)))

    # --- reads --------------------------------------------------------------------------------------

    def stat(self, key: Key) -> Entry | None:
        if key.is_home:
            return Entry(key.owner, "dir")
        head = self._head(self._object(key))
        if head is not None:
            return self._file(key.name, head["ContentLength"], head.get("LastModified"), head.get("ETag"))
        if self._has_prefix(self._folder(key)):
            return Entry(key.name, "dir")
        return None

    def list_dir(self, key: Key, *, after: str | None, limit: int) -> tuple[list[Entry], str | None]:
        prefix = self._folder(key)
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": limit}
        if after is not None:
            # A folder cursor ends with '/': skip everything inside that folder too.
            request["StartAfter"] = prefix + after + (LAST_CHAR if after.endswith("/") else "")
        answer = self.client.list_objects_v2(**request)
        raw: list[tuple[str, Entry | None]] = []
        for folder in answer.get("CommonPrefixes", []):
            rel = folder["Prefix"][len(prefix):]
            raw.append((rel, Entry(rel[:-1], "dir") if _valid_name(rel[:-1]) else None))
        for item in answer.get("Contents", []):
            rel = item["Key"][len(prefix):]
            entry = self._file(rel, item["Size"], item.get("LastModified"), item.get("ETag"))
            raw.append((rel, entry if rel and _valid_name(rel) else None))  # '' is the folder's marker
        raw.sort(key=lambda pair: pair[0])
        entries = [entry for _, entry in raw if entry is not None]
        if not raw and after is None and not key.is_home:
            found = self.stat(key)
            if found is None:
                raise PathNotFound(key)
            if not found.is_dir:
                raise NotADirectory(key)
        cursor = raw[-1][0] if answer.get("IsTruncated") and raw else None
        return entries, cursor

    def read(self, key: Key, *, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object(key)}
        if length == 0:
            if self._head(self._object(key)) is None:
                raise PathNotFound(key)
            return iter(())
        if length is not None:
            request["Range"] = f"bytes={start}-{start + length - 1}"
        elif start:
            request["Range"] = f"bytes={start}-"
        try:
            answer = self.client.get_object(**request)
        except ClientError as error:
            if _missing(error):
                raise PathNotFound(key)
            raise
        return ChunkReader(answer["Body"], remaining=length, chunk_size=self.chunk_size)

    def walk(self, key: Key) -> Iterator[tuple[str, Entry]]:
        found = self.stat(key)
        if found is None:
            raise PathNotFound(key)
        if not found.is_dir:
            raise NotADirectory(key)
        base = self._folder(key)
        seen: set[str] = set()
        for item in self._objects(base):
            rel = item["Key"][len(base):]
            if not rel:
                continue
            marker = rel.endswith("/")
            parts = rel.rstrip("/").split("/")
            if not all(_valid_name(part) for part in parts):
                continue
            folders = len(parts) if marker else len(parts) - 1
            for depth in range(1, folders + 1):
                folder = "/".join(parts[:depth])
                if folder not in seen:
                    seen.add(folder)
                    yield folder, Entry(parts[depth - 1], "dir")
            if not marker:
                yield rel, self._file(parts[-1], item["Size"], item.get("LastModified"), item.get("ETag"))

    def usage(self, key: Key) -> Usage:
        found = self.stat(key)
        if found is None:
            raise PathNotFound(key)
        if not found.is_dir:
            return Usage(size=found.size or 0, files=1)
        total = Usage()
        for _, entry in self.walk(key):
            if entry.is_dir:
                total.dirs += 1
            else:
                total.files += 1
                total.size += entry.size or 0
        return total

    # --- writes -------------------------------------------------------------------------------------

    def _check_target(self, key: Key, *, overwrite: bool) -> None:
        if key.is_home:
            raise IsADirectory(key)
        self._check_parents(key)
        if self._has_prefix(self._folder(key)):
            raise IsADirectory(key)
        if not overwrite and self._head(self._object(key)) is not None:
            raise PathExists(key)

    def write(self, key: Key, chunks: Iterable[bytes], *, overwrite: bool = True, size: int | None = None) -> Entry:
        self._check_target(key, overwrite=overwrite)
        name = self._object(key)
        part_size = self._part_size(size)
        iterator = iter(chunks)
        buffer = bytearray()
        for chunk in iterator:
            buffer += chunk
            if len(buffer) >= part_size:
                break
        else:  # the whole body fits in one part: one PutObject, visible when complete
            self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
            return self._stat_file(key)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            ended = False
            while not ended or buffer:
                while not ended and len(buffer) < part_size:
                    chunk = next(iterator, None)
                    if chunk is None:
                        ended = True
                    else:
                        buffer += chunk
                if not buffer:
                    break
                body = bytes(buffer[:part_size])
                del buffer[:part_size]
                answer = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                 PartNumber=len(parts) + 1, Body=body)
                parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
            if not overwrite and self._head(name) is not None:
                raise PathExists(key)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort(name, upload_id)
            raise
        return self._stat_file(key)

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except ClientError:
            pass

    def _stat_file(self, key: Key) -> Entry:
        head = self._head(self._object(key))
        if head is None:
            raise PathNotFound(key)
        return self._file(key.name, head["ContentLength"], head.get("LastModified"), head.get("ETag"))

    def mkdir(self, key: Key, *, parents: bool = False) -> Entry:
        if key.is_home:
            if parents:
                return Entry(key.owner, "dir")
            raise PathExists(key)
        found = self.stat(key)
        if found is not None:
            if found.is_dir and parents:
                return found
            raise PathExists(key)
        self._check_parents(key)
        if not parents and self.stat(key.parent) is None:
            raise PathNotFound(key.parent)
        for folder in [*(key.ancestors()[1:] if parents else []), key]:
            self._put_marker(folder)
        return Entry(key.name, "dir")

    def _delete_keys(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):
            batch = [{"Key": name} for name in names[start:start + 1000]]
            answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            errors = answer.get("Errors") or []
            if errors:
                raise OSError(f"S3 refused to delete {len(errors)} objects: {errors[0]}")

    def delete(self, key: Key, *, recursive: bool = False) -> None:
        if key.is_home:
            raise PathRefused(f"{key.uri} is a home folder: it cannot be deleted")
        name = self._object(key)
        if self._head(name) is not None:
            self.client.delete_object(Bucket=self.bucket, Key=name)
            self._put_marker(key.parent)  # the folder stays, as on a disk
            return
        prefix = self._folder(key)
        found = False
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            names = [item["Key"] for item in page.get("Contents", [])]
            if not names:
                continue
            found = True
            if not recursive and any(item != prefix for item in names):
                raise DirectoryNotEmpty(key)
            self._delete_keys(names)
        if not found:
            raise PathNotFound(key)
        self._put_marker(key.parent)

    def _copy_object(self, source: str, target: str, size: int) -> None:
        if size <= MAX_SINGLE_COPY:
            self.client.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
        else:
            self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target)

    def _copy_all(self, src: Key, dst: Key) -> list[str]:
        """Copy ``src`` (file or folder) to ``dst``; returns the source objects copied."""
        if dst.is_within(src):
            raise PathRefused(f"Cannot copy or move {src.uri} into itself")
        found = self.stat(src)
        if found is None:
            raise PathNotFound(src)
        if dst.is_home or self.stat(dst) is not None:
            raise PathExists(dst)
        self._check_parents(dst)
        if not found.is_dir:
            self._copy_object(self._object(src), self._object(dst), found.size or 0)
            return [self._object(src)]
        source, target = self._folder(src), self._folder(dst)
        copied: list[str] = []
        for item in self._objects(source):
            self._copy_object(item["Key"], target + item["Key"][len(source):], item["Size"])
            copied.append(item["Key"])
        if not copied or source not in copied:
            self.client.put_object(Bucket=self.bucket, Key=target, Body=b"")
        return copied

    def move(self, src: Key, dst: Key) -> None:
        if src.is_home:
            raise PathRefused(f"{src.uri} is a home folder: it cannot be moved")
        copied = self._copy_all(src, dst)
        self._delete_keys(copied)
        self._put_marker(src.parent)

    def copy(self, src: Key, dst: Key) -> None:
        self._copy_all(src, dst)

    # --- resumable uploads --------------------------------------------------------------------------

    def session_begin(self, key: Key, *, session_id: str, size: int) -> dict[str, Any]:
        self._check_target(key, overwrite=True)
        name = self._object(key)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        return {"object": name, "upload_id": upload_id, "part_size": self._part_size(size), "parts": [],
                "tail": 0, "tail_object": f"{self.area}{session_id}/tail"}

    def _tail(self, state: dict[str, Any]) -> bytearray:
        if not state["tail"]:
            return bytearray()
        answer = self.client.get_object(Bucket=self.bucket, Key=state["tail_object"])
        return bytearray(answer["Body"].read())

    def session_append(self, state: dict[str, Any], *, offset: int, chunks: Iterable[bytes],
                       renew: Renew) -> tuple[int, dict[str, Any]]:
        parts = [dict(part) for part in state["parts"]]
        stored = sum(part["size"] for part in parts)
        if stored + state["tail"] != offset:
            raise ValueError(f"upload state at {stored + state['tail']} bytes, not {offset}")
        part_size = state["part_size"]
        buffer = self._tail(state)
        last_renew = time.monotonic()
        for chunk in chunks:
            buffer += chunk
            while len(buffer) >= part_size:
                number = len(parts) + 1
                answer = self.client.upload_part(Bucket=self.bucket, Key=state["object"], UploadId=state["upload_id"],
                                                 PartNumber=number, Body=bytes(buffer[:part_size]))
                parts.append({"number": number, "etag": answer["ETag"], "size": part_size})
                del buffer[:part_size]
                if time.monotonic() - last_renew > RENEW_EVERY:
                    renew()
                    last_renew = time.monotonic()
        if buffer:
            self.client.put_object(Bucket=self.bucket, Key=state["tail_object"], Body=bytes(buffer))
        elif state["tail"]:
            self.client.delete_object(Bucket=self.bucket, Key=state["tail_object"])
        new_state = {**state, "parts": parts, "tail": len(buffer)}
        return stored + sum(part["size"] for part in parts[len(state["parts"]):]) + len(buffer), new_state

    def session_finish(self, key: Key, state: dict[str, Any], *, overwrite: bool) -> Entry:
        name = state["object"]
        if name != self._object(key):
            raise ValueError("the upload was started for another path")
        self._check_target(key, overwrite=overwrite)
        tail = self._tail(state)
        if not state["parts"]:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(tail))
            self._abort(name, state["upload_id"])
        else:
            parts = [{"PartNumber": part["number"], "ETag": part["etag"]} for part in state["parts"]]
            if tail:
                answer = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=state["upload_id"],
                                                 PartNumber=len(parts) + 1, Body=bytes(tail))
                parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=state["upload_id"],
                                                  MultipartUpload={"Parts": parts})
        if state["tail"]:
            self.client.delete_object(Bucket=self.bucket, Key=state["tail_object"])
        return self._stat_file(key)

    def session_discard(self, state: dict[str, Any]) -> None:
        if state.get("upload_id"):
            self._abort(state["object"], state["upload_id"])
        if state.get("tail_object"):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=state["tail_object"])
            except ClientError:
                pass

    def cleanup(self, *, before: datetime, live: list[dict[str, Any]]) -> int:
        keep_uploads = {state.get("upload_id") for state in live}
        keep_tails = {state.get("tail_object") for state in live}
        removed = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", []):
                if upload["UploadId"] in keep_uploads or upload["Initiated"] >= before:
                    continue
                self._abort(upload["Key"], upload["UploadId"])
                removed += 1
        stale = [item["Key"] for item in self._objects(self.area)
                 if item["Key"] not in keep_tails and item["LastModified"] < before]
        if stale:
            self._delete_keys(stale)
            removed += len(stale)
        return removed
