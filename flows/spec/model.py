"""The parsed flow: typed, frozen dataclasses whose values are still expression templates.

Nothing here is evaluated: evaluation needs run-time facts (params, the user, needs' results) and
happens in :mod:`flows.spec.live` and :mod:`flows.spec.batch`. Every object keeps its position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from .errors import Pos
from .expr import Template


@dataclass(frozen=True)
class NameRef:
    """A name written in the YAML (a mixin in ``mixins: [a, b]``), with its position."""

    name: str
    pos: Pos


@dataclass(frozen=True)
class ListValue:
    """A list field (``volumes``, ``tags`` …): parts concatenated in order. A part is a tuple of
    item templates (a YAML list) or one template whose expression yields a whole list."""

    pos: Pos
    parts: tuple[tuple[Template, ...] | Template, ...]

    @property
    def items(self) -> tuple[Template, ...]:
        """The item templates written as a YAML list (whole-list expressions left out)."""
        return tuple(item for part in self.parts if isinstance(part, tuple) for item in part)

    def templates(self) -> list[Template]:
        return [t for part in self.parts for t in (part if isinstance(part, tuple) else (part,))]


@dataclass(frozen=True)
class MapValue:
    """A mapping field (``env`` …): parts merged in order, a later key wins. A part is a YAML
    mapping of templates or one template whose expression yields a whole mapping."""

    pos: Pos
    parts: tuple[Mapping[str, Template] | Template, ...]

    @property
    def items(self) -> dict[str, Template]:
        merged: dict[str, Template] = {}
        for part in self.parts:
            if not isinstance(part, Template):
                merged.update(part)
        return merged

    def templates(self) -> list[Template]:
        return [t for part in self.parts for t in ((part,) if isinstance(part, Template) else part.values())]


@dataclass(frozen=True)
class Param:
    """``params.<name>``: ``default`` None means the param must be given."""

    name: str
    pos: Pos
    default: Template | None
    descr: str | None


@dataclass(frozen=True)
class Volume:
    id: str
    pos: Pos
    remote: Template
    mount: Template
    local: Template | None = None
    read_only: Template | None = None


@dataclass(frozen=True)
class Image:
    id: str
    pos: Pos
    ref: Template
    context: Template | None = None
    dockerfile: Template | None = None
    build_preset: Template | None = None
    build_args: ListValue | None = None
    env: MapValue | None = None
    volumes: ListValue | None = None
    force_rebuild: Template | None = None
    extra_kaniko_args: Template | None = None


@dataclass(frozen=True)
class CacheSpec:
    """``cache: {strategy, life_span}``; ``strategy`` None means inherit."""

    pos: Pos
    strategy: Literal["none", "inherit", "default"] | None
    life_span: Template | None


@dataclass(frozen=True)
class Defaults:
    """``defaults`` of a flow or of project.yml (batch-only keys are None in live flows)."""

    pos: Pos
    env: MapValue | None = None
    life_span: Template | None = None
    preset: Template | None = None
    schedule_timeout: Template | None = None
    tags: ListValue | None = None
    volumes: ListValue | None = None
    workdir: Template | None = None
    cache: CacheSpec | None = None
    fail_fast: Template | None = None
    max_parallel: Template | None = None


@dataclass(frozen=True)
class Command:
    """What runs: ``cmd`` as written, ``bash`` → ``bash -euo pipefail -c <script>``, ``python`` →
    ``python3 -uc <script>``."""

    kind: Literal["cmd", "bash", "python"]
    template: Template


@dataclass(frozen=True)
class MatrixSpec:
    pos: Pos
    products: Mapping[str, ListValue]  # key → values
    include: tuple[tuple[Pos, Mapping[str, Template]], ...] = ()
    exclude: tuple[tuple[Pos, Mapping[str, Template]], ...] = ()


@dataclass(frozen=True)
class StrategySpec:
    pos: Pos
    matrix: MatrixSpec | None = None
    fail_fast: Template | None = None
    max_parallel: Template | None = None


@dataclass(frozen=True)
class Need:
    """One entry of ``needs``: the task id (may use ``matrix``) and the level to wait for."""

    task: Template
    level: Literal["running", "completed"]
    pos: Pos


@dataclass(frozen=True)
class ActionCall:
    """``action: ws:…`` with ``args``; ``path`` is the resolved action file (None when unresolved)."""

    ref: str
    pos: Pos
    args: Mapping[str, Template]
    path: str | None = None


#: Keys of a job or task body that mixins merge (``mixins`` itself excluded).
MERGE_FIELDS = (
    "image", "command", "entrypoint", "env", "volumes", "tags", "preset", "http_port", "http_auth",
    "browse", "detach", "life_span", "name", "title", "pass_config", "port_forward", "restart",
    "schedule_timeout", "workdir", "multi", "params", "needs", "enable", "strategy", "cache",
)


@dataclass(frozen=True)
class ExecSpec:
    """A live job, a batch task, or a mixin — one shape with every possible key.

    ``key`` is the job id, the mixin name, or for a task its ``id`` text (``task-<n>`` when it has
    none). ``specified`` lists the keys written in the YAML (``cmd``/``bash``/``python`` count as
    ``command``). Live-only keys (browse, detach, multi, port_forward, params) are None in tasks,
    batch-only keys (id, needs, enable, strategy, cache) are None in jobs. After loading, jobs and
    tasks already have their mixins applied.
    """

    key: str
    pos: Pos
    unit: Literal["job", "task", "mixin"]
    image: Template | None = None
    command: Command | None = None
    entrypoint: Template | None = None
    env: MapValue | None = None
    volumes: ListValue | None = None
    tags: ListValue | None = None
    preset: Template | None = None
    http_port: Template | None = None
    http_auth: Template | None = None
    browse: Template | None = None
    detach: Template | None = None
    life_span: Template | None = None
    name: Template | None = None
    title: Template | None = None
    pass_config: Template | None = None
    port_forward: ListValue | None = None
    restart: Template | None = None
    schedule_timeout: Template | None = None
    workdir: Template | None = None
    multi: bool | None = None
    params: Mapping[str, Param] | None = None
    mixins: tuple[NameRef, ...] = ()
    action: ActionCall | None = None
    id: Template | None = None
    needs: tuple[Need, ...] | None = None
    enable: Template | None = None
    strategy: StrategySpec | None = None
    cache: CacheSpec | None = None
    index: int = 0  # 1-based position of a task in its list
    specified: frozenset[str] = frozenset()

    @property
    def is_action_call(self) -> bool:
        return self.action is not None

    def with_fields(self, **changes: object) -> ExecSpec:
        return replace(self, **changes)  # type: ignore[arg-type]


EXEC_FIELD_NAMES = tuple(f.name for f in fields(ExecSpec))


@dataclass(frozen=True)
class Input:
    """An action input: ``default`` None means required; ``type`` one of str, int, float, bool."""

    name: str
    pos: Pos
    descr: str | None
    default: Template | None
    type: Literal["str", "int", "float", "bool"] = "str"


@dataclass(frozen=True)
class Output:
    name: str
    pos: Pos
    descr: str | None
    value: Template | None


@dataclass(frozen=True)
class ActionSpec:
    """A ``ws:`` action file: ``kind`` live (one ``job``) or batch (``tasks``)."""

    file: str
    pos: Pos
    kind: Literal["live", "batch"]
    name: str | None = None
    author: str | None = None
    descr: str | None = None
    inputs: Mapping[str, Input] = field(default_factory=dict)
    outputs: Mapping[str, Output] = field(default_factory=dict)
    job: ExecSpec | None = None
    tasks: tuple[ExecSpec, ...] = ()
    images: Mapping[str, Image] = field(default_factory=dict)
    cache: CacheSpec | None = None


@dataclass(frozen=True)
class ProjectSpec:
    """project.yml (or the defaults when there is none: ``file`` None, id from the folder name)."""

    file: str | None
    pos: Pos
    id: str
    owner: str | None = None
    project_name: str | None = None
    role: str | None = None
    defaults: Defaults | None = None
    images: Mapping[str, Image] = field(default_factory=dict)
    volumes: Mapping[str, Volume] = field(default_factory=dict)
    mixins: Mapping[str, ExecSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveFlowSpec:
    """live.yml. ``jobs`` keep YAML order and have their mixins applied."""

    file: str
    pos: Pos
    id: str | None
    title: str | None
    defaults: Defaults | None
    images: Mapping[str, Image]
    volumes: Mapping[str, Volume]
    jobs: Mapping[str, ExecSpec]
    mixins: Mapping[str, ExecSpec]
    params: Mapping[str, Param]
    life_span: Template | None
    jobs_pos: Pos

    @property
    def flow_id(self) -> str:
        return self.id or "live"


@dataclass(frozen=True)
class BatchFlowSpec:
    """A batch file; ``batch_id`` is the file name with ``-`` turned into ``_``."""

    file: str
    pos: Pos
    batch_id: str
    id: str | None
    title: str | None
    defaults: Defaults | None
    images: Mapping[str, Image]
    volumes: Mapping[str, Volume]
    tasks: tuple[ExecSpec, ...]
    mixins: Mapping[str, ExecSpec]
    params: Mapping[str, Param]
    life_span: Template | None

    @property
    def flow_id(self) -> str:
        return self.id or self.batch_id


@dataclass(frozen=True)
class FlowProject:
    """Everything read from a flow's config folder."""

    config_dir: str
    project: ProjectSpec
    live: LiveFlowSpec | None
    batches: Mapping[str, BatchFlowSpec]
    actions: Mapping[str, ActionSpec]  # by file path

    @property
    def project_id(self) -> str:
        return self.project.id
