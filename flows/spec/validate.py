"""Checks of expressions at load time: does each context read exist where it is written?

Each field of a flow can read a known set of contexts (a live job's ``cmd`` sees ``params`` and,
for ``multi`` jobs, ``multi``; a task's ``id`` only sees ``matrix`` …). Reads of unknown
contexts, of contexts not available there, and of unknown names (``volumes.dta``, ``params.x`` not
declared, ``flow.nope``) are reported with the expression's position — the same message the
evaluation would give, but before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

from . import contexts as ctx
from .errors import ErrorSink
from .expr import KNOWN_CONTEXTS, Ref, Template, references
from .model import CacheSpec, Defaults, ExecSpec, Image, ListValue, MapValue, StrategySpec, Volume


def _attrs(cls: type[ctx.CtxObject]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls)) + cls.extra_attrs  # type: ignore[arg-type]


FLOW_ATTRS = _attrs(ctx.FlowCtx)
PROJECT_ATTRS = _attrs(ctx.ProjectCtx)
VOLUME_ATTRS = _attrs(ctx.VolumeCtx)
IMAGE_ATTRS = _attrs(ctx.ImageCtx)
MULTI_ATTRS = _attrs(ctx.MultiCtx)
STRATEGY_ATTRS = _attrs(ctx.StrategyCtx)
NEEDS_ATTRS = _attrs(ctx.DepCtx)
GIT_ATTRS = _attrs(ctx.GitCtx)


@dataclass(frozen=True)
class Known:
    """What may follow a context name: ``attrs`` (an object's attributes) or ``ids`` (a mapping's
    keys, None when not known before running) with ``child`` attributes below each id."""

    attrs: tuple[str, ...] | None = None
    ids: frozenset[str] | None = None
    child: tuple[str, ...] | None = None
    any_key: bool = False


ANY = Known(any_key=True)


@dataclass(frozen=True)
class Allowed:
    names: Mapping[str, Known]
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def plus(self, **more: Known) -> Allowed:
        return Allowed({**self.names, **more}, self.unavailable)

    def only(self, *names: str) -> Allowed:
        return Allowed({name: known for name, known in self.names.items() if name in names}, self.unavailable)

    def without(self, name: str, reason: str) -> Allowed:
        return Allowed({k: v for k, v in self.names.items() if k != name}, {**self.unavailable, name: reason})


NOTHING = Allowed({})


def ids(keys: Iterable[str] | None, child: tuple[str, ...] | None = None) -> Known:
    return Known(ids=None if keys is None else frozenset(keys), child=child)


def check_ref(ref: Ref, allowed: Allowed) -> str | None:
    """The message for a context read that cannot work here, or None."""
    known = allowed.names.get(ref.root)
    if known is None:
        if ref.root in allowed.unavailable:
            return allowed.unavailable[ref.root]
        if ref.root in KNOWN_CONTEXTS:
            return f"the '{ref.root}' context is not available here"
        available = ", ".join(sorted(allowed.names)) or "none"
        return f"unknown context '{ref.root}' (available: {available})"
    if not ref.path or known.any_key:
        return None
    first = ref.path[0]
    if known.attrs is not None:
        if first not in known.attrs:
            return f"'{ref.root}' has no attribute '{first}' (known: {', '.join(known.attrs)})"
        return None
    if known.ids is not None and first not in known.ids:
        return f"'{ref.root}' has no attribute '{first}' (known: {', '.join(sorted(known.ids)) or 'none'})"
    if known.child is not None and len(ref.path) > 1 and ref.path[1] not in known.child:
        return f"'{ref.root}.{first}' has no attribute '{ref.path[1]}' (known: {', '.join(known.child)})"
    return None


class Checker:
    def __init__(self, sink: ErrorSink) -> None:
        self.sink = sink

    def template(self, template: Template | None, allowed: Allowed) -> None:
        if template is None:
            return
        for expr, pos in template.expressions():
            for ref in references(expr):
                message = check_ref(ref, allowed)
                if message is not None:
                    self.sink.add(pos, message)

    def value(self, value: Template | ListValue | MapValue | None, allowed: Allowed) -> None:
        if value is None:
            return
        if isinstance(value, Template):
            self.template(value, allowed)
            return
        for template in value.templates():
            self.template(template, allowed)

    def volume(self, volume: Volume, allowed: Allowed) -> None:
        for template in (volume.remote, volume.mount, volume.local, volume.read_only):
            self.template(template, allowed)

    def image(self, image: Image, allowed: Allowed) -> None:
        for name in ("ref", "context", "dockerfile", "build_preset", "build_args", "env", "volumes",
                     "force_rebuild", "extra_kaniko_args"):
            self.value(getattr(image, name), allowed)

    def cache(self, cache: CacheSpec | None, allowed: Allowed) -> None:
        if cache is not None:
            self.template(cache.life_span, allowed)

    def defaults(self, defaults: Defaults | None, allowed: Allowed, strategy_allowed: Allowed) -> None:
        if defaults is None:
            return
        for name in ("env", "life_span", "preset", "schedule_timeout", "tags", "volumes", "workdir"):
            self.value(getattr(defaults, name), allowed)
        self.template(defaults.fail_fast, strategy_allowed)
        self.template(defaults.max_parallel, strategy_allowed)
        self.cache(defaults.cache, strategy_allowed)

    def strategy(self, strategy: StrategySpec | None, allowed: Allowed) -> None:
        if strategy is None:
            return
        self.template(strategy.fail_fast, allowed)
        self.template(strategy.max_parallel, allowed)
        if strategy.matrix is not None:
            for values in strategy.matrix.products.values():
                self.value(values, allowed)
            for _, combo in (*strategy.matrix.include, *strategy.matrix.exclude):
                for template in combo.values():
                    self.template(template, allowed)

    def exec_body(self, spec: ExecSpec, allowed: Allowed) -> None:
        """The fields that run in the job's or task's own context."""
        for name in ("image", "entrypoint", "env", "volumes", "tags", "preset", "http_port", "http_auth",
                     "browse", "detach", "life_span", "name", "title", "pass_config", "port_forward",
                     "restart", "schedule_timeout", "workdir", "enable"):
            self.value(getattr(spec, name), allowed)
        if spec.command is not None:
            self.template(spec.command.template, allowed)
        if spec.action is not None:
            for template in spec.action.args.values():
                self.template(template, allowed)
