"""The schema: which keys each part of a flow file may have, and what type each value is.

Readers turn position-carrying YAML nodes (:mod:`flows.spec.yamlnodes`) into the dataclasses of
:mod:`flows.spec.model`. Unknown keys, wrong types and constant values that cannot be converted
(``http_port: abc``) are errors naming the key, the allowed keys and the position; the reader goes
on with the rest of the file so that one pass reports every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

from .errors import ErrorSink, FlowSpecError, Pos
from .expr import Scope, Template
from .model import (
    ActionCall,
    ActionSpec,
    BatchFlowSpec,
    CacheSpec,
    Command,
    Defaults,
    ExecSpec,
    Image,
    Input,
    ListValue,
    LiveFlowSpec,
    MapValue,
    MatrixSpec,
    NameRef,
    Need,
    Output,
    Param,
    ProjectSpec,
    StrategySpec,
    Volume,
)
from .values import (
    CACHE_STRATEGIES,
    NEEDS_LEVELS,
    identifier_problem,
    parse_duration,
    to_bool,
    to_enable,
    to_int,
    to_port_pair,
    to_restart,
)
from .yamlnodes import Map, Node, Scalar, Seq, describe

# --- key sets (as the public apolo-flow schema has them) -------------------------------------------

EXEC_UNIT_KEYS = (
    "image", "cmd", "bash", "python", "entrypoint", "env", "volumes", "preset", "http_port",
    "http_auth", "life_span", "name", "title", "pass_config", "restart", "schedule_timeout", "tags",
    "workdir",
)
JOB_KEYS = EXEC_UNIT_KEYS + ("browse", "detach", "multi", "params", "port_forward", "mixins", "action", "args")
JOB_ACTION_CALL_KEYS = ("action", "args", "params")
TASK_KEYS = EXEC_UNIT_KEYS + ("id", "needs", "enable", "strategy", "cache", "mixins", "action", "args")
TASK_ACTION_CALL_KEYS = ("id", "needs", "enable", "strategy", "cache", "action", "args")
LIVE_MIXIN_KEYS = EXEC_UNIT_KEYS + ("browse", "detach", "multi", "params", "port_forward", "mixins")
TASK_MIXIN_KEYS = EXEC_UNIT_KEYS + ("needs", "enable", "strategy", "cache", "mixins")
PROJECT_MIXIN_KEYS = EXEC_UNIT_KEYS + ("mixins",)
LIVE_FLOW_KEYS = ("kind", "id", "title", "defaults", "images", "volumes", "jobs", "mixins", "params", "life_span")
BATCH_FLOW_KEYS = ("kind", "id", "title", "defaults", "images", "volumes", "tasks", "mixins", "params", "life_span")
LIVE_DEFAULTS_KEYS = ("env", "life_span", "preset", "schedule_timeout", "tags", "volumes", "workdir")
BATCH_DEFAULTS_KEYS = LIVE_DEFAULTS_KEYS + ("cache", "fail_fast", "max_parallel")
PROJECT_KEYS = ("id", "owner", "project_name", "role", "defaults", "images", "volumes", "mixins")
IMAGE_KEYS = ("ref", "context", "dockerfile", "build_preset", "build_args", "env", "volumes",
              "force_rebuild", "extra_kaniko_args")
VOLUME_KEYS = ("remote", "mount", "local", "read_only")
PARAM_KEYS = ("default", "descr")
CACHE_KEYS = ("strategy", "life_span")
STRATEGY_KEYS = ("matrix", "fail_fast", "max_parallel")
ACTION_BASE_KEYS = ("kind", "name", "author", "descr", "inputs", "outputs")
LIVE_ACTION_KEYS = ACTION_BASE_KEYS + ("job",)
BATCH_ACTION_KEYS = ACTION_BASE_KEYS + ("cache", "images", "tasks")
INPUT_KEYS = ("descr", "default", "type")
OUTPUT_KEYS = ("descr", "value")
INPUT_TYPES = ("str", "int", "float", "bool")

#: Keys of apolo-flow that Kiln recognises but does not run, with the reason given to the user.
UNSUPPORTED_KEYS = {
    "module": "module calls are not supported by Kiln; use 'action: ws:…' instead",
}

Converter = Callable[[Any], Any]


def _ident(value: Any) -> str:
    text = str(value)
    problem = identifier_problem(text)
    if problem:
        raise ValueError(problem)
    return text


class Reader:
    """Reads one file's nodes into model objects, reporting problems to ``sink``."""

    def __init__(self, file: str, sink: ErrorSink) -> None:
        self.file = file
        self.sink = sink

    # -- structure -------------------------------------------------------------------------------

    def expect_map(self, node: Node | None, what: str) -> Map | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and node.is_null:
            return None
        if not isinstance(node, Map):
            self.sink.add(node.pos, f"{what} must be a mapping, got {describe(node)}")
            return None
        return node

    def expect_seq(self, node: Node | None, what: str) -> Seq | None:
        if node is None or (isinstance(node, Scalar) and node.is_null):
            return None
        if not isinstance(node, Seq):
            self.sink.add(node.pos, f"{what} must be a list, got {describe(node)}")
            return None
        return node

    def check_keys(self, node: Map, allowed: Sequence[str], what: str) -> list[tuple[str, Scalar, Node]]:
        """The entries of ``node`` whose keys are allowed; errors for the others."""
        good: list[tuple[str, Scalar, Node]] = []
        for key, value in node:
            name = key.text
            if name in allowed:
                good.append((name, key, value))
            elif name in UNSUPPORTED_KEYS:
                self.sink.add(key.pos, f"{UNSUPPORTED_KEYS[name]} (in {what})")
            else:
                self.sink.add(key.pos, f"unknown key '{name}' in {what} (allowed: {', '.join(allowed)})")
        return good

    def require(self, node: Map, keys: Sequence[str], what: str) -> bool:
        ok = True
        for key in keys:
            value = node.get(key)
            if value is None or (isinstance(value, Scalar) and value.is_null):
                self.sink.add(node.pos, f"missing required key '{key}' in {what}")
                ok = False
        return ok

    def id_key(self, key: Scalar, what: str) -> str | None:
        problem = identifier_problem(key.text)
        if problem:
            self.sink.add(key.pos, f"invalid {what} id: {problem}")
            return None
        return key.text

    # -- scalars ---------------------------------------------------------------------------------

    def scalar(self, node: Node, what: str, expected: str = "a string") -> Scalar | None:
        if not isinstance(node, Scalar):
            self.sink.add(node.pos, f"{what} must be {expected}, got {describe(node)}")
            return None
        return node

    def template(self, node: Node, what: str, convert: Converter | None = None, *,
                 typed: bool = False, expected: str = "a string") -> Template | None:
        """A scalar that may hold expressions. ``typed`` keeps YAML's type (ints, bools) for
        non-string values; otherwise the scalar's text is used, as apolo-flow reads it. A constant
        is checked with ``convert`` right away."""
        scalar = self.scalar(node, what, expected)
        if scalar is None or scalar.is_null:
            return None
        if typed and not isinstance(scalar.value, str):
            template = Template.constant(scalar.value, scalar.pos)
        else:
            template = Template.parse(scalar.text, scalar.pos, scalar.pos_at)
        self.sink.extend(template.errors)
        if convert is not None and not template.has_expressions:
            try:
                convert(template.value)
            except ValueError as exc:
                self.sink.add(scalar.pos, f"invalid {what}: {exc}")
                return None
        return template

    def simple(self, node: Node, what: str, convert: Converter | None = None, *,
               typed: bool = False, expected: str = "a string") -> Any:
        """A value that cannot read contexts: expressions are evaluated now, with no context."""
        template = self.template(node, what, None, typed=typed, expected=expected)
        if template is None:
            return None
        value = template.value
        if template.has_expressions:
            try:
                value = template.evaluate(Scope({}))
            except FlowSpecError as exc:
                for error in exc.errors:
                    self.sink.add(error.pos, f"{error.message} ({what} cannot use contexts)")
                return None
        if convert is not None:
            try:
                value = convert(value)
            except ValueError as exc:
                self.sink.add(template.pos, f"invalid {what}: {exc}")
                return None
        return value

    def simple_str(self, node: Node, what: str) -> str | None:
        value = self.simple(node, what)
        return None if value is None else str(value)

    # -- containers ------------------------------------------------------------------------------

    def list_value(self, node: Node, what: str, convert: Converter | None = None, *,
                   typed: bool = False) -> ListValue | None:
        if isinstance(node, Scalar):
            if node.is_null:
                return None
            template = self.template(node, what)
            if template is None:
                return None
            if not template.has_expressions:
                self.sink.add(node.pos, f"{what} must be a list (or an expression giving one), got {describe(node)}")
                return None
            return ListValue(node.pos, (template,))
        if not isinstance(node, Seq):
            self.sink.add(node.pos, f"{what} must be a list, got {describe(node)}")
            return None
        items: list[Template] = []
        for item in node.items:
            template = self.template(item, f"item of {what}", convert, typed=typed)
            if template is not None:
                items.append(template)
        return ListValue(node.pos, (tuple(items),))

    def map_value(self, node: Node, what: str, *, typed: bool = False) -> MapValue | None:
        if isinstance(node, Scalar):
            if node.is_null:
                return None
            template = self.template(node, what)
            if template is None:
                return None
            if not template.has_expressions:
                self.sink.add(node.pos, f"{what} must be a mapping (or an expression giving one), got {describe(node)}")
                return None
            return MapValue(node.pos, (template,))
        if not isinstance(node, Map):
            self.sink.add(node.pos, f"{what} must be a mapping, got {describe(node)}")
            return None
        items: dict[str, Template] = {}
        for key, value in node:
            if isinstance(value, Scalar) and value.is_null:
                self.sink.add(key.pos, f"{what} '{key.text}' has no value")
                continue
            template = self.template(value, f"{what} '{key.text}'", typed=typed)
            if template is not None:
                items[key.text] = template
        return MapValue(node.pos, (items,))

    def name_list(self, node: Node, what: str) -> tuple[NameRef, ...]:
        seq = self.expect_seq(node, what)
        if seq is None:
            return ()
        names: list[NameRef] = []
        for item in seq.items:
            value = self.simple(item, f"item of {what}")
            if value is not None:
                names.append(NameRef(str(value), item.pos))
        return tuple(names)

    # -- parts -----------------------------------------------------------------------------------

    def params(self, node: Node, what: str) -> dict[str, Param] | None:
        mapping = self.expect_map(node, what)
        if mapping is None:
            return None
        result: dict[str, Param] = {}
        for key, value in mapping:
            name = self.id_key(key, "param")
            if name is None:
                continue
            if isinstance(value, Map):
                entries = self.check_keys(value, PARAM_KEYS, f"param '{name}'")
                default: Template | None = None
                descr: str | None = None
                for field_name, _, field_node in entries:
                    if field_name == "default":
                        default = self.template(field_node, f"default of param '{name}'")
                    else:
                        descr = self.simple_str(field_node, f"descr of param '{name}'")
                result[name] = Param(name, key.pos, default, descr)
            elif isinstance(value, Scalar):
                result[name] = Param(name, key.pos, self.template(value, f"param '{name}'"), None)
            else:
                self.sink.add(value.pos, f"param '{name}' must be a default value or a mapping "
                                         f"with {', '.join(PARAM_KEYS)}, got {describe(value)}")
        return result

    def volume(self, name: str, node: Node) -> Volume | None:
        what = f"volume '{name}'"
        mapping = self.expect_map(node, what)
        if mapping is None:
            if isinstance(node, Scalar) and node.is_null:
                self.sink.add(node.pos, f"{what} must be a mapping with {', '.join(VOLUME_KEYS)}")
            return None
        fields: dict[str, Any] = {}
        for key, _, value in self.check_keys(mapping, VOLUME_KEYS, what):
            if key == "read_only":
                fields[key] = self.template(value, f"read_only of {what}", to_bool, typed=True, expected="a boolean")
            else:
                fields[key] = self.template(value, f"{key} of {what}")
        if not self.require(mapping, ("remote", "mount"), what) or not fields.get("remote") or not fields.get("mount"):
            return None
        return Volume(name, mapping.pos, **fields)

    def image(self, name: str, node: Node) -> Image | None:
        what = f"image '{name}'"
        mapping = self.expect_map(node, what)
        if mapping is None:
            if isinstance(node, Scalar) and node.is_null:
                self.sink.add(node.pos, f"{what} must be a mapping with at least 'ref'")
            return None
        fields: dict[str, Any] = {}
        for key, _, value in self.check_keys(mapping, IMAGE_KEYS, what):
            label = f"{key} of {what}"
            if key in ("build_args", "volumes"):
                fields[key] = self.list_value(value, label)
            elif key == "env":
                fields[key] = self.map_value(value, label)
            elif key == "force_rebuild":
                fields[key] = self.template(value, label, to_bool, typed=True, expected="a boolean")
            else:
                fields[key] = self.template(value, label)
        if not self.require(mapping, ("ref",), what) or not fields.get("ref"):
            return None
        return Image(name, mapping.pos, **fields)

    def named_section(self, node: Node, what: str, kind: str,
                      build: Callable[[str, Node], Any]) -> dict[str, Any]:
        mapping = self.expect_map(node, what)
        result: dict[str, Any] = {}
        if mapping is None:
            return result
        for key, value in mapping:
            name = self.id_key(key, kind)
            if name is None:
                continue
            built = build(name, value)
            if built is not None:
                result[name] = built
        return result

    def cache(self, node: Node, what: str) -> CacheSpec | None:
        mapping = self.expect_map(node, what)
        if mapping is None:
            return None
        strategy: str | None = None
        life_span: Template | None = None
        for key, _, value in self.check_keys(mapping, CACHE_KEYS, what):
            if key == "strategy":
                text = self.simple_str(value, f"strategy of {what}")
                if text is not None and text not in CACHE_STRATEGIES:
                    self.sink.add(value.pos, f"invalid strategy of {what}: {text!r} "
                                             f"(allowed: {', '.join(CACHE_STRATEGIES)})")
                elif text is not None:
                    strategy = text
            else:
                life_span = self.template(value, f"life_span of {what}", parse_duration, typed=True,
                                          expected="a duration")
        return CacheSpec(mapping.pos, cast(Any, strategy), life_span)

    def defaults(self, node: Node, allowed: Sequence[str], what: str) -> Defaults | None:
        mapping = self.expect_map(node, what)
        if mapping is None:
            return None
        fields: dict[str, Any] = {}
        for key, _, value in self.check_keys(mapping, allowed, what):
            label = f"{what}.{key}"
            if key == "env":
                fields[key] = self.map_value(value, label)
            elif key in ("tags", "volumes"):
                fields[key] = self.list_value(value, label)
            elif key in ("life_span", "schedule_timeout"):
                fields[key] = self.template(value, label, parse_duration, typed=True, expected="a duration")
            elif key == "cache":
                fields[key] = self.cache(value, label)
            elif key == "fail_fast":
                fields[key] = self.template(value, label, to_bool, typed=True, expected="a boolean")
            elif key == "max_parallel":
                fields[key] = self.template(value, label, to_int, typed=True, expected="an integer")
            else:
                fields[key] = self.template(value, label)
        return Defaults(mapping.pos, **fields)

    def needs(self, node: Node, what: str) -> tuple[Need, ...] | None:
        if isinstance(node, Scalar) and node.is_null:
            return None
        result: list[Need] = []
        if isinstance(node, Seq):
            for item in node.items:
                template = self.template(item, f"item of {what}", _ident)
                if template is not None:
                    result.append(Need(template, "completed", item.pos))
            return tuple(result)
        if isinstance(node, Map):
            for key, value in node:
                template = Template.parse(key.text, key.pos, key.pos_at)
                self.sink.extend(template.errors)
                if not template.has_expressions:
                    problem = identifier_problem(key.text)
                    if problem:
                        self.sink.add(key.pos, f"invalid task id in {what}: {problem}")
                        continue
                level = self.simple_str(value, f"level of '{key.text}' in {what}")
                if level not in NEEDS_LEVELS:
                    if level is not None:
                        self.sink.add(value.pos, f"invalid level of '{key.text}' in {what}: {level!r} "
                                                 f"(allowed: {', '.join(NEEDS_LEVELS)})")
                    else:
                        self.sink.add(value.pos, f"missing level of '{key.text}' in {what} "
                                                 f"(allowed: {', '.join(NEEDS_LEVELS)})")
                    continue
                result.append(Need(template, cast(Literal["running", "completed"], level), key.pos))
            return tuple(result)
        self.sink.add(node.pos, f"{what} must be a list of task ids or a mapping "
                                f"task id → running|completed, got {describe(node)}")
        return None

    def matrix(self, node: Node, what: str) -> MatrixSpec | None:
        mapping = self.expect_map(node, what)
        if mapping is None:
            return None
        products: dict[str, ListValue] = {}
        include: list[tuple[Pos, dict[str, Template]]] = []
        exclude: list[tuple[Pos, dict[str, Template]]] = []
        for key, value in mapping:
            if key.text in ("include", "exclude"):
                seq = self.expect_seq(value, f"{what}.{key.text}")
                for entry in seq.items if seq else []:
                    entry_map = self.expect_map(entry, f"entry of {what}.{key.text}")
                    if entry_map is None:
                        continue
                    combo: dict[str, Template] = {}
                    for entry_key, entry_value in entry_map:
                        template = self.template(entry_value, f"'{entry_key.text}' in {what}.{key.text}",
                                                 typed=True, expected="a value")
                        if template is not None:
                            combo[entry_key.text] = template
                    (include if key.text == "include" else exclude).append((entry_map.pos, combo))
                continue
            name = self.id_key(key, "matrix key")
            if name is None:
                continue
            values = self.list_value(value, f"{what}.{name}", typed=True)
            if values is not None:
                products[name] = values
        return MatrixSpec(mapping.pos, products, tuple(include), tuple(exclude))

    def strategy(self, node: Node, what: str) -> StrategySpec | None:
        mapping = self.expect_map(node, what)
        if mapping is None:
            return None
        fields: dict[str, Any] = {}
        for key, _, value in self.check_keys(mapping, STRATEGY_KEYS, what):
            if key == "matrix":
                fields[key] = self.matrix(value, f"{what}.matrix")
            elif key == "fail_fast":
                fields[key] = self.template(value, f"{what}.fail_fast", to_bool, typed=True, expected="a boolean")
            else:
                fields[key] = self.template(value, f"{what}.max_parallel", to_int, typed=True, expected="an integer")
        return StrategySpec(mapping.pos, **fields)

    def exec_spec(self, node: Node, *, unit: Literal["job", "task", "mixin"], key: str,
                  allowed: Sequence[str], call_allowed: Sequence[str] | None, what: str,
                  index: int = 0) -> ExecSpec | None:
        """A job, a task or a mixin body. ``call_allowed`` lists the keys an action call may have
        (None where action calls are not allowed)."""
        mapping = self.expect_map(node, what)
        if mapping is None:
            if isinstance(node, Scalar) and node.is_null:
                return ExecSpec(key=key, pos=node.pos, unit=unit, index=index)
            return None
        if call_allowed is not None and mapping.get("action") is not None:
            entries = []
            for key_node, value in mapping:
                name = key_node.text
                if name in call_allowed:
                    entries.append((name, key_node, value))
                elif name in allowed:
                    self.sink.add(key_node.pos, f"key '{name}' is not allowed in an action call ({what}); "
                                                f"allowed: {', '.join(call_allowed)}")
                else:
                    self.sink.add(key_node.pos, f"unknown key '{name}' in action call {what} "
                                                f"(allowed: {', '.join(call_allowed)})")
        else:
            entries = self.check_keys(mapping, allowed, what)
        fields: dict[str, Any] = {}
        specified: set[str] = set()
        commands: list[tuple[str, Scalar]] = []
        args_node: Node | None = None
        for name, key_node, value in entries:
            label = f"{name} of {what}"
            if name in ("cmd", "bash", "python"):
                commands.append((name, key_node))
                template = self.template(value, label)
                if template is not None:
                    fields["command"] = Command(cast(Literal["cmd", "bash", "python"], name), template)
                specified.add("command")
                continue
            specified.add(name)
            if name == "env":
                fields[name] = self.map_value(value, label)
            elif name in ("volumes", "tags"):
                fields[name] = self.list_value(value, label)
            elif name == "port_forward":
                fields[name] = self.list_value(value, label, to_port_pair)
            elif name in ("http_auth", "browse", "detach", "pass_config"):
                fields[name] = self.template(value, label, to_bool, typed=True, expected="a boolean")
            elif name == "http_port":
                fields[name] = self.template(value, label, to_int, typed=True, expected="an integer")
            elif name in ("life_span", "schedule_timeout"):
                fields[name] = self.template(value, label, parse_duration, typed=True, expected="a duration")
            elif name == "restart":
                fields[name] = self.template(value, label, to_restart)
            elif name == "multi":
                fields[name] = self.simple(value, label, to_bool, typed=True, expected="a boolean")
            elif name == "params":
                fields[name] = self.params(value, label)
            elif name == "mixins":
                fields[name] = self.name_list(value, label)
            elif name == "action":
                ref = self.simple_str(value, label)
                if ref is not None:
                    fields[name] = ActionCall(ref, value.pos, {})
            elif name == "args":
                args_node = value
            elif name == "id":
                fields[name] = self.template(value, label, _ident)
            elif name == "needs":
                fields[name] = self.needs(value, label)
            elif name == "enable":
                fields[name] = self.template(value, label, to_enable, typed=True, expected="a boolean")
            elif name == "strategy":
                fields[name] = self.strategy(value, label)
            elif name == "cache":
                fields[name] = self.cache(value, label)
            else:  # image, entrypoint, preset, name, title, workdir
                fields[name] = self.template(value, label)
        if len(commands) > 1:
            names = ", ".join(name for name, _ in commands)
            self.sink.add(commands[1][1].pos,
                          f"{names} are mutually exclusive in {what}: use only one of cmd, bash, python")
        if args_node is not None:
            call = fields.get("action")
            if call is None:
                if "action" not in specified:
                    self.sink.add(args_node.pos, f"'args' needs 'action' in {what}")
            else:
                args = self.map_value(args_node, f"args of {what}", typed=True)
                if args is not None and any(isinstance(part, Template) for part in args.parts):
                    self.sink.add(args_node.pos, f"args of {what} must be a mapping of input names to values")
                elif args is not None:
                    fields["action"] = ActionCall(call.ref, call.pos, args.items)
        fields = {name: value for name, value in fields.items() if value is not None}
        return ExecSpec(key=key, pos=mapping.pos, unit=unit, index=index, specified=frozenset(specified), **fields)

    def mixins(self, node: Node, allowed: Sequence[str], what: str) -> dict[str, ExecSpec]:
        return self.named_section(
            node, what, "mixin",
            lambda name, value: self.exec_spec(value, unit="mixin", key=name, allowed=allowed,
                                               call_allowed=None, what=f"mixin '{name}'"))


# --- files ---------------------------------------------------------------------------------------


def _kind(reader: Reader, root: Map, expected: Sequence[str], what: str) -> str | None:
    node = root.get("kind")
    if node is None:
        reader.sink.add(root.pos, f"missing required key 'kind' in {what} (expected: {', '.join(expected)})")
        return None
    kind = reader.simple_str(node, "kind")
    if kind is None:
        return None
    if kind not in expected:
        reader.sink.add(node.pos, f"kind must be {' or '.join(repr(k) for k in expected)} in {what}, got {kind!r}")
        return None
    return kind


def _flow_common(reader: Reader, root: Map, keys: Sequence[str], what: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": None, "title": None, "defaults": None, "images": {}, "volumes": {},
                              "mixins": {}, "params": {}, "life_span": None}
    for key, _, value in reader.check_keys(root, keys, what):
        if key == "id":
            fields["id"] = reader.simple(value, "flow id", _ident)
        elif key == "title":
            fields["title"] = reader.simple_str(value, "flow title")
        elif key == "images":
            fields["images"] = reader.named_section(value, "images", "image", reader.image)
        elif key == "volumes":
            fields["volumes"] = reader.named_section(value, "volumes", "volume", reader.volume)
        elif key == "params":
            fields["params"] = reader.params(value, "params") or {}
        elif key == "life_span":
            fields["life_span"] = reader.template(value, "life_span", parse_duration, typed=True,
                                                  expected="a duration")
    return fields


def read_live(file: str, root: Node, sink: ErrorSink) -> LiveFlowSpec | None:
    reader = Reader(file, sink)
    mapping = reader.expect_map(root, f"{file}")
    if mapping is None:
        return None
    _kind(reader, mapping, ("live",), file)
    fields = _flow_common(reader, mapping, LIVE_FLOW_KEYS, "the live flow")
    defaults_node = mapping.get("defaults")
    if defaults_node is not None:
        fields["defaults"] = reader.defaults(defaults_node, LIVE_DEFAULTS_KEYS, "defaults")
    mixins_node = mapping.get("mixins")
    if mixins_node is not None:
        fields["mixins"] = reader.mixins(mixins_node, LIVE_MIXIN_KEYS, "mixins")
    jobs: dict[str, ExecSpec] = {}
    jobs_node = mapping.get("jobs")
    jobs_key = mapping.key_node("jobs")
    if jobs_node is None:
        sink.add(mapping.pos, "missing required key 'jobs' in the live flow")
    else:
        jobs = reader.named_section(
            jobs_node, "jobs", "job",
            lambda name, value: reader.exec_spec(value, unit="job", key=name, allowed=JOB_KEYS,
                                                 call_allowed=JOB_ACTION_CALL_KEYS, what=f"job '{name}'"))
    return LiveFlowSpec(file=file, pos=mapping.pos, jobs=jobs,
                        jobs_pos=jobs_key.pos if jobs_key else mapping.pos, **fields)


def read_batch(file: str, batch_id: str, root: Node, sink: ErrorSink) -> BatchFlowSpec | None:
    reader = Reader(file, sink)
    mapping = reader.expect_map(root, file)
    if mapping is None:
        return None
    _kind(reader, mapping, ("batch",), file)
    fields = _flow_common(reader, mapping, BATCH_FLOW_KEYS, "the batch flow")
    defaults_node = mapping.get("defaults")
    if defaults_node is not None:
        fields["defaults"] = reader.defaults(defaults_node, BATCH_DEFAULTS_KEYS, "defaults")
    mixins_node = mapping.get("mixins")
    if mixins_node is not None:
        fields["mixins"] = reader.mixins(mixins_node, TASK_MIXIN_KEYS, "mixins")
    tasks_node = mapping.get("tasks")
    tasks: tuple[ExecSpec, ...] = ()
    if tasks_node is None:
        sink.add(mapping.pos, "missing required key 'tasks' in the batch flow")
    else:
        tasks = read_tasks(reader, tasks_node)
    return BatchFlowSpec(file=file, pos=mapping.pos, batch_id=batch_id, tasks=tasks, **fields)


def read_tasks(reader: Reader, node: Node) -> tuple[ExecSpec, ...]:
    seq = reader.expect_seq(node, "tasks")
    if seq is None:
        return ()
    tasks: list[ExecSpec] = []
    for index, item in enumerate(seq.items, 1):
        task_id_node = item.get("id") if isinstance(item, Map) else None
        key = f"task-{index}"
        if isinstance(task_id_node, Scalar) and not task_id_node.is_null and "${{" not in task_id_node.text \
                and "$[[" not in task_id_node.text:
            key = task_id_node.text
        label = f"task '{key}'" if key != f"task-{index}" else f"task #{index}"
        spec = reader.exec_spec(item, unit="task", key=key, allowed=TASK_KEYS,
                                call_allowed=TASK_ACTION_CALL_KEYS, what=label, index=index)
        if spec is not None:
            tasks.append(spec)
    return tuple(tasks)


def read_project(file: str, root: Node | None, sink: ErrorSink, default_id: str | None) -> ProjectSpec | None:
    reader = Reader(file, sink)
    start = Pos(file, 1, 1)
    if root is None:
        mapping = Map(start, [])
    else:
        found = reader.expect_map(root, file)
        if found is None:
            return None
        mapping = found
    fields: dict[str, Any] = {"owner": None, "project_name": None, "role": None, "defaults": None,
                              "images": {}, "volumes": {}, "mixins": {}}
    project_id = None
    for key, _, value in reader.check_keys(mapping, PROJECT_KEYS, "project.yml"):
        if key == "id":
            project_id = reader.simple(value, "project id", _ident)
        elif key in ("owner", "project_name", "role"):
            fields[key] = reader.simple_str(value, key)
            if key == "role" and fields[key]:
                sink.warn(value.pos, "project roles are deprecated and ignored; share the flow instead")
        elif key == "defaults":
            fields["defaults"] = reader.defaults(value, BATCH_DEFAULTS_KEYS, "defaults")
        elif key == "images":
            fields["images"] = reader.named_section(value, "images", "image", reader.image)
        elif key == "volumes":
            fields["volumes"] = reader.named_section(value, "volumes", "volume", reader.volume)
        elif key == "mixins":
            fields["mixins"] = reader.mixins(value, PROJECT_MIXIN_KEYS, "mixins")
    if project_id is None and mapping.get("id") is None:
        project_id = default_project_id(default_id, sink, mapping.pos)
    if project_id is None:
        return None
    return ProjectSpec(file=file, pos=mapping.pos, id=project_id, **fields)


def default_project_id(folder_name: str | None, sink: ErrorSink, pos: Pos) -> str | None:
    """apolo-flow's rule: the flow folder's name with ``-`` turned into ``_``."""
    if not folder_name:
        sink.add(pos, "project.yml has no 'id' and no folder name was given to derive one from")
        return None
    candidate = folder_name.replace("-", "_")
    problem = identifier_problem(candidate)
    if problem:
        sink.add(pos, f"project.yml has no 'id' and the folder name {folder_name!r} cannot be one: {problem}")
        return None
    return candidate


ACTION_KINDS = {"live": "live", "batch": "batch", "live-action": "live", "batch-action": "batch"}


def read_action(file: str, root: Node, sink: ErrorSink) -> ActionSpec | None:
    reader = Reader(file, sink)
    mapping = reader.expect_map(root, file)
    if mapping is None:
        return None
    kind_node = mapping.get("kind")
    if kind_node is None:
        sink.add(mapping.pos, "missing required key 'kind' in the action (expected: live or batch)")
        return None
    raw_kind = reader.simple_str(kind_node, "kind")
    if raw_kind in ("stateful", "local"):
        sink.add(kind_node.pos, f"{raw_kind} actions are not supported by Kiln (only live and batch actions)")
        return None
    if raw_kind not in ACTION_KINDS:
        if raw_kind is not None:
            sink.add(kind_node.pos, f"unknown action kind {raw_kind!r} (allowed: {', '.join(ACTION_KINDS)})")
        return None
    kind = ACTION_KINDS[raw_kind]
    keys = LIVE_ACTION_KEYS if kind == "live" else BATCH_ACTION_KEYS
    what = f"{kind} action"
    fields: dict[str, Any] = {}
    for key, _, value in reader.check_keys(mapping, keys, what):
        if key in ("name", "author", "descr"):
            fields[key] = reader.simple_str(value, key)
        elif key == "inputs":
            fields["inputs"] = _inputs(reader, value)
        elif key == "outputs":
            fields["outputs"] = _outputs(reader, value, kind)
        elif key == "job":
            job_map = reader.expect_map(value, "job")
            if job_map is not None and job_map.get("params") is not None:
                params_key = job_map.key_node("params")
                sink.add(params_key.pos if params_key else job_map.pos,
                         "job.params is not supported inside a live action, use inputs instead")
            if job_map is not None and job_map.get("action") is not None:
                sink.add(job_map.pos, "nested actions are forbidden: an action's job cannot call an action")
            elif job_map is not None:
                fields["job"] = reader.exec_spec(job_map, unit="job", key="job",
                                                 allowed=tuple(k for k in JOB_KEYS if k not in ("action", "args")),
                                                 call_allowed=None, what="the action's job")
        elif key == "tasks":
            fields["tasks"] = read_tasks(reader, value)
        elif key == "images":
            fields["images"] = reader.named_section(value, "images", "image", reader.image)
        elif key == "cache":
            fields["cache"] = reader.cache(value, "cache")
    if kind == "live" and "job" not in fields and mapping.get("job") is None:
        sink.add(mapping.pos, "missing required key 'job' in the live action")
    if kind == "batch" and mapping.get("tasks") is None:
        sink.add(mapping.pos, "missing required key 'tasks' in the batch action")
    fields = {key: value for key, value in fields.items() if value is not None}
    return ActionSpec(file=file, pos=mapping.pos, kind=cast(Literal["live", "batch"], kind), **fields)


_INPUT_TYPE_CHECK: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
}


def _inputs(reader: Reader, node: Node) -> dict[str, Input]:
    mapping = reader.expect_map(node, "inputs")
    result: dict[str, Input] = {}
    if mapping is None:
        return result
    for key, value in mapping:
        name = reader.id_key(key, "input")
        if name is None:
            continue
        if not isinstance(value, Map):
            if not isinstance(value, Scalar):
                reader.sink.add(value.pos, f"input '{name}' must be a default value or a mapping "
                                           f"with {', '.join(INPUT_KEYS)}, got {describe(value)}")
                continue
            default = None if value.is_null else Template.constant(value.text, value.pos)
            result[name] = Input(name, key.pos, None, default, "str")
            continue
        descr: str | None = None
        default_t: Template | None = None
        input_type = "str"
        default_node: Node | None = None
        for field_name, _, field_node in reader.check_keys(value, INPUT_KEYS, f"input '{name}'"):
            if field_name == "descr":
                descr = reader.simple_str(field_node, f"descr of input '{name}'")
            elif field_name == "type":
                text = reader.simple_str(field_node, f"type of input '{name}'")
                if text not in INPUT_TYPES:
                    reader.sink.add(field_node.pos, f"invalid type of input '{name}': {text!r} "
                                                    f"(allowed: {', '.join(INPUT_TYPES)})")
                else:
                    input_type = text
            else:
                default_node = field_node
        if default_node is not None:
            raw = reader.simple(default_node, f"default of input '{name}'", typed=True, expected="a value")
            if raw is not None:
                if input_type == "str" and not isinstance(raw, str):
                    raw = default_node.text if isinstance(default_node, Scalar) else str(raw)
                if not _INPUT_TYPE_CHECK[input_type](raw):
                    reader.sink.add(default_node.pos, f"default of input '{name}' should be of type "
                                                      f"{input_type}, got {type(raw).__name__}")
                default_t = Template.constant(raw, default_node.pos)
        result[name] = Input(name, key.pos, descr, default_t, cast(Any, input_type))
    return result


def _outputs(reader: Reader, node: Node, kind: str) -> dict[str, Output]:
    mapping = reader.expect_map(node, "outputs")
    result: dict[str, Output] = {}
    if mapping is None:
        return result
    for key, value in mapping:
        if key.text == "needs" and isinstance(value, Seq):
            if kind != "batch":
                reader.sink.add(value.pos, f"outputs.needs is not supported for {kind} actions")
            else:
                reader.sink.warn(value.pos, "outputs.needs is deprecated and has no effect: every task of "
                                            "the action is available in outputs expressions")
            continue
        name = reader.id_key(key, "output")
        if name is None:
            continue
        output_map = reader.expect_map(value, f"output '{name}'")
        if output_map is None:
            continue
        descr: str | None = None
        output_value: Template | None = None
        for field_name, _, field_node in reader.check_keys(output_map, OUTPUT_KEYS, f"output '{name}'"):
            if field_name == "descr":
                descr = reader.simple_str(field_node, f"descr of output '{name}'")
            else:
                if kind != "batch":
                    reader.sink.add(field_node.pos, f"outputs.{name}.value is not supported for {kind} actions")
                    continue
                output_value = reader.template(field_node, f"value of output '{name}'")
        if kind == "batch" and output_value is None and output_map.get("value") is None:
            reader.sink.add(output_map.pos, f"missing required key 'value' in output '{name}'")
        result[name] = Output(name, key.pos, descr, output_value)
    return result
