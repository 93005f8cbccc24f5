"""Positions and errors: every problem with a flow is a :class:`FlowError` naming file:line:column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Pos:
    """A place in a file; ``line`` and ``column`` count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def shifted(self, columns: int) -> Pos:
        return Pos(self.file, self.line, self.column + columns)


@dataclass(frozen=True, order=True)
class FlowError:
    """One problem in the flow's YAML, with the position it refers to."""

    file: str
    line: int
    column: int
    message: str

    @classmethod
    def at(cls, pos: Pos, message: str) -> FlowError:
        return cls(pos.file, pos.line, pos.column, message)

    @property
    def pos(self) -> Pos:
        return Pos(self.file, self.line, self.column)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


class FlowSpecError(Exception):
    """Raised by the evaluation helpers (render, plan) when the flow cannot be evaluated.

    ``errors`` holds every problem found, each with its position. ``load_project`` never raises it:
    it returns its errors instead.
    """

    def __init__(self, errors: Iterable[FlowError]) -> None:
        self.errors: tuple[FlowError, ...] = tuple(errors)
        super().__init__("\n".join(str(error) for error in self.errors))

    @classmethod
    def at(cls, pos: Pos, message: str) -> FlowSpecError:
        return cls([FlowError.at(pos, message)])


class ErrorSink:
    """Collects errors (and warnings) while loading, so that one run reports every problem."""

    def __init__(self) -> None:
        self.errors: list[FlowError] = []
        self.warnings: list[FlowError] = []

    def add(self, pos: Pos, message: str) -> None:
        error = FlowError.at(pos, message)
        if error not in self.errors:
            self.errors.append(error)

    def extend(self, errors: Iterable[FlowError]) -> None:
        for error in errors:
            if error not in self.errors:
                self.errors.append(error)

    def warn(self, pos: Pos, message: str) -> None:
        warning = FlowError.at(pos, message)
        if warning not in self.warnings:
            self.warnings.append(warning)

    def __bool__(self) -> bool:
        return bool(self.errors)
