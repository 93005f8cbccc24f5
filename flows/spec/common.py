"""Evaluation shared by live jobs and batch tasks: typed field evaluation, the ``flow``,
``project``, ``volumes``, ``images`` contexts, defaults merging, and the concrete run spec."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from . import contexts as ctx
from .errors import FlowError, FlowSpecError, Pos
from .expr import Scope, Template, parse_volume_ref, to_text
from .model import Command, Defaults, ExecSpec, Image, ListValue, MapValue, Param, ProjectSpec, Volume
from .values import id_to_tag, parse_duration, to_bool, to_int, to_port_pair, to_restart, type_name


@dataclass(frozen=True)
class RunSpec:
    """A job ready to run, every expression evaluated.

    ``command`` is a shell-style string (``bash``/``python`` already wrapped); ``volumes`` are
    ``storage:path:/mount[:ro|:rw]`` strings; durations are seconds; ``tags`` are sorted.
    Live-only fields (``detach``, ``browse``, ``port_forward``, ``multi``, ``suffix``) keep their
    defaults for batch tasks.
    """

    unit_id: str
    image: str
    command: str | None = None
    entrypoint: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    workdir: str | None = None
    preset: str | None = None
    http_port: int | None = None
    http_auth: bool | None = None
    life_span: float | None = None
    schedule_timeout: float | None = None
    tags: tuple[str, ...] = ()
    restart: str | None = None
    name: str | None = None
    title: str | None = None
    pass_config: bool | None = None
    detach: bool = False
    browse: bool = False
    port_forward: tuple[str, ...] = ()
    multi: bool = False
    suffix: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id, "image": self.image, "command": self.command,
            "entrypoint": self.entrypoint, "env": dict(self.env), "volumes": list(self.volumes),
            "workdir": self.workdir, "preset": self.preset, "http_port": self.http_port,
            "http_auth": self.http_auth, "life_span": self.life_span,
            "schedule_timeout": self.schedule_timeout, "tags": list(self.tags), "restart": self.restart,
            "name": self.name, "title": self.title, "pass_config": self.pass_config,
            "detach": self.detach, "browse": self.browse, "port_forward": list(self.port_forward),
            "multi": self.multi, "suffix": self.suffix, "params": dict(self.params),
        }


class Collector:
    """Evaluates many fields, keeping every error instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[FlowError] = []

    def run(self, fn: Callable[[], Any], default: Any = None) -> Any:
        """``fn()``, or ``default`` when it raises FlowSpecError (whose errors are kept)."""
        try:
            return fn()
        except FlowSpecError as exc:
            for error in exc.errors:
                if error not in self.errors:
                    self.errors.append(error)
            return default

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, or None when it raises FlowSpecError (whose errors are kept)."""
        return self.run(partial(fn, *args))

    def add(self, pos: Pos, message: str) -> None:
        self.errors.append(FlowError.at(pos, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise FlowSpecError(self.errors)


def _fail(template: Template, what: str, exc: ValueError) -> FlowSpecError:
    pos = template.segments[0].pos if template.is_single_expression else template.pos
    return FlowSpecError.at(pos, f"invalid {what}: {exc}")


def eval_value(template: Template | None, scope: Scope, what: str,
               convert: Callable[[Any], Any] | None = None) -> Any:
    """Evaluate and convert; None (unset or an expression giving None) stays None."""
    if template is None:
        return None
    value = template.evaluate(scope)
    if value is None:
        return None
    if convert is None:
        return value
    try:
        return convert(value)
    except ValueError as exc:
        raise _fail(template, what, exc) from None


def _as_str(value: Any) -> str:
    if isinstance(value, (list, dict, tuple)):
        raise ValueError(f"expected a string, got {type_name(value)}")
    return to_text(value)


def eval_str(template: Template | None, scope: Scope, what: str) -> str | None:
    return cast("str | None", eval_value(template, scope, what, _as_str))


def eval_bool(template: Template | None, scope: Scope, what: str) -> bool | None:
    return cast("bool | None", eval_value(template, scope, what, to_bool))


def eval_int(template: Template | None, scope: Scope, what: str) -> int | None:
    return cast("int | None", eval_value(template, scope, what, to_int))


def eval_duration(template: Template | None, scope: Scope, what: str) -> float | None:
    return cast("float | None", eval_value(template, scope, what, parse_duration))


def eval_restart(template: Template | None, scope: Scope, what: str) -> str | None:
    return cast("str | None", eval_value(template, scope, what, to_restart))


def eval_list(value: ListValue | None, scope: Scope, what: str,
              convert: Callable[[Any], Any] = _as_str) -> list[Any]:
    """A list field: YAML items and whole-list expressions, concatenated; empty items dropped."""
    if value is None:
        return []
    result: list[Any] = []
    for part in value.parts:
        if isinstance(part, Template):
            evaluated = part.evaluate(scope)
            if evaluated is None:
                continue
            if not isinstance(evaluated, (list, tuple)):
                raise FlowSpecError.at(part.segments[0].pos if part.is_single_expression else part.pos,
                                       f"{what} must be a list, got {type_name(evaluated)}")
            items: list[tuple[Any, Template]] = [(item, part) for item in evaluated]
        else:
            items = [(item.evaluate(scope), item) for item in part]
        for item, template in items:
            if item is None or item == "":
                continue
            try:
                result.append(convert(item))
            except ValueError as exc:
                raise _fail(template, f"item of {what}", exc) from None
    return result


def eval_map(value: MapValue | None, scope: Scope, what: str, *, strings: bool = True) -> dict[str, Any]:
    """A mapping field: parts merged in order (later keys win); values read as strings."""
    if value is None:
        return {}
    result: dict[str, Any] = {}
    for part in value.parts:
        if isinstance(part, Template):
            evaluated = part.evaluate(scope)
            if evaluated is None:
                continue
            if not isinstance(evaluated, Mapping):
                raise FlowSpecError.at(part.segments[0].pos if part.is_single_expression else part.pos,
                                       f"{what} must be a mapping, got {type_name(evaluated)}")
            for key, item in evaluated.items():
                result[str(key)] = to_text(item) if strings else item
        else:
            for key, template in part.items():
                item = template.evaluate(scope)
                if strings:
                    if isinstance(item, (list, dict)):
                        problem = ValueError(f"expected a string, got {type_name(item)}")
                        raise _fail(template, f"{what} '{key}'", problem)
                    item = to_text(item)
                result[key] = item
    return result


def command_line(command: Command | None, scope: Scope) -> str | None:
    """``cmd`` as written; ``bash``/``python`` wrapped as apolo-flow does."""
    if command is None:
        return None
    text = eval_str(command.template, scope, command.kind)
    if text is None:
        return None
    if command.kind == "bash":
        return " ".join(["bash", "-euo", "pipefail", "-c", shlex.quote(text)])
    if command.kind == "python":
        return " ".join(["python3", "-uc", shlex.quote(text)])
    return text


def check_volume_refs(volumes: list[str], template_pos: Pos) -> None:
    for volume in volumes:
        try:
            parse_volume_ref(volume)
        except ValueError as exc:
            raise FlowSpecError.at(template_pos, f"invalid volume: {exc}") from None


# --- contexts ---------------------------------------------------------------------------------------


def project_ctx(project: ProjectSpec, env: ctx.EvalEnv) -> ctx.ProjectCtx:
    """``project``: ``project_name`` defaults to the owner (the flow owner's username)."""
    owner = project.owner or env.owner_name
    return ctx.ProjectCtx(id=project.id, owner=owner, project_name=project.project_name or owner,
                          role=project.role)


def git_ctx(env: ctx.EvalEnv) -> ctx.GitCtx | None:
    if env.git is None:
        return None
    return ctx.GitCtx(sha=str(env.git.get("sha", "")), branch=str(env.git.get("branch", "")),
                      tags=tuple(str(tag) for tag in env.git.get("tags", ())))


def base_contexts(project: ctx.ProjectCtx, flow: ctx.FlowCtx, env: ctx.EvalEnv) -> dict[str, Any]:
    contexts: dict[str, Any] = {"project": project, "flow": flow}
    git = git_ctx(env)
    if git is not None:
        contexts["git"] = git
    return contexts


GIT_MISSING = "git information is not available: the flow folder is not a git checkout"


def scope_of(contexts: dict[str, Any], env: ctx.EvalEnv, **unavailable: str) -> Scope:
    missing = dict(unavailable)
    if "git" not in contexts:
        missing.setdefault("git", GIT_MISSING)
    return Scope(dict(contexts), env, missing)


def volume_ctx(volume: Volume, scope: Scope, errors: Collector) -> ctx.VolumeCtx | None:
    what = f"volume '{volume.id}'"
    remote = errors.run(lambda: eval_str(volume.remote, scope, f"remote of {what}"))
    mount = errors.run(lambda: eval_str(volume.mount, scope, f"mount of {what}"))
    local = errors.run(lambda: eval_str(volume.local, scope, f"local of {what}"))
    read_only = errors.run(lambda: eval_bool(volume.read_only, scope, f"read_only of {what}"))
    if remote is None or mount is None:
        if not errors.errors:
            errors.add(volume.pos, f"{what} needs both remote and mount")
        return None
    return ctx.VolumeCtx(id=volume.id, remote=remote, mount=mount, read_only=bool(read_only), local=local)


def image_ctx(image: Image, scope: Scope, errors: Collector) -> ctx.ImageCtx | None:
    what = f"image '{image.id}'"
    ref = errors.run(lambda: eval_str(image.ref, scope, f"ref of {what}"))
    if ref is None:
        return None
    context = errors.run(lambda: eval_str(image.context, scope, f"context of {what}"))
    dockerfile = errors.run(lambda: eval_str(image.dockerfile, scope, f"dockerfile of {what}"))
    dockerfile_rel = None
    if context and dockerfile:
        prefix = context.rstrip("/") + "/"
        dockerfile_rel = dockerfile[len(prefix):] if dockerfile.startswith(prefix) else dockerfile
    return ctx.ImageCtx(
        id=image.id, ref=ref, context=context, dockerfile=dockerfile, dockerfile_rel=dockerfile_rel,
        build_args=tuple(errors.run(lambda: eval_list(image.build_args, scope, f"build_args of {what}"), [])),
        env=errors.run(lambda: eval_map(image.env, scope, f"env of {what}"), {}),
        volumes=tuple(errors.run(lambda: eval_list(image.volumes, scope, f"volumes of {what}"), [])),
        build_preset=errors.run(lambda: eval_str(image.build_preset, scope, f"build_preset of {what}")),
        force_rebuild=bool(errors.run(lambda: eval_bool(image.force_rebuild, scope, f"force_rebuild of {what}"))),
        extra_kaniko_args=errors.run(lambda: eval_str(image.extra_kaniko_args, scope,
                                                      f"extra_kaniko_args of {what}")),
    )


class LazyMap(Mapping[str, Any]):
    """``volumes``/``images``: each entry is evaluated when an expression first reads it, so a
    broken (or hook-needing) image does not stop jobs that never use it. Reading a broken entry
    raises its FlowSpecError (with the entry's own positions)."""

    def __init__(self, makers: Mapping[str, Callable[[], Any]]) -> None:
        self._makers = dict(makers)
        self._values: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            self._values[key] = self._makers[key]()
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)

    def __contains__(self, key: object) -> bool:
        return key in self._makers


def _strict(build: Callable[[Any, Scope, Collector], Any], item: Any, scope: Scope) -> Any:
    errors = Collector()
    built = build(item, scope, errors)
    errors.raise_if_any()
    return built


def volumes_ctx(sources: list[Mapping[str, Volume]], scope: Scope) -> LazyMap:
    """``volumes``: project.yml's then the flow's (a flow volume replaces a project one)."""
    merged = {volume_id: volume for source in sources for volume_id, volume in source.items()}
    return LazyMap({volume_id: partial(_strict, volume_ctx, volume, scope) for volume_id, volume in merged.items()})


def images_ctx(sources: list[Mapping[str, Image]], scope: Scope) -> LazyMap:
    """``images``: project.yml's then the flow's (or an action's own)."""
    merged = {image_id: image for source in sources for image_id, image in source.items()}
    return LazyMap({image_id: partial(_strict, image_ctx, image, scope) for image_id, image in merged.items()})


def merge_defaults(flow: Defaults | None, project: Defaults | None) -> Defaults | None:
    """Flow defaults over project defaults: scalars from the flow win, lists concatenate (flow's
    first), mappings merge (flow's keys win)."""
    if flow is None:
        return project
    if project is None:
        return flow
    changes: dict[str, Any] = {}
    for name in ("env", "life_span", "preset", "schedule_timeout", "tags", "volumes", "workdir",
                 "cache", "fail_fast", "max_parallel"):
        mine = getattr(flow, name)
        theirs = getattr(project, name)
        if mine is None:
            changes[name] = theirs
        elif isinstance(mine, ListValue) and isinstance(theirs, ListValue):
            changes[name] = ListValue(mine.pos, mine.parts + theirs.parts)
        elif isinstance(mine, MapValue) and isinstance(theirs, MapValue):
            changes[name] = MapValue(mine.pos, theirs.parts + mine.parts)
        else:
            changes[name] = mine
    return Defaults(flow.pos, **changes)


@dataclass(frozen=True)
class EvaluatedDefaults:
    env: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    workdir: str | None = None
    life_span: float | None = None
    preset: str | None = None
    schedule_timeout: float | None = None


def evaluate_defaults(defaults: Defaults | None, scope: Scope, errors: Collector) -> EvaluatedDefaults:
    if defaults is None:
        return EvaluatedDefaults()
    return EvaluatedDefaults(
        env=errors.run(lambda: eval_map(defaults.env, scope, "defaults.env"), {}),
        tags=errors.run(lambda: eval_list(defaults.tags, scope, "defaults.tags"), []),
        volumes=errors.run(lambda: eval_list(defaults.volumes, scope, "defaults.volumes"), []),
        workdir=errors.run(lambda: eval_str(defaults.workdir, scope, "defaults.workdir")),
        life_span=errors.run(lambda: eval_duration(defaults.life_span, scope, "defaults.life_span")),
        preset=errors.run(lambda: eval_str(defaults.preset, scope, "defaults.preset")),
        schedule_timeout=errors.run(lambda: eval_duration(defaults.schedule_timeout, scope,
                                                          "defaults.schedule_timeout")),
    )


def system_tags(project_id: str, flow_id: str) -> list[str]:
    return [f"project:{id_to_tag(project_id)}", f"flow:{id_to_tag(flow_id)}"]


def resolve_params(declared: Mapping[str, Param], given: Mapping[str, str], scope: Scope,
                   where: Pos, what: str) -> dict[str, str]:
    """Given values over defaults; a param without either, or an unknown given name, is an error."""
    errors = Collector()
    result: dict[str, str] = {}
    for name, param in declared.items():
        if name in given and given[name] is not None:
            result[name] = str(given[name])
            continue
        value = errors.call(eval_str, param.default, scope, f"default of param '{param.name}'")
        if value is None:
            if not any(error.pos == param.pos for error in errors.errors):
                errors.add(param.pos, f"param '{name}' of {what} has no value and no default")
            continue
        result[name] = value
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        errors.add(where, f"unknown param(s) {', '.join(unknown)} for {what} (declared: {known})")
    errors.raise_if_any()
    return result


def exec_fields(spec: ExecSpec, scope: Scope, errors: Collector) -> dict[str, Any]:
    """The fields every job and task has, evaluated (errors collected)."""
    what = f"{spec.unit} '{spec.key}'"
    return {
        "image": errors.run(lambda: eval_str(spec.image, scope, f"image of {what}")),
        "command": errors.run(lambda: command_line(spec.command, scope)),
        "entrypoint": errors.run(lambda: eval_str(spec.entrypoint, scope, f"entrypoint of {what}")),
        "env": errors.run(lambda: eval_map(spec.env, scope, f"env of {what}"), {}),
        "volumes": errors.run(lambda: eval_list(spec.volumes, scope, f"volumes of {what}"), []),
        "tags": errors.run(lambda: eval_list(spec.tags, scope, f"tags of {what}"), []),
        "workdir": errors.run(lambda: eval_str(spec.workdir, scope, f"workdir of {what}")),
        "preset": errors.run(lambda: eval_str(spec.preset, scope, f"preset of {what}")),
        "http_port": errors.run(lambda: eval_int(spec.http_port, scope, f"http_port of {what}")),
        "http_auth": errors.run(lambda: eval_bool(spec.http_auth, scope, f"http_auth of {what}")),
        "life_span": errors.run(lambda: eval_duration(spec.life_span, scope, f"life_span of {what}")),
        "schedule_timeout": errors.run(lambda: eval_duration(spec.schedule_timeout, scope,
                                                             f"schedule_timeout of {what}")),
        "restart": errors.run(lambda: eval_restart(spec.restart, scope, f"restart of {what}")),
        "name": errors.run(lambda: eval_str(spec.name, scope, f"name of {what}")),
        "title": errors.run(lambda: eval_str(spec.title, scope, f"title of {what}")),
        "pass_config": errors.run(lambda: eval_bool(spec.pass_config, scope, f"pass_config of {what}")),
        "port_forward": errors.run(lambda: eval_list(spec.port_forward, scope, f"port_forward of {what}",
                                                     lambda v: to_port_pair(to_text(v))), []),
    }


def finish_volumes(defaults: list[str], own: list[str], spec: ExecSpec, errors: Collector) -> tuple[str, ...]:
    volumes = [*defaults, *own]
    errors.run(lambda: check_volume_refs(volumes, spec.volumes.pos if spec.volumes else spec.pos))
    return tuple(volumes)
