"""Test settings: the real settings, pointed at PostgreSQL and Redis with names of their own.

Each test run gets its own database name and Redis key prefix (from the checkout's path and the
run's process id), so several runs on one machine (a developer's, CI's clone) never collide. Server
and worker processes started by the tests inherit these through the environment.
"""

import hashlib
import os
import tempfile
from pathlib import Path

_checkout = Path(__file__).resolve().parent.parent
_tag = os.environ.setdefault(
    "KILN_TEST_RUN", f"{hashlib.sha1(str(_checkout).encode()).hexdigest()[:6]}_{os.getpid()}"
)

os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/kiln_{_tag}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("KILN_REDIS_PREFIX", f"kilntest-{_tag}")
os.environ.setdefault("KILN_DATA_DIR", str(Path(tempfile.gettempdir()) / f"kiln-test-{_tag}"))
os.environ.setdefault("KILN_LOGIN_RATE", "100000/min")
os.environ["KILN_PROFILE"] = "embedded"

from console.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only

# A preset small enough to hit its memory limit on purpose, beside the usual ones.
KILN_PRESETS = {**KILN_PRESETS, "test-tiny": {"cpu": 0.5, "memory_mb": 64, "description": "for OOM tests"}}  # noqa: F405
KILN_JOB_KILL_GRACE = float(os.environ.get("KILN_JOB_KILL_GRACE", "3"))
