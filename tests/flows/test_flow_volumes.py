"""GET /api/v1/flows/<flow>/volumes/: the flow's volumes evaluated by the flow's own evaluator, and
what a live job marks with upload() (what `kiln flow upload`, `download` and `run` act on)."""

import textwrap

import pytest

from console import services as core
from flows import services

pytestmark = pytest.mark.django_db

PROJECT = """\
id: vols
project_name: shared_area
volumes:
  data:
    remote: storage:$[[ flow.project_id ]]/data-from-project
    mount: /project/data
  config:
    remote: storage:/$[[ project.owner ]]/$[[ flow.project_id ]]/config
    mount: /project/config
    local: config
    read_only: true
mixins:
  with_config:
    env:
      CONFIG_DIR: ${{ upload(volumes.config).mount }}
"""
LIVE = """\
kind: live
id: web
volumes:
  data:
    remote: storage:$[[ project.project_name ]]/data
    mount: /project/data
    local: data
  code:
    remote: storage:${{ lower(flow.project_id) }}/code/$[[ flow.flow_id ]]
    mount: /project/code
    local: $[[ fmt("src/{}", flow.flow_id) ]]
  results:
    remote: storage:$[[ flow.project_id ]]/results
    mount: /project/results
    local: results
params:
  what: {default: data, descr: Which volume to upload}
jobs:
  train:
    image: python:3.11
    mixins: [with_config]
    volumes:
      - ${{ upload(volumes.code).ref_ro }}
      - ${{ upload(volumes[params.what]).ref_rw }}
    bash: echo train
  shell:
    image: python:3.11
    multi: true
    volumes:
      - ${{ volumes.results.ref }}
    bash: sleep infinity
"""


def make(user, *, live: str = LIVE, project: str = PROJECT):
    files = {".neuro/project.yml": textwrap.dedent(project), ".neuro/live.yml": textwrap.dedent(live)}
    return services.flow_sync(by=user, folder="storage:vols", files=files)


def test_volumes_are_evaluated_with_every_expression_the_flow_allows(bob, client_for):
    make(bob)
    answer = client_for(bob).get("/api/v1/flows/vols/volumes/")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["job"] is None and body["uploads"] == []
    volumes = {volume["id"]: volume for volume in body["volumes"]}
    assert list(volumes) == ["data", "config", "code", "results"]  # project.yml's first; live.yml's win
    assert volumes["data"] == {
        "id": "data", "file": ".neuro/live.yml", "remote": "storage:shared_area/data",
        "uri": "storage://default/bob/shared_area/data", "mount": "/project/data", "read_only": False,
        "local": "data",
    }
    assert volumes["config"]["remote"] == "storage:/bob/vols/config"
    assert volumes["config"]["file"] == ".neuro/project.yml" and volumes["config"]["read_only"] is True
    assert volumes["code"]["remote"] == "storage:vols/code/web" and volumes["code"]["local"] == "src/web"


def test_project_name_defaults_to_the_flow_owner(bob, client_for):
    make(bob, project="id: vols\n",
         live="kind: live\nvolumes:\n  data:\n    remote: storage:/$[[ project.project_name ]]/d\n"
              "    mount: /d\n    local: d\njobs:\n  a:\n    image: x\n    cmd: echo\n")
    volume = client_for(bob).get("/api/v1/flows/vols/volumes/").json()["volumes"][0]
    assert volume["remote"] == "storage:/bob/d" and volume["uri"] == "storage://default/bob/d"


def test_a_live_job_lists_the_volumes_it_uploads_with_its_params(bob, client_for):
    make(bob)
    client = client_for(bob)
    train = client.get("/api/v1/flows/vols/volumes/", {"job": "train"}).json()
    assert train["job"] == "train" and train["uploads"] == ["config", "code", "data"]  # mixins' env included
    chosen = client.get("/api/v1/flows/vols/volumes/", {"job": "train", "param": "what=results"}).json()
    assert chosen["uploads"] == ["config", "code", "results"]
    shell = client.get("/api/v1/flows/vols/volumes/", {"job": "shell", "arg": ["-v"]}).json()
    assert shell["uploads"] == []
    missing = client.get("/api/v1/flows/vols/volumes/", {"job": "nope"})
    assert missing.status_code == 404 and "no live job 'nope'" in missing.json()["error"]["message"]
    unknown = client.get("/api/v1/flows/vols/volumes/", {"job": "train", "param": "who=x"})
    assert unknown.status_code == 422 and "unknown param(s) who" in unknown.json()["error"]["message"]
    bad = client.get("/api/v1/flows/vols/volumes/", {"param": "no-equals-sign"})
    assert bad.status_code == 400


def test_a_bad_expression_is_a_422_naming_file_line_and_column(bob, client_for):
    live = ("kind: live\nvolumes:\n  data:\n    remote: storage:$[[ from_json('{oops') ]]/data\n    mount: /d\n"
            "jobs:\n  a:\n    image: x\n    cmd: echo\n")
    make(bob, live=live, project="id: vols\n")
    answer = client_for(bob).get("/api/v1/flows/vols/volumes/")
    assert answer.status_code == 422
    errors = answer.json()["error"]["details"]["errors"]
    assert [error["text"].split(": ")[0] for error in errors] == [".neuro/live.yml:4:21"], errors


def test_a_broken_batch_file_does_not_stop_the_volumes(bob, client_for):
    files = {".neuro/project.yml": PROJECT, ".neuro/live.yml": LIVE,
             ".neuro/broken.yml": "kind: batch\ntasks:\n  - id: a\n    imag: x\n"}
    services.flow_sync(by=bob, folder="storage:vols", files=files)
    assert client_for(bob).get("/api/v1/flows/vols/volumes/").status_code == 200


def test_a_reader_may_resolve_the_volumes_and_a_stranger_sees_nothing(bob, alice, carol, client_for):
    flow = make(bob)
    assert client_for(carol).get("/api/v1/flows/flow:/bob/vols/volumes/").status_code == 404
    assert client_for(carol).get("/api/v1/flows/flow:/bob/vols/volumes/", {"job": "train"}).status_code == 404
    core.share(by=bob, uri=flow.uri, principal="alice", level="read")
    read = client_for(alice).get("/api/v1/flows/flow:/bob/vols/volumes/", {"job": "train"})
    assert read.status_code == 200 and read.json()["uploads"] == ["config", "code", "data"]
    # relative remotes are the caller's, as they would be for a run by the caller
    assert {v["id"]: v["uri"] for v in read.json()["volumes"]}["data"] == "storage://default/alice/shared_area/data"
