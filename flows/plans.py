"""A bake attempt's plan, shared between processes through Redis.

Planning a 1,000-task batch file takes ~0.1 s (YAML, schema, expressions), and every process that
ticks a bake needs the plan: the web process that started the bake, then either control worker
process. Each planned it again, on the bake's critical path (the first tick) and mid-bake (a tick
that landed in the other control process stalled the fan-out ~0.5 s). The plan is deterministic
given the attempt's config snapshot, params and user, so whoever plans first shares it, pickled,
compressed (~70 kB for 1,000 tasks) and signed, and the others load it (~20 ms) instead, until the
attempt ends.

Pickle runs code on load, so a shared plan is only loaded when its HMAC (keyed by SECRET_KEY)
matches: whoever can write to Redis but does not hold the key cannot make a worker load anything.
The key also names the spec code's version: a plan pickled by other code (a rolling upgrade) is
never loaded, just planned again.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from flows import spec
from flows.models import BakeAttempt

log = logging.getLogger(__name__)
SHARED_FOR = 3600  # seconds (or until the attempt ends): a bake ticking later plans again, once per process
MOST_BYTES = 16 * 1024 * 1024  # compressed; a plan bigger than this (~250,000 tasks) is not shared
_SALT = "kiln.flows.plans"
_SIGNATURE_BYTES = 32  # SHA-256


@lru_cache(maxsize=1)
def spec_version() -> str:
    """A digest of the code a plan's objects come from (the spec package, the storage file source
    its expressions read through, the expression parser's version): plans are shared only between
    processes that run the same (a changed class would unpickle wrong, or not at all)."""
    digest = hashlib.sha256(version("lark").encode())
    sources = [*sorted(Path(spec.__file__).parent.glob("*.py")), Path(__file__).with_name("selectors.py")]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _key(attempt: BakeAttempt) -> str:
    # Its creation time too: a database made anew (ids counting from 1 again) beside a Redis that
    # kept its keys must not find an older bake's plan under the same id.
    created = attempt.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{settings.KILN_REDIS_PREFIX}:plan:{spec_version()}:{attempt.pk}:{created}"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pickling a plan makes (or walks) tens of thousands of objects: the cyclic collector would
    run several times meanwhile, finding nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _signature(data: bytes) -> bytes:
    return salted_hmac(_SALT, data, algorithm="sha256").digest()


def plan_share(*, attempt: BakeAttempt, plan: spec.BatchPlan) -> None:
    """Offer the attempt's plan to the other processes. Best effort: without it they plan again."""
    with _gc_paused():
        data = zlib.compress(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL), 1)
    if len(data) > MOST_BYTES:
        return
    try:
        _redis().set(_key(attempt), _signature(data) + data, ex=SHARED_FOR)
    except Exception:  # Redis down: planning again is slower, not wrong
        log.warning("could not share the plan of bake attempt %s", attempt.pk, exc_info=True)


def shared_plan(attempt: BakeAttempt) -> spec.BatchPlan | None:
    """The attempt's plan as another process shared it, or None (none shared, or not loadable)."""
    attempt_id = attempt.pk
    try:
        raw = _redis().get(_key(attempt))
    except Exception:
        log.warning("could not read the shared plan of bake attempt %s", attempt_id, exc_info=True)
        return None
    if not raw or len(raw) <= _SIGNATURE_BYTES:
        return None
    signature, data = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
    if not constant_time_compare(signature, _signature(data)):
        log.warning("the shared plan of bake attempt %s is not signed with our key; planning again", attempt_id)
        return None
    try:
        with _gc_paused():
            plan = pickle.loads(zlib.decompress(data))  # noqa: S301 - signed by a process holding SECRET_KEY
    except Exception:
        log.warning("could not load the shared plan of bake attempt %s", attempt_id, exc_info=True)
        return None
    return plan if isinstance(plan, spec.BatchPlan) else None


def plan_forget(attempt: BakeAttempt) -> None:
    """The attempt ended: its plan is needed no more."""
    try:
        _redis().delete(_key(attempt))
    except Exception:  # it expires anyway
        log.warning("could not drop the shared plan of bake attempt %s", attempt.pk, exc_info=True)


def _redis() -> Any:
    from flows.orchestrator import _redis as orchestrator_redis  # one client per process

    return orchestrator_redis()
