"""YAML with positions.

PyYAML composes the document into nodes that carry marks; this module turns them into small node
objects that keep the file, line and column (1-based) of every mapping key and value, rejects
duplicate keys, resolves anchors, aliases and ``<<`` merge keys, and reports syntax errors with
their position. Nothing here knows about flows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ErrorSink, Pos

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(eq=False)
class Node:
    pos: Pos

    @property
    def kind(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class Scalar(Node):
    """A scalar: ``value`` is typed as YAML 1.1 reads it (bool, int, float, None, str), ``text``
    is the scalar's own text (what apolo-flow reads for string fields: ``22:22`` stays a string,
    ``1.10`` keeps its zero)."""

    value: Any
    text: str
    is_null: bool
    style: str | None
    _source: str = field(repr=False, default="")
    _start: int = field(repr=False, default=0)
    _end: int = field(repr=False, default=0)
    _offsets: list[Pos] | None = field(repr=False, default=None)

    @property
    def kind(self) -> str:
        return "scalar"

    @property
    def str_value(self) -> str | None:
        """The value as a string field sees it (``None`` for a YAML null)."""
        return None if self.is_null else self.text

    def pos_at(self, offset: int) -> Pos:
        """Position in the file of character ``offset`` of ``text``."""
        if self._offsets is None:
            self._offsets = self._align()
        if 0 <= offset < len(self._offsets):
            return self._offsets[offset]
        return self.pos

    def _align(self) -> list[Pos]:
        # Walk the source slice and the value together: every character of the value is found,
        # in order, in the source (quotes, indentation, block headers are skipped). Escapes in
        # double-quoted scalars may not be found; such characters reuse the previous position.
        source = self._source[self._start:self._end]
        line, column = self.pos.line, self.pos.column
        index = 0
        if self.style in ("|", ">"):
            newline = source.find("\n")
            if newline < 0:
                return [self.pos] * len(self.text)
            index = newline + 1
            line += 1
            column = 1
        elif self.style in ("'", '"'):
            index = 1
            column += 1
        positions: list[Pos] = []
        last = Pos(self.pos.file, line, column)
        for char in self.text:
            probe, probe_line, probe_column = index, line, column
            found = False
            while probe < len(source):
                current = source[probe]
                if current == char:
                    found = True
                    break
                if current == "\n":
                    probe_line += 1
                    probe_column = 1
                else:
                    probe_column += 1
                probe += 1
            if not found:
                positions.append(last)
                continue
            last = Pos(self.pos.file, probe_line, probe_column)
            positions.append(last)
            index = probe + 1
            if char == "\n":
                line, column = probe_line + 1, 1
            else:
                line, column = probe_line, probe_column + 1
        return positions


@dataclass(eq=False)
class Seq(Node):
    items: list[Node]

    @property
    def kind(self) -> str:
        return "list"


@dataclass(eq=False)
class Map(Node):
    entries: list[tuple[Scalar, Node]]

    @property
    def kind(self) -> str:
        return "mapping"

    def keys(self) -> list[str]:
        return [key.text for key, _ in self.entries]

    def get(self, key: str) -> Node | None:
        for entry_key, value in self.entries:
            if entry_key.text == key:
                return value
        return None

    def key_node(self, key: str) -> Scalar | None:
        for entry_key, _ in self.entries:
            if entry_key.text == key:
                return entry_key
        return None

    def __iter__(self) -> Iterator[tuple[Scalar, Node]]:
        return iter(self.entries)


def describe(node: Node) -> str:
    """A short name for the node's type, for error messages."""
    if isinstance(node, Scalar):
        if node.is_null:
            return "null"
        value = node.value
        if isinstance(value, bool):
            return "a boolean"
        if isinstance(value, int):
            return "an integer"
        if isinstance(value, float):
            return "a number"
        return "a string"
    if isinstance(node, Seq):
        return "a list"
    return "a mapping"


def _mark_pos(file: str, mark: yaml.Mark | None) -> Pos:
    if mark is None:
        return Pos(file, 1, 1)
    return Pos(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str, source: str, sink: ErrorSink) -> None:
        self.file = file
        self.source = source
        self.sink = sink
        self.constructor = yaml.SafeLoader("")
        self.done: dict[int, Node] = {}
        self.active: set[int] = set()

    def build(self, node: yaml.Node) -> Node:
        key = id(node)
        if key in self.done:
            return self.done[key]
        pos = _mark_pos(self.file, node.start_mark)
        if key in self.active:
            self.sink.add(pos, "recursive YAML alias")
            return Scalar(pos, None, "", True, None)
        self.active.add(key)
        try:
            if isinstance(node, yaml.ScalarNode):
                built: Node = self.scalar(node, pos)
            elif isinstance(node, yaml.SequenceNode):
                if node.tag != "tag:yaml.org,2002:seq":
                    self.sink.add(pos, f"unsupported YAML tag {node.tag!r}")
                built = Seq(pos, [self.build(item) for item in node.value])
            elif isinstance(node, yaml.MappingNode):
                if node.tag != "tag:yaml.org,2002:map":
                    self.sink.add(pos, f"unsupported YAML tag {node.tag!r}")
                built = self.mapping(node, pos)
            else:  # pragma: no cover - PyYAML has no other node kinds
                raise TypeError(node)
        finally:
            self.active.discard(key)
        self.done[key] = built
        return built

    def scalar(self, node: yaml.ScalarNode, pos: Pos) -> Scalar:
        tag = node.tag
        text = node.value
        value: Any = text
        is_null = tag == _NULL
        if tag in (_NULL, _BOOL, _INT, _FLOAT):
            try:
                value = self.constructor.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError):
                value = text
        elif tag != _STR:
            # timestamps, binary and custom tags: keep the text, as apolo-flow does
            try:
                constructed: Any = self.constructor.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError):
                constructed = None
            if not isinstance(constructed, (datetime.date, bytes, str)):
                self.sink.add(pos, f"unsupported YAML tag {tag!r}")
            value = text
        start = node.start_mark.index if node.start_mark else 0
        end = node.end_mark.index if node.end_mark else start
        return Scalar(pos, value, text, is_null, node.style, self.source, start, end)

    def mapping(self, node: yaml.MappingNode, pos: Pos) -> Map:
        entries: list[tuple[Scalar, Node]] = []
        seen: dict[str, Pos] = {}
        merged: list[tuple[Scalar, Node]] = []
        for key_node, value_node in node.value:
            key_pos = _mark_pos(self.file, key_node.start_mark)
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE:
                merged.extend(self.merge_entries(value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.sink.add(key_pos, "mapping keys must be plain strings")
                continue
            key = self.scalar(key_node, key_pos)
            value = self.build(value_node)
            if key.text in seen:
                first = seen[key.text]
                self.sink.add(key_pos, f"duplicate key '{key.text}' (first defined at line {first.line})")
                continue
            seen[key.text] = key_pos
            entries.append((key, value))
        for key, value in merged:
            if key.text not in seen:
                seen[key.text] = key.pos
                entries.append((key, value))
        return Map(pos, entries)

    def merge_entries(self, value_node: yaml.Node) -> list[tuple[Scalar, Node]]:
        pos = _mark_pos(self.file, value_node.start_mark)
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        result: list[tuple[Scalar, Node]] = []
        for source in sources:
            built = self.build(source)
            if not isinstance(built, Map):
                self.sink.add(pos, "a '<<' merge key needs a mapping or a list of mappings")
                continue
            result.extend(built.entries)
        return result


def parse_yaml(file: str, text: str, sink: ErrorSink) -> Node | None:
    """Compose ``text`` into position-carrying nodes. Problems go to ``sink``; returns ``None``
    when the file is not valid YAML (or is empty)."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        # libyaml composes the same nodes and marks several times faster (a 1,000-task batch file);
        # on an error, the pure-Python loader below runs for its clearer messages.
        loader = fast(text)
        try:
            composed = loader.get_single_node()
        except yaml.YAMLError:
            composed = False
        finally:
            loader.dispose()
        if composed is None:
            return None
        if composed is not False:
            return _Builder(file, text, sink).build(composed)
    loader = yaml.SafeLoader(text)
    loader.name = file
    try:
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context and exc.context not in problem:
            problem = f"{problem} ({exc.context})"
        sink.add(_mark_pos(file, mark), f"YAML syntax error: {problem}")
        return None
    except yaml.YAMLError as exc:
        sink.add(Pos(file, 1, 1), f"YAML error: {exc}")
        return None
    if root is None:
        return None
    return _Builder(file, text, sink).build(root)
