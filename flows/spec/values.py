"""Conversions from evaluated values to field types (bool, int, duration …) and small name rules.

Every converter raises ``ValueError`` with a message meant for the user; callers add the position.
"""

from __future__ import annotations

import re
from typing import Any

from .contexts import ALWAYS, Always

DEFAULT_CACHE_LIFE_SPAN = 14 * 24 * 3600.0
RESTART_POLICIES = ("never", "on-failure", "always")
CACHE_STRATEGIES = ("none", "inherit", "default")
NEEDS_LEVELS = ("running", "completed")

_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_PORT_PAIR = re.compile(r"^\d+:\d+$")
_TRUE = ("true", "yes", "on", "y", "1")
_FALSE = ("false", "no", "off", "n", "0")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected a boolean (true or false), got {value!r}")
    raise ValueError(f"expected a boolean (true or false), got {type_name(value)}")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like ``1d6h15m45s`` (also ``30m``, ``2h``, ``3600``)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if number < 0:
                raise ValueError(f"a duration cannot be negative, got {value!r}")
            return number
        match = _DURATION.match(text)
        if text and match is not None:
            return float(int(match["d"] or 0) * 86400 + int(match["h"] or 0) * 3600
                         + int(match["m"] or 0) * 60 + int(match["s"] or 0))
    raise ValueError(f"{value!r} is not a duration: use seconds or a string like 1d6h15m45s")


def to_restart(value: Any) -> str:
    text = str(value)
    if text not in RESTART_POLICIES:
        raise ValueError(f"{text!r} is not a restart policy (allowed: {', '.join(RESTART_POLICIES)})")
    return text


def to_port_pair(value: Any) -> str:
    text = str(value)
    if not _PORT_PAIR.match(text):
        raise ValueError(f"{text!r} is not a LOCAL:REMOTE port pair")
    return text


def to_enable(value: Any) -> bool | Always:
    """``enable`` reads ``always()`` as a mark, anything else as a boolean (truthiness)."""
    if isinstance(value, Always) or value == "always()":
        return ALWAYS
    if isinstance(value, str):
        try:
            return to_bool(value)
        except ValueError:
            return bool(value)
    return bool(value)


def identifier_problem(text: str) -> str | None:
    """Why ``text`` cannot be an id (job, task, volume, image, mixin, param), or None."""
    if not text.isidentifier() or not text.isascii():
        return f"'{text}' is not an identifier (letters, digits and '_', not starting with a digit)"
    if text == text.upper():
        return f"'{text}' is not a valid identifier: all-uppercase names are reserved"
    return None


def id_to_tag(identifier: str) -> str:
    """The form ids take in tags (``project:my-proj``): underscores become dashes, lowercase."""
    return identifier.replace("_", "-").lower()


_NAME_BAD = re.compile(r"[^a-z0-9-]+")


def default_job_name(project_id: str, job_id: str, suffix: str | None = None) -> str:
    """``<project-id>-<job-id>[-<suffix>]`` made to fit a job name (lowercase letters, digits and
    single dashes, starting with a letter, at most 40 characters)."""
    parts = [project_id, job_id] + ([suffix] if suffix else [])
    raw = "-".join(part.replace("_", "-").lower() for part in parts)
    name = _NAME_BAD.sub("-", raw)
    name = re.sub(r"-{2,}", "-", name).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)
    if len(name) > 40:
        name = name[:40].rstrip("-")
    return name or "job"
