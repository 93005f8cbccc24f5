"""Shared fixtures: users, API clients, and the real processes (ASGI server, Celery worker)
that tests crossing process boundaries talk to."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_user(db) -> Callable[..., object]:
    def make(username: str, **extra: object) -> object:
        return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


@pytest.fixture
def client_for() -> Callable[[object | None], APIClient]:
    """An in-process API client logged in as ``user`` (or anonymous)."""

    def make(user: object | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


# --- real processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_env() -> dict[str, str]:
    """Environment for server and worker processes: the test database, the same Redis prefix."""
    from django.db import connection

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "",
    }


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen, log: Path) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://")
        self.process = process
        self.log = log

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    """A real uvicorn serving console.asgi:application against the test database."""
    port = free_port()
    log = tmp_path_factory.mktemp("asgi") / "server.log"
    with django_db_blocker.unblock():
        env = process_env()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "console.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--ws", "websockets", "--http", "console.server:HttpProtocol", "--no-access-log"],
        cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"ASGI server did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield LiveServer(url, process, log)
    _stop(process)


class WorkerPool:
    """Celery workers in their own processes; tests may kill one (-9) and start another."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.processes: list[subprocess.Popen] = []

    def start(self, *, concurrency: int = 3, beat: bool = False) -> subprocess.Popen:
        index = len(self.processes)
        command = [sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "INFO",
                   "--concurrency", str(concurrency), "--hostname", f"test{index}-{os.getpid()}@%h"]
        if beat:
            command += ["-B", "--schedule", str(self.logdir / f"beat-{index}")]
        log = (self.logdir / f"worker-{index}.log").open("w")
        # Own process group, so a test can kill a whole worker (-9) as if its machine died.
        process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        process.hostname = command[command.index("--hostname") + 1].split("@")[0]
        self.processes.append(process)
        self.wait_ready()
        return process

    def wait_ready(self, timeout: float = 60) -> None:
        from console.tasks import ping

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ping.apply_async().get(timeout=5)
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError("no Celery worker answered a ping")

    def alive(self) -> list[subprocess.Popen]:
        return [process for process in self.processes if process.poll() is None]

    def kill_hard(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and every process it started, like a machine losing power."""
        import signal

        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            _stop(process)


@pytest.fixture(scope="session")
def celery_workers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[WorkerPool]:
    with django_db_blocker.unblock():
        env = process_env()
    pool = WorkerPool(env, tmp_path_factory.mktemp("celery"))
    _purge_queue()
    pool.start()
    yield pool
    pool.stop_all()


def _purge_queue() -> None:
    """Drop messages a previous, interrupted run of this checkout left in its queue."""
    from console.celery import app

    app.control.purge()


# --- browser ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("KILN_CHROMIUM", "/usr/bin/chromium"),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"],
    }


def pytest_sessionfinish(session, exitstatus) -> None:
    """Remove this run's data folder (storage root, secret key) unless it is a user's own."""
    import shutil

    data_dir = Path(os.environ.get("KILN_DATA_DIR", ""))
    if data_dir.name.startswith("kiln-test-") and data_dir.is_dir():
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _empty_storage_after_each_test() -> Iterator[None]:
    """Files outlive the database rows a test leaves behind: empty the local storage root (shared
    with the server and worker processes) so no test sees another's files."""
    yield
    import shutil

    from django.conf import settings

    root = Path(settings.KILN_STORAGE_ROOT)
    if root.is_dir() and root.name == "storage" and "kiln-test-" in str(root):
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
