"""Flows over HTTP: import, template, check, live jobs, bakes, graphs, sharing."""

import json
import shutil
import threading
import time

import pytest
from django.db import connection
from websockets.sync.client import connect

from console import services as core
from flows import services, spec
from flows.models import Flow
from jobs.models import Job
from tests.flows.helpers import make_flow, tasks_of, wait_bake
from tests.jobs.conftest import wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


def test_check_validates_files_sent_in_the_request(bob, client_for):
    client = client_for(bob)
    live = "kind: live\njobs:\n  a:\n    image: x\n    cmd: echo\n"
    ok = client.post("/api/v1/flows/check/", {"files": {".neuro/live.yml": live}, "folder_name": "proj"},
                     format="json")
    assert ok.status_code == 200 and ok.json()["ok"] is True and ok.json()["live_jobs"] == ["a"]
    bad = client.post("/api/v1/flows/check/", {"files": {".neuro/live.yml": "kind: live\njobs:\n  a:\n    imag: x\n"},
                                                   "folder_name": "proj"},
                      format="json").json()
    assert bad["ok"] is False
    assert bad["errors"][0]["text"].startswith(".neuro/live.yml:4:5:") and "imag" in bad["errors"][0]["message"]
    assert not Flow.objects.exists()  # nothing imported


def test_import_detail_and_visibility(bob, alice, carol, client_for):
    flow = make_flow(bob, diamond="kind: batch\ntasks:\n  - id: a\n    image: x\n    bash: echo\n")
    owner = client_for(bob)
    listed = owner.get("/api/v1/flows/").json()["results"]
    assert [f["id"] for f in listed] == ["testflow"] and listed[0]["folder"] == "storage://default/bob/testflow"
    detail = owner.get("/api/v1/flows/testflow/").json()
    assert detail["ok"] and [j["id"] for j in detail["live_jobs"]] == ["hello", "many"]
    assert detail["live_jobs"][0]["params"][0] == {"name": "who", "default": "world", "descr": "Whom to greet",
                                                   "required": False}
    assert [b["id"] for b in detail["batches"]] == ["diamond"]
    assert client_for(carol).get("/api/v1/flows/flow:/bob/testflow/").status_code == 404
    core.share(by=bob, uri=flow.uri, principal="alice", level="read")
    assert client_for(alice).get("/api/v1/flows/flow:/bob/testflow/").json()["my_level"] == "read"
    assert [f["id"] for f in client_for(alice).get("/api/v1/flows/").json()["results"]] == ["testflow"]


def test_edits_in_storage_show_up_on_the_next_read(bob, client_for):
    make_flow(bob)
    from storage.services import storage_upload

    text = b"kind: live\njobs:\n  other:\n    image: x\n    cmd: echo\n"
    storage_upload(by=bob, uri="storage:testflow/.neuro/live.yml", chunks=[text], size=len(text))
    assert [j["id"] for j in client_for(bob).get("/api/v1/flows/testflow/").json()["live_jobs"]] == ["other"]


@pytest.mark.live
def test_live_jobs_run_attach_and_multi(celery_workers, bob, alice, client_for):
    flow = make_flow(bob)
    client = client_for(bob)
    first = client.post("/api/v1/flows/testflow/live/hello/run/", {"params": {"who": "kiln"}}, format="json")
    assert first.status_code == 201, first.json()
    job = Job.objects.get(pk=first.json()["job"]["id"])
    assert job.name == "testflow-hello" and job.flow_id == flow.uri
    assert {"project:testflow", "job:hello"} <= set(job.tag_rows.values_list("tag", flat=True))
    again = client.post("/api/v1/flows/testflow/live/hello/run/", {}, format="json")
    assert again.status_code == 200 and again.json() == {"started": False, "job": again.json()["job"]}
    assert again.json()["job"]["id"] == job.pk  # attached, not started twice
    wait_status(job, "running")
    from jobs.selectors import job_logs_after

    wait_for(lambda: job_logs_after(job=job)[0])
    assert job_logs_after(job=job)[0][0][1] == "hello kiln"
    ps = {row["id"]: row for row in client.get("/api/v1/flows/testflow/").json()["live_jobs"]}
    assert ps["hello"]["status"] == "running" and ps["hello"]["raw_id"] == job.pk
    m1 = client.post("/api/v1/flows/testflow/live/many/run/", {"args": ["x"]}, format="json").json()["job"]
    m2 = client.post("/api/v1/flows/testflow/live/many/run/", {}, format="json").json()["job"]
    assert m1["id"] != m2["id"] and m1["name"] != m2["name"]
    # A reader of the flow sees its live jobs, and cannot kill them.
    core.share(by=bob, uri=flow.uri, principal="alice", level="read")
    reader = client_for(alice)
    assert reader.get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert reader.post(f"/api/v1/jobs/{job.pk}/kill/").status_code == 403
    assert reader.post("/api/v1/flows/flow:/bob/testflow/live/hello/run/", {}, format="json").status_code == 403
    for job_id in (job.pk, m1["id"], m2["id"]):
        assert client.post(f"/api/v1/jobs/{job_id}/kill/").status_code == 200
    assert client.post("/api/v1/flows/testflow/live/nope/run/", {}, format="json").status_code == 404


def test_two_runs_of_a_live_job_at_once_start_it_once(bob, monkeypatch):
    """Two clicks at once: the second run waits for the first and attaches to the job it started."""
    flow = make_flow(bob)
    render = spec.render_live_job

    def slow_render(*args, **kwargs):  # widens the gap between "is it running?" and starting it
        time.sleep(0.5)
        return render(*args, **kwargs)

    monkeypatch.setattr(spec, "render_live_job", slow_render)
    start = threading.Barrier(2)
    results: list = []

    def click() -> None:
        try:
            start.wait(timeout=10)
            results.append(services.flow_live_run(by=bob, flow=flow, job_id="hello"))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    runs = Job.objects.filter(flow_id=flow.uri, task_id="hello")
    assert runs.count() == 1
    assert sorted(started for _, started in results) == [False, True]
    assert {job.pk for job, _ in results} == {runs.get().pk}


def test_live_ps_lists_each_multi_instance_and_kill_takes_its_suffix(bob, alice, client_for):
    flow = make_flow(bob)
    client = client_for(bob)

    def ps() -> list[tuple]:  # "active": pending, or running where a worker is about
        rows = client.get("/api/v1/flows/testflow/").json()["live_jobs"]
        return [(row["id"], row["suffix"], "active" if row["status"] in ("pending", "running") else row["status"],
                 row["raw_id"]) for row in rows]

    def kill(job: str, suffix: str | None = None):
        return client.post(f"/api/v1/flows/testflow/live/{job}/kill/", {"suffix": suffix} if suffix else {},
                           format="json")

    assert ps() == [("hello", None, None, None), ("many", None, None, None)]
    assert kill("many", "abc").status_code == 404 and kill("hello").status_code == 404  # never ran
    hello = services.flow_live_run(by=bob, flow=flow, job_id="hello")[0]
    m1, m2 = (services.flow_live_run(by=bob, flow=flow, job_id="many")[0] for _ in range(2))
    s1, s2 = (next(t for t in m.tag_rows.values_list("tag", flat=True) if t.startswith("multi:"))[6:]
              for m in (m1, m2))
    assert ps() == [("hello", None, "active", hello.pk), ("many", s2, "active", m2.pk),
                    ("many", s1, "active", m1.pk)]  # every running instance, newest first

    # Like apolo-flow: a multi job needs a suffix (the error names the running ones), others take none.
    no_suffix = kill("many")
    assert no_suffix.status_code == 400
    assert no_suffix.json()["error"]["details"]["running"] == sorted([s1, s2])
    assert kill("hello", "abc").status_code == 400
    assert kill("many", "nope").status_code == 404
    core.share(by=bob, uri=flow.uri, principal="alice", level="read")
    assert client_for(alice).post("/api/v1/flows/flow:/bob/testflow/live/many/kill/", {"suffix": s1},
                                  format="json").status_code == 403
    assert ps()[1:] == [("many", s2, "active", m2.pk), ("many", s1, "active", m1.pk)]

    killed = kill("many", s1)
    assert killed.status_code == 200 and killed.json()["id"] == m1.pk and killed.json()["status"] == "cancelled"
    assert ps()[1:] == [("many", s2, "active", m2.pk)]  # the other instance runs on
    assert kill("many", s1).status_code == 409  # that one has finished
    assert kill("many", s2).json()["id"] == m2.pk
    assert ps()[1:] == [("many", s2, "cancelled", m2.pk)]  # none running: the latest run
    assert kill("hello").json()["id"] == hello.pk
    assert kill("hello").status_code == 409
    assert kill("nope").status_code == 404


@pytest.mark.live
def test_template_project_trains_out_of_the_box(celery_workers, bob, client_for):
    client = client_for(bob)
    created = client.post("/api/v1/flows/", {"template": True, "name": "demo", "title": "Demo"}, format="json")
    assert created.status_code == 201, created.json()
    from storage.selectors import storage_list

    names = {entry.name for _, entry in storage_list(user=bob, uri="storage:demo").entries}
    assert {".neuro", "data", "modules", "notebooks", "results", "config", "requirements.txt", "README.md"} <= names
    run = client.post("/api/v1/flows/demo/live/train/run/", {"params": {"epochs": "5"}}, format="json").json()
    job = wait_status(Job.objects.get(pk=run["job"]["id"]), "succeeded", "failed")
    from jobs.selectors import job_logs_after

    lines = [text for _, text in job_logs_after(job=job)[0]]
    assert job.status == "succeeded", lines
    assert "epoch 5: loss" in " ".join(lines) and any(line.startswith("::set-output name=loss::") for line in lines)
    from storage.selectors import storage_file_get

    model = json.loads(b"".join(storage_file_get(user=bob, uri="storage:demo/results/model.json").chunks()))
    assert set(model) == {"a", "b", "loss"}
    bake = client.post("/api/v1/flows/demo/bakes/", {"batch": "pipeline", "params": {"epochs": "3"}},
                       format="json").json()
    from flows.models import Bake

    done = wait_bake(Bake.objects.get(pk=bake["id"]), "succeeded", "failed")
    assert done.status == "succeeded", tasks_of(done)
    assert tasks_of(done)["train"].outputs["loss"]


@pytest.mark.live
def test_bake_api_events_graph_and_sharing(asgi_server, celery_workers, bob, alice, carol, client_for):
    flow = make_flow(bob, diamond="""
kind: batch
tasks:
  - id: a
    image: x
    bash: sleep 1
  - id: b
    needs: [a]
    image: x
    bash: echo b
  - id: c
    needs: [a]
    image: x
    bash: echo c
  - id: d
    needs: [b, c]
    image: x
    bash: echo d
""")
    core.share(by=bob, uri=flow.uri, principal="alice", level="read")
    _, token = core.token_create(user=alice, name="ws")
    client = client_for(bob)
    started = client.post("/api/v1/flows/testflow/bakes/", {"batch": "diamond", "name": "nightly"}, format="json")
    assert started.status_code == 201
    bake_id = started.json()["id"]
    seen: dict[str, list[str]] = {}
    with connect(f"{asgi_server.ws_url}/ws/bakes/{bake_id}/",
                 additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        state = json.loads(ws.recv(timeout=10))
        assert state["type"] == "state" and state["bake"]["id"] == bake_id
        for task in state["bake"]["attempt"]["tasks"]:  # what happened before we connected
            seen[task["id"]] = [task["status"]]
        while True:
            event = json.loads(ws.recv(timeout=60))
            if event["type"] == "task.status":
                seen.setdefault(event["task"]["id"], []).append(event["task"]["status"])
            if event["type"] == "bake.status" and event["bake"]["status"] in ("succeeded", "failed"):
                break
    assert event["bake"]["status"] == "succeeded"
    assert all(statuses[-1] == "succeeded" for statuses in seen.values())
    assert "running" in seen["d"] and seen["d"][0] == "pending"  # d went pending → running → succeeded live
    assert set(seen) == set("abcd")

    reader = client_for(alice)
    detail = reader.get(f"/api/v1/bakes/{bake_id}/").json()
    assert detail["status"] == "succeeded" and detail["my_level"] == "read"
    assert [t["id"] for t in detail["attempt"]["tasks"]] == ["a", "b", "c", "d"]
    assert all(t["raw_id"] for t in detail["attempt"]["tasks"])
    assert reader.get(f"/api/v1/jobs/{detail['attempt']['tasks'][0]['raw_id']}/logs/").status_code == 200
    assert reader.post(f"/api/v1/bakes/{bake_id}/restart/", {}, format="json").status_code == 403
    assert client_for(carol).get(f"/api/v1/bakes/{bake_id}/").status_code == 404
    assert client_for(carol).get("/api/v1/flows/flow:/bob/testflow/bakes/").status_code == 404
    listing = reader.get("/api/v1/flows/flow:/bob/testflow/bakes/").json()["results"]
    assert [(b["id"], b["name"], b["batch"], b["status"]) for b in listing] == [(bake_id, "nightly", "diamond",
                                                                                 "succeeded")]
    dot = client.get(f"/api/v1/bakes/{bake_id}/graph/").content.decode()
    assert '"a" -> "b";' in dot and '"b" -> "d";' in dot and "#8fd19e" in dot
    if shutil.which("dot"):
        svg = client.get(f"/api/v1/bakes/{bake_id}/graph/", {"format": "svg"})
        assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.post(f"/api/v1/bakes/{bake_id}/cancel/").status_code == 409  # finished already


def test_bake_of_a_broken_batch_is_a_422_with_positions(bob, client_for):
    make_flow(bob, broken="kind: batch\ntasks:\n  - id: a\n    image: x\n    cmd: echo\n    needs: [a]\n")
    response = client_for(bob).post("/api/v1/flows/testflow/bakes/", {"batch": "broken"}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["file"] == ".neuro/broken.yml"


def test_sync_refuses_paths_outside_the_config_folder(bob, client_for):
    response = client_for(bob).post("/api/v1/flows/sync/", {"folder": "storage:p", "files": {"../x.yml": "a"}},
                                    format="json")
    assert response.status_code == 400
