"""Kiln's reader of apolo-flow (formerly neuro-flow) YAML — pure Python, no Django, no database.

Public API (details in docs/flows-yaml.md)::

    # Loading: never raises for bad input; every problem is a FlowError(file, line, column, message)
    load_project(files: Mapping[str, str | bytes], *, config_dir: str | None = None,
                 folder_name: str | None = None, read_file: FileReader | None = None) -> ProjectLoad
    load_project_dir(root: Path, *, config_dir: str | None = None) -> ProjectLoad
    ProjectLoad(project: FlowProject, errors: tuple[FlowError, ...], warnings: tuple[FlowError, ...],
                fetched: dict[str, str]).ok
    FlowProject(config_dir, project: ProjectSpec, live: LiveFlowSpec | None,
                batches: Mapping[str, BatchFlowSpec], actions: Mapping[str, ActionSpec])

    # Live mode
    list_live_jobs(project) -> list[LiveJobInfo(id, title, multi, params: tuple[ParamInfo], action, pos)]
    job_is_multi(project, job_id) -> bool
    live_job_tags(project, job_id, suffix=None) -> list[str]       # project:, flow:, job:, multi:
    live_volumes(project, env) -> list[VolumeCtx]                  # every volume as a live job sees it
    new_multi_suffix() -> str
    render_live_job(project, job_id, *, env: EvalEnv | None = None, params: Mapping[str, str] | None = None,
                    suffix: str | None = None, args: Sequence[str] | None = None) -> RunSpec

    # Batch mode
    list_batches(project) -> list[BatchInfo(id, title, params, file)]
    plan_batch(project, batch_id, *, env=None, params=None) -> BatchPlan   # .tasks: id -> PlannedTask
    task_enable(plan, task_id, *, results: Mapping[str, TaskResult]) -> EnableDecision(run, always)
    render_task(plan, task_id, *, results, bake_id=None) -> RunSpec
    cache_key_inputs(plan, task_id, spec, *, results) -> dict;  task_cache_key(...) -> str
    action_result(plan, call_id, *, results) -> TaskResult          # for PlannedTask.kind == "action"
    parse_set_output(line) -> (name, value) | None                   # "::set-output name=N::V"
    expand_matrix(matrix_spec, scope, what) -> list[dict]

    # Expressions
    Template.parse(text, pos).evaluate(Scope(contexts, env)) ;  evaluate_source("1 + 2", scope)
    EvalEnv(username, owner, workspace, git, upload, files, inspect_job)   # the caller's hooks
    MappingFileSource / DirectoryFileSource (for hash_files), parse_volume_ref("storage:a:/m:ro")
    parse_duration("1d2h") -> seconds

The evaluation helpers (render_*, plan_batch, task_enable, action_result) raise FlowSpecError,
whose ``errors`` are FlowErrors with positions, when the flow cannot be evaluated.
"""

from .batch import (
    BatchInfo,
    BatchPlan,
    CacheConf,
    EnableDecision,
    PlannedTask,
    TaskResult,
    action_result,
    cache_key_inputs,
    expand_matrix,
    list_batches,
    parse_set_output,
    plan_batch,
    render_task,
    task_cache_key,
    task_enable,
)
from .common import RunSpec
from .contexts import (
    ALWAYS,
    DepCtx,
    DirectoryFileSource,
    EvalEnv,
    FileSource,
    FlowCtx,
    GitCtx,
    ImageCtx,
    MappingFileSource,
    MultiCtx,
    ProjectCtx,
    StrategyCtx,
    VolumeCtx,
    hash_files,
)
from .errors import FlowError, FlowSpecError, Pos
from .expr import FUNCTIONS, Scope, Template, evaluate_source, parse_volume_ref
from .live import (
    LiveJobInfo,
    ParamInfo,
    job_is_multi,
    list_live_jobs,
    live_job_tags,
    live_volumes,
    new_multi_suffix,
    render_live_job,
)
from .loader import ProjectLoad, load_project, load_project_dir
from .model import (
    ActionCall,
    ActionSpec,
    BatchFlowSpec,
    CacheSpec,
    Command,
    Defaults,
    ExecSpec,
    FlowProject,
    Image,
    Input,
    ListValue,
    LiveFlowSpec,
    MapValue,
    MatrixSpec,
    Need,
    Output,
    Param,
    ProjectSpec,
    StrategySpec,
    Volume,
)
from .values import default_job_name, id_to_tag, parse_duration

__all__ = [
    "ALWAYS", "ActionCall", "ActionSpec", "BatchFlowSpec", "BatchInfo", "BatchPlan", "CacheConf", "CacheSpec",
    "Command", "Defaults", "DepCtx", "DirectoryFileSource", "EnableDecision", "EvalEnv", "ExecSpec",
    "FUNCTIONS", "FileSource", "FlowCtx", "FlowError", "FlowProject", "FlowSpecError", "GitCtx", "Image",
    "ImageCtx", "Input", "ListValue", "LiveFlowSpec", "LiveJobInfo", "MapValue", "MappingFileSource",
    "MatrixSpec", "MultiCtx", "Need", "Output", "Param", "ParamInfo", "PlannedTask", "Pos", "ProjectCtx",
    "ProjectLoad", "ProjectSpec", "RunSpec", "Scope", "StrategyCtx", "StrategySpec", "TaskResult", "Template",
    "Volume", "VolumeCtx", "action_result", "cache_key_inputs", "default_job_name", "evaluate_source",
    "expand_matrix", "hash_files", "id_to_tag", "job_is_multi", "list_batches", "list_live_jobs",
    "live_job_tags", "live_volumes", "load_project", "load_project_dir", "new_multi_suffix", "parse_duration",
    "parse_set_output", "parse_volume_ref", "plan_batch", "render_live_job", "render_task",
    "task_cache_key", "task_enable",
]
