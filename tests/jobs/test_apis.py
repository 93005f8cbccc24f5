"""The jobs REST API: run, list with filters and paging, detail, history, logs, kill, sharing."""

import pytest

from console import services as core
from jobs import services
from jobs.models import JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr(services, "_enqueue_many", lambda jobs, **_: None)


def post_job(client, **body):
    body.setdefault("image", "python:3.11")
    body.setdefault("command", "echo hi")
    return client.post("/api/v1/jobs/", body, format="json")


def test_run_then_read_it_back(bob, alice, client_for):
    client = client_for(bob)
    created = post_job(client, name="train", env={"A": "1"}, tags=["exp"], share=["alice"], life_span=60)
    assert created.status_code == 201, created.json()
    job = created.json()
    assert job["status"] == "pending" and job["my_level"] == "manage" and job["env"] == {"A": "1"}
    assert job["history"][0]["reason"] == "Created"
    detail = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert detail["name_uri"] == "job://default/bob/train"
    assert client.get("/api/v1/jobs/train/").json()["id"] == job["id"]  # by name
    assert client.get(f"/api/v1/jobs/job:{job['id']}/history/").json()["results"][0]["status"] == "pending"
    assert client_for(alice).get(f"/api/v1/jobs/job:/bob/{job['id']}/").json()["my_level"] == "read"


def test_bad_run_requests_name_the_field(bob, client_for):
    response = post_job(client_for(bob), preset="nope")
    assert response.status_code == 400 and "preset" in response.json()["error"]["details"]
    response = post_job(client_for(bob), share=["nobody"])
    assert response.status_code == 404


def test_list_filters_and_cursor_paging(bob, client_for):
    client = client_for(bob)
    ids = [post_job(client, name=f"run-{i}", tags=["even" if i % 2 == 0 else "odd"]).json()["id"] for i in range(5)]
    from jobs.models import Job

    services.job_transition(job=Job.objects.get(pk=ids[0]), to=JobStatus.FAILED, reason="Error")
    active = client.get("/api/v1/jobs/").json()["results"]
    assert [job["id"] for job in active] == ids[:0:-1]  # newest first, the failed one hidden
    everything = client.get("/api/v1/jobs/", {"all": "1"}).json()["results"]
    assert len(everything) == 5
    assert [j["id"] for j in client.get("/api/v1/jobs/", {"status": "failed"}).json()["results"]] == [ids[0]]
    assert len(client.get("/api/v1/jobs/", {"all": "1", "tag": "even"}).json()["results"]) == 3
    page = client.get("/api/v1/jobs/", {"all": "1", "limit": 2}).json()
    seen = [job["id"] for job in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [job["id"] for job in page["results"]]
    assert seen == ids[::-1]
    assert client.get("/api/v1/jobs/", {"since": "yesterday"}).status_code == 400


def test_stranger_gets_404_everywhere_and_reader_cannot_kill(bob, alice, carol, client_for):
    job = post_job(client_for(bob), name="secret").json()
    core.share(by=bob, uri=job["uri"], principal="alice", level="read")
    stranger = client_for(carol)
    for path in [f"/api/v1/jobs/{job['id']}/", f"/api/v1/jobs/{job['id']}/history/",
                 f"/api/v1/jobs/{job['id']}/logs/", "/api/v1/jobs/job:/bob/secret/"]:
        assert stranger.get(path).status_code == 404, path
    assert stranger.post(f"/api/v1/jobs/{job['id']}/kill/").status_code == 404
    assert stranger.get("/api/v1/jobs/", {"all": "1"}).json()["results"] == []
    reader = client_for(alice)
    assert reader.get(f"/api/v1/jobs/{job['id']}/logs/").status_code == 200
    refused = reader.post(f"/api/v1/jobs/{job['id']}/kill/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client_for(None).get(f"/api/v1/jobs/{job['id']}/").status_code == 401
    killed = client_for(bob).post(f"/api/v1/jobs/{job['id']}/kill/")
    assert killed.json()["status"] == "cancelled"
    assert client_for(bob).post(f"/api/v1/jobs/{job['id']}/kill/").status_code == 409


def test_sharing_by_name_all_jobs_and_group(bob, alice, carol, client_for):
    owner = client_for(bob)
    named = post_job(owner, name="serve").json()
    other = post_job(owner).json()
    team = core.team_create(by=carol, name="ops")
    core.team_member_add(by=carol, group=team, username="alice")

    def visible(user):
        return {job["id"] for job in client_for(user).get("/api/v1/jobs/", {"all": "1"}).json()["results"]}

    core.share(by=bob, uri="job:serve", principal="group:ops", level="write")
    later = post_job(owner, name="serve").json()  # a future run with the shared name
    assert visible(alice) == {named["id"], later["id"]}
    assert client_for(alice).post(f"/api/v1/jobs/{later['id']}/kill/").status_code == 200
    core.share(by=bob, uri="job:", principal="carol", level="read")
    assert visible(carol) == {named["id"], other["id"], later["id"]}
    shared_only = client_for(carol).get("/api/v1/jobs/", {"all": "1", "shared": "1", "owner": "bob"}).json()
    assert len(shared_only["results"]) == 3


def test_logs_paging_and_text_download(bob, client_for):
    job = post_job(client_for(bob)).json()
    from jobs.models import Job

    model = Job.objects.get(pk=job["id"])
    services.job_logs_append(job=model, first=0, lines=[f"line {i}" for i in range(5)])
    services.job_logs_append(job=model, first=5, lines=["line 5", "line 6"])
    client = client_for(bob)
    first = client.get(f"/api/v1/jobs/{job['id']}/logs/", {"after": -1, "limit": 3}).json()
    assert [line["offset"] for line in first["lines"]] == [0, 1, 2] and first["last_offset"] == 2
    rest = client.get(f"/api/v1/jobs/{job['id']}/logs/", {"after": 2}).json()
    assert [line["text"] for line in rest["lines"]] == ["line 3", "line 4", "line 5", "line 6"]


def test_presets_are_listed(bob, client_for):
    body = client_for(bob).get("/api/v1/presets/").json()
    assert body["default"] == "cpu-small" and {"name": "cpu-small", "cpu": 1, "memory_mb": 2048,
                                               "description": "1 CPU, 2 GiB"} in body["results"]
