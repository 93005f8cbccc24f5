"""Mixins: scalars from the job win over the rightmost mixin, lists concatenate, maps merge."""

from __future__ import annotations

from flows.spec import EvalEnv, load_project, render_live_job, render_task
from flows.spec.batch import plan_batch

LIVE = """\
kind: live
mixins:
  base:
    image: ubuntu
    preset: cpu-small
    env: {LEVEL: base, BASE: "1"}
    volumes: [storage:base:/base]
    tags: [base]
  gpu:
    preset: gpu-small
    env: {LEVEL: gpu, CUDA: "1"}
    volumes: [storage:gpu:/gpu]
    bash: nvidia-smi
  derived:
    mixins: [base]
    title: derived title
    env: {LEVEL: derived}
jobs:
  both:
    mixins: [base, gpu]
  own:
    mixins: [base, gpu]
    preset: own-preset
    env: {LEVEL: own}
    volumes: [storage:own:/own]
    cmd: echo own
  chained:
    mixins: [derived]
    cmd: echo chained
"""


def render(job: str, files: dict[str, str] | None = None):
    result = load_project(files or {".neuro/live.yml": LIVE}, folder_name="proj")
    assert result.ok, result.errors
    return render_live_job(result.project, job, env=EvalEnv(username="u"))


def test_scalars_come_from_the_rightmost_mixin_when_the_job_has_none():
    spec = render("both")
    assert spec.preset == "gpu-small"
    assert spec.image == "ubuntu"
    assert spec.command == "bash -euo pipefail -c nvidia-smi"


def test_scalars_from_the_job_win():
    spec = render("own")
    assert spec.preset == "own-preset"
    assert spec.command == "echo own"  # the job's cmd wins over the mixin's bash


def test_maps_merge_key_by_key_with_the_same_priority():
    assert render("both").env == {"LEVEL": "gpu", "BASE": "1", "CUDA": "1"}
    assert render("own").env == {"LEVEL": "own", "BASE": "1", "CUDA": "1"}


def test_lists_concatenate_job_first_then_mixins_right_to_left():
    assert render("own").volumes == ("storage:own:/own", "storage:gpu:/gpu", "storage:base:/base")
    assert render("both").volumes == ("storage:gpu:/gpu", "storage:base:/base")
    assert "base" in render("both").tags


def test_mixins_can_use_mixins():
    spec = render("chained")
    assert spec.title == "derived title"
    assert spec.env == {"LEVEL": "derived", "BASE": "1"}
    assert spec.image == "ubuntu"


def test_project_mixins_apply_and_flow_mixins_override_them_by_name():
    files = {
        ".neuro/project.yml": "id: proj\nmixins:\n  common:\n    image: from-project\n    preset: p\n"
                              "  shared:\n    image: shared-project\n",
        ".neuro/live.yml": "kind: live\nmixins:\n  shared:\n    image: shared-flow\n"
                           "jobs:\n  a:\n    mixins: [common]\n  b:\n    mixins: [shared]\n",
    }
    assert render("a", files).image == "from-project"
    assert render("b", files).image == "shared-flow"


def test_task_mixins_carry_batch_keys():
    files = {".neuro/b.yml": "kind: batch\nmixins:\n  late:\n    enable: ${{ always() }}\n    needs: []\n"
                             "    image: alpine\ntasks:\n  - id: a\n    image: x\n  - id: b\n    mixins: [late]\n"}
    result = load_project(files, folder_name="p")
    assert result.ok, result.errors
    plan = plan_batch(result.project, "b")
    assert dict(plan.tasks["b"].needs) == {}  # the mixin's needs: [] replaces the default (previous task)
    assert render_task(plan, "b", results={}).image == "alpine"


def test_an_unknown_mixin_is_an_error_at_its_name():
    result = load_project({".neuro/live.yml": "kind: live\njobs:\n  a:\n    image: x\n    mixins: [nope]\n"},
                          folder_name="p")
    assert [str(e) for e in result.errors] == [".neuro/live.yml:5:14: unknown mixin 'nope' (known: none defined)"]
