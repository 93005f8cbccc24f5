"""Batch mode: the DAG of a batch flow and the evaluation of its tasks — all pure functions.

- :func:`plan_batch` expands matrices and ``ws:`` batch-action calls into task instances and
  resolves ``needs`` (default: the previous task; a list, or a map ``{task: running|completed}``).
  It is deterministic: an orchestrator that restarts re-plans from the same files and params and
  gets the same plan.
- :func:`task_enable` evaluates ``enable`` (default ``${{ success() }}``) from the needs' results.
- :func:`render_task` evaluates a task into a :class:`~flows.spec.common.RunSpec`.
- :func:`task_cache_key` hashes what decides whether a cached result can be reused.
- :func:`action_result` computes the result and outputs of a batch-action call from its tasks.

Task ids: a task's id is its ``id`` (or ``task-<n>``, n its 1-based position, as apolo-flow names
tasks without one). A matrix instance is ``<id>-<v1>-<v2>…`` with the values in the order of their
sorted keys (characters other than letters, digits, ``_`` and ``.`` become ``_``), unless ``id`` is
an expression of ``matrix`` (``id: train_${{ matrix.model }}``), which then names each instance.
Tasks of an action call are ``<call id>.<task id>``. A need naming a matrix task waits for all its
instances.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import PurePosixPath
from typing import Any, Literal

from . import contexts as ctx
from .common import (
    Collector,
    RunSpec,
    base_contexts,
    eval_bool,
    eval_duration,
    eval_int,
    eval_list,
    evaluate_defaults,
    exec_fields,
    finish_volumes,
    images_ctx,
    merge_defaults,
    project_ctx,
    resolve_params,
    scope_of,
    system_tags,
    volumes_ctx,
)
from .errors import ErrorSink, FlowError, FlowSpecError, Pos
from .expr import Scope, Template, references, to_text
from .live import ParamInfo, coerce_inputs
from .model import ActionSpec, BatchFlowSpec, CacheSpec, ExecSpec, FlowProject, MatrixSpec
from .values import DEFAULT_CACHE_LIFE_SPAN, id_to_tag, identifier_problem, to_enable, type_name

MATRIX_LIMIT = 256
_RAW_PRODUCT_LIMIT = 65536
NeedsLevel = Literal["running", "completed"]
TASK_STATUSES = ("succeeded", "failed", "cancelled", "skipped", "cached")


# --- static checks (at load time) --------------------------------------------------------------------


def dynamic_task_keys(tasks: tuple[ExecSpec, ...]) -> set[str]:
    """Keys of the tasks whose id is an expression (over ``matrix``)."""
    return {t.key for t in tasks if t.id is not None and t.id.has_expressions}


def static_needs(tasks: tuple[ExecSpec, ...], index: int, dynamic: set[str] | None = None) -> dict[str, str] | None:
    """The needs of ``tasks[index]`` by task id, or None when they depend on ``matrix``. Pass
    ``dynamic_task_keys(tasks)`` when calling it for every task (it is linear in the tasks)."""
    task = tasks[index]
    if dynamic is None:
        dynamic = dynamic_task_keys(tasks)
    if task.needs is None:
        if index == 0:
            return {}
        previous = tasks[index - 1].key
        return None if previous in dynamic else {previous: "completed"}
    result: dict[str, str] = {}
    for need in task.needs:
        if need.task.has_expressions:
            return None
        result[str(need.task.value)] = need.level
    return result


def check_task_graph(tasks: tuple[ExecSpec, ...], sink: ErrorSink) -> None:
    """Duplicate ids, needs of unknown tasks and cycles, found before anything is evaluated."""
    seen: dict[str, Pos] = {}
    duplicated = False
    for task in tasks:
        if task.id is None or task.id.has_expressions:
            continue
        if task.key in seen:
            sink.add(task.id.pos, f"duplicate task id '{task.key}' (first at line {seen[task.key].line})")
            duplicated = True
        else:
            seen[task.key] = task.id.pos
    keys = [task.key for task in tasks]
    loose = any((t.id is not None and t.id.has_expressions) or (t.strategy is not None and t.strategy.matrix)
                for t in tasks)
    edges: dict[str, list[tuple[str, Pos]]] = {key: [] for key in keys}
    for index, task in enumerate(tasks):
        if task.needs is None:
            if index > 0:
                edges[task.key].append((tasks[index - 1].key, task.pos))
            continue
        for need in task.needs:
            if need.task.has_expressions:
                continue
            need_id = str(need.task.value)
            if need_id not in edges:
                if not loose:
                    sink.add(need.pos, f"task '{task.key}' needs unknown task '{need_id}' "
                                       f"(tasks: {', '.join(keys) or 'none'})")
                continue
            edges[task.key].append((need_id, need.pos))
    if not duplicated:
        _report_cycles(edges, sink)


def _report_cycles(edges: Mapping[str, list[tuple[str, Pos]]], sink: ErrorSink | Collector) -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target, pos in edges.get(node, []):
            if state.get(target) == 1:
                cycle = " → ".join([*stack[stack.index(target):], target])
                sink.add(pos, f"needs form a cycle: {cycle}")
            elif target not in state and target in edges:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node)


# --- plan ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskResult:
    """What happened to a task: ``status`` one of succeeded, failed, cancelled, skipped, cached."""

    status: str
    outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CacheConf:
    strategy: Literal["none", "default"] = "default"
    life_span: float = DEFAULT_CACHE_LIFE_SPAN


@dataclass(frozen=True)
class PlannedTask:
    """One node of the bake's DAG.

    ``kind`` is ``task`` (run it as a job) or ``action`` (a batch-action call: not run; once its
    needs — the action's own tasks — are finished, :func:`action_result` gives its result).
    ``needs`` are the DAG edges (task id → running|completed); ``parent`` is the action call a task
    belongs to.
    """

    id: str
    base_id: str
    index: int
    kind: Literal["task", "action"]
    matrix: Mapping[str, Any]
    needs: Mapping[str, str]
    fail_fast: bool
    max_parallel: int | None
    cache: CacheConf
    pos: Pos
    parent: str | None = None
    action_ref: str | None = None
    spec: ExecSpec = field(repr=False, default=None)  # type: ignore[assignment]
    needs_ctx: Mapping[str, str] = field(repr=False, default_factory=dict)  # name in `needs` → task id
    entry: bool = False  # first tasks of an action call (the call's enable applies to them)
    frame: str = ""


@dataclass(frozen=True)
class _Frame:
    key: str
    prefix: str
    action: ActionSpec | None
    call_id: str | None


@dataclass(frozen=True)
class BatchPlan:
    """The expanded bake: tasks in an order where every task comes after its needs."""

    batch_id: str
    flow_id: str
    project_id: str
    title: str
    params: Mapping[str, str]
    life_span: float | None
    fail_fast: bool
    max_parallel: int | None
    cache: CacheConf
    tasks: Mapping[str, PlannedTask]
    env: ctx.EvalEnv = field(repr=False, default_factory=ctx.EvalEnv)
    contexts: Mapping[str, Any] = field(repr=False, default_factory=dict)
    defaults: Any = field(repr=False, default=None)
    frames: Mapping[str, _Frame] = field(repr=False, default_factory=dict)
    file: str = ""

    def graph(self) -> dict[str, dict[str, str]]:
        return {task_id: dict(task.needs) for task_id, task in self.tasks.items()}


@dataclass(frozen=True)
class BatchInfo:
    id: str
    title: str | None
    params: tuple[ParamInfo, ...]
    file: str


def list_batches(project: FlowProject) -> list[BatchInfo]:
    return [
        BatchInfo(id=batch_id, title=batch.title, file=batch.file,
                  params=tuple(ParamInfo(p.name, p.default.text if p.default else None, p.descr, p.default is None)
                               for p in batch.params.values()))
        for batch_id, batch in sorted(project.batches.items())
    ]


def _batch(project: FlowProject, batch_id: str) -> BatchFlowSpec:
    batch = project.batches.get(batch_id)
    if batch is None:
        known = ", ".join(sorted(project.batches)) or "none"
        raise FlowSpecError.at(Pos(f"{project.config_dir}/{batch_id}.yml", 1, 1),
                               f"unknown batch '{batch_id}' (batches: {known})")
    return batch


def _cache(base: CacheConf, spec: CacheSpec | None, scope: Scope, errors: Collector) -> CacheConf:
    if spec is None:
        return base
    strategy = spec.strategy or "inherit"
    resolved: Literal["none", "default"] = base.strategy if strategy == "inherit" else strategy
    life_span = errors.run(lambda: eval_duration(spec.life_span, scope, "cache.life_span"))
    return CacheConf(resolved, base.life_span if life_span is None else min(base.life_span, life_span))


def _primitive(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"matrix values must be strings, numbers or booleans, got {type_name(value)}")


def expand_matrix(spec: MatrixSpec | None, scope: Scope, what: str) -> list[dict[str, Any]]:
    """Every combination (``ORDINAL`` added), after ``exclude`` and ``include``; at most 256."""
    if spec is None:
        return [{"ORDINAL": 0}]
    errors = Collector()
    products: dict[str, list[Any]] = {}
    for key, values in spec.products.items():
        evaluated = errors.call(eval_list, values, scope, f"matrix '{key}'", _primitive)
        if evaluated is None:
            continue
        if not evaluated:
            errors.add(values.pos, f"matrix key '{key}' of {what} has no values")
            continue
        products[key] = evaluated
    errors.raise_if_any()
    raw = 1
    for choices in products.values():
        raw *= len(choices)
    if raw > _RAW_PRODUCT_LIMIT:
        raise FlowSpecError.at(spec.pos, f"the matrix of {what} has {raw} combinations; the limit is {MATRIX_LIMIT}")
    keys = list(products)
    combos = [dict(zip(keys, row, strict=True)) for row in itertools.product(*products.values())] if keys else []

    def entries(kind: str, items: tuple[tuple[Pos, Mapping[str, Template]], ...]) -> list[tuple[Pos, dict[str, Any]]]:
        result = []
        for pos, combo in items:
            values: dict[str, Any] = {}
            for key, template in combo.items():
                values[key] = errors.call(template.evaluate, scope)
            unknown = sorted(set(values) - set(keys))
            if kind == "exclude" and unknown:
                errors.add(pos, f"exclude entry of {what} uses key(s) {', '.join(unknown)} that are not matrix keys "
                                f"(keys: {', '.join(keys) or 'none'})")
                continue
            if kind == "include" and set(values) != set(keys):
                missing = sorted(set(keys) - set(values))
                parts = []
                if unknown:
                    parts.append(f"additional keys: {', '.join(unknown)}")
                if missing:
                    parts.append(f"missing keys: {', '.join(missing)}")
                errors.add(pos, f"include entry of {what} must have the same keys as the matrix ({'; '.join(parts)})")
                continue
            result.append((pos, values))
        return result

    excluded = entries("exclude", spec.exclude)
    included = entries("include", spec.include)
    errors.raise_if_any()
    combos = [combo for combo in combos
              if not any(all(combo.get(k) == v for k, v in rule.items()) for _, rule in excluded)]
    combos.extend(values for _, values in included)
    if len(combos) > MATRIX_LIMIT:
        raise FlowSpecError.at(spec.pos, f"the matrix of {what} has {len(combos)} combinations; "
                                         f"the limit is {MATRIX_LIMIT}")
    if not combos:
        raise FlowSpecError.at(spec.pos, f"the matrix of {what} has no combinations left")
    return [{**combo, "ORDINAL": ordinal} for ordinal, combo in enumerate(combos)]


_ID_BAD = re.compile(r"[^A-Za-z0-9_.]+")


def matrix_suffix(matrix: Mapping[str, Any]) -> str:
    keys = sorted(key for key in matrix if key == key.lower())
    return "-".join(_ID_BAD.sub("_", to_text(matrix[key])) for key in keys)


@dataclass
class _Instance:
    spec: ExecSpec
    local_id: str
    base: str
    matrix: dict[str, Any]
    needs_raw: list[tuple[str, str, Pos]] | None  # None: the previous task
    fail_fast: bool
    max_parallel: int | None
    cache: CacheConf


class _Planner:
    def __init__(self, project: FlowProject, batch: BatchFlowSpec, env: ctx.EvalEnv,
                 contexts: dict[str, Any], errors: Collector) -> None:
        self.project = project
        self.batch = batch
        self.env = env
        self.contexts = contexts
        self.errors = errors
        self.tasks: dict[str, PlannedTask] = {}
        self.frames: dict[str, _Frame] = {"": _Frame("", "", None, None)}

    def structural_scope(self, frame: _Frame, call: PlannedTask | None, strategy: ctx.StrategyCtx) -> Scope:
        if frame.action is None:
            return scope_of({**self.contexts, "strategy": strategy}, self.env)
        assert call is not None and call.spec.action is not None
        inputs: dict[str, Any] = {}
        if _uses_inputs_structurally(frame.action):
            call_scope = scope_of({**self.contexts, "matrix": dict(call.matrix),
                                   "strategy": ctx.StrategyCtx(call.fail_fast, call.max_parallel)}, self.env,
                                  needs="action args read by the action's matrix, ids or needs cannot use 'needs'")
            inputs = coerce_inputs(frame.action, call.spec.action.args, call_scope, call.spec.action.pos,
                                   call.spec.action.ref)
        flow = _action_flow(self.contexts["flow"], frame.action)
        contexts: dict[str, Any] = {"inputs": inputs, "flow": flow, "strategy": strategy}
        if "git" in self.contexts:
            contexts["git"] = self.contexts["git"]
        return scope_of(contexts, self.env)

    def expand(self, frame: _Frame, tasks: tuple[ExecSpec, ...], strategy: ctx.StrategyCtx, cache: CacheConf,
               entry_needs: dict[str, str], call: PlannedTask | None) -> list[str]:
        """Plan the tasks of one frame; returns the global ids planned (calls' tasks included)."""
        scope = self.structural_scope(frame, call, strategy)
        instances: list[list[_Instance]] = []
        for task in tasks:
            what = f"task '{task.key}'" if not task.key.startswith("task-") else f"task #{task.index}"
            group: list[_Instance] = []
            task_strategy = strategy
            if task.strategy is not None:
                fail_fast = self.errors.call(eval_bool, task.strategy.fail_fast, scope, "strategy.fail_fast")
                max_parallel = self.errors.call(eval_int, task.strategy.max_parallel, scope, "strategy.max_parallel")
                task_strategy = ctx.StrategyCtx(strategy.fail_fast if fail_fast is None else fail_fast,
                                                strategy.max_parallel if max_parallel is None else max_parallel)
            task_scope = Scope({**scope.contexts, "strategy": task_strategy}, self.env, scope.unavailable)
            matrix_spec = task.strategy.matrix if task.strategy is not None else None
            matrices = self.errors.run(partial(expand_matrix, matrix_spec, task_scope, what), [])
            for matrix in matrices:
                only_matrix = Scope({"matrix": matrix}, self.env)
                local_id = task.key
                if task.id is not None and task.id.has_expressions:
                    value = self.errors.call(task.id.evaluate, only_matrix)
                    if value is None:
                        continue
                    local_id = to_text(value)
                    problem = identifier_problem(local_id)
                    if problem:
                        self.errors.add(task.id.pos, f"invalid task id: {problem}")
                        continue
                elif matrix_spec is not None:
                    suffix = matrix_suffix(matrix)
                    local_id = f"{task.key}-{suffix}" if suffix else task.key
                needs_raw: list[tuple[str, str, Pos]] | None = None
                if task.needs is not None:
                    needs_raw = []
                    for need in task.needs:
                        value = self.errors.call(need.task.evaluate, only_matrix)
                        if value is not None:
                            needs_raw.append((to_text(value), need.level, need.pos))
                cache_conf = _cache(cache, task.cache, Scope({**task_scope.contexts, "matrix": matrix}, self.env,
                                                             task_scope.unavailable), self.errors)
                group.append(_Instance(task, local_id, task.key, matrix, needs_raw, task_strategy.fail_fast,
                                       task_strategy.max_parallel, cache_conf))
            instances.append(group)

        by_local: dict[str, _Instance] = {}
        by_base: dict[str, list[str]] = {}
        for group in instances:
            for instance in group:
                if instance.local_id in by_local:
                    self.errors.add(instance.spec.pos, f"two tasks get the id '{instance.local_id}'")
                    continue
                by_local[instance.local_id] = instance
                by_base.setdefault(instance.base, []).append(instance.local_id)

        planned: list[str] = []
        previous: list[str] = []
        for group in instances:
            group_ids: list[str] = []
            for instance in group:
                if by_local.get(instance.local_id) is not instance:
                    continue
                local_needs: dict[str, str] = {}
                if instance.needs_raw is None:
                    local_needs = {prev: "completed" for prev in previous}
                else:
                    for need_id, level, pos in instance.needs_raw:
                        targets = [need_id] if need_id in by_local else by_base.get(need_id)
                        if not targets:
                            known = ", ".join(by_base) or "none"
                            self.errors.add(pos, f"task '{instance.local_id}' needs unknown task '{need_id}' "
                                                 f"(tasks: {known})")
                            continue
                        for target in targets:
                            local_needs[target] = level
                global_id = frame.prefix + instance.local_id
                dag_needs = {frame.prefix + local: level for local, level in local_needs.items()}
                entry = frame.action is not None and not dag_needs
                if entry:
                    dag_needs = dict(entry_needs)
                needs_ctx = {local: frame.prefix + local for local, level in local_needs.items()
                             if level == "completed"}
                spec = instance.spec
                planned_task = PlannedTask(
                    id=global_id, base_id=frame.prefix + instance.base, index=spec.index,
                    kind="action" if spec.action is not None else "task", matrix=instance.matrix,
                    needs=dag_needs, fail_fast=instance.fail_fast, max_parallel=instance.max_parallel,
                    cache=instance.cache, pos=spec.pos, parent=frame.call_id,
                    action_ref=spec.action.ref if spec.action else None, spec=spec, needs_ctx=needs_ctx,
                    entry=entry, frame=frame.key,
                )
                if spec.action is not None:
                    planned.extend(self.expand_call(planned_task))
                else:
                    self.tasks[global_id] = planned_task
                planned.append(global_id)
                group_ids.append(instance.local_id)
            if group_ids or group:
                previous = group_ids
        return planned

    def expand_call(self, call: PlannedTask) -> list[str]:
        assert call.spec.action is not None
        action = self.project.actions.get(call.spec.action.path or "")
        if action is None or action.kind != "batch":
            self.errors.add(call.spec.action.pos,
                            f"action '{call.spec.action.ref}' could not be loaded as a batch action")
            self.tasks[call.id] = call
            return []
        frame = _Frame(call.id, call.id + ".", action, call.id)
        self.frames[call.id] = frame
        self.tasks[call.id] = call  # visible while its tasks are planned
        strategy = ctx.StrategyCtx(call.fail_fast, call.max_parallel)
        scope = self.errors.run(lambda: self.structural_scope(frame, call, strategy))
        cache = call.cache
        if scope is not None:
            cache = _cache(call.cache, action.cache, scope, self.errors)
        inner: list[str] = self.errors.run(
            partial(self.expand, frame, action.tasks, strategy, cache, dict(call.needs), call), [])
        del self.tasks[call.id]
        own = {task_id: "completed" for task_id in inner
               if task_id in self.tasks and self.tasks[task_id].frame == call.id}
        self.tasks[call.id] = replace(call, needs=own)
        return inner


def _uses_inputs_structurally(action: ActionSpec) -> bool:
    templates: list[Template] = []
    for task in action.tasks:
        if task.id is not None:
            templates.append(task.id)
        templates.extend(need.task for need in task.needs or ())
        if task.strategy is not None:
            templates.extend(t for t in (task.strategy.fail_fast, task.strategy.max_parallel) if t is not None)
            if task.strategy.matrix is not None:
                for values in task.strategy.matrix.products.values():
                    templates.extend(values.templates())
                for _, combo in (*task.strategy.matrix.include, *task.strategy.matrix.exclude):
                    templates.extend(combo.values())
        if task.cache is not None and task.cache.life_span is not None:
            templates.append(task.cache.life_span)
    if action.cache is not None and action.cache.life_span is not None:
        templates.append(action.cache.life_span)
    return any(ref.root == "inputs" for template in templates for expr, _ in template.expressions()
               for ref in references(expr))


def _action_flow(flow: ctx.FlowCtx, action: ActionSpec) -> ctx.FlowCtx:
    return ctx.FlowCtx(flow_id=flow.flow_id, project_id=flow.project_id, workspace=flow.workspace,
                       title=flow.title, username=flow.username, life_span=flow.life_span,
                       action_path=str(PurePosixPath(action.file).parent))


def plan_batch(project: FlowProject, batch_id: str, *, env: ctx.EvalEnv | None = None,
               params: Mapping[str, str] | None = None) -> BatchPlan:
    """Expand batch ``batch_id`` into its DAG. Raises :class:`FlowSpecError` with every problem."""
    env = env or ctx.EvalEnv()
    batch = _batch(project, batch_id)
    errors = Collector()
    flow_id = batch.flow_id
    life_span = errors.run(lambda: eval_duration(batch.life_span, Scope({}, env), "life_span"))
    flow = ctx.FlowCtx(flow_id=flow_id, project_id=project.project_id, workspace=env.workspace,
                       title=batch.title or flow_id, username=env.username, life_span=life_span)
    contexts = base_contexts(project_ctx(project.project, env), flow, env)
    resolved_params = resolve_params(batch.params, dict(params or {}), Scope({}, env), batch.pos, f"batch '{batch_id}'")
    contexts["params"] = resolved_params
    early = scope_of(contexts, env)
    defaults_spec = merge_defaults(batch.defaults, project.project.defaults)
    defaults = evaluate_defaults(defaults_spec, early, errors)
    volumes = volumes_ctx([project.project.volumes, batch.volumes], early)
    images = images_ctx([project.project.images, batch.images], early)
    tags = sorted({*defaults.tags, *system_tags(project.project_id, flow_id)})
    contexts.update(env=dict(defaults.env), tags=tags, volumes=volumes, images=images)
    step2 = scope_of(contexts, env)
    fail_fast = errors.run(lambda: eval_bool(defaults_spec.fail_fast if defaults_spec else None, step2,
                                             "defaults.fail_fast"))
    max_parallel = errors.run(lambda: eval_int(defaults_spec.max_parallel if defaults_spec else None, step2,
                                               "defaults.max_parallel"))
    strategy = ctx.StrategyCtx(True if fail_fast is None else fail_fast, max_parallel)
    project_defaults = project.project.defaults
    cache = _cache(CacheConf(), project_defaults.cache if project_defaults else None, step2, errors)
    cache = _cache(cache, batch.defaults.cache if batch.defaults else None, step2, errors)
    errors.raise_if_any()

    planner = _Planner(project, batch, env, contexts, errors)
    planner.expand(planner.frames[""], batch.tasks, strategy, cache, {}, None)
    ordered = _topological(planner.tasks, errors)
    errors.raise_if_any()
    return BatchPlan(
        batch_id=batch_id, flow_id=flow_id, project_id=project.project_id, title=flow.title,
        params=resolved_params, life_span=life_span, fail_fast=strategy.fail_fast,
        max_parallel=strategy.max_parallel, cache=cache, tasks=ordered, env=env, contexts=contexts,
        defaults=defaults, frames=planner.frames, file=batch.file,
    )


def _topological(tasks: dict[str, PlannedTask], errors: Collector) -> dict[str, PlannedTask]:
    edges = {task_id: [(need, task.pos) for need in task.needs] for task_id, task in tasks.items()}
    for task_id, task in tasks.items():
        for need in task.needs:
            if need not in tasks:
                errors.add(task.pos, f"task '{task_id}' needs unknown task '{need}'")
    before = len(errors.errors)
    _report_cycles(edges, errors)
    if len(errors.errors) > before:
        return tasks
    ordered: dict[str, PlannedTask] = {}

    def place(task_id: str) -> None:
        if task_id in ordered or task_id not in tasks:
            return
        for need in tasks[task_id].needs:
            place(need)
        ordered[task_id] = tasks[task_id]

    for task_id in tasks:
        place(task_id)
    return ordered


# --- evaluation of one task ------------------------------------------------------------------------------


def _dep_ctx(result: TaskResult) -> ctx.DepCtx:
    status = "succeeded" if result.status == "cached" else result.status
    return ctx.DepCtx(result=status, outputs=dict(result.outputs))


def _needs_context(task: PlannedTask, results: Mapping[str, TaskResult]) -> dict[str, ctx.DepCtx]:
    missing = [global_id for global_id in task.needs_ctx.values() if global_id not in results]
    if missing:
        raise FlowSpecError.at(task.pos, f"results of needed task(s) {', '.join(missing)} are missing "
                                         f"for task '{task.id}'")
    return {local: _dep_ctx(results[global_id]) for local, global_id in task.needs_ctx.items()}


def _task(plan: BatchPlan, task_id: str) -> PlannedTask:
    task = plan.tasks.get(task_id)
    if task is None:
        raise FlowSpecError.at(Pos(plan.file, 1, 1), f"unknown task '{task_id}' in batch '{plan.batch_id}'")
    return task


def _frame_contexts(plan: BatchPlan, frame_key: str, results: Mapping[str, TaskResult]) -> tuple[dict[str, Any], bool]:
    """The contexts of a frame's tasks (before matrix/strategy/needs); True when it is the batch itself."""
    frame = plan.frames[frame_key]
    if frame.action is None:
        return dict(plan.contexts), True
    assert frame.call_id is not None
    call = plan.tasks[frame.call_id]
    assert call.spec.action is not None
    call_scope = _scope(plan, call, results)
    inputs = coerce_inputs(frame.action, call.spec.action.args, call_scope, call.spec.action.pos,
                           call.spec.action.ref)
    flow = _action_flow(plan.contexts["flow"], frame.action)
    contexts: dict[str, Any] = {"inputs": inputs, "flow": flow,
                                "strategy": ctx.StrategyCtx(call.fail_fast, call.max_parallel)}
    if "git" in plan.contexts:
        contexts["git"] = plan.contexts["git"]
    contexts["images"] = images_ctx([frame.action.images], scope_of(contexts, plan.env))
    return contexts, False


def _scope(plan: BatchPlan, task: PlannedTask, results: Mapping[str, TaskResult]) -> Scope:
    contexts, _ = _frame_contexts(plan, task.frame, results)
    contexts.update(strategy=ctx.StrategyCtx(task.fail_fast, task.max_parallel), matrix=dict(task.matrix),
                    needs=_needs_context(task, results))
    return scope_of(contexts, plan.env)


@dataclass(frozen=True)
class EnableDecision:
    """``run``: start the task; ``always``: ``always()`` — run it even if the bake is failing."""

    run: bool
    always: bool = False


_DEFAULT_ENABLE = "${{ success() }}"


def task_enable(plan: BatchPlan, task_id: str, *, results: Mapping[str, TaskResult]) -> EnableDecision:
    """Evaluate ``enable`` once the task's needs are finished (``results`` by task id; the
    results of other tasks may be there too). The first tasks of an action call also need the
    call's ``enable``."""
    task = _task(plan, task_id)
    if task.entry and task.parent is not None:
        parent = plan.tasks[task.parent]
        decision = task_enable(plan, parent.id, results=results)
        if not decision.run:
            return decision
    template = task.spec.enable or Template.parse(_DEFAULT_ENABLE, task.pos)
    value = template.evaluate(_scope(plan, task, results))
    enabled = to_enable(value)
    if isinstance(enabled, ctx.Always):
        return EnableDecision(True, True)
    return EnableDecision(bool(enabled))


def render_task(plan: BatchPlan, task_id: str, *, results: Mapping[str, TaskResult],
                bake_id: str | None = None) -> RunSpec:
    """The concrete job of task ``task_id`` (its needs' ``results`` are required)."""
    task = _task(plan, task_id)
    if task.kind == "action":
        raise FlowSpecError.at(task.pos, f"task '{task_id}' is an action call: it runs no job itself "
                                         "(see action_result)")
    contexts, is_root = _frame_contexts(plan, task.frame, results)
    contexts.update(strategy=ctx.StrategyCtx(task.fail_fast, task.max_parallel), matrix=dict(task.matrix),
                    needs=_needs_context(task, results))
    scope = scope_of(contexts, plan.env)
    spec = task.spec
    errors = Collector()
    fields = exec_fields(spec, scope, errors)
    defaults = plan.defaults if is_root else None
    volumes = finish_volumes(list(defaults.volumes) if defaults else [], fields["volumes"], spec, errors)
    if fields["image"] is None and not errors.errors:
        errors.add(spec.image.pos if spec.image else spec.pos, f"task '{task_id}' has no image")
    errors.raise_if_any()
    tags = {*plan.contexts["tags"], f"task:{id_to_tag(task_id)}", *fields["tags"]}
    if bake_id:
        tags.add(f"bake_id:{bake_id}")
    env = {**(contexts.get("env", {}) if is_root else {}), **fields["env"]}
    return RunSpec(
        unit_id=task_id,
        image=fields["image"],
        command=fields["command"],
        entrypoint=fields["entrypoint"],
        env=env,
        volumes=volumes,
        workdir=fields["workdir"] or (defaults.workdir if defaults else None),
        preset=fields["preset"] or (defaults.preset if defaults else None),
        http_port=fields["http_port"],
        http_auth=fields["http_auth"],
        life_span=fields["life_span"] or (defaults.life_span if defaults else None),
        schedule_timeout=fields["schedule_timeout"] or (defaults.schedule_timeout if defaults else None),
        tags=tuple(sorted(tags)),
        restart=fields["restart"],
        name=fields["name"],
        title=fields["title"],
        pass_config=fields["pass_config"],
    )


def cache_key_inputs(plan: BatchPlan, task_id: str, spec: RunSpec, *,
                     results: Mapping[str, TaskResult]) -> dict[str, Any]:
    """What the cache key hashes: the rendered spec (without bake-specific tags), the matrix and
    the needs' results and outputs."""
    task = _task(plan, task_id)
    body = spec.to_dict()
    body["tags"] = [tag for tag in spec.tags if not tag.startswith("bake_id:")]
    needs = {local: {"result": dep.result, "outputs": dict(sorted(dep.outputs.items()))}
             for local, dep in sorted(_needs_context(task, results).items())}
    return {"project": plan.project_id, "flow": plan.flow_id, "task": task_id, "spec": body,
            "matrix": {key: value for key, value in task.matrix.items()}, "needs": needs}


def task_cache_key(plan: BatchPlan, task_id: str, spec: RunSpec, *, results: Mapping[str, TaskResult]) -> str:
    """SHA-256 of :func:`cache_key_inputs`; equal keys (within ``cache.life_span``) may reuse outputs."""
    data = json.dumps(cache_key_inputs(plan, task_id, spec, results=results), sort_keys=True, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def action_result(plan: BatchPlan, call_id: str, *, results: Mapping[str, TaskResult]) -> TaskResult:
    """The result of a batch-action call once its tasks are finished: failed if one failed, else
    cancelled if one was cancelled, skipped if all were skipped, else succeeded with the action's
    ``outputs`` evaluated."""
    call = _task(plan, call_id)
    if call.kind != "action":
        raise FlowSpecError.at(call.pos, f"task '{call_id}' is not an action call")
    inner = [task for task in plan.tasks.values() if task.frame == call_id]
    missing = [task.id for task in inner if task.id not in results]
    if missing:
        raise FlowSpecError.at(call.pos, f"results of task(s) {', '.join(missing)} are missing for action call "
                                         f"'{call_id}'")
    statuses = [results[task.id].status for task in inner]
    if "failed" in statuses:
        return TaskResult("failed")
    if "cancelled" in statuses:
        return TaskResult("cancelled")
    if inner and all(status == "skipped" for status in statuses):
        return TaskResult("skipped")
    frame = plan.frames[call_id]
    assert frame.action is not None
    contexts, _ = _frame_contexts(plan, call_id, results)
    prefix = frame.prefix
    contexts["needs"] = {task.id[len(prefix):]: _dep_ctx(results[task.id]) for task in inner}
    scope = scope_of(contexts, plan.env)
    errors = Collector()
    outputs: dict[str, str] = {}
    for name, output in frame.action.outputs.items():
        value = errors.call(output.value.evaluate, scope) if output.value is not None else None
        if value is not None:
            outputs[name] = to_text(value)
    errors.raise_if_any()
    return TaskResult("succeeded", outputs)


_SET_OUTPUT = re.compile(r"^::set-output name=([A-Za-z_][A-Za-z0-9_\-]*)::(.*)$")


def parse_set_output(line: str) -> tuple[str, str] | None:
    """``::set-output name=N::V`` → (N, V); anything else → None."""
    match = _SET_OUTPUT.match(line.rstrip("\r\n"))
    if match is None:
        return None
    return match.group(1), match.group(2)


__all__ = [
    "BatchInfo", "BatchPlan", "CacheConf", "EnableDecision", "FlowError", "PlannedTask", "TaskResult",
    "action_result", "cache_key_inputs", "check_task_graph", "expand_matrix", "list_batches",
    "parse_set_output", "plan_batch", "render_task", "static_needs", "task_cache_key", "task_enable",
]
