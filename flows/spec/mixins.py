"""Mixins: reusable parts of jobs and tasks, merged the way apolo-flow merges them.

``mixins: [a, b]`` applies ``b`` then ``a`` to the job (rightmost first), each merge keeping what
the job (or an already applied mixin) set:

- scalars (image, preset, cmd/bash/python, needs, strategy …): the job's value wins, else the
  rightmost mixin that sets it;
- lists (volumes, tags, port_forward): concatenated — the job's items first, then the mixins'
  from right to left (apolo-flow's order);
- mappings (env, params): merged key by key with the same priority as scalars.

Mixins may use other mixins; a cycle or an unknown name is an error at the name's position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .errors import ErrorSink
from .model import MERGE_FIELDS, ExecSpec, ListValue, MapValue


def merge(child: ExecSpec, parent: ExecSpec) -> ExecSpec:
    """``child`` with ``parent``'s fields merged in (child has priority)."""
    changes: dict[str, object] = {}
    specified = set(child.specified)
    for name in MERGE_FIELDS:
        if name not in parent.specified:
            continue
        parent_value = getattr(parent, name)
        child_value = getattr(child, name)
        if parent_value is None:
            continue
        if name not in child.specified or child_value is None:
            changes[name] = parent_value
            specified.add(name)
        elif isinstance(child_value, ListValue) and isinstance(parent_value, ListValue):
            changes[name] = ListValue(child_value.pos, child_value.parts + parent_value.parts)
        elif isinstance(child_value, MapValue) and isinstance(parent_value, MapValue):
            changes[name] = MapValue(child_value.pos, parent_value.parts + child_value.parts)
        elif name == "params" and isinstance(child_value, Mapping) and isinstance(parent_value, Mapping):
            changes[name] = {**parent_value, **child_value}
    return replace(child, specified=frozenset(specified), **changes)  # type: ignore[arg-type]


def apply_mixins(spec: ExecSpec, mixins: Mapping[str, ExecSpec], sink: ErrorSink) -> ExecSpec:
    """``spec`` with its ``mixins`` applied (``mixins`` must already be resolved)."""
    for ref in reversed(spec.mixins):
        mixin = mixins.get(ref.name)
        if mixin is None:
            known = ", ".join(sorted(mixins)) or "none defined"
            sink.add(ref.pos, f"unknown mixin '{ref.name}' (known: {known})")
            continue
        spec = merge(spec, mixin)
    return spec


def resolve_mixins(raw: Mapping[str, ExecSpec], sink: ErrorSink) -> dict[str, ExecSpec]:
    """Apply mixins' own ``mixins`` (in dependency order); cycles are errors."""
    resolved: dict[str, ExecSpec] = {}
    visiting: list[str] = []

    def resolve(name: str) -> ExecSpec:
        if name in resolved:
            return resolved[name]
        mixin = raw[name]
        visiting.append(name)
        usable: dict[str, ExecSpec] = {}
        keep = []
        for ref in mixin.mixins:
            if ref.name in visiting:
                cycle = " → ".join([*visiting[visiting.index(ref.name):], ref.name])
                sink.add(ref.pos, f"mixins use each other in a cycle: {cycle}")
                continue
            if ref.name not in raw:
                sink.add(ref.pos, f"unknown mixin '{ref.name}' (known: {', '.join(sorted(raw))})")
                continue
            usable[ref.name] = resolve(ref.name)
            keep.append(ref)
        visiting.pop()
        result = apply_mixins(replace(mixin, mixins=tuple(keep)), usable, sink)
        resolved[name] = result
        return result

    for name in raw:
        resolve(name)
    return resolved
