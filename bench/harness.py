"""A throw-away Kiln for benchmarks: its own PostgreSQL database and Redis prefix, a uvicorn
server and a Celery worker in their own processes, a user and a token.

    with running_kiln(workers=2) as kiln:
        kiln.url, kiln.token, kiln.client (httpx, authenticated)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Kiln:
    url: str
    token: str
    client: httpx.Client
    env: dict[str, str]
    processes: dict[str, subprocess.Popen]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout


@contextlib.contextmanager
def running_kiln(*, workers: int = 2, extra_env: dict[str, str] | None = None, spares: bool = False) -> Iterator[Kiln]:
    """``spares``: a second jobs worker and a second control worker ("worker-spare",
    "control-spare"), each in its own process group, so a bench may kill -9 the first ones."""
    tag = f"bench_{uuid.uuid4().hex[:8]}"
    data = Path(tempfile.mkdtemp(prefix=f"kiln-{tag}-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{tag}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KILN_REDIS_PREFIX": tag,
        "KILN_DATA_DIR": str(data),
        "KILN_LOGIN_RATE": "100000/min",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", tag], check=True)
    processes: dict[str, subprocess.Popen] = {}
    try:
        _manage(env, "migrate", "--no-input", "-v", "0")
        token = _manage(env, "shell", "-c", (
            "from django.contrib.auth import get_user_model; from console.services import token_create; "
            "u = get_user_model().objects.create_user('bench', password='bench-password'); "
            "print(token_create(user=u, name='bench')[1])")).strip().splitlines()[-1]
        port = _free_port()
        logs = data / "logs"
        logs.mkdir()
        processes["web"] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "console.asgi:application", "--port", str(port), "--ws", "websockets",
             "--http", "console.server:HttpProtocol", "--no-access-log", "--log-level", "warning"],
            cwd=REPO, env=env, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT)
        # As in production: one pool runs jobs, another the short control tasks (bake ticks).
        processes["worker"] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "WARNING", "-Q", f"{tag}-jobs",
             "-n", f"jobs-{tag}@%h", "--concurrency", str(workers)], cwd=REPO, env=env,
            stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        processes["control"] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "WARNING", "-Q", tag,
             "-n", f"control-{tag}@%h", "--concurrency", "2"], cwd=REPO, env=env,
            stdout=(logs / "control.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        if spares:
            for name, queue, concurrency in (("worker-spare", f"{tag}-jobs", workers), ("control-spare", tag, 2)):
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "console", "worker", "--loglevel", "WARNING", "-Q", queue,
                     "-n", f"{name}-{tag}@%h", "--concurrency", str(concurrency)], cwd=REPO, env=env,
                    stdout=(logs / f"{name}.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                health = client.get("/api/v1/health/", params={"workers": 1}).json()
                if health.get("workers"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kiln did not start; logs in {logs}")
            time.sleep(0.3)
        yield Kiln(url=url, token=token, client=client, env=env, processes=processes)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", tag], check=False)
        subprocess.run(["rm", "-rf", str(data)], check=False)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
