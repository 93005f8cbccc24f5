"""The shared output helpers."""

from __future__ import annotations

import pytest

# isort: split
from kiln_cli.output import Output


def test_table_keeps_one_row_per_line_without_trailing_spaces(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Output().table(["NAME", "SIZE"], [["x" * 300, 1], ["y", None]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "SIZE"]
    assert lines[1].split() == ["x" * 300, "1"]
    assert lines[2] == "y"


def test_cells_are_not_rich_markup(capsys: pytest.CaptureFixture[str]) -> None:
    Output().table(["NAME"], [["[bold]x[/bold]"]])
    assert "[bold]x[/bold]" in capsys.readouterr().out


def test_empty_table_prints_the_empty_line(capsys: pytest.CaptureFixture[str]) -> None:
    Output().table(["NAME"], [], empty="Nothing here.")
    assert capsys.readouterr().out == "Nothing here.\n"


def test_emit_picks_json_or_human(capsys: pytest.CaptureFixture[str]) -> None:
    Output(json_mode=True).emit({"a": 1}, lambda: print("human"))
    Output().emit({"a": 1}, lambda: print("human"))
    assert capsys.readouterr().out == '{\n  "a": 1\n}\nhuman\n'


def test_progress_is_silent_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Output().transfer_progress() as progress:
        advance = progress.add("data.bin", 1000)
        advance(500)
        advance(500)
    assert capsys.readouterr() == ("", "")


def test_progress_draws_bars_when_enabled(capsys: pytest.CaptureFixture[str]) -> None:
    with Output().transfer_progress(enabled=True) as progress:
        progress.add("data.bin", 2048)(2048)
    assert "data.bin" in capsys.readouterr().err
