"""REST: auth, tokens, users and groups, sharing endpoints, error shape, schema."""

import pytest
from rest_framework.test import APIClient

from console import services
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_anonymous_gets_401_in_the_error_shape(client_for):
    response = client_for(None).get("/api/v1/acl/", {"uri": "job:x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_session_login_enforces_csrf_and_logout(bob):
    client = APIClient(enforce_csrf_checks=True)
    refused = client.post("/api/v1/auth/login/", {"username": "bob", "password": PASSWORD}, format="json")
    assert refused.status_code == 403
    token = client.get("/api/v1/auth/csrf/").json()["csrf_token"]
    wrong = client.post("/api/v1/auth/login/", {"username": "bob", "password": "nope"}, format="json",
                        HTTP_X_CSRFTOKEN=token)
    assert wrong.status_code == 400 and wrong.json()["error"]["message"] == "Wrong username or password"
    ok = client.post("/api/v1/auth/login/", {"username": "bob", "password": PASSWORD}, format="json",
                     HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200 and ok.json()["username"] == "bob"
    token = client.cookies["csrftoken"].value  # rotated at login
    assert client.get("/api/v1/auth/me/").json()["username"] == "bob"
    assert client.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_personal_tokens_are_hashed_listed_and_revocable(bob):
    client = APIClient()
    created = client.post("/api/v1/auth/tokens/obtain/",
                          {"username": "bob", "password": PASSWORD, "name": "laptop"}, format="json")
    assert created.status_code == 201
    clear = created.json()["token"]
    assert clear.startswith("kiln_") and not bob.api_tokens.filter(digest=clear).exists()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    listed = client.get("/api/v1/auth/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["laptop"] and "token" not in listed[0]
    assert listed[0]["prefix"] == clear[:12]
    assert client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}/").status_code == 204
    again = client.get("/api/v1/auth/me/")
    assert again.status_code == 401 and again.json()["error"]["code"] == "not_authenticated"


def test_token_obtain_refuses_wrong_password(bob):
    response = APIClient().post("/api/v1/auth/tokens/obtain/", {"username": "bob", "password": "x"}, format="json")
    assert response.status_code == 400


def test_user_and_principal_search(bob, alice, client_for):
    services.team_create(by=bob, name="alpha-team")
    client = client_for(bob)
    assert client.get("/api/v1/users/", {"q": "al"}).json()["results"] == [{"username": "alice", "full_name": ""}]
    kinds = {(p["kind"], p["name"]) for p in client.get("/api/v1/principals/", {"q": "al"}).json()["results"]}
    assert kinds == {("user", "alice"), ("group", "alpha-team")}


def test_groups_owner_manages_members(bob, alice, carol, client_for):
    owner = client_for(bob)
    assert owner.post("/api/v1/groups/", {"name": "ml"}, format="json").status_code == 201
    added = owner.post("/api/v1/groups/ml/members/", {"username": "alice"}, format="json")
    assert added.json()["members"] == ["alice", "bob"]
    member = client_for(alice)
    assert member.get("/api/v1/groups/ml/").json()["owner"] == "bob"
    assert member.post("/api/v1/groups/ml/members/", {"username": "carol"}, format="json").status_code == 403
    assert client_for(carol).get("/api/v1/groups/ml/").status_code == 404
    assert owner.delete("/api/v1/groups/ml/members/alice/").status_code == 204
    assert owner.post("/api/v1/groups/", {"name": "ml"}, format="json").status_code == 409


def test_share_acl_revoke_over_http(bob, alice, carol, client_for):
    owner = client_for(bob)
    shared = owner.post("/api/v1/shares/", {"uri": "image:data", "principal": "alice", "level": "read"},
                        format="json")
    assert shared.status_code == 201
    assert shared.json() == {"uri": "image://default/bob/data", "principal": {"kind": "user", "name": "alice"},
                             "level": "read", "inherited": False}
    reader = client_for(alice)
    acl = reader.get("/api/v1/acl/", {"uri": "image:/bob/data/x"}).json()
    assert acl["my_level"] == "read" and acl["grants"][0]["inherited"] is True
    # a reader may not share (403), a stranger learns nothing (404)
    forbidden = reader.post("/api/v1/shares/", {"uri": "image:/bob/data", "principal": "carol", "level": "read"},
                            format="json")
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    stranger = client_for(carol)
    assert stranger.get("/api/v1/acl/", {"uri": "image:/bob/data"}).status_code == 404
    hidden = stranger.post("/api/v1/shares/", {"uri": "image:/bob/data", "principal": "carol", "level": "read"},
                           format="json")
    assert hidden.status_code == 404 and "bob/data" in hidden.json()["error"]["message"]
    assert stranger.post("/api/v1/shares/revoke/", {"uri": "image:/bob/data", "principal": "alice"},
                         format="json").status_code == 404
    assert reader.get("/api/v1/shares/with-me/").json()["results"][0]["uri"] == "image://default/bob/data"
    assert owner.get("/api/v1/shares/by-me/", {"scheme": "job"}).json()["results"] == []
    assert owner.post("/api/v1/shares/revoke/", {"uri": "image:data", "principal": "alice"},
                      format="json").status_code == 204
    assert reader.get("/api/v1/acl/", {"uri": "image:/bob/data"}).status_code == 404


def test_bad_input_is_400_with_details(bob, client_for):
    client = client_for(bob)
    bad_uri = client.post("/api/v1/shares/", {"uri": "ftp://x", "principal": "bob", "level": "read"}, format="json")
    assert bad_uri.status_code == 400 and "Unknown URI scheme" in bad_uri.json()["error"]["message"]
    bad_level = client.post("/api/v1/shares/", {"uri": "job:x", "principal": "bob", "level": "owner"}, format="json")
    assert bad_level.status_code == 400 and "level" in bad_level.json()["error"]["details"]
    assert client.get("/api/v1/nope/").status_code == 404


def test_schema_and_docs_are_served(client_for, bob):
    schema = client_for(bob).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/v1/shares/" in schema.json()["paths"]
    assert client_for(bob).get("/api/docs/").status_code == 200


def test_health_reports_database_and_redis(client_for):
    body = client_for(None).get("/api/v1/health/").json()
    assert body == {"status": "ok", "database": "ok", "redis": "ok"}


def test_spa_index_serves_client_side_routes(client_for, settings, tmp_path):
    (tmp_path / "index.html").write_text("<div id=root></div>")
    settings.FRONTEND_DIST = tmp_path
    for path in ["/", "/jobs/job-1", "/files/a/b", "/flows/x/bakes/y"]:
        response = client_for(None).get(path)
        assert response.status_code == 200 and b"id=root" in response.content
