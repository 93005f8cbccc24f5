"""Live mode: list a flow's live jobs and render one into a concrete :class:`RunSpec`.

Rendering follows apolo-flow: the ``env``/``tags``/``volumes``/``images`` contexts come from the
flow's defaults merged over project.yml's, the job's own values extend them; a ``multi`` job gets a
``multi`` context (``args``, ``suffix``) and the tag ``multi:<suffix>``; a job calling a ``ws:``
live action runs the action's job with only ``inputs`` and ``flow`` visible (no defaults).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from . import contexts as ctx
from .common import (
    Collector,
    RunSpec,
    base_contexts,
    eval_bool,
    eval_duration,
    evaluate_defaults,
    exec_fields,
    finish_volumes,
    images_ctx,
    merge_defaults,
    project_ctx,
    resolve_params,
    scope_of,
    system_tags,
    volume_ctx,
    volumes_ctx,
)
from .errors import FlowSpecError, Pos
from .expr import Scope, Template
from .model import ActionSpec, ExecSpec, FlowProject, Input, LiveFlowSpec
from .values import default_job_name, id_to_tag, type_name

MULTI_ONLY = "the 'multi' context is only available in jobs with multi: true"


@dataclass(frozen=True)
class ParamInfo:
    """A param as the UI shows it: ``default`` is the text written in the YAML (may hold an
    expression); ``required`` when there is no default."""

    name: str
    default: str | None
    descr: str | None
    required: bool


@dataclass(frozen=True)
class LiveJobInfo:
    id: str
    title: str | None
    multi: bool
    params: tuple[ParamInfo, ...]
    action: str | None
    pos: Pos


def _live(project: FlowProject) -> LiveFlowSpec:
    if project.live is None:
        raise FlowSpecError.at(Pos(f"{project.config_dir}/live.yml", 1, 1), "the flow has no live.yml")
    return project.live


def _job(project: FlowProject, job_id: str) -> ExecSpec:
    live = _live(project)
    job = live.jobs.get(job_id)
    if job is None:
        known = ", ".join(live.jobs) or "none"
        raise FlowSpecError.at(live.jobs_pos, f"unknown live job '{job_id}' (jobs: {known})")
    return job


def _action_of(project: FlowProject, job: ExecSpec) -> ActionSpec | None:
    if job.action is None:
        return None
    action = project.actions.get(job.action.path or "")
    if action is None or action.job is None:
        raise FlowSpecError.at(job.action.pos, f"action '{job.action.ref}' could not be loaded")
    return action


def job_is_multi(project: FlowProject, job_id: str) -> bool:
    job = _job(project, job_id)
    action = _action_of(project, job)
    if action is not None:
        assert action.job is not None
        return bool(action.job.multi)
    return bool(job.multi)


def _param_infos(params: Mapping[str, Any]) -> tuple[ParamInfo, ...]:
    return tuple(
        ParamInfo(name=param.name, default=param.default.text if param.default is not None else None,
                  descr=param.descr, required=param.default is None)
        for param in params.values()
    )


def list_live_jobs(project: FlowProject) -> list[LiveJobInfo]:
    """The live jobs in YAML order, with their params (flow-level params first) and ``multi``."""
    if project.live is None:
        return []
    live = project.live
    result: list[LiveJobInfo] = []
    for job_id, job in live.jobs.items():
        multi = False
        title = job.title.text if job.title is not None else None
        try:
            multi = job_is_multi(project, job_id)
        except FlowSpecError:
            pass
        result.append(LiveJobInfo(
            id=job_id, title=title, multi=multi,
            params=_param_infos({**live.params, **(job.params or {})}),
            action=job.action.ref if job.action else None, pos=job.pos,
        ))
    return result


def live_job_tags(project: FlowProject, job_id: str, suffix: str | None = None) -> list[str]:
    """The system tags a run of the job carries (to find its runs): ``project:``, ``flow:``,
    ``job:`` and for multi jobs ``multi:<suffix>``."""
    live = _live(project)
    _job(project, job_id)
    tags = [*system_tags(project.project_id, live.flow_id), f"job:{id_to_tag(job_id)}"]
    if suffix is not None:
        tags.append(f"multi:{suffix}")
    return sorted(tags)


def new_multi_suffix() -> str:
    """A fresh suffix for a new run of a multi job."""
    return secrets.token_hex(3)


@dataclass(frozen=True)
class _LiveBase:
    live: LiveFlowSpec
    flow: ctx.FlowCtx
    contexts: dict[str, Any]
    defaults_volumes: list[str]
    defaults_workdir: str | None
    defaults_life_span: float | None
    defaults_preset: str | None
    defaults_schedule_timeout: float | None
    flow_life_span: float | None


def _flow_ctx(project: FlowProject, env: ctx.EvalEnv) -> ctx.FlowCtx:
    """``flow`` as live jobs see it (a project without live.yml: the flow id ``live``)."""
    live = project.live
    flow_id = live.flow_id if live is not None else "live"
    return ctx.FlowCtx(flow_id=flow_id, project_id=project.project_id, workspace=env.workspace,
                       title=(live.title if live is not None else None) or flow_id, username=env.username)


def live_volumes(project: FlowProject, env: ctx.EvalEnv) -> list[ctx.VolumeCtx]:
    """Every volume (project.yml's, then live.yml's, which win on a name clash) evaluated as a live
    job sees it (``flow``, ``project``); FlowSpecError with every problem found."""
    scope = scope_of(base_contexts(project_ctx(project.project, env), _flow_ctx(project, env), env), env)
    merged = {**project.project.volumes, **(project.live.volumes if project.live is not None else {})}
    errors = Collector()
    evaluated = [volume_ctx(volume, scope, errors) for volume in merged.values()]
    errors.raise_if_any()
    return [volume for volume in evaluated if volume is not None]


def _live_base(project: FlowProject, env: ctx.EvalEnv) -> _LiveBase:
    live = _live(project)
    errors = Collector()
    flow = _flow_ctx(project, env)
    contexts = base_contexts(project_ctx(project.project, env), flow, env)
    early = scope_of(contexts, env)
    defaults = evaluate_defaults(merge_defaults(live.defaults, project.project.defaults), early, errors)
    volumes = volumes_ctx([project.project.volumes, live.volumes], early)
    images = images_ctx([project.project.images, live.images], early)
    flow_life_span = errors.run(lambda: eval_duration(live.life_span, Scope({}, env), "life_span"))
    errors.raise_if_any()
    tags = sorted({*defaults.tags, *system_tags(project.project_id, live.flow_id)})
    contexts.update(env=dict(defaults.env), tags=tags, volumes=volumes, images=images)
    return _LiveBase(live, flow, contexts, defaults.volumes, defaults.workdir, defaults.life_span,
                     defaults.preset, defaults.schedule_timeout, flow_life_span)


def coerce_inputs(action: ActionSpec, call_args: Mapping[str, Template], scope: Scope,
                  call_pos: Pos, ref: str) -> dict[str, Any]:
    """Evaluate an action call's args in the caller's scope and check them against the inputs."""
    errors = Collector()
    inputs: dict[str, Any] = {}
    for name, template in call_args.items():
        declared: Input | None = action.inputs.get(name)
        if declared is None:
            errors.add(template.pos, f"unknown input '{name}' for action '{ref}' "
                                     f"(inputs: {', '.join(action.inputs) or 'none'})")
            continue
        value = errors.call(template.evaluate, scope)
        if value is None:
            continue
        if declared.type == "str":
            inputs[name] = value if isinstance(value, str) else str(value)
            continue
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
        }[declared.type]
        if not ok:
            errors.add(template.pos, f"input '{name}' of action '{ref}' should be {declared.type}, "
                                     f"got {type_name(value)}")
            continue
        inputs[name] = value
    for name, declared in action.inputs.items():
        if name in inputs or name in call_args:
            continue
        if declared.default is None:
            errors.add(call_pos, f"action '{ref}' needs input '{name}'")
        else:
            inputs[name] = declared.default.value
    errors.raise_if_any()
    return inputs


def render_live_job(project: FlowProject, job_id: str, *, env: ctx.EvalEnv | None = None,
                    params: Mapping[str, str] | None = None, suffix: str | None = None,
                    args: Sequence[str] | None = None) -> RunSpec:
    """The concrete spec of a run of live job ``job_id``.

    ``params`` override the job's param defaults; for a ``multi`` job ``suffix`` is required (see
    :func:`new_multi_suffix`) and ``args`` become ``multi.args`` (shell-quoted, space-joined).
    Raises :class:`FlowSpecError` with every problem found.
    """
    env = env or ctx.EvalEnv()
    job = _job(project, job_id)
    base = _live_base(project, env)
    live = base.live
    given = dict(params or {})
    where = job.pos
    action = _action_of(project, job)
    multi = bool(action.job.multi if action is not None and action.job is not None else job.multi)
    if multi and not suffix:
        raise FlowSpecError.at(where, f"job '{job_id}' is multi: running it needs a suffix")
    if not multi and (suffix is not None or args):
        raise FlowSpecError.at(where, f"job '{job_id}' is not multi: it takes no suffix or args")

    live_scope = scope_of(base.contexts, env, multi=MULTI_ONLY)
    resolved = resolve_params({**live.params, **(job.params or {})}, given, live_scope, where, f"job '{job_id}'")
    contexts = {**base.contexts, "params": resolved}
    if multi:
        assert suffix is not None
        contexts["multi"] = ctx.MultiCtx(args=" ".join(shlex.quote(arg) for arg in args or ()), suffix=suffix)
    scope = scope_of(contexts, env, multi=MULTI_ONLY)

    env_ctx: dict[str, str] = dict(base.contexts["env"])
    default_volumes = base.defaults_volumes
    default_workdir, default_life_span = base.defaults_workdir, base.defaults_life_span
    default_preset, default_timeout = base.defaults_preset, base.defaults_schedule_timeout
    spec = job
    if action is not None and job.action is not None:
        assert action.job is not None
        inputs = coerce_inputs(action, job.action.args, scope, job.action.pos, job.action.ref)
        flow = ctx.FlowCtx(flow_id=base.flow.flow_id, project_id=base.flow.project_id,
                           workspace=base.flow.workspace, title=base.flow.title, username=base.flow.username,
                           action_path=str(PurePosixPath(action.file).parent))
        action_contexts: dict[str, Any] = {"inputs": inputs, "flow": flow}
        if multi:
            action_contexts["multi"] = contexts["multi"]
        scope = Scope(action_contexts, env, {})
        spec = action.job
        env_ctx = {}
        default_volumes, default_workdir, default_life_span = [], None, None
        default_preset, default_timeout = None, None

    errors = Collector()
    fields = exec_fields(spec, scope, errors)
    detach = errors.run(lambda: eval_bool(spec.detach, scope, f"detach of job '{job_id}'"))
    browse = errors.run(lambda: eval_bool(spec.browse, scope, f"browse of job '{job_id}'"))
    volumes = finish_volumes(default_volumes, fields["volumes"], spec, errors)
    if fields["image"] is None and not errors.errors:
        errors.add(spec.image.pos if spec.image else spec.pos, f"job '{job_id}' has no image")
    errors.raise_if_any()

    tags = {*base.contexts["tags"], f"job:{id_to_tag(job_id)}", *fields["tags"]}
    if multi:
        tags.add(f"multi:{suffix}")
    return RunSpec(
        unit_id=job_id,
        image=fields["image"],
        command=fields["command"],
        entrypoint=fields["entrypoint"],
        env={**env_ctx, **fields["env"]},
        volumes=volumes,
        workdir=fields["workdir"] or default_workdir,
        preset=fields["preset"] or default_preset,
        http_port=fields["http_port"],
        http_auth=fields["http_auth"],
        life_span=fields["life_span"] or default_life_span or base.flow_life_span,
        schedule_timeout=fields["schedule_timeout"] or default_timeout,
        tags=tuple(sorted(tags)),
        restart=fields["restart"],
        name=fields["name"] or default_job_name(project.project_id, job_id, suffix if multi else None),
        title=fields["title"] or f"{base.flow.flow_id}.{job_id}",
        pass_config=fields["pass_config"],
        detach=bool(detach),
        browse=bool(browse),
        port_forward=tuple(fields["port_forward"]),
        multi=multi,
        suffix=suffix if multi else None,
        params=resolved,
    )
