import pytest

from console.uris import InvalidUri, Uri, parse_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("job:my-job", "job://default/bob/my-job"),
        ("job:", "job://default/bob"),
        ("storage:cifar-10/train", "storage://default/bob/cifar-10/train"),
        ("storage:/alice/x", "storage://default/alice/x"),
        ("storage://default/alice/x/", "storage://default/alice/x"),
        ("storage://default/alice//x/./y", "storage://default/alice/x/y"),
        ("image:my-image", "image://default/bob/my-image"),
        ("flow:my_flow", "flow://default/bob/my_flow"),
        ("JOB://default/bob/job-1", "job://default/bob/job-1"),
        ("job://other/carol", "job://other/carol"),
    ],
)
def test_short_and_long_forms_normalise_to_one_uri(text, expected):
    assert str(parse_uri(text, username="bob", cluster="default")) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "required"),
        ("nothing", "not a URI"),
        ("ftp://default/bob", "Unknown URI scheme"),
        ("storage:../alice", "'..'"),
        ("storage://default/bob/../alice", "'..'"),
        ("storage:a\x00b", "control characters"),
        ("storage:/", "names no user"),
        ("storage://Bad_Cluster/bob", "Invalid cluster"),
        ("job://default/bo b", "Invalid user name"),
    ],
)
def test_malformed_uris_are_refused_with_a_reason(text, message):
    with pytest.raises(InvalidUri, match=message):
        parse_uri(text, username="bob", cluster="default")


def test_short_form_needs_a_user():
    with pytest.raises(InvalidUri, match="needs a logged-in user"):
        parse_uri("job:x", cluster="default")


def test_ancestors_run_from_the_uri_up_to_the_owner_root():
    uri = parse_uri("storage://default/bob/a/b/c", cluster="default")
    assert [str(node) for node in uri.ancestors()] == [
        "storage://default/bob/a/b/c",
        "storage://default/bob/a/b",
        "storage://default/bob/a",
        "storage://default/bob",
    ]


def test_within_is_by_whole_segments():
    folder = Uri("storage", "default", "bob", "data")
    assert Uri("storage", "default", "bob", "data/x").is_within(folder)
    assert Uri("storage", "default", "bob", "data").is_within(folder)
    assert not Uri("storage", "default", "bob", "database").is_within(folder)
    assert not Uri("storage", "default", "alice", "data").is_within(folder)
    assert not Uri("job", "default", "bob", "data").is_within(folder)
