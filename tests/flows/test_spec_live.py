"""Live mode: the public flow template parses and renders; params, multi, defaults, actions."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from flows.spec import (
    DirectoryFileSource,
    EvalEnv,
    FlowSpecError,
    ParamInfo,
    VolumeCtx,
    job_is_multi,
    list_live_jobs,
    live_job_tags,
    load_project,
    load_project_dir,
    new_multi_suffix,
    render_live_job,
)

TEMPLATE = Path(__file__).parent / "fixtures" / "template"
ENV = EvalEnv(username="alice", workspace="storage:my_project")


@pytest.fixture(scope="module")
def template():
    result = load_project_dir(TEMPLATE)
    assert result.ok, result.errors
    assert not result.warnings
    return result.project


# --- the flow template ------------------------------------------------------------------------------


def test_template_lists_its_jobs_with_params_and_multi(template):
    jobs = {job.id: job for job in list_live_jobs(template)}
    assert list(jobs) == ["train", "multitrain", "jupyter", "tensorboard", "filebrowser"]
    assert jobs["multitrain"].multi and not jobs["train"].multi
    assert jobs["train"].params == (ParamInfo("epochs", "10", None, False),
                                    ParamInfo("lr", "0.001", "Learning rate", False))
    assert jobs["train"].pos.line == 42


def test_template_train_job_renders(template):
    spec = render_live_job(template, "train", env=ENV, params={"epochs": "20"})
    assert spec.image == "image:my_project:v1"
    assert spec.volumes == (
        "storage:my_project/data:/project/data:ro",
        "storage:my_project/modules:/project/modules:ro",
        "storage:my_project/config:/project/config:ro",
        "storage:my_project/results:/project/results:rw",
    )
    assert spec.env == {"EXPOSE_SSH": "yes", "PYTHONPATH": "/project/modules"}
    script = "cd /project\npython -u /project/modules/train.py --data /project/data --epochs 20 --lr 0.001\n"
    assert spec.command == "bash -euo pipefail -c " + shlex.quote(script)
    assert shlex.split(spec.command)[-1] == script
    assert spec.preset == "gpu-small"
    assert spec.life_span == 10 * 86400  # the job's 10d over defaults' 5d
    assert spec.detach is False
    assert spec.params == {"epochs": "20", "lr": "0.001"}
    assert spec.name == "my-project-train"
    assert spec.title == "live.train"
    assert spec.tags == ("flow:live", "job:train", "project:my-project")


def test_template_jupyter_job_renders(template):
    spec = render_live_job(template, "jupyter", env=ENV)
    assert spec.http_port == 8888 and spec.http_auth is True and spec.browse is True and spec.detach is True
    assert spec.life_span == 5 * 86400  # from defaults
    assert "storage:my_project/notebooks:/project/notebooks:rw" in spec.volumes
    assert spec.command.startswith("jupyter notebook\n  --no-browser")
    assert spec.command.endswith("--notebook-dir=/project/notebooks")


def test_template_tensorboard_and_filebrowser_render(template):
    tensorboard = render_live_job(template, "tensorboard", env=ENV)
    assert tensorboard.image == "tensorflow/tensorflow:latest"
    assert tensorboard.command == "tensorboard --host=0.0.0.0 --logdir=/project/results"
    assert tensorboard.volumes == ("storage:my_project/results:/project/results:ro",)
    filebrowser = render_live_job(template, "filebrowser", env=ENV)
    assert filebrowser.volumes == ("storage:my_project:/srv:rw",)
    assert filebrowser.http_port == 80


def test_template_multi_job_takes_args_and_a_suffix(template):
    spec = render_live_job(template, "multitrain", env=ENV, suffix="s1", args=["--lr", "0.1 0.2"])
    assert spec.multi and spec.suffix == "s1"
    assert "train.py --data /project/data --lr '0.1 0.2'\n" in shlex.split(spec.command)[-1]
    assert spec.name == "my-project-multitrain-s1"
    assert "multi:s1" in spec.tags
    assert live_job_tags(template, "multitrain", "s1") == ["flow:live", "job:multitrain", "multi:s1",
                                                             "project:my-project"]


def test_template_upload_calls_the_hook_for_each_uploaded_volume(template):
    uploaded: list[str] = []
    env = EvalEnv(username="alice", upload=lambda volume: uploaded.append(volume.id))
    render_live_job(template, "jupyter", env=env)
    assert uploaded == ["code", "config", "notebooks"]


def test_template_image_context_uses_the_workspace(template):
    env = EvalEnv(username="a", workspace="storage:flows/my_project")
    spec = render_live_job(template, "train", env=env)
    assert spec.image == "image:my_project:v1"


# --- params -------------------------------------------------------------------------------------------


FLOW = """\
kind: live
params:
  shared: flow-level
defaults:
  env: {FROM_DEFAULTS: "1", OVERRIDE: defaults}
  volumes: [storage:common:/common:ro]
  workdir: /work
  preset: cpu-small
  tags: [team]
  schedule_timeout: 15m
life_span: 3h
jobs:
  greet:
    image: alpine
    params:
      who: world
      times:
        default: ~
        descr: How many times
    env:
      OVERRIDE: job
    cmd: echo ${{ params.who }} x${{ params.times }} ${{ params.shared }} ${{ env.FROM_DEFAULTS }}
  py:
    image: python
    python: |
      print("it's ok")
"""


def load(live: str = FLOW, extra: dict[str, str] | None = None):
    all_files = {".neuro/live.yml": live, **(extra or {})}
    result = load_project(all_files, folder_name="proj")
    assert result.ok, result.errors
    return result.project


def test_params_given_override_defaults_and_required_params_must_be_given():
    project = load()
    spec = render_live_job(project, "greet", params={"times": "3"})
    assert spec.command == "echo world x3 flow-level 1"
    spec = render_live_job(project, "greet", params={"times": "3", "who": "bob", "shared": "mine"})
    assert spec.command == "echo bob x3 mine 1"
    with pytest.raises(FlowSpecError) as info:
        render_live_job(project, "greet")
    assert [str(e) for e in info.value.errors] == [
        ".neuro/live.yml:17:7: param 'times' of job 'greet' has no value and no default"]


def test_unknown_params_are_an_error():
    with pytest.raises(FlowSpecError) as info:
        render_live_job(load(), "greet", params={"times": "1", "whom": "x"})
    assert str(info.value.errors[0]) == (".neuro/live.yml:14:5: unknown param(s) whom for job 'greet' "
                                         "(declared: shared, who, times)")


def test_defaults_fill_what_the_job_does_not_set():
    spec = render_live_job(load(), "greet", params={"times": "1"})
    assert spec.env == {"FROM_DEFAULTS": "1", "OVERRIDE": "job"}
    assert spec.volumes == ("storage:common:/common:ro",)
    assert spec.workdir == "/work"
    assert spec.preset == "cpu-small"
    assert spec.schedule_timeout == 900
    assert spec.life_span == 3 * 3600  # the flow's life_span when neither job nor defaults set one
    assert "team" in spec.tags


def test_python_wraps_the_script():
    spec = render_live_job(load(), "py")
    assert spec.command == "python3 -uc " + shlex.quote("print(\"it's ok\")\n")


def test_project_defaults_merge_under_flow_defaults():
    files = {".neuro/live.yml": "kind: live\ndefaults:\n  env: {A: flow}\n  volumes: [storage:f:/f]\n"
                                "jobs:\n  a:\n    image: x\n",
             ".neuro/project.yml": "id: proj\ndefaults:\n  env: {A: project, B: project}\n  preset: p-preset\n"
                                   "  volumes: [storage:p:/p]\n  workdir: /p\n"}
    result = load_project(files)
    assert result.ok
    spec = render_live_job(result.project, "a")
    assert spec.env == {"A": "flow", "B": "project"}
    assert spec.volumes == ("storage:f:/f", "storage:p:/p")
    assert spec.preset == "p-preset" and spec.workdir == "/p"


def test_project_context_defaults_to_the_owner():
    files = {".neuro/live.yml": "kind: live\njobs:\n  a:\n    image: x\n"
                                "    cmd: ${{ project.project_name }} ${{ project.owner }} ${{ project.id }}\n"}
    project = load_project(files, folder_name="flowdir").project
    assert render_live_job(project, "a", env=EvalEnv(username="carol", owner="bob")).command == "bob bob flowdir"
    assert render_live_job(project, "a", env=EvalEnv(username="carol")).command == "carol carol flowdir"
    files[".neuro/project.yml"] = "id: p\nowner: dave\nproject_name: research\n"
    project = load_project(files).project
    assert render_live_job(project, "a", env=EvalEnv(username="carol")).command == "research dave p"


# --- multi ---------------------------------------------------------------------------------------------


def test_multi_jobs_need_a_suffix_and_other_jobs_refuse_one():
    project = load("kind: live\njobs:\n  m:\n    image: x\n    multi: true\n    cmd: run ${{ multi.args }}\n"
                   "  s:\n    image: x\n")
    assert job_is_multi(project, "m") and not job_is_multi(project, "s")
    with pytest.raises(FlowSpecError, match="job 'm' is multi: running it needs a suffix"):
        render_live_job(project, "m")
    with pytest.raises(FlowSpecError, match="job 's' is not multi: it takes no suffix or args"):
        render_live_job(project, "s", suffix="x")
    assert render_live_job(project, "m", suffix="a").command == "run "
    assert render_live_job(project, "m", suffix="a", args=["x y", "z"]).command == "run 'x y' z"
    assert len(new_multi_suffix()) == 6


# --- errors at render time ------------------------------------------------------------------------------


def test_unknown_job_names_the_jobs():
    with pytest.raises(FlowSpecError) as info:
        render_live_job(load(), "nope")
    assert str(info.value.errors[0]) == ".neuro/live.yml:12:1: unknown live job 'nope' (jobs: greet, py)"


def test_no_live_yml_is_an_error():
    project = load_project({".neuro/b.yml": "kind: batch\ntasks:\n  - image: x\n"}, folder_name="p").project
    with pytest.raises(FlowSpecError, match="the flow has no live.yml"):
        render_live_job(project, "a")
    assert list_live_jobs(project) == []


def test_evaluation_errors_carry_the_expression_position():
    project = load("kind: live\njobs:\n  a:\n    image: x\n    http_port: ${{ 'eighty' }}\n"
                   "    cmd: echo ${{ 1 / 0 }} ${{ from_json('{') }}\n")
    with pytest.raises(FlowSpecError) as info:
        render_live_job(project, "a")
    assert [str(e) for e in info.value.errors] == [
        ".neuro/live.yml:6:15: division by zero",
        ".neuro/live.yml:5:16: invalid http_port of job 'a': expected an integer, got 'eighty'",
    ]


def test_whole_list_and_map_expressions_must_give_lists_and_maps():
    project = load("kind: live\njobs:\n  a:\n    image: x\n    volumes: ${{ 'x' }}\n    env: ${{ [1] }}\n")
    with pytest.raises(FlowSpecError) as info:
        render_live_job(project, "a")
    assert sorted(str(e) for e in info.value.errors) == [
        ".neuro/live.yml:5:14: volumes of job 'a' must be a list, got a string",
        ".neuro/live.yml:6:10: env of job 'a' must be a mapping, got a list",
    ]


def test_volume_strings_must_be_volume_references():
    project = load("kind: live\njobs:\n  a:\n    image: x\n    volumes:\n      - just-a-path\n")
    with pytest.raises(FlowSpecError, match="invalid volume: 'just-a-path' is not a volume reference"):
        render_live_job(project, "a")


def test_image_from_an_expression_that_gives_none_is_an_error():
    project = load("kind: live\njobs:\n  a:\n    image: ${{ None }}\n")
    with pytest.raises(FlowSpecError) as info:
        render_live_job(project, "a")
    assert str(info.value.errors[0]) == ".neuro/live.yml:4:12: job 'a' has no image"


def test_git_context_needs_git_information():
    project = load("kind: live\njobs:\n  a:\n    image: x\n    cmd: ${{ git.sha }}\n")
    with pytest.raises(FlowSpecError, match="git information is not available"):
        render_live_job(project, "a")
    env = EvalEnv(git={"sha": "abc123", "branch": "main", "tags": ["v1"]})
    assert render_live_job(project, "a", env=env).command == "abc123"


def test_hash_files_in_an_image_ref_reads_the_flow_folder():
    files = {".neuro/live.yml": "kind: live\nimages:\n  img:\n    ref: image:x:${{ hash_files('Dockerfile') }}\n"
                                "jobs:\n  a:\n    image: ${{ images.img.ref }}\n"}
    project = load_project(files, folder_name="p").project
    spec = render_live_job(project, "a", env=EvalEnv(files=DirectoryFileSource(TEMPLATE)))
    assert spec.image.startswith("image:x:") and len(spec.image) == len("image:x:") + 64


def test_inspect_job_uses_the_hook():
    project = load("kind: live\njobs:\n  a:\n    image: x\n    env:\n      URL: ${{ inspect_job('b').http_url }}\n")
    env = EvalEnv(inspect_job=lambda job, suffix: {"http_url": f"https://{job}.jobs"})
    assert render_live_job(project, "a", env=env).env == {"URL": "https://b.jobs"}


# --- live actions ----------------------------------------------------------------------------------------


ACTION = """\
kind: live
inputs:
  image: {}
  port:
    default: 8888
    type: int
  dir: /notebooks
job:
  image: ${{ inputs.image }}
  http_port: ${{ inputs.port }}
  browse: true
  detach: true
  env:
    FLOW: ${{ flow.flow_id }}
  cmd: jupyter notebook --notebook-dir=${{ inputs.dir }}
"""


def test_a_job_calling_a_live_action_runs_the_actions_job():
    project = load(
        "kind: live\ndefaults:\n  env: {NOT_PASSED: '1'}\n  volumes: [storage:d:/d]\n"
        "volumes:\n  nb:\n    remote: storage:nb\n    mount: /nb\n"
        "jobs:\n  jupyter:\n    action: ws:actions/jupyter\n    params:\n      img: python\n"
        "    args:\n      image: ${{ params.img }}\n      dir: ${{ volumes.nb.mount }}\n",
        extra={"actions/jupyter.yml": ACTION},
    )
    spec = render_live_job(project, "jupyter", params={"img": "jupyter/scipy"})
    assert spec.image == "jupyter/scipy"
    assert spec.http_port == 8888
    assert spec.command == "jupyter notebook --notebook-dir=/nb"
    assert spec.env == {"FLOW": "live"}  # defaults are not passed to actions
    assert spec.volumes == ()
    assert spec.browse and spec.detach
    assert "job:jupyter" in spec.tags
    assert list_live_jobs(project)[0].action == "ws:actions/jupyter"


def test_action_args_are_type_checked_against_inputs():
    project = load("kind: live\njobs:\n  j:\n    action: ws:actions/jupyter\n    args:\n      image: x\n"
                   "      port: ${{ 'not a number' }}\n", extra={"actions/jupyter.yml": ACTION})
    with pytest.raises(FlowSpecError) as info:
        render_live_job(project, "j")
    assert str(info.value.errors[0]) == (".neuro/live.yml:7:13: input 'port' of action 'ws:actions/jupyter' "
                                         "should be int, got a string")


def test_volume_ctx_is_available_to_hooks():
    seen: list[VolumeCtx] = []
    project = load("kind: live\nvolumes:\n  v:\n    remote: storage:v\n    mount: /v\n    local: v\n"
                   "jobs:\n  a:\n    image: x\n    volumes: [\"${{ upload(volumes.v).ref }}\"]\n")
    spec = render_live_job(project, "a", env=EvalEnv(upload=seen.append))
    assert spec.volumes == ("storage:v:/v:rw",)
    assert seen[0].local == "v" and seen[0].remote == "storage:v"


def test_images_are_evaluated_only_when_a_job_reads_them():
    project = load("kind: live\nimages:\n  hashed:\n    ref: image:x:${{ hash_files('Dockerfile') }}\n"
                   "jobs:\n  plain:\n    image: ubuntu\n  uses:\n    image: ${{ images.hashed.ref }}\n")
    assert render_live_job(project, "plain").image == "ubuntu"
    with pytest.raises(FlowSpecError) as info:
        render_live_job(project, "uses")
    assert [str(e) for e in info.value.errors] == [
        ".neuro/live.yml:4:18: hash_files() is not available here: no access to the flow's files"]


def test_apolo_flow_e2e_context_dump_renders():
    import json

    text = (Path(__file__).parent / "fixtures" / "live" / "valid" / "apolo_e2e.yml").read_text()
    project = load(text)
    spec = render_live_job(project, "job_ctx_full", env=EvalEnv(username="bob", workspace="/ws"),
                           params={"arg1": "one"})
    lines = shlex.split(spec.command)[-1].splitlines()
    dumped = {line.split(": ", 1)[0].strip("'\""): line.split(": ", 1)[1].rstrip(",'") for line in
              (line[len("echo '"):] for line in lines)}
    assert json.loads(dumped["volumes"])["ro_dir"] == {
        "id": "ro_dir", "remote": "storage:neuro-flow-e2e/proj/ro_dir", "mount": "/project/ro_dir",
        "read_only": True, "local": "ro_dir"}
    assert json.loads(dumped["params"]) == {"arg1": "one", "arg2": "val2"}
    assert json.loads(dumped["env"]) == {"FOO": "FOO_ENV"}
    assert json.loads(dumped["tags"]) == ["flow:live", "project:proj"]
    assert json.loads(dumped["flow"])["title"] == "Test live config"
    assert json.loads(dumped["images"])["img"]["ref"] == "image:neuro-flow-e2e/proj:v1.0"
    assert json.loads(dumped["project"]) == {"id": "proj", "owner": "bob", "project_name": "bob", "role": None}
    assert spec.preset == "cpu-micro"
    assert spec.env == {"FOO": "FOO_ENV", "BAR": "BAR_ENV"}
