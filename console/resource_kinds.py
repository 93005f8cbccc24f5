"""How apps plug their kinds of resources into the sharing core without the core importing them.

An app registers a ``ResourceKind`` for its scheme in ``AppConfig.ready()``; the core asks it
whether a URI names something that exists (sharing a URI that names nothing is a 404).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from console.uris import Uri


def _always(uri: Uri) -> bool:
    return True


@dataclass(frozen=True)
class ResourceKind:
    scheme: str
    # Does ``uri`` (below an owner's root) name something that exists, or may exist in the
    # future (a job name covers future runs)? The owner's root always exists.
    exists: Callable[[Uri], bool] = _always


_KINDS: dict[str, ResourceKind] = {}


def register_resource_kind(kind: ResourceKind) -> None:
    _KINDS[kind.scheme] = kind


def resource_kind(scheme: str) -> ResourceKind:
    return _KINDS.get(scheme) or ResourceKind(scheme=scheme)
