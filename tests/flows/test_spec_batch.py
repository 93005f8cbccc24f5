"""Batch mode: needs, matrices, task ids, enable, cache, rendering and batch-action calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.spec import (
    EvalEnv,
    FlowSpecError,
    TaskResult,
    action_result,
    cache_key_inputs,
    list_batches,
    load_project,
    load_project_dir,
    parse_duration,
    parse_set_output,
    plan_batch,
    render_task,
    task_cache_key,
    task_enable,
)

BATCHPROJ = Path(__file__).parent / "fixtures" / "batchproj"
OK = TaskResult("succeeded")


def project_of(batch: str, **extra: str):
    files = {".neuro/b.yml": batch, **{path: text for path, text in extra.items()}}
    result = load_project(files, folder_name="proj")
    assert result.ok, "\n".join(map(str, result.errors))
    return result.project


def plan_of(batch: str, params: dict[str, str] | None = None, **extra: str):
    return plan_batch(project_of(batch, **extra), "b", params=params)


def plan_errors(batch: str, **kwargs: object) -> list[str]:
    with pytest.raises(FlowSpecError) as info:
        plan_of(batch, **kwargs)
    return [str(e) for e in info.value.errors]


# --- needs ----------------------------------------------------------------------------------------------


def test_needs_default_to_the_previous_task():
    plan = plan_of("kind: batch\ntasks:\n  - image: x\n  - image: x\n  - id: third\n    image: x\n")
    assert list(plan.tasks) == ["task-1", "task-2", "third"]
    assert plan.graph() == {"task-1": {}, "task-2": {"task-1": "completed"}, "third": {"task-2": "completed"}}


def test_needs_as_a_list_and_as_a_map_with_levels():
    plan = plan_of("kind: batch\ntasks:\n  - id: a\n    image: x\n  - id: b\n    needs: []\n    image: x\n"
                   "  - id: c\n    needs: [a, b]\n    image: x\n  - id: d\n    needs:\n      a: running\n"
                   "      c: completed\n    image: x\n")
    assert plan.graph() == {"a": {}, "b": {}, "c": {"a": "completed", "b": "completed"},
                            "d": {"a": "running", "c": "completed"}}
    assert dict(plan.tasks["d"].needs_ctx) == {"c": "c"}  # running needs are not in the needs context


def test_needs_may_point_forward_and_tasks_come_out_in_dependency_order():
    plan = plan_of("kind: batch\ntasks:\n  - id: late\n    needs: [early]\n    image: x\n"
                   "  - id: early\n    needs: []\n    image: x\n")
    assert list(plan.tasks) == ["early", "late"]


def test_cycles_and_unknown_needs_are_load_errors_with_positions():
    result = load_project({".neuro/b.yml": "kind: batch\ntasks:\n  - id: a\n    needs: [c]\n    image: x\n"
                                           "  - id: b\n    needs: [a]\n    image: x\n  - id: c\n    needs: [b]\n"
                                           "    image: x\n  - id: d\n    needs: [zz]\n    image: x\n"},
                          folder_name="p")
    assert [str(e) for e in result.errors] == [
        ".neuro/b.yml:7:13: needs form a cycle: a → c → b → a",
        ".neuro/b.yml:13:13: task 'd' needs unknown task 'zz' (tasks: a, b, c, d)",
    ]


def test_needs_built_from_the_matrix_are_checked_when_planning():
    errors = plan_errors("kind: batch\ntasks:\n  - id: a\n    image: x\n  - id: b\n    strategy:\n      matrix:\n"
                         "        n: [1]\n    needs: [\"a${{ matrix.n }}\"]\n    image: x\n")
    assert errors == [".neuro/b.yml:9:13: task 'b-1' needs unknown task 'a1' (tasks: a, b)"]


def test_cycles_through_expression_needs_are_found_when_planning():
    errors = plan_errors("kind: batch\ntasks:\n  - id: a\n    needs: [\"${{ 'b' }}\"]\n    image: x\n"
                         "  - id: b\n    image: x\n")
    assert errors == [".neuro/b.yml:6:5: needs form a cycle: a → b → a"]


# --- matrix ------------------------------------------------------------------------------------------------


MATRIX = """\
kind: batch
tasks:
  - id: train
    strategy:
      matrix:
        model: [resnet, vit]
        lr: [0.1, 0.01]
        exclude:
          - model: vit
            lr: 0.1
        include:
          - model: mlp
            lr: 1
    image: python
    cmd: train --model ${{ matrix.model }} --lr ${{ matrix.lr }} --n ${{ matrix.ORDINAL }}
  - id: report
    image: python
"""


def test_matrix_expands_with_exclude_and_include():
    plan = plan_of(MATRIX)
    train = [t for t in plan.tasks.values() if t.base_id == "train"]
    assert [t.id for t in train] == ["train-0.1-resnet", "train-0.01-resnet", "train-0.01-vit", "train-1-mlp"]
    assert [dict(t.matrix) for t in train] == [
        {"model": "resnet", "lr": 0.1, "ORDINAL": 0}, {"model": "resnet", "lr": 0.01, "ORDINAL": 1},
        {"model": "vit", "lr": 0.01, "ORDINAL": 2}, {"model": "mlp", "lr": 1, "ORDINAL": 3}]
    assert render_task(plan, "train-1-mlp", results={}).command == "train --model mlp --lr 1 --n 3"


def test_the_next_task_needs_every_matrix_instance():
    plan = plan_of(MATRIX)
    assert list(plan.tasks["report"].needs) == ["train-0.1-resnet", "train-0.01-resnet", "train-0.01-vit",
                                                "train-1-mlp"]


def test_a_need_naming_a_matrix_task_waits_for_all_its_instances():
    plan = plan_of(MATRIX.replace("  - id: report\n", "  - id: report\n    needs: [train]\n"))
    assert len(plan.tasks["report"].needs) == 4


def test_matrix_ids_can_come_from_an_id_expression():
    plan = plan_of("kind: batch\ntasks:\n  - id: train_${{ matrix.m }}\n    strategy:\n      matrix:\n"
                   "        m: [a, b]\n    image: x\n  - needs: [train_b]\n    image: x\n")
    assert list(plan.tasks) == ["train_a", "train_b", "task-2"]
    assert dict(plan.tasks["task-2"].needs) == {"train_b": "completed"}


def test_matrix_ids_of_tasks_without_id_follow_apolo_flow():
    plan = plan_of("kind: batch\ntasks:\n  - strategy:\n      matrix:\n        p: [2, 3]\n        q: [\"a/b\"]\n"
                   "    image: x\n")
    assert list(plan.tasks) == ["task-1-2-a_b", "task-1-3-a_b"]


def test_matrix_values_can_come_from_an_expression():
    plan = plan_of("kind: batch\nparams:\n  n: \"3\"\ntasks:\n  - strategy:\n      matrix:\n"
                   "        i: ${{ range(int(params.n)) }}\n    image: x\n", params={"n": "2"})
    assert list(plan.tasks) == ["task-1-0", "task-1-1"]


def test_matrix_limit_is_256_combinations():
    values = ", ".join(str(i) for i in range(17))
    errors = plan_errors(f"kind: batch\ntasks:\n  - id: big\n    strategy:\n      matrix:\n        a: [{values}]\n"
                         f"        b: [{values}]\n    image: x\n")
    assert errors == [".neuro/b.yml:6:9: the matrix of task 'big' has 289 combinations; the limit is 256"]
    excluded = plan_of(f"kind: batch\ntasks:\n  - id: big\n    strategy:\n      matrix:\n        a: [{values}]\n"
                       f"        b: [{values}]\n        exclude:\n          - b: 0\n          - b: 1\n"
                       "    image: x\n")
    assert len(excluded.tasks) == 17 * 15


def test_huge_matrices_fail_before_being_built():
    values = ", ".join(str(i) for i in range(100))
    errors = plan_errors("kind: batch\ntasks:\n  - strategy:\n      matrix:\n" + "".join(
        f"        k{n}: [{values}]\n" for n in range(4)) + "    image: x\n")
    assert errors == [".neuro/b.yml:5:9: the matrix of task #1 has 100000000 combinations; the limit is 256"]


def test_include_entries_must_have_the_matrix_keys():
    errors = plan_errors("kind: batch\ntasks:\n  - id: t\n    strategy:\n      matrix:\n        a: [1]\n"
                         "        b: [2]\n        include:\n          - a: 3\n            c: 4\n    image: x\n")
    assert errors == [".neuro/b.yml:9:13: include entry of task 't' must have the same keys as the matrix "
                      "(additional keys: c; missing keys: b)"]


def test_exclude_entries_must_use_matrix_keys():
    errors = plan_errors("kind: batch\ntasks:\n  - id: t\n    strategy:\n      matrix:\n        a: [1]\n"
                         "        exclude:\n          - z: 3\n    image: x\n")
    assert errors == [".neuro/b.yml:8:13: exclude entry of task 't' uses key(s) z that are not matrix keys (keys: a)"]


def test_empty_matrix_values_are_an_error():
    errors = plan_errors("kind: batch\ntasks:\n  - id: t\n    strategy:\n      matrix:\n        a: []\n    image: x\n")
    assert errors == [".neuro/b.yml:6:12: matrix key 'a' of task 't' has no values"]


def test_duplicate_instance_ids_are_an_error():
    errors = plan_errors("kind: batch\ntasks:\n  - id: t_${{ matrix.a > 1 }}\n    strategy:\n      matrix:\n"
                         "        a: [1, 2, 3]\n    image: x\n")
    assert errors == [".neuro/b.yml:3:5: two tasks get the id 't_True'"]


# --- strategy, cache, params ------------------------------------------------------------------------------------


def test_fail_fast_defaults_to_true_and_max_parallel_to_unbounded():
    plan = plan_of("kind: batch\ntasks:\n  - image: x\n")
    assert plan.fail_fast is True and plan.max_parallel is None
    assert plan.tasks["task-1"].fail_fast is True and plan.tasks["task-1"].max_parallel is None


def test_defaults_and_task_strategies_set_fail_fast_and_max_parallel():
    plan = plan_of("kind: batch\ndefaults:\n  fail_fast: false\n  max_parallel: 4\ntasks:\n  - id: a\n    image: x\n"
                   "  - id: b\n    strategy:\n      fail_fast: true\n      max_parallel: 1\n    image: x\n"
                   "    cmd: ${{ strategy.max_parallel }} ${{ strategy.fail_fast }}\n")
    assert (plan.fail_fast, plan.max_parallel) == (False, 4)
    assert (plan.tasks["a"].fail_fast, plan.tasks["a"].max_parallel) == (False, 4)
    assert (plan.tasks["b"].fail_fast, plan.tasks["b"].max_parallel) == (True, 1)
    assert render_task(plan, "b", results={"a": OK}).command == "1 True"


def test_cache_defaults_to_14_days_and_life_spans_only_shrink():
    plan = plan_of("kind: batch\ndefaults:\n  cache:\n    life_span: 2d\ntasks:\n  - id: a\n    image: x\n"
                   "  - id: b\n    cache:\n      life_span: 30d\n    image: x\n  - id: c\n    cache:\n"
                   "      strategy: none\n      life_span: 1h\n    image: x\n  - id: d\n"
                   "    cache: {strategy: inherit}\n    image: x\n")
    assert plan_of("kind: batch\ntasks:\n  - image: x\n").cache.life_span == 14 * 86400
    assert (plan.tasks["a"].cache.strategy, plan.tasks["a"].cache.life_span) == ("default", 2 * 86400)
    assert plan.tasks["b"].cache.life_span == 2 * 86400
    assert (plan.tasks["c"].cache.strategy, plan.tasks["c"].cache.life_span) == ("none", 3600)
    assert plan.tasks["d"].cache.strategy == "default"


def test_project_cache_defaults_are_the_base_of_the_flows():
    project_yml = "id: p\ndefaults:\n  cache:\n    strategy: none\n    life_span: 1d\n"
    project = project_of("kind: batch\ndefaults:\n  cache: {strategy: inherit}\ntasks:\n  - image: x\n",
                         **{".neuro/project.yml": project_yml})
    plan = plan_batch(project, "b")
    assert (plan.cache.strategy, plan.cache.life_span) == ("none", 86400)


@pytest.mark.parametrize(("text", "seconds"), [
    ("1d2h", 93600), ("30m", 1800), ("1d6h15m45s", 108945), ("45s", 45), ("3600", 3600), (90, 90), (1.5, 1.5),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "d", "-5", "1h1d", "1 d"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_batch_params_are_required_unless_they_have_defaults():
    batch = "kind: batch\nparams:\n  a: x\n  b:\n    default: ~\n    descr: needed\ntasks:\n  - image: x\n" \
            "    cmd: ${{ params.a }}-${{ params.b }}\n"
    assert plan_errors(batch) == [".neuro/b.yml:4:3: param 'b' of batch 'b' has no value and no default"]
    assert plan_errors(batch, params={"b": "1", "c": "2"}) == [
        ".neuro/b.yml:1:1: unknown param(s) c for batch 'b' (declared: a, b)"]
    plan = plan_of(batch, params={"b": "y"})
    assert dict(plan.params) == {"a": "x", "b": "y"}
    assert render_task(plan, "task-1", results={}).command == "x-y"


def test_list_batches_shows_params():
    project = project_of("kind: batch\ntitle: T\nparams:\n  a: x\ntasks:\n  - image: x\n")
    [info] = list_batches(project)
    assert (info.id, info.title, info.file) == ("b", "T", ".neuro/b.yml")
    assert info.params[0].name == "a" and info.params[0].default == "x"


# --- enable ----------------------------------------------------------------------------------------------------


ENABLE = """\
kind: batch
tasks:
  - id: a
    image: x
  - id: b
    needs: []
    image: x
  - id: default
    needs: [a, b]
    image: x
  - id: on_failure
    needs: [a, b]
    enable: ${{ failure() }}
    image: x
  - id: only_a
    needs: [a, b]
    enable: ${{ success('a') }}
    image: x
  - id: always
    needs: [a, b]
    enable: ${{ always() }}
    image: x
  - id: constant
    needs: [a]
    enable: false
    image: x
"""


def test_enable_defaults_to_success_of_every_need():
    plan = plan_of(ENABLE)
    both_ok = {"a": OK, "b": TaskResult("cached")}
    b_failed = {"a": OK, "b": TaskResult("failed")}
    assert task_enable(plan, "default", results=both_ok).run is True
    assert task_enable(plan, "default", results=b_failed).run is False
    assert task_enable(plan, "default", results={"a": OK, "b": TaskResult("skipped")}).run is False
    assert task_enable(plan, "on_failure", results=b_failed).run is True
    assert task_enable(plan, "on_failure", results=both_ok).run is False
    assert task_enable(plan, "only_a", results=b_failed).run is True
    decision = task_enable(plan, "always", results=b_failed)
    assert decision.run and decision.always
    assert task_enable(plan, "constant", results={"a": OK}).run is False


def test_enable_needs_the_results_of_the_needs():
    plan = plan_of(ENABLE)
    with pytest.raises(FlowSpecError, match="results of needed task\\(s\\) b are missing for task 'default'"):
        task_enable(plan, "default", results={"a": OK})


# --- render ------------------------------------------------------------------------------------------------------


def test_tasks_render_with_outputs_of_their_needs_and_flow_defaults():
    plan = plan_of("kind: batch\ndefaults:\n  env: {A: '1'}\n  tags: [nightly]\n  workdir: /w\n  preset: cpu\n"
                   "  volumes: [storage:x:/x]\ntasks:\n  - id: prep\n    image: x\n  - id: train\n    image: py\n"
                   "    env: {B: '${{ needs.prep.outputs.path }}'}\n    volumes: [storage:y:/y:ro]\n"
                   "    cmd: train ${{ needs.prep.result }} ${{ flow.flow_id }} ${{ flow.title }}\n")
    spec = render_task(plan, "train", results={"prep": TaskResult("succeeded", {"path": "/data"})}, bake_id="bk1")
    assert spec.command == "train succeeded b b"
    assert spec.env == {"A": "1", "B": "/data"}
    assert spec.volumes == ("storage:x:/x", "storage:y:/y:ro")
    assert (spec.workdir, spec.preset) == ("/w", "cpu")
    assert spec.tags == ("bake_id:bk1", "flow:b", "nightly", "project:proj", "task:train")


def test_rendering_reports_every_evaluation_error():
    plan = plan_of("kind: batch\ntasks:\n  - id: a\n    image: x\n    http_port: ${{ 'x' }}\n"
                   "    cmd: ${{ needs }} ${{ 1 / 0 }}\n")
    with pytest.raises(FlowSpecError) as info:
        render_task(plan, "a", results={})
    assert sorted(str(e) for e in info.value.errors) == [
        ".neuro/b.yml:5:16: invalid http_port of task 'a': expected an integer, got 'x'",
        ".neuro/b.yml:6:23: division by zero",
    ]


def test_unknown_task_or_batch_is_an_error():
    plan = plan_of("kind: batch\ntasks:\n  - image: x\n")
    with pytest.raises(FlowSpecError, match="unknown task 'nope' in batch 'b'"):
        render_task(plan, "nope", results={})
    with pytest.raises(FlowSpecError, match="unknown batch 'other' \\(batches: b\\)"):
        plan_batch(project_of("kind: batch\ntasks:\n  - image: x\n"), "other")


def test_the_cache_key_changes_with_the_spec_and_the_needs_outputs():
    plan = plan_of("kind: batch\ntasks:\n  - id: a\n    image: x\n  - id: b\n    image: x\n    cmd: run\n")
    results = {"a": TaskResult("succeeded", {"v": "1"})}
    spec = render_task(plan, "b", results=results, bake_id="one")
    other_bake = render_task(plan, "b", results=results, bake_id="two")
    key = task_cache_key(plan, "b", spec, results=results)
    assert key == task_cache_key(plan, "b", other_bake, results=results)  # the bake id does not matter
    assert key != task_cache_key(plan, "b", spec, results={"a": TaskResult("succeeded", {"v": "2"})})
    assert key == task_cache_key(plan, "b", spec, results={"a": TaskResult("cached", {"v": "1"})})
    inputs = cache_key_inputs(plan, "b", spec, results=results)
    assert inputs["needs"] == {"a": {"result": "succeeded", "outputs": {"v": "1"}}}
    assert "bake_id:one" not in inputs["spec"]["tags"]


@pytest.mark.parametrize(("line", "expected"), [
    ("::set-output name=path::/data/x\n", ("path", "/data/x")),
    ("::set-output name=empty::", ("empty", "")),
    ("::set-output name=msg::a::b", ("msg", "a::b")),
    ("echo ::set-output name=x::y", None),
    ("::set-output name=::y", None),
    ("plain log line", None),
])
def test_set_output_lines(line, expected):
    assert parse_set_output(line) == expected


# --- batch actions --------------------------------------------------------------------------------------------


def test_the_fixture_bake_runs_end_to_end_with_an_action_call():
    result = load_project_dir(BATCHPROJ)
    assert result.ok, result.errors
    plan = plan_batch(result.project, "train_all", env=EvalEnv(username="bob"), params={"dataset": "mnist"})
    assert [t.id for t in plan.tasks.values()] == [
        "prepare", "train-0.1-resnet", "train-0.01-resnet", "train-0.01-vit", "train-1-mlp", "report",
        "check.task-1-2", "check.task-1-3", "check.task-1-5", "check.setup_output", "check", "task-5"]
    check = plan.tasks["check"]
    assert check.kind == "action" and check.action_ref == "ws:actions/check"
    assert set(check.needs) == {"check.task-1-2", "check.task-1-3", "check.task-1-5", "check.setup_output"}
    assert dict(plan.tasks["check.task-1-2"].needs) == {"report": "completed"}  # the call's needs
    assert plan.tasks["check.task-1-2"].parent == "check"

    results: dict[str, TaskResult] = {}
    commands: dict[str, str] = {}
    for task in plan.tasks.values():
        if task.kind == "action":
            results[task.id] = action_result(plan, task.id, results=results)
            continue
        if not task_enable(plan, task.id, results=results).run:
            results[task.id] = TaskResult("skipped")
            continue
        spec = render_task(plan, task.id, results=results)
        commands[task.id] = spec.command
        outputs = {"prepare": {"path": "/data/mnist"}, "check.setup_output": {"result": "5 is prime"}}
        results[task.id] = TaskResult("succeeded", outputs.get(task.id, {}))
    assert results["check.task-1-5"].status == "skipped"  # enable: matrix.p != inputs.number
    assert results["check"] == TaskResult("succeeded", {"result": "5 is prime"})
    assert commands["task-5"] == "echo 5 is prime"
    assert "resnet 0.1 /data/mnist" in commands["train-0.1-resnet"]
    assert "::set-output name=result::5 False" in commands["check.setup_output"]


def test_action_tasks_see_inputs_not_the_flows_defaults():
    action = "kind: batch\ninputs:\n  who: {}\nimages:\n  img:\n    ref: alpine:${{ inputs.who }}\n" \
             "outputs:\n  greeting:\n    value: ${{ needs.hello.outputs.text }}\n" \
             "tasks:\n  - id: hello\n    image: ${{ images.img.ref }}\n    cmd: echo hi ${{ inputs.who }}\n"
    plan = plan_of("kind: batch\ndefaults:\n  env: {NOT: passed}\ntasks:\n  - id: who\n    image: x\n"
                   "  - id: call\n    action: ws:act\n    args:\n      who: ${{ needs.who.outputs.name }}\n",
                   **{".neuro/act.yml": action})
    results = {"who": TaskResult("succeeded", {"name": "bob"})}
    spec = render_task(plan, "call.hello", results=results)
    assert (spec.image, spec.command, dict(spec.env)) == ("alpine:bob", "echo hi bob", {})
    results["call.hello"] = TaskResult("succeeded", {"text": "hi bob"})
    assert action_result(plan, "call", results=results) == TaskResult("succeeded", {"greeting": "hi bob"})


def test_action_results_fail_or_cancel_with_their_tasks():
    action = "kind: batch\ntasks:\n  - id: a\n    image: x\n  - id: b\n    image: x\n"
    plan = plan_of("kind: batch\ntasks:\n  - id: call\n    action: ws:act\n", **{".neuro/act.yml": action})
    ok = TaskResult("succeeded")
    assert action_result(plan, "call", results={"call.a": ok, "call.b": TaskResult("failed")}).status == "failed"
    assert action_result(plan, "call", results={"call.a": TaskResult("cancelled"), "call.b": ok}).status == \
        "cancelled"
    skipped = TaskResult("skipped")
    assert action_result(plan, "call", results={"call.a": skipped, "call.b": skipped}).status == "skipped"
    with pytest.raises(FlowSpecError, match="results of task\\(s\\) call.b are missing"):
        action_result(plan, "call", results={"call.a": ok})
    with pytest.raises(FlowSpecError, match="is an action call: it runs no job itself"):
        render_task(plan, "call", results={})


def test_the_calls_enable_applies_to_the_actions_first_tasks():
    action = "kind: batch\ntasks:\n  - id: a\n    image: x\n  - id: b\n    image: x\n"
    plan = plan_of("kind: batch\ntasks:\n  - id: gate\n    image: x\n  - id: call\n    action: ws:act\n"
                   "    enable: ${{ needs.gate.outputs.go == 'yes' }}\n", **{".neuro/act.yml": action})
    assert plan.tasks["call.a"].entry and not plan.tasks["call.b"].entry
    assert task_enable(plan, "call.a", results={"gate": TaskResult("succeeded", {"go": "no"})}).run is False
    assert task_enable(plan, "call.a", results={"gate": TaskResult("succeeded", {"go": "yes"})}).run is True


def test_action_matrix_can_use_inputs_known_when_planning():
    action = "kind: batch\ninputs:\n  n: {type: int}\ntasks:\n  - strategy:\n      matrix:\n" \
             "        i: ${{ range(inputs.n) }}\n    image: x\n"
    plan = plan_of("kind: batch\ntasks:\n  - id: call\n    action: ws:act\n    args: {n: 3}\n",
                   **{".neuro/act.yml": action})
    assert [t for t in plan.tasks if t.startswith("call.")] == ["call.task-1-0", "call.task-1-1", "call.task-1-2"]


def test_action_matrix_cannot_read_inputs_that_depend_on_needs():
    action = "kind: batch\ninputs:\n  n: {}\ntasks:\n  - strategy:\n      matrix:\n        i: ${{ [inputs.n] }}\n" \
             "    image: x\n"
    errors = plan_errors("kind: batch\ntasks:\n  - id: a\n    image: x\n  - id: call\n    action: ws:act\n"
                         "    args: {n: '${{ needs.a.outputs.n }}'}\n", **{".neuro/act.yml": action})
    assert errors == [".neuro/b.yml:7:16: action args read by the action's matrix, ids or needs cannot use 'needs'"]


def test_env_defaults_come_from_the_fixture_project():
    result = load_project_dir(BATCHPROJ)
    plan = plan_batch(result.project, "train_all")
    spec = render_task(plan, "prepare", results={})
    assert spec.env == {"FROM_PROJECT": "1", "DATASET": "cifar10"}
    assert "team-ml" in spec.tags
    assert plan.tasks["prepare"].cache.life_span == 7 * 86400
