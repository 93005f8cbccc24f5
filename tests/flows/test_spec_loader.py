"""load_project: which files are read, how actions are found, and how errors are collected."""

from __future__ import annotations

from pathlib import Path

from flows.spec import load_project, load_project_dir

LIVE = "kind: live\njobs:\n  a:\n    image: ubuntu\n"
BATCH = "kind: batch\ntasks:\n  - image: ubuntu\n"

LIVE_ACTION = """\
kind: live
name: Jupyter
descr: A notebook server
inputs:
  image:
    descr: The image
  port:
    default: 8888
    type: int
  dir: /notebooks
outputs:
  url:
    descr: documentation only
job:
  image: ${{ inputs.image }}
  http_port: ${{ inputs.port }}
  browse: true
  cmd: jupyter notebook --notebook-dir=${{ inputs.dir }} --title ${{ flow.flow_id }}
"""


def errors(files: dict[str, str], **kwargs: object) -> list[str]:
    return [str(e) for e in load_project(files, folder_name="proj", **kwargs).errors]


# --- config folder and files ----------------------------------------------------------------------


def test_apolo_folder_is_preferred_over_neuro():
    result = load_project({".apolo/live.yml": LIVE, ".neuro/live.yml": "not: [valid"}, folder_name="p")
    assert result.ok
    assert result.project.config_dir == ".apolo"
    assert [str(w) for w in result.warnings] == [
        ".neuro/live.yml:1:1: both .apolo/ and .neuro/ exist: .apolo/ is used, .neuro/ ignored"]


def test_neuro_folder_is_used_when_there_is_no_apolo():
    result = load_project({".neuro/live.yml": LIVE}, folder_name="p")
    assert result.project.config_dir == ".neuro" and result.project.live is not None


def test_an_explicit_config_dir_wins():
    result = load_project({".apolo/live.yml": LIVE, "cfg/live.yml": LIVE}, config_dir="cfg", folder_name="p")
    assert result.project.config_dir == "cfg" and result.ok


def test_project_id_comes_from_project_yml_or_the_folder_name():
    assert load_project({".neuro/project.yml": "id: from_yml\n"}).project.project_id == "from_yml"
    assert load_project({".neuro/live.yml": LIVE}, folder_name="my-flow").project.project_id == "my_flow"
    assert load_project({".neuro/project.yml": "owner: bob\n"}, folder_name="x").project.project_id == "x"


def test_project_without_id_or_folder_name_is_an_error():
    assert [str(e) for e in load_project({".neuro/live.yml": LIVE}).errors] == [
            ".neuro/project.yml:1:1: project.yml has no 'id' and no folder name was given to derive one from"]


def test_folder_name_that_is_not_an_identifier_is_an_error():
    result = load_project({".neuro/live.yml": LIVE}, folder_name="1st flow")
    assert "the folder name '1st flow' cannot be one" in result.errors[0].message


def test_project_yml_in_the_flow_folder_is_read_with_a_warning():
    result = load_project({"project.yml": "id: old_place\n", ".neuro/live.yml": LIVE})
    assert result.project.project_id == "old_place"
    assert "project.yml belongs in .neuro/" in result.warnings[0].message


def test_batch_ids_are_file_names_with_dashes_turned_into_underscores():
    result = load_project({".neuro/train-all.yml": BATCH, ".neuro/eval.yaml": BATCH}, folder_name="p")
    assert result.ok
    assert sorted(result.project.batches) == ["eval", "train_all"]
    assert result.project.batches["train_all"].file == ".neuro/train-all.yml"
    assert result.project.batches["train_all"].flow_id == "train_all"


def test_batch_file_names_that_cannot_be_ids_are_errors():
    assert errors({".neuro/1st.yml": BATCH}) == [
        ".neuro/1st.yml:1:1: the batch file name gives an invalid batch id: '1st' is not an identifier "
        "(letters, digits and '_', not starting with a digit)"]


def test_live_yml_and_live_yaml_together_are_an_error():
    assert errors({".neuro/live.yml": LIVE, ".neuro/live.yaml": LIVE}) == [
        ".neuro/live.yaml:1:1: both .neuro/live.yml and .neuro/live.yaml exist; keep only one"]


def test_files_outside_the_config_folder_and_non_yaml_files_are_not_flows():
    result = load_project({".neuro/live.yml": LIVE, ".neuro/README.md": "# hi", "data/x.yml": "kind: batch"},
                          folder_name="p")
    assert result.ok and not result.project.batches


def test_empty_files_are_errors():
    assert errors({".neuro/live.yml": ""}) == [".neuro/live.yml:1:1: the live flow file is empty"]
    assert errors({".neuro/b.yml": "# nothing\n"}) == [".neuro/b.yml:1:1: the batch flow file is empty"]


def test_bytes_are_decoded_and_bad_encodings_reported():
    assert load_project({".neuro/live.yml": LIVE.encode()}, folder_name="p").ok
    assert errors({".neuro/live.yml": b"\xff\xfe kind"}) == [
        ".neuro/live.yml:1:1: the file is not UTF-8 text (invalid start byte at byte 0)"]


def test_paths_must_stay_inside_the_flow_folder():
    assert errors({"../evil/live.yml": LIVE, ".neuro/live.yml": LIVE}) == [
        "../evil/live.yml:1:1: file paths must be relative to the flow folder"]
    assert load_project({"./.neuro/live.yml": LIVE}, folder_name="p").ok


def test_errors_from_every_file_are_collected_and_sorted():
    result = load_project({
        ".neuro/live.yml": "kind: live\njobs:\n  a:\n    image: x\n    bad: 1\n",
        ".neuro/b.yml": "kind: batch\ntasks:\n  - image: x\n    worse: 2\n",
        ".neuro/project.yml": "id: p\nnope: 3\n",
    })
    assert [(e.file, e.line, e.column) for e in result.errors] == [
        (".neuro/b.yml", 4, 5), (".neuro/live.yml", 5, 5), (".neuro/project.yml", 2, 1)]


def test_load_project_dir_reads_a_folder(tmp_path: Path):
    (tmp_path / ".neuro").mkdir()
    (tmp_path / ".neuro" / "live.yml").write_text(LIVE)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yml").write_text("not: [yaml")
    result = load_project_dir(tmp_path)
    assert result.ok
    assert result.project.project_id == tmp_path.name.replace("-", "_")


# --- actions -------------------------------------------------------------------------------------------


def test_ws_action_resolves_relative_to_the_flow_folder():
    files = {
        ".neuro/live.yml": "kind: live\njobs:\n  nb:\n    action: ws:actions/jupyter.yml\n"
                           "    args:\n      image: python\n",
        "actions/jupyter.yml": LIVE_ACTION,
    }
    result = load_project(files, folder_name="p")
    assert result.ok, result.errors
    call = result.project.live.jobs["nb"].action
    assert call.path == "actions/jupyter.yml"
    action = result.project.actions["actions/jupyter.yml"]
    assert action.kind == "live" and action.name == "Jupyter"
    assert list(action.inputs) == ["image", "port", "dir"]
    assert action.inputs["port"].type == "int" and action.inputs["port"].default.value == 8888
    assert action.inputs["image"].default is None


def test_ws_name_means_name_yml_in_the_config_folder():
    files = {".neuro/live.yml": "kind: live\njobs:\n  nb:\n    action: ws:jupyter\n    args: {image: x}\n",
             ".neuro/jupyter.yml": LIVE_ACTION}
    result = load_project(files, folder_name="p")
    assert result.ok
    assert result.project.live.jobs["nb"].action.path == ".neuro/jupyter.yml"
    assert not result.project.batches  # an action file in the config folder is not a batch


def test_action_files_next_to_batches_are_recognised_by_their_keys():
    files = {".neuro/check-prime.yml": "kind: batch\ninputs:\n  n: {}\ntasks:\n  - image: x\n",
             ".neuro/flow.yml": BATCH}
    result = load_project(files, folder_name="p")
    assert result.ok
    assert list(result.project.batches) == ["flow"]
    assert list(result.project.actions) == [".neuro/check-prime.yml"]


def test_a_batch_shaped_file_called_as_an_action_is_an_action():
    files = {".neuro/main.yml": "kind: batch\ntasks:\n  - action: ws:.neuro/sub.yml\n",
             ".neuro/sub.yml": BATCH}
    result = load_project(files, folder_name="p")
    assert result.ok, result.errors
    assert list(result.project.batches) == ["main"]
    assert list(result.project.actions) == [".neuro/sub.yml"]


def test_gh_actions_cannot_be_fetched_offline():
    files = {".neuro/live.yml": "kind: live\njobs:\n  nb:\n    action: gh:neuro-actions/jupyter@v1.0.0\n"}
    assert errors(files) == [
        ".neuro/live.yml:4:13: action 'gh:neuro-actions/jupyter@v1.0.0' cannot be fetched offline: GitHub "
        "actions (gh:) are not supported; copy the action file into the flow folder and use 'ws:'"]


def test_action_args_are_checked_against_inputs():
    files = {
        ".neuro/live.yml": "kind: live\njobs:\n  nb:\n    action: ws:a\n    args:\n      imagee: x\n",
        ".neuro/a.yml": LIVE_ACTION,
    }
    assert errors(files) == [
        ".neuro/live.yml:4:13: action 'ws:a' needs input(s): image",
        ".neuro/live.yml:6:15: unknown input 'imagee' for action 'ws:a' (inputs: image, port, dir)",
    ]


def test_action_kind_must_match_the_caller():
    files = {".neuro/live.yml": "kind: live\njobs:\n  nb:\n    action: ws:b\n",
             ".neuro/b.yml": "kind: batch-action\ntasks:\n  - image: x\n"}
    assert errors(files) == [
        ".neuro/live.yml:4:13: action 'ws:b' is a batch action; a live job needs a live action"]


def test_stateful_and_local_actions_are_not_supported():
    files = {".neuro/b.yml": "kind: batch\ntasks:\n  - action: ws:s\n",
             ".neuro/s.yml": "kind: stateful\nmain:\n  image: x\n"}
    assert errors(files) == [".neuro/s.yml:1:7: stateful actions are not supported by Kiln "
                             "(only live and batch actions)"]


def test_live_action_problems_are_reported_in_the_action_file():
    action = "kind: live-action\ninputs:\n  n:\n    default: 1\n    type: bool\n    desc: x\n" \
             "outputs:\n  o:\n    value: x\njob:\n  image: x\n  params: {a: 1}\n  cmd: ${{ params.a }}\n"
    files = {".neuro/live.yml": "kind: live\njobs:\n  a:\n    action: ws:act\n", ".neuro/act.yml": action}
    assert errors(files) == [
        ".neuro/act.yml:4:14: default of input 'n' should be of type bool, got int",
        ".neuro/act.yml:6:5: unknown key 'desc' in input 'n' (allowed: descr, default, type)",
        ".neuro/act.yml:9:12: outputs.o.value is not supported for live actions",
        ".neuro/act.yml:12:3: job.params is not supported inside a live action, use inputs instead",
        ".neuro/act.yml:13:8: the 'params' context is not available here",
    ]


def test_action_inputs_check_default_types():
    action = "kind: batch\ninputs:\n  n:\n    default: abc\n    type: int\n  ok:\n    default: 2\n" \
             "    type: float\n  t:\n    type: list\ntasks:\n  - image: x\n"
    assert errors({".neuro/b.yml": "kind: batch\ntasks:\n  - action: ws:act\n    args: {n: 1, t: x}\n",
                   ".neuro/act.yml": action}) == [
        ".neuro/act.yml:4:14: default of input 'n' should be of type int, got str",
        ".neuro/act.yml:10:11: invalid type of input 't': 'list' (allowed: str, int, float, bool)",
    ]


def test_an_action_that_calls_itself_is_an_error():
    action = "kind: batch\ntasks:\n  - action: ws:loop\n"
    assert errors({".neuro/b.yml": "kind: batch\ntasks:\n  - action: ws:loop\n", ".neuro/loop.yml": action}) == [
        ".neuro/loop.yml:3:13: action 'ws:loop' calls itself (through .neuro/loop.yml → .neuro/loop.yml)"]


def test_deprecated_outputs_needs_is_accepted_with_a_warning():
    action = "kind: batch\noutputs:\n  needs: [a]\n  r:\n    value: ${{ needs.a.outputs.r }}\n" \
             "tasks:\n  - id: a\n    image: x\n"
    result = load_project({".neuro/b.yml": "kind: batch\ntasks:\n  - action: ws:act\n",
                           ".neuro/act.yml": action}, folder_name="p")
    assert result.ok, result.errors
    assert [w.message for w in result.warnings] == [
        "outputs.needs is deprecated and has no effect: every task of the action is available in outputs expressions"]


def test_batch_action_output_without_value_is_an_error():
    action = "kind: batch\noutputs:\n  r:\n    descr: x\ntasks:\n  - image: x\n"
    assert errors({".neuro/b.yml": "kind: batch\ntasks:\n  - action: ws:act\n", ".neuro/act.yml": action}) == [
        ".neuro/act.yml:4:5: missing required key 'value' in output 'r'"]


def test_live_action_job_sees_only_inputs_and_flow():
    action = "kind: live\ninputs: {x: 1}\njob:\n  image: ${{ images.img.ref }}\n  cmd: ${{ inputs.y }}\n"
    assert errors({".neuro/live.yml": "kind: live\njobs:\n  a:\n    action: ws:act\n",
                   ".neuro/act.yml": action}) == [
        ".neuro/act.yml:4:10: the 'images' context is not available here",
        ".neuro/act.yml:5:8: 'inputs' has no attribute 'y' (known: x)",
    ]


def test_str_inputs_read_their_default_as_written():
    action = "kind: batch\ninputs:\n  v:\n    default: 1.10\n    type: str\ntasks:\n  - image: x\n"
    result = load_project({".neuro/b.yml": "kind: batch\ntasks:\n  - action: ws:act\n",
                           ".neuro/act.yml": action}, folder_name="p")
    assert result.ok
    assert result.project.actions[".neuro/act.yml"].inputs["v"].default.value == "1.10"
