"""Data-driven checks: every fixture file under fixtures/<kind>/invalid declares the errors it must
produce (``# expect: LINE:COLUMN message fragment``); every file under fixtures/<kind>/valid must
load without errors. Positions are asserted exactly, and no other error may appear."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.spec import load_project

FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+)$")
MINIMAL_LIVE = "kind: live\njobs: {}\n"


def placed(kind: str, path: Path) -> tuple[str, dict[str, str]]:
    """Where the fixture goes in a flow folder, and the flow's files."""
    text = path.read_text()
    if kind == "live":
        return ".neuro/live.yml", {".neuro/live.yml": text}
    if kind == "batch":
        return ".neuro/batch.yml", {".neuro/batch.yml": text}
    return ".neuro/project.yml", {".neuro/project.yml": text, ".neuro/live.yml": MINIMAL_LIVE}


def cases(state: str) -> list[tuple[str, Path]]:
    return [(kind, path) for kind in ("live", "batch", "project")
            for path in sorted((FIXTURES / kind / state).glob("*.yml"))]


@pytest.mark.parametrize(("kind", "path"), cases("invalid"), ids=lambda v: v if isinstance(v, str) else v.stem)
def test_invalid_fixture_reports_its_errors_at_their_positions(kind, path):
    expected = [EXPECT.match(line) for line in path.read_text().splitlines()]
    expected = [(int(m[1]), int(m[2]), m[3]) for m in expected if m]
    assert expected, f"{path.name} declares no '# expect:' line"
    file, files = placed(kind, path)
    result = load_project(files, folder_name="proj")
    got = [(e.line, e.column, e.message) for e in result.errors if e.file == file]
    others = [str(e) for e in result.errors if e.file != file]
    assert not others, others
    assert len(got) == len(expected), "\n".join(str(e) for e in result.errors)
    for (line, column, fragment), error in zip(sorted(expected), sorted(got), strict=True):
        assert (error[0], error[1]) == (line, column), f"{error} != {line}:{column} {fragment}"
        assert fragment in error[2], f"{fragment!r} not in {error[2]!r}"
    assert not result.ok


@pytest.mark.parametrize(("kind", "path"), cases("valid"), ids=lambda v: v if isinstance(v, str) else v.stem)
def test_valid_fixture_loads_without_errors(kind, path):
    _, files = placed(kind, path)
    result = load_project(files, folder_name="proj")
    assert result.ok, "\n".join(str(e) for e in result.errors)
    assert not result.warnings, "\n".join(str(e) for e in result.warnings)


def test_every_error_renders_as_file_line_column_message():
    result = load_project({".neuro/live.yml": "kind: live\njobs:\n  a:\n    imag: x\n"})
    assert str(result.errors[0]) == ".neuro/live.yml:4:5: job 'a' has no image"
    assert str(result.errors[1]).startswith(".neuro/live.yml:4:5: unknown key 'imag' in job 'a'")
