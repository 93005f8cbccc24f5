"""``load_project``: read a flow's config folder (given as a mapping of paths to text) into a
:class:`~flows.spec.model.FlowProject`, collecting every error with its position."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from .errors import ErrorSink, FlowError, Pos
from .mixins import apply_mixins, resolve_mixins
from .model import (
    ActionCall,
    ActionSpec,
    BatchFlowSpec,
    ExecSpec,
    FlowProject,
    LiveFlowSpec,
    ProjectSpec,
)
from .schema import read_action, read_batch, read_live, read_project
from .validate import (
    ANY,
    FLOW_ATTRS,
    GIT_ATTRS,
    IMAGE_ATTRS,
    MULTI_ATTRS,
    NEEDS_ATTRS,
    NOTHING,
    PROJECT_ATTRS,
    STRATEGY_ATTRS,
    VOLUME_ATTRS,
    Allowed,
    Checker,
    Known,
    ids,
)
from .values import identifier_problem
from .yamlnodes import Map, Node, Scalar, Seq, parse_yaml

CONFIG_DIRS = (".apolo", ".neuro")
YAML_SUFFIXES = (".yml", ".yaml")
ACTION_ONLY_KEYS = ("inputs", "outputs", "author", "descr", "name", "job")


@dataclass(frozen=True)
class ProjectLoad:
    """What :func:`load_project` returns: the project (possibly partial) and every problem.

    ``errors`` are sorted by file, line and column; ``warnings`` are notices (deprecated keys …)
    that do not make the project invalid.
    """

    project: FlowProject
    errors: tuple[FlowError, ...]
    warnings: tuple[FlowError, ...] = ()
    # ``ws:`` action files outside the config folder that ``read_file`` gave: a snapshot of the
    # flow (a bake's attempt) must keep them beside the config files.
    fetched: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _normalise(path: str) -> str | None:
    text = path.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        return None
    return pure.as_posix()


def choose_config_dir(paths: list[str]) -> str:
    """``.apolo`` when the flow has one, otherwise ``.neuro`` (apolo-flow's order)."""
    for name in CONFIG_DIRS:
        if any(path.startswith(name + "/") for path in paths):
            return name
    return CONFIG_DIRS[1]


FileReader = Callable[[str], str | bytes | None]


class _Loader:
    def __init__(self, texts: dict[str, str], config_dir: str, folder_name: str | None, sink: ErrorSink,
                 read_file: FileReader | None = None) -> None:
        self.texts = texts
        self.config_dir = config_dir
        self.folder_name = folder_name
        self.sink = sink
        self.read_file = read_file
        self.fetched: dict[str, str] = {}
        self.looked_for: set[str] = set()
        self.nodes: dict[str, Node | None] = {}
        self.actions: dict[str, ActionSpec | None] = {}

    # -- files -----------------------------------------------------------------------------------

    def node(self, path: str) -> Node | None:
        if path not in self.nodes:
            self.nodes[path] = parse_yaml(path, self.texts[path], self.sink)
        return self.nodes[path]

    def has_file(self, path: str) -> bool:
        """Whether ``path`` is one of the flow's files: given, or (outside the config folder, whose
        files are all given) read on demand through ``read_file`` — a ``ws:`` action may live
        anywhere in the flow folder, which is not read whole."""
        if path in self.texts:
            return True
        if self.read_file is None or path.startswith(self.config_dir + "/") or path in self.looked_for:
            return False
        self.looked_for.add(path)
        content = self.read_file(path)
        if content is None:
            return False
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.sink.add(Pos(path, 1, 1), f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
                return False
        self.texts[path] = self.fetched[path] = content.lstrip("\ufeff")
        return True

    def config_file(self, stem: str) -> str | None:
        found = [f"{self.config_dir}/{stem}{suffix}" for suffix in YAML_SUFFIXES
                 if f"{self.config_dir}/{stem}{suffix}" in self.texts]
        for extra in found[1:]:
            self.sink.add(Pos(extra, 1, 1), f"both {found[0]} and {extra} exist; keep only one")
        return found[0] if found else None

    def config_yaml_files(self) -> list[str]:
        prefix = self.config_dir + "/"
        return sorted(path for path in self.texts
                      if path.startswith(prefix) and "/" not in path[len(prefix):]
                      and path.endswith(YAML_SUFFIXES))

    def report_empty(self, path: str, what: str) -> None:
        """A file that gave no YAML node: empty (or comments only) unless it had a syntax error."""
        if not any(error.file == path for error in self.sink.errors):
            self.sink.add(Pos(path, 1, 1), f"the {what} file is empty")

    # -- actions ---------------------------------------------------------------------------------

    def resolve_ref(self, call: ActionCall) -> str | None:
        """The path of a ``ws:`` action, trying ``<spec>``, ``<spec>.yml``, ``<spec>.yaml`` in the
        flow folder, then in the config folder (``ws:name`` → ``<config>/name.yml``)."""
        scheme, sep, spec = call.ref.partition(":")
        if not sep:
            self.sink.add(call.pos, f"action '{call.ref}' has no scheme: use 'ws:path/to/action.yml'")
            return None
        if scheme in ("gh", "github"):
            self.sink.add(call.pos, f"action '{call.ref}' cannot be fetched offline: GitHub actions (gh:) are "
                                    "not supported; copy the action file into the flow folder and use 'ws:'")
            return None
        if scheme not in ("ws", "workspace"):
            self.sink.add(call.pos, f"unsupported action scheme '{scheme}:' in '{call.ref}' (use ws:)")
            return None
        base = _normalise(spec)
        if base is None:
            self.sink.add(call.pos, f"action path '{spec}' must be relative to the flow folder")
            return None
        candidates: list[str] = []
        for folder in ("", self.config_dir + "/"):
            for suffix in ("",) + YAML_SUFFIXES:
                candidates.append(f"{folder}{base}{suffix}")
        for candidate in candidates:
            if self.has_file(candidate):
                return candidate
        self.sink.add(call.pos, f"action file for '{call.ref}' not found (looked for {', '.join(candidates)})")
        return None

    def action(self, path: str, stack: tuple[str, ...] = ()) -> ActionSpec | None:
        if path in self.actions:
            return self.actions[path]
        self.actions[path] = None  # guards against recursion while reading
        root = self.node(path)
        if root is None:
            self.report_empty(path, "action")
            return None
        spec = read_action(path, root, self.sink)
        if spec is not None and spec.kind == "batch":
            tasks = tuple(self.link_call(task, "batch", (*stack, path)) for task in spec.tasks)
            tasks = tuple(apply_mixins(task, {}, self.sink) for task in tasks)
            spec = replace(spec, tasks=tasks)
        self.actions[path] = spec
        return spec

    def link_call(self, spec: ExecSpec, kind: str, stack: tuple[str, ...] = ()) -> ExecSpec:
        """Resolve ``spec.action`` to a file, read it, and check the call's args against its inputs."""
        call = spec.action
        if call is None:
            return spec
        path = self.resolve_ref(call)
        if path is None:
            return spec
        if path in stack:
            self.sink.add(call.pos, f"action '{call.ref}' calls itself (through {' → '.join((*stack, path))})")
            return spec
        action = self.action(path, stack)
        if action is None:
            return replace(spec, action=replace(call, path=path))
        if action.kind != kind:
            self.sink.add(call.pos, f"action '{call.ref}' is a {action.kind} action; "
                                    f"a {'live job' if kind == 'live' else 'batch task'} needs a {kind} action")
        for name, template in call.args.items():
            if name not in action.inputs:
                known = ", ".join(action.inputs) or "none"
                self.sink.add(template.pos, f"unknown input '{name}' for action '{call.ref}' (inputs: {known})")
        missing = [name for name, spec_input in action.inputs.items()
                   if spec_input.default is None and name not in call.args]
        if missing:
            self.sink.add(call.pos, f"action '{call.ref}' needs input(s): {', '.join(missing)}")
        return replace(spec, action=replace(call, path=path))

    # -- classification --------------------------------------------------------------------------

    def action_refs(self, root: Node | None) -> set[str]:
        """Paths of ``ws:`` actions that a flow file calls (found before the file is read)."""
        refs: set[str] = set()
        if not isinstance(root, Map):
            return refs
        bodies: list[Node] = []
        jobs = root.get("jobs")
        if isinstance(jobs, Map):
            bodies.extend(value for _, value in jobs)
        tasks = root.get("tasks")
        if isinstance(tasks, Seq):
            bodies.extend(tasks.items)
        for body in bodies:
            action = body.get("action") if isinstance(body, Map) else None
            if isinstance(action, Scalar) and isinstance(action.value, str):
                scheme, _, spec = action.text.partition(":")
                base = _normalise(spec) if scheme in ("ws", "workspace") else None
                if base is None:
                    continue
                for folder in ("", self.config_dir + "/"):
                    for suffix in ("",) + YAML_SUFFIXES:
                        if self.has_file(f"{folder}{base}{suffix}"):
                            refs.add(f"{folder}{base}{suffix}")
        return refs

    @staticmethod
    def looks_like_action(root: Node | None) -> bool:
        if not isinstance(root, Map):
            return False
        kind = root.get("kind")
        if isinstance(kind, Scalar) and kind.text in ("live-action", "batch-action", "stateful", "local"):
            return True
        return any(root.get(key) is not None for key in ACTION_ONLY_KEYS)

    # -- the whole project -----------------------------------------------------------------------

    def load(self) -> FlowProject:
        project_path = self.config_file("project")
        if project_path is None:
            for suffix in YAML_SUFFIXES:
                if f"project{suffix}" in self.texts:
                    project_path = f"project{suffix}"
                    self.sink.warn(Pos(project_path, 1, 1), f"project{suffix} belongs in {self.config_dir}/; "
                                                            "reading it from the flow folder")
                    break
        project: ProjectSpec | None = None
        if project_path is not None:
            project = read_project(project_path, self.node(project_path), self.sink, self.folder_name)
        else:
            project = read_project(f"{self.config_dir}/project.yml", None, self.sink, self.folder_name)
            if project is not None:
                project = replace(project, file=None)
        if project is None:
            fallback = (self.folder_name or "flow").replace("-", "_")
            project = ProjectSpec(file=project_path, pos=Pos(project_path or self.config_dir, 1, 1),
                                  id=fallback if not identifier_problem(fallback) else "flow")

        live_path = self.config_file("live")
        flow_files = [path for path in self.config_yaml_files()
                      if PurePosixPath(path).stem not in ("live", "project")]
        referenced: set[str] = set()
        if live_path is not None:
            referenced |= self.action_refs(self.node(live_path))
        for path in flow_files:
            if not self.looks_like_action(self.node(path)):
                referenced |= self.action_refs(self.node(path))

        live: LiveFlowSpec | None = None
        if live_path is not None:
            root = self.node(live_path)
            if root is None:
                self.report_empty(live_path, "live flow")
            else:
                live = read_live(live_path, root, self.sink)

        batches: dict[str, BatchFlowSpec] = {}
        for path in flow_files:
            root = self.node(path)
            if path in referenced or self.looks_like_action(root):
                self.action(path)
                continue
            if root is None:
                self.report_empty(path, "batch flow")
                continue
            kind = root.get("kind") if isinstance(root, Map) else None
            if isinstance(kind, Scalar) and kind.text == "live":
                self.sink.add(kind.pos, f"only {self.config_dir}/live.yml can hold a live flow; "
                                        "this file must have kind: batch")
                continue
            batch_id = PurePosixPath(path).stem.replace("-", "_")
            problem = identifier_problem(batch_id)
            if problem:
                self.sink.add(Pos(path, 1, 1), f"the batch file name gives an invalid batch id: {problem}")
                continue
            batch = read_batch(path, batch_id, root, self.sink)
            if batch is not None:
                batches[batch_id] = batch

        if live is not None:
            live = self.finish_live(live, project)
        for batch_id, batch in list(batches.items()):
            batches[batch_id] = self.finish_batch(batch, project)

        actions = {path: spec for path, spec in self.actions.items() if spec is not None}
        flow_project = FlowProject(config_dir=self.config_dir, project=project, live=live,
                                   batches=batches, actions=actions)
        validate_project(flow_project, self.sink)
        return flow_project

    def finish_live(self, live: LiveFlowSpec, project: ProjectSpec) -> LiveFlowSpec:
        mixins = resolve_mixins({**project.mixins, **live.mixins}, self.sink)
        jobs: dict[str, ExecSpec] = {}
        for job_id, job in live.jobs.items():
            if job.action is not None:
                job = self.link_call(job, "live")
            else:
                job = apply_mixins(job, mixins, self.sink)
                if job.image is None:
                    self.sink.add(job.pos, f"job '{job_id}' has no image")
            jobs[job_id] = job
        return replace(live, jobs=jobs)

    def finish_batch(self, batch: BatchFlowSpec, project: ProjectSpec) -> BatchFlowSpec:
        from .batch import check_task_graph

        mixins = resolve_mixins({**project.mixins, **batch.mixins}, self.sink)
        tasks: list[ExecSpec] = []
        for task in batch.tasks:
            if task.action is not None:
                task = self.link_call(task, "batch")
            else:
                task = apply_mixins(task, mixins, self.sink)
                if task.image is None:
                    self.sink.add(task.pos, f"task '{task.key}' has no image")
            tasks.append(task)
        check_task_graph(tuple(tasks), self.sink)
        return replace(batch, tasks=tuple(tasks))


def load_project(files: Mapping[str, str | bytes], *, config_dir: str | None = None,
                 folder_name: str | None = None, read_file: FileReader | None = None) -> ProjectLoad:
    """Read a flow from ``files`` (relative path → content: ``.neuro/live.yml``,
    ``.neuro/project.yml``, batch files, ``ws:`` action files …).

    ``read_file(path)`` gives the content of a file of the flow folder that ``files`` lacks (None
    when there is none): ``ws:`` actions outside the config folder are read through it; the
    result's ``fetched`` holds what it gave.

    ``config_dir`` defaults to ``.apolo`` when any file lives there, else ``.neuro``.
    ``folder_name`` is the flow folder's name: the project id when project.yml has none.
    Never raises for bad input: problems are in the result's ``errors``.
    """
    sink = ErrorSink()
    texts: dict[str, str] = {}
    for raw_path, content in files.items():
        path = _normalise(raw_path)
        if path is None:
            sink.add(Pos(raw_path, 1, 1), "file paths must be relative to the flow folder")
            continue
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                sink.add(Pos(path, 1, 1), f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
                continue
        texts[path] = content.lstrip("\ufeff")
    chosen = config_dir.strip("/") if config_dir else choose_config_dir(sorted(texts))
    if config_dir is None and chosen == ".apolo":
        ignored = sorted(path for path in texts if path.startswith(".neuro/"))
        if ignored:
            sink.warn(Pos(ignored[0], 1, 1), "both .apolo/ and .neuro/ exist: .apolo/ is used, .neuro/ ignored")
    loader = _Loader(texts, chosen, folder_name, sink, read_file)
    project = loader.load()
    return ProjectLoad(project, tuple(sorted(sink.errors)), tuple(sorted(sink.warnings)), loader.fetched)


_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache"}


def load_project_dir(root: Path, *, config_dir: str | None = None) -> ProjectLoad:
    """:func:`load_project` for a folder on this machine: reads its YAML files (the config folder
    and anything an action may point at), skipping VCS and virtualenv folders."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in relative.parts[:-1]):
            continue
        if path.is_file() and path.suffix in YAML_SUFFIXES:
            files[relative.as_posix()] = path.read_bytes()
    return load_project(files, config_dir=config_dir, folder_name=root.name)


# --- validation of expressions (which contexts each field may read) ---------------------------------


def _base(project: ProjectSpec, flow_images: Mapping[str, object], flow_volumes: Mapping[str, object]) -> Allowed:
    return Allowed({
        "flow": Known(attrs=FLOW_ATTRS),
        "project": Known(attrs=PROJECT_ATTRS),
        "git": Known(attrs=GIT_ATTRS),
        "env": ANY,
        "tags": ANY,
        "volumes": ids([*project.volumes, *flow_volumes], VOLUME_ATTRS),
        "images": ids([*project.images, *flow_images], IMAGE_ATTRS),
    })


MULTI_ONLY = "the 'multi' context is only available in jobs with multi: true"


def validate_project(flow: FlowProject, sink: ErrorSink) -> None:
    check = Checker(sink)
    project = flow.project
    early = Allowed({"flow": Known(attrs=FLOW_ATTRS), "project": Known(attrs=PROJECT_ATTRS),
                     "git": Known(attrs=GIT_ATTRS)})
    for volume in project.volumes.values():
        check.volume(volume, early)
    for image in project.images.values():
        check.image(image, early)
    if flow.live is not None:
        _validate_live(flow, flow.live, check, early)
    for batch in flow.batches.values():
        _validate_batch(flow, batch, check, early)
    for action in flow.actions.values():
        _validate_action(action, check)


def _validate_live(flow: FlowProject, live: LiveFlowSpec, check: Checker, early: Allowed) -> None:
    project = flow.project
    for volume in live.volumes.values():
        check.volume(volume, early)
    for image in live.images.values():
        check.image(image, early)
    check.defaults(flow.project.defaults, early, early)
    check.defaults(live.defaults, early, early)
    check.template(live.life_span, NOTHING)
    base = _base(project, live.images, live.volumes)
    for param in live.params.values():
        check.template(param.default, base)
    for job in live.jobs.values():
        params = {**live.params, **(job.params or {})}
        for param in (job.params or {}).values():
            check.template(param.default, base)
        allowed = base.plus(params=ids(params))
        if job.multi:
            allowed = allowed.plus(multi=Known(attrs=MULTI_ATTRS))
        else:
            allowed = allowed.without("multi", MULTI_ONLY)
        check.exec_body(job, allowed)


def _task_needs_known(tasks: tuple[ExecSpec, ...], index: int, dynamic: set[str], with_matrix: set[str]) -> Known:
    from .batch import static_needs

    needs = static_needs(tasks, index, dynamic)
    if needs is None:
        return ids(None, NEEDS_ATTRS)
    if with_matrix & set(needs):
        return ids(None, NEEDS_ATTRS)
    return ids([need for need, level in needs.items() if level == "completed"], NEEDS_ATTRS)


def _matrix_known(task: ExecSpec) -> Known:
    keys = ["ORDINAL"]
    if task.strategy is not None and task.strategy.matrix is not None:
        keys += list(task.strategy.matrix.products)
    return ids(keys)


def _validate_tasks(tasks: tuple[ExecSpec, ...], batch_ctx: Allowed, check: Checker) -> None:
    from .batch import dynamic_task_keys

    dynamic = dynamic_task_keys(tasks)
    with_matrix = {task.key for task in tasks if task.strategy is not None and task.strategy.matrix is not None}
    for position, task in enumerate(tasks):
        matrix = _matrix_known(task)
        check.strategy(task.strategy, batch_ctx)
        check.cache(task.cache, batch_ctx.plus(matrix=matrix))
        check.template(task.id, Allowed({"matrix": matrix}))
        for need in task.needs or ():
            check.template(need.task, Allowed({"matrix": matrix}))
        needs = _task_needs_known(tasks, position, dynamic, with_matrix)
        check.exec_body(task, batch_ctx.plus(matrix=matrix, needs=needs))


def _validate_batch(flow: FlowProject, batch: BatchFlowSpec, check: Checker, early: Allowed) -> None:
    project = flow.project
    params = ids(batch.params)
    with_params = early.plus(params=params)
    for volume in batch.volumes.values():
        check.volume(volume, with_params)
    for image in batch.images.values():
        check.image(image, with_params)
    for param in batch.params.values():
        check.template(param.default, NOTHING)
    check.template(batch.life_span, NOTHING)
    step2 = _base(project, batch.images, batch.volumes).plus(params=params)
    check.defaults(project.defaults, early, early.plus(env=ANY, tags=ANY))
    check.defaults(batch.defaults, with_params, step2)
    batch_ctx = step2.plus(strategy=Known(attrs=STRATEGY_ATTRS))
    _validate_tasks(batch.tasks, batch_ctx, check)


def _validate_action(action: ActionSpec, check: Checker) -> None:
    inputs = ids(action.inputs)
    flow = Known(attrs=FLOW_ATTRS)
    if action.kind == "live":
        if action.job is not None:
            check.exec_body(action.job, Allowed({"inputs": inputs, "flow": flow}))
        return
    step1 = Allowed({"inputs": inputs, "flow": flow, "git": Known(attrs=GIT_ATTRS),
                     "strategy": Known(attrs=STRATEGY_ATTRS)})
    for image in action.images.values():
        check.image(image, step1)
    check.cache(action.cache, step1)
    action_ctx = step1.plus(images=ids(action.images, IMAGE_ATTRS))
    _validate_tasks(action.tasks, action_ctx, check)
    outputs_ctx = action_ctx.plus(needs=ids([task.key for task in action.tasks], NEEDS_ATTRS))
    if any(task.strategy is not None and task.strategy.matrix is not None for task in action.tasks):
        outputs_ctx = action_ctx.plus(needs=ids(None, NEEDS_ATTRS))
    for output in action.outputs.values():
        check.template(output.value, outputs_ctx)

