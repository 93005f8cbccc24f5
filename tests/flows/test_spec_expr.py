"""The expression language: grammar (precedence, literals), evaluation, functions, templates and
the positions of their errors."""

from __future__ import annotations

import pytest

from flows.spec import (
    ALWAYS,
    DepCtx,
    EvalEnv,
    FlowCtx,
    FlowSpecError,
    MappingFileSource,
    Pos,
    ProjectCtx,
    Scope,
    Template,
    VolumeCtx,
    evaluate_source,
    hash_files,
)
from flows.spec.expr import parse_expression, references, split_template

FLOW = FlowCtx(flow_id="live", project_id="proj", workspace="storage:proj", title="Proj", username="bob")
CODE = VolumeCtx(id="code", remote="storage:proj/code", mount="/project/code", read_only=True, local="modules")
DATA = VolumeCtx(id="data", remote="storage:proj/data", mount="/data", read_only=False, local=None)


def scope(**extra: object) -> Scope:
    contexts = {
        "flow": FLOW,
        "project": ProjectCtx(id="proj", owner="bob", project_name="bob"),
        "params": {"name": "world", "n": "3"},
        "env": {"HOME": "/root"},
        "volumes": {"code": CODE, "data": DATA},
        **extra,
    }
    return Scope(contexts, EvalEnv(username="bob"))


def ev(source: str, **extra: object) -> object:
    return evaluate_source(source, scope(**extra))


def error_of(source: str, **extra: object) -> str:
    with pytest.raises(FlowSpecError) as info:
        ev(source, **extra)
    return info.value.errors[0].message


# --- literals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    ("None", None), ("True", True), ("False", False), ("true", True), ("false", False),
    ("42", 42), ("0xff", 255), ("0o17", 15), ("0b101", 5), ("1_000", 1000),
    ("1.5", 1.5), ("2.", 2.0), ("1e3", 1000.0), ("1.5e-1", 0.15),
    ("'single'", "single"), ('"double"', "double"), ("\"it's\"", "it's"), ("''", ""),
    ("[]", []), ("[1, 'a', None]", [1, "a", None]), ("[1, 2,]", [1, 2]),
    ("{}", {}), ("{'a': 1, 'b': [2]}", {"a": 1, "b": [2]}), ("{'k': {'n': 1}}", {"k": {"n": 1}}),
])
def test_literals_evaluate_to_python_values(source, expected):
    assert ev(source) == expected
    assert type(ev(source)) is type(expected)


# --- operators and precedence -----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("7 % 4 + 1", 4),
    ("-2 * 3", -6),
    ("not 1 == 2", True),
    ("not True and False", False),
    ("not (True and False)", True),
    ("True or False and False", True),
    ("(True or False) and False", False),
    ("1 < 2 == True", True),
    ("1 <= 1 and 2 >= 3", False),
    ("2 > 1 != False", True),
    ("'a' < 'b'", True),
    ("1 == 1.0", True),
    ("'x' != 'y'", True),
    ("None == None", True),
    ("0 or 'default'", "default"),
    ("'' and 1", ""),
    ("'yes' if 1 < 2 else 'no'", "yes"),
    ("'yes' if not true else 'no'", "no"),
    ("{'a': 1} | {'b': 2}", {"a": 1, "b": 2}),
    ("[1] + [2]", [1, 2]),
    ("'a' + 'b'", "ab"),
    ("[x * 2 for x in [1, 2, 3] if x > 1]", [4, 6]),
    ("[k for k in {'a': 1, 'b': 2}]", ["a", "b"]),
])
def test_operators_follow_python_precedence(source, expected):
    assert ev(source) == expected


def test_and_or_short_circuit_so_a_guard_protects_a_missing_key():
    assert ev("False and params.nope") is False
    assert ev("True or params.nope") is True


def test_comparison_chains_read_left_to_right_like_apolo_flow():
    # apolo-flow has no chained comparisons: 3 > 2 > 1 is (3 > 2) > 1, i.e. True > 1
    assert ev("3 > 2 > 1") is False


# --- lookups ------------------------------------------------------------------------------------------


def test_attribute_and_item_access_read_the_same_values():
    assert ev("flow.project_id") == "proj"
    assert ev("flow['project_id']") == "proj"
    assert ev("params.name") == "world"
    assert ev("params['name']") == "world"
    assert ev("volumes.code.mount") == "/project/code"
    assert ev("volumes['code']['mount']") == "/project/code"
    assert ev("[10, 20, 30][1]") == 20
    assert ev("[10, 20, 30][-1]") == 30
    assert ev("'abc'[0]") == "a"


def test_volume_refs_read_storage_path_mount_and_mode():
    assert ev("volumes.code.ref") == "storage:proj/code:/project/code:ro"
    assert ev("volumes.data.ref") == "storage:proj/data:/data:rw"
    assert ev("volumes.data.ref_ro") == "storage:proj/data:/data:ro"
    assert ev("volumes.code.ref_rw") == "storage:proj/code:/project/code:rw"


def test_flow_id_is_an_alias_of_flow_id():
    assert ev("flow.id") == ev("flow.flow_id") == "live"


@pytest.mark.parametrize(("source", "message"), [
    ("flw.flow_id", "unknown context 'flw' (available: env, flow, params, project, volumes)"),
    ("matrix.x", "the 'matrix' context is not available here"),
    ("flow.nope", "'flow' has no attribute 'nope' (known: flow_id, project_id, workspace, title, username"),
    ("params.nope", "'params' has no attribute 'nope' (known: n, name)"),
    ("volumes.code.nope", "'volumes.code' has no attribute 'nope' (known: id, remote, mount"),
    ("params['nope']", "'params' has no item 'nope' (known: n, name)"),
    ("[1, 2][5]", "index 5 is out of range for 'value' (length 2)"),
    ("[1, 2]['a']", "is indexed by int, got str"),
    ("params.name.upper", "cannot read attribute 'upper' of 'params.name', a str value"),
    ("1 + 'a'", "'+' is not supported between int and str"),
    ("1 < 'a'", "'<' is not supported between int and str"),
    ("1 / 0", "division by zero"),
    ("-'a'", "unary '-' needs a number, got str"),
    ("[x for x in 3]", "cannot iterate over a int value"),
])
def test_evaluation_errors_say_what_is_wrong(source, message):
    assert message in error_of(source)


# --- syntax ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "message"), [
    ("1 +", "unexpected end of expression"),
    ("a b", "unexpected 'b' at offset 2"),
    ("(1", "unexpected end of expression"),
    ("[1, 2", "unexpected end of expression"),
    ("a..b", "unexpected '.' at offset 2"),
    ("1 = 2", "unexpected character '=' at offset 2"),
    ("'unclosed", "unexpected character"),
    ("", "empty expression"),
    ("foo(1)", "unknown function 'foo'"),
    ("len()", "len() takes 1 argument, got 0: len(value)"),
    ("join('a')", "join() takes 2 to 3 arguments, got 1"),
    ("fmt()", "fmt() takes at least 1 argument"),
    ("always(1)", "always() takes 0 arguments, got 1"),
    ("_private", "unexpected character '_'"),
])
def test_syntax_errors_are_reported(source, message):
    assert message in error_of(source)


def test_keywords_are_names_after_a_dot():
    assert ev("x.if", x={"if": 1}) == 1
    assert ev("nothing", nothing=2) == 2  # 'not' inside a name is not the operator


# --- functions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    ("len('four')", 4), ("len([1, 2])", 2), ("len(params)", 2),
    ("keys(params)", ["name", "n"]), ("values({'a': 1})", [1]),
    ("lower('VaLuE')", "value"), ("upper('VaLuE')", "VALUE"),
    ("fmt('{}-{}', 'a', 1)", "a-1"), ("fmt('plain')", "plain"),
    ("to_json({'a': [1, None]})", '{"a": [1, null]}'),
    ("from_json('{\"array\": [1, 2, 3], \"value\": \"v\"}').value", "v"),
    ("str(12)", "12"), ("str(None)", "None"), ("str(True)", "True"),
    ("int('42')", 42), ("range(3)", [0, 1, 2]), ("range(1, 7, 2)", [1, 3, 5]),
    ("replace('a-b-c', '-', '_')", "a_b_c"),
    ("join(',', ['a', 'b'])", "a,b"), ("join(' ', [1, 2], True)", "1 2"),
    ("parse_volume('storage:data/x:/mnt/data:ro').mount", "/mnt/data"),
    ("parse_volume('storage:data/x:/mnt/data:ro').read_only", True),
    ("parse_volume('storage:data/x:/mnt/data').read_only", False),
    ("parse_volume('storage://default/bob/x:/mnt:rw').remote", "storage://default/bob/x"),
    ("parse_volume('storage:a:/m').id", "<volume>"),
    ("to_json(volumes.data)",
     '{"id": "data", "remote": "storage:proj/data", "mount": "/data", "read_only": false, "local": null}'),
])
def test_functions(source, expected):
    assert ev(source) == expected


@pytest.mark.parametrize(("source", "message"), [
    ("len(1)", "len() requires a str, list or dict, got int"),
    ("keys([1])", "keys() requires a dict, got list"),
    ("lower(1)", "lower() requires a str, got int"),
    ("upper(None)", "upper() requires a str, got None"),
    ("fmt(1)", "fmt() first argument should be a str, got int"),
    ("fmt('{} {}', 1)", "fmt() cannot format"),
    ("from_json('{')", "from_json(): invalid JSON"),
    ("from_json(1)", "from_json() requires a str, got int"),
    ("replace('a', 1, 'b')", "replace() second argument should be a str, got int"),
    ("join(',', 'ab')", "join() second argument should be a list, got str"),
    ("join(',', [1])", "join() item 0 should be a str, got int"),
    ("parse_volume('nope')", "is not a volume reference"),
    ("upload(params)", "upload() argument should be a volume (volumes.<id>), got dict"),
    ("upload(volumes.data)", "upload() needs a volume with 'local' set; volume 'data' has none"),
    ("int('x')", "int() cannot convert 'x'"),
    ("success()", "success() is only available inside a task definition"),
    ("always()", "always() is only available inside a task definition"),
    ("hash_files('*.py')", "hash_files() is not available here: no access to the flow's files"),
    ("inspect_job('train')", "inspect_job() is not available here"),
])
def test_function_argument_errors(source, message):
    assert message in error_of(source)


def test_upload_without_a_hook_returns_the_volume_already_in_storage():
    assert ev("upload(volumes.code).ref_ro") == "storage:proj/code:/project/code:ro"


def test_upload_calls_the_callers_hook_with_the_volume():
    uploaded: list[str] = []
    env = EvalEnv(upload=lambda volume: uploaded.append(volume.id))
    value = evaluate_source("upload(volumes.code).ref_rw", Scope({"volumes": {"code": CODE}}, env))
    assert value == "storage:proj/code:/project/code:rw"
    assert uploaded == ["code"]


def test_upload_hook_failure_becomes_a_flow_error():
    def broken(volume: VolumeCtx) -> None:
        raise OSError("disk full")

    with pytest.raises(FlowSpecError, match="upload\\(\\) of volume 'code' failed: disk full"):
        evaluate_source("upload(volumes.code)", Scope({"volumes": {"code": CODE}}, EvalEnv(upload=broken)))


def test_hash_files_hashes_matching_files_through_the_callers_file_source():
    files = MappingFileSource({"Dockerfile": "FROM x", "modules/a.py": "a", "modules/sub/b.py": "b",
                               "modules/c.txt": "c", "requirements/base.txt": "r"})
    env = EvalEnv(files=files)
    value = evaluate_source("hash_files('Dockerfile', 'modules/**/*.py')", Scope({}, env))
    assert value == hash_files(files, ["Dockerfile", "modules/**/*.py"])
    assert len(str(value)) == 64
    assert files.glob("modules/**/*.py") == ["modules/a.py", "modules/sub/b.py"]
    renamed = MappingFileSource({"Dockerfile": "FROM x", "modules/a2.py": "a", "modules/sub/b.py": "b"})
    assert hash_files(renamed, ["Dockerfile", "modules/**/*.py"]) != value


def test_inspect_job_asks_the_hook_for_a_live_jobs_description():
    env = EvalEnv(inspect_job=lambda name, suffix: {"id": f"job-{name}-{suffix}", "http_url": "http://x"})
    value = evaluate_source("inspect_job('train', 's1').id", Scope({"params": {}}, env))
    assert value == "job-train-s1"


def test_success_failure_always_read_the_needs_results():
    needs = {"a": DepCtx("succeeded", {}), "b": DepCtx("failed", {"x": "1"}), "c": DepCtx("skipped", {})}
    assert ev("success('a')", needs=needs) is True
    assert ev("success()", needs=needs) is False
    assert ev("success('a', 'b')", needs=needs) is False
    assert ev("failure()", needs=needs) is True
    assert ev("failure('a', 'c')", needs=needs) is False
    assert ev("always()", needs=needs) is ALWAYS
    assert ev("needs.b.outputs.x", needs=needs) == "1"
    assert "success() argument 'zz' is not in the task's needs (a, b, c)" in error_of("success('zz')", needs=needs)
    assert ev("success()", needs={}) is True


# --- templates ------------------------------------------------------------------------------------------------


def test_a_template_that_is_one_expression_keeps_the_values_type():
    s = scope()
    assert Template.parse("${{ 1 < 2 }}", Pos("f", 1, 1)).evaluate(s) is True
    assert Template.parse("${{ [1, 2] }}", Pos("f", 1, 1)).evaluate(s) == [1, 2]
    assert Template.parse("$[[ 8080 ]]", Pos("f", 1, 1)).evaluate(s) == 8080


def test_text_mixed_with_expressions_evaluates_to_a_string():
    s = scope()
    template = Template.parse("x=${{ 1 }} ok=$[[ True ]] name=${{ params.name }}!", Pos("f", 1, 1))
    assert template.evaluate(s) == "x=1 ok=True name=world!"
    assert Template.parse("  ${{ 1 }}", Pos("f", 1, 1)).evaluate(s) == "  1"


def test_a_value_without_expressions_is_kept_as_written():
    assert Template.parse("plain $text {{ not }} [[ expr ]]", Pos("f", 1, 1)).evaluate(scope()) == \
        "plain $text {{ not }} [[ expr ]]"
    assert not Template.parse("plain", Pos("f", 1, 1)).has_expressions


def test_delimiters_inside_expressions_do_not_end_them():
    s = scope()
    assert Template.parse("${{ {'a': {'b': 1}} }}", Pos("f", 1, 1)).evaluate(s) == {"a": {"b": 1}}
    assert Template.parse("$[[ [[1]][0][0] ]]", Pos("f", 1, 1)).evaluate(s) == 1
    assert Template.parse("${{ '}}' }}", Pos("f", 1, 1)).evaluate(s) == "}}"


def test_template_errors_name_the_column_where_the_expression_starts():
    template = Template.parse("echo ${{ params.name }} and ${{ flw.x }}", Pos("live.yml", 4, 10))
    with pytest.raises(FlowSpecError) as info:
        template.evaluate(scope())
    assert str(info.value.errors[0]) == "live.yml:4:38: unknown context 'flw' " \
                                        "(available: env, flow, params, project, volumes)"


def test_syntax_errors_in_templates_are_found_when_the_value_is_read():
    template = Template.parse("a ${{ 1 + }} b", Pos("live.yml", 2, 7))
    assert [str(e) for e in template.errors] == [
        "live.yml:2:9: syntax error in expression: unexpected end of expression in '${{ 1 + }}'"]
    with pytest.raises(FlowSpecError):
        template.evaluate(scope())


def test_unclosed_template_error_points_at_the_opener():
    template = Template.parse("abc $[[ 1 + 2", Pos("f.yml", 3, 5))
    assert [str(e) for e in template.errors] == ["f.yml:3:9: unclosed expression: '$[[' without ']]'"]


def test_split_template_returns_text_and_expression_pieces():
    assert split_template("a ${{ x }} b $[[ y ]]") == [("a ", 0, None), (" x ", 2, "${{"), (" b ", 10, None),
                                                      (" y ", 13, "$[[")]


def test_references_list_context_reads_but_not_comprehension_variables():
    refs = references(parse_expression("upload(volumes.code).ref_ro + [v.x for v in params.list] + needs['a'].result"))
    assert [(r.root, r.path) for r in refs] == [("volumes", ("code",)), ("params", ("list",)),
                                                 ("needs", ("a", "result"))]
