"""Jobs with storage volumes, on both backends: bound live on local disk, staged on S3. The
template project's layout runs as written."""

import pytest

from console import services as core
from console.errors import NotFound
from jobs import services as jobs
from jobs.runner import job_execute
from storage.selectors import storage_file_get, storage_list
from storage.services import storage_delete, storage_mkdir, storage_upload

pytestmark = pytest.mark.django_db(transaction=True)

TRAIN = b"""
import argparse, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--data")
args = parser.parse_args()
rows = pathlib.Path(args.data, "input.csv").read_text().splitlines()
pathlib.Path(args.data, "model.txt").write_text(f"trained on {len(rows)} rows\\n")
try:
    open("/project/code/oops", "w")
except OSError as error:
    print("code is read-only:", error.strerror)
print("cwd", os.getcwd())
"""


def read(user, uri: str) -> bytes:
    return b"".join(storage_file_get(user=user, uri=uri).chunks())


def test_train_job_runs_with_its_volumes(storage, bob, monkeypatch):
    monkeypatch.setattr(jobs, "_enqueue_many", lambda jobs, **_: None)
    storage_upload(by=bob, uri="storage:proj/code/train.py", chunks=[TRAIN], size=len(TRAIN))
    storage_upload(by=bob, uri="storage:proj/data/input.csv", chunks=[b"a\nb\nc\n"], size=6)
    job = jobs.job_run(by=bob, image="python:3.11",
                       command="cd /project && python /project/code/train.py --data /project/data",
                       volumes=["storage:proj/code:/project/code:ro", "storage:proj/data:/project/data"])
    job_execute(job_id=job.id, worker="test")
    job.refresh_from_db()
    from jobs.selectors import job_logs_after

    lines = [text for _, text in job_logs_after(job=job, after=-1)[0]]
    assert (job.status, job.exit_code) == ("succeeded", 0), lines
    assert "code is read-only: Read-only file system" in lines and "cwd /project" in lines
    assert read(bob, "storage:proj/data/model.txt") == b"trained on 3 rows\n"
    assert "oops" not in [entry.name for _, entry in storage_list(user=bob, uri="storage:proj/code").entries]


def test_a_missing_read_write_volume_is_created_and_a_missing_read_only_one_fails(storage, bob, monkeypatch):
    monkeypatch.setattr(jobs, "_enqueue_many", lambda jobs, **_: None)
    storage_mkdir(by=bob, uri="storage:in", parents=True)
    job = jobs.job_run(by=bob, image="x", command="echo hi > /out/new.txt", volumes=["storage:fresh/out:/out"])
    job_execute(job_id=job.id, worker="test")
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert read(bob, "storage:fresh/out/new.txt") == b"hi\n"

    with pytest.raises(NotFound, match="does not exist"):
        jobs.job_run(by=bob, image="x", command="ls /in", volumes=["storage:nothing-here:/in:ro"])
    gone = jobs.job_run(by=bob, image="x", command="ls /in", volumes=["storage:in:/in:ro"])
    storage_delete(by=bob, uri="storage:in", recursive=True)  # removed before the job starts
    job_execute(job_id=gone.id, worker="test")
    gone.refresh_from_db()
    assert (gone.status, gone.reason) == ("failed", "VolumeError")


def test_a_revoked_grant_stops_the_volume_at_start(storage, bob, alice, monkeypatch):
    monkeypatch.setattr(jobs, "_enqueue_many", lambda jobs, **_: None)
    storage_mkdir(by=alice, uri="storage:shared", parents=True)
    core.share(by=alice, uri="storage:shared", principal="bob", level="read")
    job = jobs.job_run(by=bob, image="x", command="ls /in", volumes=["storage:/alice/shared:/in:ro"])
    core.revoke(by=alice, uri="storage:shared", principal="bob")
    job_execute(job_id=job.id, worker="test")
    job.refresh_from_db()
    assert (job.status, job.reason) == ("failed", "VolumeError")
