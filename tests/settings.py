"""Test settings: the real settings, pointed at PostgreSQL and Redis with names of their own.

Each checkout gets its own database name and Redis key prefix (from its path), so two clones on
one machine (a developer's and CI's) can run their suites at the same time.
"""

import hashlib
import os
import tempfile
from pathlib import Path

_checkout = Path(__file__).resolve().parent.parent
_tag = hashlib.sha1(str(_checkout).encode()).hexdigest()[:8]

os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/kiln_{_tag}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("KILN_REDIS_PREFIX", f"kilntest-{_tag}")
os.environ.setdefault("KILN_DATA_DIR", str(Path(tempfile.gettempdir()) / f"kiln-test-{_tag}"))
os.environ.setdefault("KILN_LOGIN_RATE", "100000/min")
os.environ["KILN_PROFILE"] = "embedded"

from console.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
