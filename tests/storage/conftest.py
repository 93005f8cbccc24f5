"""Storage fixtures: the same tests run on both backends — a local root in a temporary folder, and
S3 on a real S3-compatible HTTP server (moto's standalone server, a subprocess on loopback).

``storage`` switches this process's settings; ``live`` also gives a real uvicorn (in its own
process, configured through its environment, with Kiln's HTTP protocol ``console.server``) serving
``console.asgi:application`` on the same backend, for tests that cut connections or need the real
ASGI path.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.conftest import REPO, LiveServer, _stop, free_port, process_env

S3_PART = 5 << 20  # the smallest part S3 (and moto) accepts: keeps the multipart tests small
BUCKET = "kiln-test"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing", "region_name": "us-east-1"}


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(interval)


@dataclass
class S3Server:
    url: str
    process: subprocess.Popen

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    server = S3Server(f"http://127.0.0.1:{port}", process)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"moto server died:\n{log.read_text()}")
        try:
            httpx.get(server.url, timeout=2)
            return True
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, interval=0.2)
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    _stop(process)


@dataclass
class StorageSetup:
    kind: str
    root: Path | None = None  # local backend
    s3: S3Server | None = None
    prefix: str = ""

    def env(self) -> dict[str, str]:
        if self.kind == "local":
            return {"KILN_STORAGE_BACKEND": "local", "KILN_STORAGE_ROOT": str(self.root)}
        return {"KILN_STORAGE_BACKEND": "s3", "KILN_S3_ENDPOINT_URL": self.s3.url, "KILN_S3_BUCKET": BUCKET,
                "KILN_S3_PREFIX": self.prefix, "KILN_S3_REGION": "us-east-1", "KILN_S3_ACCESS_KEY_ID": "testing",
                "KILN_S3_SECRET_ACCESS_KEY": "testing", "KILN_S3_PART_SIZE": str(S3_PART)}

    def apply(self, settings: Any) -> None:
        settings.KILN_STORAGE_BACKEND = self.kind
        if self.kind == "local":
            settings.KILN_STORAGE_ROOT = self.root
        else:
            settings.KILN_S3 = {"endpoint_url": self.s3.url, "bucket": BUCKET, "prefix": self.prefix,
                                **CREDENTIALS}
            settings.KILN_S3_PART_SIZE = S3_PART

    # what tests look at behind the API's back
    def keys(self) -> list[str]:
        """Every stored name (files, and on S3 markers and temporaries), relative to the root."""
        if self.kind == "local":
            return sorted(str(path.relative_to(self.root)) for path in self.root.rglob("*"))
        pages = self.s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{self.prefix}/")
        return sorted(item["Key"][len(self.prefix) + 1:] for page in pages for item in page.get("Contents", []))

    def pending_uploads(self) -> list[str]:
        """Temporary upload files (local) or unfinished multipart uploads (S3)."""
        if self.kind == "local":
            area = self.root / ".kiln-uploads"
            return sorted(path.name for path in area.iterdir()) if area.exists() else []
        answer = self.s3.client().list_multipart_uploads(Bucket=BUCKET, Prefix=f"{self.prefix}/")
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))

    def parts_of(self, name: str) -> int:
        """How many parts the unfinished multipart upload of ``name`` has (S3 only)."""
        client = self.s3.client()
        uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=f"{self.prefix}/{name}").get("Uploads", [])
        return sum(len(client.list_parts(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
                       .get("Parts", [])) for upload in uploads)

    def wipe(self) -> None:
        if self.kind == "local":
            for child in self.root.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            return
        client = self.s3.client()
        for upload in client.list_multipart_uploads(Bucket=BUCKET, Prefix=f"{self.prefix}/").get("Uploads", []):
            client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{self.prefix}/")
        names = [item["Key"] for page in pages for item in page.get("Contents", [])]
        for start in range(0, len(names), 1000):
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": n} for n in names[start:start + 1000]]})


@pytest.fixture(params=["local", "s3"])
def backend_kind(request) -> str:
    return request.param


@pytest.fixture
def storage(backend_kind, settings, tmp_path, request) -> StorageSetup:
    """This process's storage on a fresh local root or a fresh S3 prefix."""
    if backend_kind == "local":
        root = tmp_path / "storage-root"
        root.mkdir()
        setup = StorageSetup("local", root=root)
    else:
        setup = StorageSetup("s3", s3=request.getfixturevalue("s3_server"), prefix=f"t-{uuid.uuid4().hex[:12]}")
    setup.apply(settings)
    return setup


@pytest.fixture
def local_storage(settings, tmp_path) -> StorageSetup:
    root = tmp_path / "storage-root"
    root.mkdir()
    setup = StorageSetup("local", root=root)
    setup.apply(settings)
    return setup


# --- real servers -----------------------------------------------------------------------------------


HTTP_PROTOCOL = "console.server:HttpProtocol"  # as deployed: zero-copy downloads, bodies as received


def _start_server(setup: StorageSetup, log: Path, *, app: str = "console.asgi:application",
                  http: str | None = HTTP_PROTOCOL) -> LiveServer:
    port = free_port()
    env = {**process_env(), **setup.env(), "DJANGO_SETTINGS_MODULE": "tests.storage.live_settings"}
    protocol = ["--http", http] if http else []
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
         *protocol],
        cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"ASGI server did not start:\n{log.read_text()}")
        try:
            return httpx.get(f"{url}/api/v1/health/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, interval=0.2)
    return LiveServer(url, process, log)


@dataclass
class Live:
    server: LiveServer
    setup: StorageSetup

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def _live_local(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Live]:
    base = tmp_path_factory.mktemp("live-local")
    (base / "root").mkdir()
    setup = StorageSetup("local", root=base / "root")
    with django_db_blocker.unblock():
        server = _start_server(setup, base / "server.log")
    yield Live(server, setup)
    _stop(server.process)


@pytest.fixture(scope="session")
def stock_uvicorn(_live_local, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    """uvicorn's own HTTP protocol (no zero-copy extension) on the same root as ``live`` on the local
    disk: downloads stream, as for anyone who runs ``uvicorn console.asgi:application`` bare."""
    with django_db_blocker.unblock():
        server = _start_server(_live_local.setup, tmp_path_factory.mktemp("stock") / "server.log", http=None)
    yield server
    _stop(server.process)


@pytest.fixture(scope="session")
def _live_s3(django_db_setup, django_db_blocker, tmp_path_factory, s3_server) -> Iterator[Live]:
    base = tmp_path_factory.mktemp("live-s3")
    setup = StorageSetup("s3", s3=s3_server, prefix=f"live-{uuid.uuid4().hex[:8]}")
    with django_db_blocker.unblock():
        server = _start_server(setup, base / "server.log")
    yield Live(server, setup)
    _stop(server.process)


@pytest.fixture
def live(backend_kind, request, settings) -> Iterator[Live]:
    """A real uvicorn (streamed uploads) on ``backend_kind``; this process uses the same storage.
    Use with ``@pytest.mark.django_db(transaction=True)``."""
    served: Live = request.getfixturevalue(f"_live_{backend_kind}")
    served.setup.apply(settings)
    served.setup.wipe()
    yield served
    served.setup.wipe()


@pytest.fixture
def token_for() -> Callable[[Any], dict[str, str]]:
    """Authorization headers with a fresh personal token of ``user``."""
    from console.services import token_create

    def make(user: Any) -> dict[str, str]:
        _, clear = token_create(user=user, name="test")
        return {"Authorization": f"Bearer {clear}"}

    return make
