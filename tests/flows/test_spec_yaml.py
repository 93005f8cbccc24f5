"""YAML with positions: every key and value knows its file, line and column (1-based)."""

from __future__ import annotations

from flows.spec.errors import ErrorSink, Pos
from flows.spec.yamlnodes import Map, Scalar, Seq, parse_yaml

SOURCE = """\
kind: live
jobs:
  train:
    image: "ubuntu:22.04"
    env:
      PORT: 8080
      TIME: 22:22
    volumes:
      - storage:a:/a
      - ${{ volumes.b.ref }}
    bash: |
      echo one
        echo ${{ params.x }}
    cmd: >-
      folded
      text ${{ y }}
"""


def load(text: str = SOURCE, file: str = ".neuro/live.yml") -> tuple[Map, ErrorSink]:
    sink = ErrorSink()
    root = parse_yaml(file, text, sink)
    assert isinstance(root, Map)
    return root, sink


def test_keys_and_values_carry_one_based_positions():
    root, sink = load()
    assert not sink.errors
    assert root.key_node("jobs").pos == Pos(".neuro/live.yml", 2, 1)
    train = root.get("jobs").get("train")
    assert train.key_node("image").pos == Pos(".neuro/live.yml", 4, 5)
    assert train.get("image").pos == Pos(".neuro/live.yml", 4, 12)
    volumes = train.get("volumes")
    assert isinstance(volumes, Seq)
    assert [item.pos.line for item in volumes.items] == [9, 10]
    assert volumes.items[1].pos.column == 9


def test_scalars_keep_their_text_and_their_yaml_type():
    root, _ = load()
    env = root.get("jobs").get("train").get("env")
    port, time = env.get("PORT"), env.get("TIME")
    assert isinstance(port, Scalar) and port.value == 8080 and port.text == "8080"
    assert time.value == 1342 and time.text == "22:22"  # YAML 1.1 reads 22:22 as base 60; text is kept


def test_positions_inside_values_map_to_the_file():
    root, _ = load()
    train = root.get("jobs").get("train")
    image = train.get("image")
    assert image.pos_at(0) == Pos(".neuro/live.yml", 4, 13)  # after the opening quote
    bash = train.get("bash")
    assert bash.text == "echo one\n  echo ${{ params.x }}\n"
    assert bash.pos_at(bash.text.index("$")) == Pos(".neuro/live.yml", 13, 14)
    cmd = train.get("cmd")
    assert cmd.text == "folded text ${{ y }}"
    assert cmd.pos_at(cmd.text.index("$")) == Pos(".neuro/live.yml", 16, 12)


def test_duplicate_keys_are_errors_at_the_second_key():
    _, sink = load("a: 1\nb: 2\na: 3\n")
    assert [str(e) for e in sink.errors] == [".neuro/live.yml:3:1: duplicate key 'a' (first defined at line 1)"]


def test_syntax_errors_have_positions():
    sink = ErrorSink()
    assert parse_yaml("f.yml", "a: [1, 2\nb: 3\n", sink) is None
    assert str(sink.errors[0]) == "f.yml:2:2: YAML syntax error: expected ',' or ']', but got ':' " \
                                  "(while parsing a flow sequence)"


def test_several_documents_are_an_error():
    sink = ErrorSink()
    assert parse_yaml("f.yml", "a: 1\n---\nb: 2\n", sink) is None
    assert "expected a single document" in sink.errors[0].message
    assert sink.errors[0].line == 2


def test_empty_file_gives_no_node_and_no_error():
    sink = ErrorSink()
    assert parse_yaml("f.yml", "# only a comment\n", sink) is None
    assert not sink.errors


def test_anchors_aliases_and_merge_keys_resolve_with_explicit_keys_winning():
    root, sink = load("base: &b\n  image: ubuntu\n  preset: cpu\njob:\n  <<: *b\n  preset: gpu\n")
    assert not sink.errors
    job = root.get("job")
    assert job.keys() == ["preset", "image"]
    assert job.get("preset").value == "gpu"
    assert job.get("image").pos == Pos(".neuro/live.yml", 2, 10)  # where the anchored value is written


def test_merge_key_needs_a_mapping():
    _, sink = load("a: &x 1\nb:\n  <<: *x\n")
    assert "a '<<' merge key needs a mapping" in sink.errors[0].message


def test_complex_keys_are_errors():
    _, sink = load("? [a, b]\n: 1\n")
    assert sink.errors[0].message == "mapping keys must be plain strings"


def test_unknown_tags_are_errors():
    _, sink = load("a: !python/object x\n")
    assert "unsupported YAML tag" in sink.errors[0].message


def test_tags_on_collections_are_errors_too():
    _, sink = load("a: !!set {x, y}\nb: !custom [1]\n")
    assert [e.message for e in sink.errors] == ["unsupported YAML tag 'tag:yaml.org,2002:set'",
                                                "unsupported YAML tag '!custom'"]
