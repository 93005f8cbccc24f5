"""Values that expressions see (``flow``, ``project``, ``volumes.<id>`` …) and the caller's hooks.

Context objects are small frozen dataclasses; :class:`CtxObject` lists the attribute names an
expression may read (fields plus computed ones such as ``ref_ro``). :class:`EvalEnv` is what the
caller (the Django side, a test) supplies: who runs the flow, where its folder is, and callables
for the functions that need the outside world (``upload``, ``hash_files``, ``inspect_job``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Protocol, runtime_checkable


class CtxObject:
    """Base for context objects: ``extra_attrs`` names computed attributes next to the fields."""

    extra_attrs: ClassVar[tuple[str, ...]] = ()
    context_name: ClassVar[str] = "object"

    def ctx_attrs(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self)) + self.extra_attrs  # type: ignore[arg-type]

    def ctx_get(self, name: str) -> Any:
        if name not in self.ctx_attrs():
            raise KeyError(name)
        return getattr(self, name)

    def to_json_value(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class FlowCtx(CtxObject):
    flow_id: str
    project_id: str
    workspace: str
    title: str
    username: str
    life_span: float | None = None  # batch flows only
    action_path: str | None = None  # inside actions only

    extra_attrs: ClassVar[tuple[str, ...]] = ("id",)
    context_name: ClassVar[str] = "flow"

    @property
    def id(self) -> str:  # deprecated alias that apolo-flow still answers
        return self.flow_id


@dataclass(frozen=True)
class ProjectCtx(CtxObject):
    id: str
    owner: str | None
    project_name: str
    role: str | None = None

    context_name: ClassVar[str] = "project"


@dataclass(frozen=True)
class VolumeCtx(CtxObject):
    id: str
    remote: str
    mount: str
    read_only: bool
    local: str | None

    extra_attrs: ClassVar[tuple[str, ...]] = ("ref", "ref_ro", "ref_rw")
    context_name: ClassVar[str] = "volume"

    @property
    def ref_ro(self) -> str:
        return f"{self.remote}:{self.mount}:ro"

    @property
    def ref_rw(self) -> str:
        return f"{self.remote}:{self.mount}:rw"

    @property
    def ref(self) -> str:
        return f"{self.remote}:{self.mount}:{'ro' if self.read_only else 'rw'}"


@dataclass(frozen=True)
class ImageCtx(CtxObject):
    id: str
    ref: str
    context: str | None = None
    dockerfile: str | None = None
    dockerfile_rel: str | None = None
    build_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    build_preset: str | None = None
    force_rebuild: bool = False
    extra_kaniko_args: str | None = None

    context_name: ClassVar[str] = "image"


@dataclass(frozen=True)
class MultiCtx(CtxObject):
    args: str
    suffix: str

    context_name: ClassVar[str] = "multi"


@dataclass(frozen=True)
class StrategyCtx(CtxObject):
    fail_fast: bool = True
    max_parallel: int | None = None  # None: unbounded

    context_name: ClassVar[str] = "strategy"


@dataclass(frozen=True)
class DepCtx(CtxObject):
    """``needs.<task>``: ``result`` is succeeded, failed, cancelled or skipped (cached reads as
    succeeded), ``outputs`` what the task printed with ``::set-output``."""

    result: str
    outputs: Mapping[str, str]

    context_name: ClassVar[str] = "needs entry"


@dataclass(frozen=True)
class GitCtx(CtxObject):
    sha: str
    branch: str
    tags: tuple[str, ...] = ()

    context_name: ClassVar[str] = "git"


class Always:
    """What ``always()`` returns: run the task whatever happened to its needs."""

    _instance: ClassVar[Always | None] = None

    def __new__(cls) -> Always:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "always()"

    def __str__(self) -> str:
        return "always()"


ALWAYS = Always()


@runtime_checkable
class FileSource(Protocol):
    """Read access to the flow's folder, for ``hash_files``. Paths are relative POSIX paths."""

    def glob(self, pattern: str) -> Iterable[str]:
        """Relative paths of the files (not folders) matching ``pattern`` (``*``, ``?``, ``[seq]``,
        ``**``)."""
        ...

    def read(self, path: str) -> bytes: ...


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob (with ``**`` for any number of folders) into a regular expression."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


class MappingFileSource:
    """A :class:`FileSource` over a mapping of relative path → content (text or bytes)."""

    def __init__(self, files: Mapping[str, str | bytes]) -> None:
        self._files = {str(PurePosixPath(path)): content for path, content in files.items()}

    def glob(self, pattern: str) -> list[str]:
        regex = glob_to_regex(str(PurePosixPath(pattern)) if pattern else pattern)
        return sorted(path for path in self._files if regex.match(path))

    def read(self, path: str) -> bytes:
        content = self._files[path]
        return content.encode() if isinstance(content, str) else content


class DirectoryFileSource:
    """A :class:`FileSource` over a folder on this machine (never follows paths out of it)."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def glob(self, pattern: str) -> list[str]:
        found: list[str] = []
        for path in self._root.glob(pattern):
            resolved = path.resolve()
            if resolved.is_file() and resolved.is_relative_to(self._root):
                found.append(resolved.relative_to(self._root).as_posix())
        return sorted(set(found))

    def read(self, path: str) -> bytes:
        target = (self._root / path).resolve()
        if not target.is_relative_to(self._root):
            raise PermissionError(path)
        return target.read_bytes()


def hash_files(source: FileSource, patterns: Iterable[str]) -> str:
    """SHA-256 over each matching file's relative path and content, pattern by pattern, files in
    sorted order (the algorithm apolo-flow uses, so renaming a file changes the hash)."""
    hasher = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(source.glob(pattern)):
            hasher.update(path.encode("utf-8"))
            hasher.update(source.read(path))
    return hasher.hexdigest()


UploadHook = Callable[[VolumeCtx], "VolumeCtx | None"]
InspectJobHook = Callable[[str, "str | None"], Mapping[str, Any]]


@dataclass(frozen=True)
class EvalEnv:
    """What the caller knows and can do while expressions are evaluated.

    - ``username``: who runs the flow (``flow.username``).
    - ``owner``: the flow owner's username; ``project.owner`` and ``project.project_name`` default
      to it (so ``storage:/$[[ project.project_name ]]/…`` lands in the owner's storage). Defaults
      to ``username``.
    - ``workspace``: ``flow.workspace``, the flow's folder (e.g. ``storage:flows/my_flow``).
    - ``git``: ``{"sha", "branch", "tags"}`` when the flow folder is a git checkout.
    - ``upload(volume)``: called by ``upload(volumes.x)``; in the console files already live in
      storage, so ``None`` (the default) makes ``upload`` a no-op that returns the volume.
    - ``files``: read access to the flow's folder for ``hash_files``; without it ``hash_files``
      is an error.
    - ``inspect_job(job_id, suffix)``: the description (a mapping) of the running live job;
      without it ``inspect_job`` is an error.
    """

    username: str = "user"
    owner: str | None = None
    workspace: str = "."
    git: Mapping[str, Any] | None = None
    upload: UploadHook | None = None
    files: FileSource | None = None
    inspect_job: InspectJobHook | None = None

    @property
    def owner_name(self) -> str:
        return self.owner or self.username
