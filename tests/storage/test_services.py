"""Services the jobs runtime calls (host paths, staging volumes down and back up), on both backends,
and the Celery wrapper of upload expiry."""

from __future__ import annotations

import os
import time

import pytest

from console.errors import NotFound
from console.uris import parse_uri
from storage.selectors import storage_local_path
from storage.services import storage_mkdir, storage_stage_down, storage_stage_up, storage_upload
from storage.tasks import expire_uploads_task
from tests.storage.helpers import body, get, names

pytestmark = pytest.mark.django_db


def upload(bob, uri: str, data: bytes) -> None:
    storage_upload(by=bob, uri=uri, chunks=[data], size=len(data))


def test_local_path_is_the_host_folder_on_disk_and_none_on_s3(storage, bob):
    path = storage_local_path(parse_uri("storage:/bob/data/train"))
    if storage.kind == "local":
        assert path == storage.root / "bob" / "data" / "train"
    else:
        assert path is None


def test_a_folder_is_staged_down_and_changes_are_synced_back(storage, bob, client_for, tmp_path):
    upload(bob, "storage:vol/a.txt", b"A")
    upload(bob, "storage:vol/sub/b.txt", b"B")
    upload(bob, "storage:vol/keep.txt", b"untouched")
    storage_mkdir(by=bob, uri="storage:vol/empty")
    local = tmp_path / "job-volume"
    storage_stage_down(uri=parse_uri("storage:/bob/vol"), dest=local)
    assert (local / "a.txt").read_bytes() == b"A" and (local / "sub" / "b.txt").read_bytes() == b"B"
    assert (local / "empty").is_dir()

    time.sleep(1.1)  # mtimes have one-second precision on S3: make the job's writes visibly newer
    (local / "a.txt").write_bytes(b"changed by the job")
    (local / "new" / "deep").mkdir(parents=True)
    (local / "new" / "deep" / "out.bin").write_bytes(os.urandom(1000))
    (local / "sub" / "b.txt").unlink()
    os.symlink("/etc/passwd", local / "sneaky")
    storage_stage_up(src=local, uri=parse_uri("storage:/bob/vol"))

    client = client_for(bob)
    assert body(get(client, "storage:vol/a.txt")) == b"changed by the job"
    assert body(get(client, "storage:vol/new/deep/out.bin")) == (local / "new" / "deep" / "out.bin").read_bytes()
    assert body(get(client, "storage:vol/sub/b.txt")) == b"B"  # no deletion unless asked
    assert "sneaky" not in names(client, "storage:vol")  # symlinks are not sent up

    storage_stage_up(src=local, uri=parse_uri("storage:/bob/vol"), delete=True)
    assert names(client, "storage:vol/sub") == []
    assert sorted(names(client, "storage:vol")) == ["a.txt", "empty", "keep.txt", "new", "sub"]


def test_unchanged_files_are_not_sent_back(storage, bob, tmp_path, monkeypatch):
    upload(bob, "storage:same/f.txt", b"same")
    local = tmp_path / "v"
    storage_stage_down(uri=parse_uri("storage:/bob/same"), dest=local)
    from storage.selectors import backend_for

    writes = []
    backend = backend_for()
    original = backend.write
    monkeypatch.setattr(backend, "write", lambda key, *a, **k: writes.append(key.text) or original(key, *a, **k))
    storage_stage_up(src=local, uri=parse_uri("storage:/bob/same"))
    assert writes == []


def test_staging_a_missing_folder(storage, bob, tmp_path):
    with pytest.raises(NotFound):
        storage_stage_down(uri=parse_uri("storage:/bob/missing"), dest=tmp_path / "x")
    storage_stage_down(uri=parse_uri("storage:/bob/missing"), dest=tmp_path / "y", missing_ok=True)
    assert (tmp_path / "y").is_dir()
    (tmp_path / "y" / "result.txt").write_text("made by the job")
    storage_stage_up(src=tmp_path / "y", uri=parse_uri("storage:/bob/missing"))
    assert names_of(bob, "storage:missing") == ["result.txt"]


def test_a_single_file_stages_down_to_a_file(storage, bob, tmp_path):
    upload(bob, "storage:model.pt", b"weights")
    storage_stage_down(uri=parse_uri("storage:/bob/model.pt"), dest=tmp_path / "model.pt")
    assert (tmp_path / "model.pt").read_bytes() == b"weights"


def test_the_expiry_task_calls_the_service(storage, bob):
    assert expire_uploads_task.apply().get() == 0


def names_of(user, uri: str) -> list[str]:
    from storage.selectors import storage_list

    return [entry.name for _, entry in storage_list(user=user, uri=uri).entries]
