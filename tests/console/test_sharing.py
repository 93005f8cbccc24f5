"""The sharing core: owner, levels, inheritance down a URI subtree, groups, revoke, strangers."""

import pytest
from django.contrib.auth.models import Group

from console import services
from console.errors import Forbidden, InvalidInput, NotFound
from console.models import Level, Resource
from console.selectors import (
    access_level,
    acl_for_uri,
    has_access,
    has_grant_below,
    shares_by_me,
    shares_with_me,
    visible_q,
)

pytestmark = pytest.mark.django_db


def test_owner_has_manage_on_everything_under_their_root(bob):
    for uri in ["job:", "job:anything", "image:a/b/c", "flow:f", "image:i"]:
        assert has_access(bob, uri, Level.MANAGE)


def test_stranger_has_nothing(bob, alice):
    assert access_level(alice, "image:/bob/data") is None
    assert not has_access(alice, "job://default/bob/job-1", "read")


@pytest.mark.parametrize("level", list(Level))
def test_each_level_grants_itself_and_below_only(bob, alice, level):
    services.share(by=bob, uri="image:data", principal="alice", level=level)
    for asked in Level:
        assert has_access(alice, "image:/bob/data", asked) is (asked <= level)


def test_grant_covers_the_subtree_but_not_siblings_or_parents(bob, alice):
    services.share(by=bob, uri="image:data", principal="alice", level="read")
    assert has_access(alice, "image:/bob/data/train/x.csv", "read")
    assert not has_access(alice, "image:/bob/database", "read")
    assert not has_access(alice, "image:/bob", "read")
    assert has_grant_below(alice, "image:/bob")  # may list bob's root to navigate down


def test_sharing_all_of_a_users_jobs(bob, alice):
    services.share(by=bob, uri="job:", principal="alice", level="read")
    assert has_access(alice, "job://default/bob/job-123", "read")
    assert has_access(alice, "job://default/bob/my-future-name", "read")
    assert not has_access(alice, "image:/bob/data", "read")


def test_group_grant_reaches_members_only(bob, alice, carol):
    team = services.team_create(by=carol, name="ml-team")
    services.team_member_add(by=carol, group=team, username="alice")
    services.share(by=bob, uri="job:train", principal="group:ml-team", level="write")
    assert has_access(alice, "job:/bob/train", "write")
    assert not has_access(alice, "job:/bob/train", "manage")
    assert has_access(carol, "job:/bob/train", "write")  # the creator is a member too
    services.team_member_remove(by=carol, group=team, username="alice")
    assert not has_access(alice, "job:/bob/train", "read")


def test_best_of_user_and_group_grants_wins(bob, alice, carol):
    team = services.team_create(by=carol, name="readers")
    services.team_member_add(by=carol, group=team, username="alice")
    services.share(by=bob, uri="image:data", principal="readers", level="read")
    services.share(by=bob, uri="image:data/deep", principal="alice", level="manage")
    assert access_level(alice, "image:/bob/data/x") == Level.READ
    assert access_level(alice, "image:/bob/data/deep/x") == Level.MANAGE


def test_sharing_again_replaces_the_level(bob, alice):
    services.share(by=bob, uri="job:x", principal="alice", level="manage")
    services.share(by=bob, uri="job:x", principal="alice", level="read")
    assert access_level(alice, "job:/bob/x") == Level.READ


def test_revoke_takes_the_grant_back(bob, alice):
    services.share(by=bob, uri="image:data", principal="alice", level="write")
    services.revoke(by=bob, uri="image:data", principal="alice")
    assert not has_access(alice, "image:/bob/data", "read")
    with pytest.raises(NotFound):
        services.revoke(by=bob, uri="image:data", principal="alice")


def test_sharing_needs_manage_and_hides_what_cannot_be_read(bob, alice, carol):
    with pytest.raises(NotFound):
        services.share(by=alice, uri="image:/bob/data", principal="carol", level="read")
    services.share(by=bob, uri="image:data", principal="alice", level="write")
    with pytest.raises(Forbidden):
        services.share(by=alice, uri="image:/bob/data", principal="carol", level="read")
    services.share(by=bob, uri="image:data", principal="alice", level="manage")
    services.share(by=alice, uri="image:/bob/data/sub", principal="carol", level="read")
    assert has_access(carol, "image:/bob/data/sub/f", "read")


def test_bad_principal_and_level_are_clear_errors(bob):
    with pytest.raises(NotFound, match="No user or group named 'nobody'"):
        services.share(by=bob, uri="job:x", principal="nobody", level="read")
    with pytest.raises(InvalidInput, match="Unknown level"):
        services.share(by=bob, uri="job:x", principal="bob", level="admin")
    with pytest.raises(InvalidInput, match="owns"):
        services.share(by=bob, uri="job:x", principal="bob", level="read")


def test_acl_lists_direct_and_inherited_grants(bob, alice, carol):
    Group.objects.create(name="ops")
    services.share(by=bob, uri="image:data", principal="alice", level="read")
    services.share(by=bob, uri="image:data/train", principal="carol", level="write")
    services.share(by=bob, uri="image:data/train", principal="group:ops", level="read")
    acl = acl_for_uri(user=bob, uri="image:data/train")
    assert acl["my_level"] == "manage"
    rows = {(g["principal"]["kind"], g["principal"]["name"], g["level"], g["inherited"]) for g in acl["grants"]}
    assert rows == {("user", "carol", "write", False), ("group", "ops", "read", False),
                    ("user", "alice", "read", True)}


def test_shared_with_me_and_by_me(bob, alice, carol):
    team = services.team_create(by=carol, name="team")
    services.team_member_add(by=carol, group=team, username="alice")
    services.share(by=bob, uri="job:", principal="alice", level="read")
    services.share(by=bob, uri="image:x", principal="team", level="write")
    mine = {(g.uri, g.principal.kind) for g in shares_with_me(user=alice)}
    assert mine == {("job://default/bob", "user"), ("image://default/bob/x", "group")}
    assert [g.uri for g in shares_with_me(user=alice, scheme="image")] == ["image://default/bob/x"]
    assert {g.uri for g in shares_by_me(user=bob)} == {"job://default/bob", "image://default/bob/x"}
    assert shares_by_me(user=alice) == []


def test_visible_filter_runs_in_the_database(bob, alice, django_assert_max_num_queries):
    for uri in ["image:a", "image:b/c", "image:d"]:
        services.share(by=bob, uri=uri, principal="alice", level="read")
    # A list endpoint filters rows with the prefixes: one query for them, the rest is SQL.
    with django_assert_max_num_queries(1):
        condition = visible_q(alice, scheme="image", fields=("uri",))
    matching = Resource.objects.filter(condition)
    assert sorted(r.uri for r in matching) == [
        "image://default/bob/a", "image://default/bob/b/c", "image://default/bob/d"]
