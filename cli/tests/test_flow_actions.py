"""The config files `kiln flow` sends (sync, check) include the `ws:` actions they call from
anywhere in the project, resolved as the server resolves them."""

from __future__ import annotations

from pathlib import Path

from kiln_cli.commands.flow import find_project


def write(root: Path, path: str, text: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)


def test_config_files_carry_the_actions_they_call(tmp_path):
    write(tmp_path, ".neuro/live.yml", "kind: live\njobs:\n  nb:\n    action: ws:tools/jupyter\n")
    write(tmp_path, ".neuro/train.yml", "kind: batch\ntasks:\n  - id: a\n    action: 'workspace:actions/step.yaml'\n")
    write(tmp_path, "tools/jupyter.yml", "kind: live-action\njob:\n  image: x\n")
    # An action calling another: found too.
    write(tmp_path, "actions/step.yaml", "kind: batch-action\ntasks:\n  - action: ws:actions/inner\n")
    write(tmp_path, "actions/inner.yml", "kind: batch-action\ntasks:\n  - image: x\n")
    write(tmp_path, "actions/unused.yml", "kind: batch-action\ntasks:\n  - image: x\n")
    write(tmp_path, "data/big.yml", "not: sent\n")
    files = find_project(tmp_path).config_files()
    assert sorted(files) == [".neuro/live.yml", ".neuro/train.yml", "actions/inner.yml", "actions/step.yaml",
                             "tools/jupyter.yml"]
    assert files["actions/inner.yml"] == "kind: batch-action\ntasks:\n  - image: x\n"


def test_missing_or_outside_actions_are_left_for_the_server_to_report(tmp_path):
    write(tmp_path, ".neuro/live.yml", "kind: live\njobs:\n  a:\n    action: ws:nowhere\n"
                                       "  b:\n    action: ws:../outside.yml\n  c:\n    action: gh:org/repo@v1\n")
    write(tmp_path.parent, "outside.yml", "kind: live-action\n")  # exists, but not in the project
    write(tmp_path, ".neuro/broken.yml", "kind: batch\ntasks: [oops\n")  # not YAML: calls nothing
    assert sorted(find_project(tmp_path).config_files()) == [".neuro/broken.yml", ".neuro/live.yml"]
