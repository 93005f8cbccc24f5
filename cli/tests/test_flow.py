"""kiln flow … against a fake REST server (httpx.MockTransport), the in-memory storage of
test_storage, and local WebSocket servers for following bakes (with a dropped connection)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeServer, Run
from test_jobs import login_to, ws_server
from test_storage import FakeStorage
from websockets.sync.server import ServerConnection

# isort: split
from kiln_cli import transfer
from kiln_cli.commands.flow import BakeFollower, find_project, parse_params
from kiln_cli.errors import KilnError

SYNC = "/api/v1/flows/sync/"
FLOW = {
    "id": "proj",
    "uri": "flow://default/alice/proj",
    "title": "Proj",
    "owner": "alice",
    "folder": "storage://default/alice/proj",
    "config_dir": ".neuro",
    "created_at": "2025-01-10T14:00:00+00:00",
    "last_activity_at": "2025-01-10T14:00:00+00:00",
    "my_level": "manage",
}
BAKE_ID = "bake-0c5e8d1a-1111-4222-8333-444455556666"
LIVE = """\
kind: live
volumes:
  data:
    remote: storage:$[[ flow.project_id ]]/data
    mount: /project/data
    local: data
  code:
    remote: storage:${{flow.project_id}}/code/$[[ flow.flow_id ]]
    mount: /project/code
    local: src
  results:
    remote: storage:$[[ project.project_name ]]/results
    mount: /project/results
    local: results
  remote_only:
    remote: storage:elsewhere
    mount: /x
jobs:
  train:
    image: python:3.11
    volumes:
      - $[[ volumes.data.ref_ro ]]
      - $[[ upload(volumes.code).ref_ro ]]
    params:
      epochs: "3"
    bash: python /project/code/train.py ${{ params.epochs }}
  shell:
    image: python:3.11
    multi: true
    bash: sleep infinity
"""


VOLUMES = "/api/v1/flows/proj/volumes/"


def volume(name: str, remote: str, local: str | None = None, file: str = ".neuro/live.yml") -> dict[str, Any]:
    return {"id": name, "file": file, "remote": remote, "uri": None, "mount": f"/project/{name}", "read_only": False,
            "local": local}


# LIVE's volumes as the server evaluates them for alice (project.project_name is the owner's name)
SERVER_VOLUMES = [
    volume("data", "storage:proj/data", "data"),
    volume("code", "storage:proj/code/live", "src"),
    volume("results", "storage:/alice/results", "results"),
    volume("remote_only", "storage:elsewhere"),
]


def volumes_answer(uploads: list[str] | None = None, job: str | None = None) -> dict[str, Any]:
    return {"volumes": SERVER_VOLUMES, "job": job, "uploads": uploads or []}


def make_project(root: Path, *, config_dir: str = ".neuro", project_id: str | None = "proj") -> Path:
    (root / config_dir / "sub").mkdir(parents=True)
    if project_id:
        (root / config_dir / "project.yml").write_text(f"id: {project_id}\n")
    (root / config_dir / "live.yml").write_text(LIVE)
    (root / config_dir / "sub" / "action.yaml").write_text("kind: live-action\n")
    (root / config_dir / "notes.txt").write_text("not yaml")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("1,2\n")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("print('train')\n")
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    monkeypatch.delenv("KILN_FLOW_FOLDER", raising=False)
    return root


def both(server: FakeServer, fs: FakeStorage) -> httpx.MockTransport:
    """Storage requests to the fake storage, everything else to the fake server."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v1/storage/"):
            return fs.handle(request)
        return server.handle(request)

    return httpx.MockTransport(handle)


def task(task_id: str, status: str = "pending", **over: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "base_id": task_id,
        "status": status,
        "reason": "",
        "needs": {},
        "matrix": {},
        "raw_id": None,
        "outputs": {},
        "carried_from": None,
        "started_at": None,
        "finished_at": None,
        **over,
    }


def bake_detail(status: str = "running", tasks: list[dict[str, Any]] | None = None, number: int = 1) -> dict[str, Any]:
    return {
        "id": BAKE_ID,
        "flow": "proj",
        "flow_uri": FLOW["uri"],
        "uri": f"{FLOW['uri']}/{BAKE_ID}",
        "batch": "diamond",
        "name": "nightly",
        "params": {},
        "tags": [],
        "status": status,
        "created_by": "alice",
        "created_at": "2025-01-10T14:00:00+00:00",
        "finished_at": None,
        "my_level": "manage",
        "attempts": [{"number": n, "status": status, "from_failed": n > 1} for n in range(1, number + 1)],
        "attempt": {
            "number": number,
            "status": status,
            "from_failed": number > 1,
            "created_at": "2025-01-10T14:00:00+00:00",
            "finished_at": None,
            "tasks": tasks if tasks is not None else [task("a"), task("b")],
        },
    }


# --- the project folder ---------------------------------------------------------------------------


def test_the_project_is_found_upwards_and_apolo_wins(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / ".neuro").mkdir(parents=True)
    (root / "a" / "b").mkdir(parents=True)
    assert find_project(root / "a" / "b") == find_project(root)
    assert find_project(root / "a").config_dir == ".neuro"
    (root / ".apolo").mkdir()
    assert find_project(root / "a" / "b").config_dir == ".apolo"
    (root / "a" / ".neuro").mkdir()  # the nearest one counts
    assert find_project(root / "a" / "b").root == (root / "a").resolve()


def test_no_project_is_exit_65(logged_in: Path, run: Run, server: FakeServer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for verb in (["ps"], ["check"], ["bake", "x"], ["upload"]):
        result = run(["flow", *verb])
        assert result.exit_code == 65, verb
        assert result.stderr.startswith("kiln: invalid input: no flow project here") and result.stderr.count("\n") == 1
    assert not server.requests


# --- sync, ps -------------------------------------------------------------------------------------


def test_ps_syncs_every_yaml_file_then_shows_the_live_jobs(
    logged_in: Path, run: Run, server: FakeServer, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_jobs = [
        {"id": "train", "status": "running", "raw_id": "job-1", "when": "2025-01-10T14:00:00+00:00"},
        {"id": "shell", "status": None, "raw_id": None, "when": None},
    ]
    server.on("POST", SYNC, body=FLOW).on("GET", "/api/v1/flows/proj/", body={**FLOW, "live_jobs": live_jobs})
    (project / "data" / "deeper").mkdir()
    monkeypatch.chdir(project / "data" / "deeper")  # from below the root too
    result = run(["flow", "ps"])
    assert result.exit_code == 0, result.stderr
    body = server.body(server.last("POST", SYNC))
    assert body["folder"] == "storage:proj"
    assert body["files"] == {
        ".neuro/live.yml": LIVE,
        ".neuro/project.yml": "id: proj\n",
        ".neuro/sub/action.yaml": "kind: live-action\n",
    }
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["JOB", "STATUS", "RAW", "ID", "WHEN"]
    assert lines[1].split()[:3] == ["train", "running", "job-1"]
    assert lines[2].split() == ["shell"]
    assert json.loads(run(["flow", "ps", "--json"]).stdout) == live_jobs


def test_ps_shows_each_running_instance_of_a_multi_job(
    logged_in: Path, run: Run, server: FakeServer, project: Path
) -> None:
    live_jobs = [
        {"id": "train", "suffix": None, "status": "succeeded", "raw_id": "job-1", "when": None},
        {"id": "shell", "suffix": "77aa01", "status": "running", "raw_id": "job-3", "when": None},
        {"id": "shell", "suffix": "3f9a0c", "status": "pending", "raw_id": "job-2", "when": None},
    ]
    server.on("POST", SYNC, body=FLOW).on("GET", "/api/v1/flows/proj/", body={**FLOW, "live_jobs": live_jobs})
    result = run(["flow", "ps"])
    assert result.exit_code == 0, result.stderr
    assert [line.split() for line in result.stdout.splitlines()[1:]] == [
        ["train", "succeeded", "job-1"],
        ["shell", "77aa01", "running", "job-3"],  # JOB SUFFIX, as kiln flow kill takes them
        ["shell", "3f9a0c", "pending", "job-2"],
    ]


def test_the_folder_comes_from_the_option_or_the_environment(
    logged_in: Path, run: Run, server: FakeServer, project: Path
) -> None:
    server.on("POST", SYNC, body=FLOW).on("GET", "/api/v1/flows/proj/", body={**FLOW, "live_jobs": []})
    assert run(["flow", "ps"], env={"KILN_FLOW_FOLDER": "storage:projects/p1"}).exit_code == 0
    assert server.body(server.last("POST", SYNC))["folder"] == "storage:projects/p1"
    assert run(["flow", "--folder", "storage:/bob/p2", "ps"], env={"KILN_FLOW_FOLDER": "storage:x"}).exit_code == 0
    assert server.body(server.last("POST", SYNC))["folder"] == "storage:/bob/p2"
    assert run(["flow", "ps", "--folder", "storage:p3"]).exit_code == 0
    assert server.body(server.last("POST", SYNC))["folder"] == "storage:p3"
    bad = run(["flow", "ps", "--folder", "p4"])
    assert bad.exit_code == 65 and "not a storage path" in bad.stderr


def test_sync_errors_are_one_line(logged_in: Path, run: Run, server: FakeServer, project: Path) -> None:
    server.error("POST", SYNC, 409, "conflict", "You have a flow 'proj' already, from storage://default/alice/x")
    result = run(["flow", "ps"])
    assert result.exit_code == 7 and result.stderr.startswith("kiln: conflict: You have a flow")


# --- check ------------------------------------------------------------------------------------------


def test_check_prints_positions_and_exits_1_on_errors(
    logged_in: Path, run: Run, server: FakeServer, project: Path
) -> None:
    error = {"file": ".neuro/live.yml", "line": 4, "column": 5, "message": "unknown key 'imag'"}
    warning = {"file": ".neuro/project.yml", "line": 1, "column": 1, "message": "old style"}
    answer = {"ok": False, "errors": [error], "warnings": [warning], "batches": [], "live_jobs": []}
    server.on("POST", "/api/v1/flows/check/", body=answer)
    result = run(["flow", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        ".neuro/live.yml:4:5: unknown key 'imag'",
        ".neuro/project.yml:1:1: warning: old style",
    ]
    assert result.stderr == "kiln: 1 error in .neuro/\n"
    body = server.body(server.last("POST", "/api/v1/flows/check/"))
    assert body["folder_name"] == "proj" and body["config_dir"] == ".neuro"
    assert set(body["files"]) == {".neuro/live.yml", ".neuro/project.yml", ".neuro/sub/action.yaml"}
    assert [r.url.path for r in server.requests] == ["/api/v1/flows/check/"]  # no sync

    server.on("POST", "/api/v1/flows/check/", body={"ok": True, "errors": [], "warnings": []})
    ok = run(["flow", "check"])
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "OK\n", "")
    as_json = run(["flow", "check", "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["ok"] is True


# --- params, run, kill -----------------------------------------------------------------------------


def test_params() -> None:
    assert parse_params([("a", "1"), ("b", "x y"), ("a", "2")]) == {"a": "2", "b": "x y"}
    assert parse_params([]) == {}
    for bad in ("", "a b", "a=b"):
        with pytest.raises(KilnError) as info:
            parse_params([(bad, "1")])
        assert info.value.exit_code == 65


def test_run_uploads_marked_volumes_then_starts_the_job(
    logged_in: Path, run: Run, server: FakeServer, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = FakeStorage()
    monkeypatch.setattr(transfer, "sleep", lambda s: None)
    job = {"id": "job-1", "name": "proj-train", "status": "pending"}
    server.on("POST", SYNC, body=FLOW)
    server.on("GET", VOLUMES, body=volumes_answer(["code"], "train"))
    server.on("POST", "/api/v1/flows/proj/live/train/run/", 201, {"started": True, "job": job})
    result = run(
        ["flow", "run", "-d", "train", "--param", "epochs", "5", "-p", "lr", "0.1"], transport=both(server, fs)
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "job-1\n"
    assert "Uploading volume code: ./src -> storage:proj/code/live" in result.stderr
    assert "Started train as proj-train" in result.stderr
    assert fs.files == {"alice/proj/code/live/train.py": b"print('train')\n"}  # code only: upload(volumes.code)
    asked = server.last("GET", VOLUMES).url.params  # the job, with the params that may choose its volumes
    assert (asked.get("job"), asked.get_list("param")) == ("train", ["epochs=5", "lr=0.1"])
    body = server.body(server.last("POST", "/api/v1/flows/proj/live/train/run/"))
    assert body == {"params": {"epochs": "5", "lr": "0.1"}, "args": []}
    paths = [(r.method, r.url.path) for r in server.requests]
    assert paths[-3:] == [("POST", SYNC), ("GET", VOLUMES), ("POST", "/api/v1/flows/proj/live/train/run/")]

    server.on("GET", VOLUMES, body=volumes_answer([], "shell"))

    server.on("POST", "/api/v1/flows/proj/live/shell/run/", 200, {"started": False, "job": job})
    attached = run(["flow", "run", "shell", "--detach", "--", "-v", "x"], transport=both(server, fs))
    assert attached.exit_code == 0 and "Attached to the running shell" in attached.stderr
    assert "Uploading" not in attached.stderr
    assert server.body(server.last("POST", "/api/v1/flows/proj/live/shell/run/"))["args"] == ["-v", "x"]
    assert server.last("GET", VOLUMES).url.params.get_list("arg") == ["-v", "x"]

    as_json = run(["flow", "run", "shell", "--json"], transport=both(server, fs))
    assert json.loads(as_json.stdout) == {"started": False, "job": job}


def test_run_shows_config_errors_with_positions(logged_in: Path, run: Run, server: FakeServer, project: Path) -> None:
    (project / ".neuro" / "live.yml").write_text("kind: live\njobs:\n  shell:\n    imag: x\n")
    errors = [{"file": ".neuro/live.yml", "line": 4, "column": 5, "message": "unknown key 'imag'"}]
    unprocessable = {"error": {"code": "unprocessable", "message": "…", "details": {"errors": errors}}}
    server.on("POST", SYNC, body=FLOW)
    server.on("GET", VOLUMES, 422, unprocessable)  # the server renders the job to find its upload()s
    result = run(["flow", "run", "shell"])
    assert result.exit_code == 65
    assert result.stderr.splitlines() == [
        ".neuro/live.yml:4:5: unknown key 'imag'",
        "kiln: unprocessable: live job shell: the flow configuration has 1 error",
    ]
    assert not [r for r in server.requests if r.url.path.endswith("/run/")]  # nothing started

    server.on("GET", VOLUMES, body=volumes_answer([], "shell"))
    server.on("POST", "/api/v1/flows/proj/live/shell/run/", 422, unprocessable)
    again = run(["flow", "run", "shell"])
    assert again.exit_code == 65 and again.stderr.splitlines()[0] == ".neuro/live.yml:4:5: unknown key 'imag'"


def test_kill_kills_a_job_or_one_instance_of_a_multi_job(
    logged_in: Path, run: Run, server: FakeServer, project: Path
) -> None:
    def error(status: int, code: str, message: str, details: Any = None) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details or {}}})

    def kill_shell(request: httpx.Request) -> httpx.Response:
        suffix = json.loads(request.content).get("suffix")
        if suffix is None:  # like apolo-flow: a multi job needs the instance's suffix
            return error(400, "invalid", "Live job 'shell' is multi: say which instance to kill by its suffix",
                         {"suffix": ["required for a multi job"], "running": ["3f9a0c", "77aa01"]})
        if suffix == "3f9a0c":
            return httpx.Response(200, json={"id": "job-2", "status": "cancelled"})
        if suffix == "77aa01":
            return error(409, "conflict", "Job job-3 has already finished (succeeded)")
        return error(404, "not_found", f"Live job shell has no instance '{suffix}'")

    server.on("POST", SYNC, body=FLOW)
    server.on("POST", "/api/v1/flows/proj/live/train/kill/", body={"id": "job-1", "status": "cancelled"})
    server.on("POST", "/api/v1/flows/proj/live/shell/kill/", handler=kill_shell)
    server.error("POST", "/api/v1/flows/proj/live/nope/kill/", 404, "not_found", "Flow proj has no live job 'nope'")
    result = run(["flow", "kill", "train"])
    assert (result.exit_code, result.stdout) == (0, "job-1\n")
    assert server.body(server.last("POST", "/api/v1/flows/proj/live/train/kill/")) == {}
    one = run(["flow", "kill", "shell", "3f9a0c"])
    assert (one.exit_code, one.stdout) == (0, "job-2\n"), one.stderr
    assert server.body(server.last("POST", "/api/v1/flows/proj/live/shell/kill/")) == {"suffix": "3f9a0c"}
    which = run(["flow", "kill", "shell"])
    assert which.exit_code == 65 and which.stderr == (
        "kiln: invalid input: shell is a multi job: say which instance, kiln flow kill shell SUFFIX "
        "(running: 3f9a0c, 77aa01)\n"
    )
    finished = run(["flow", "kill", "shell", "77aa01"])
    assert finished.exit_code == 7 and "already finished" in finished.stderr
    never = run(["flow", "kill", "shell", "0000"])
    assert never.exit_code == 4 and "no instance '0000'" in never.stderr
    unknown = run(["flow", "kill", "nope"])
    assert unknown.exit_code == 4 and "no live job 'nope'" in unknown.stderr


# --- upload / download -----------------------------------------------------------------------------


def test_volumes_come_from_the_server_after_the_sync(
    logged_in: Path, run: Run, server: FakeServer, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = FakeStorage()
    monkeypatch.setattr(transfer, "sleep", lambda s: None)
    server.on("POST", SYNC, body=FLOW).on("GET", VOLUMES, body=volumes_answer())
    (project / "results").mkdir()
    (project / "results" / "r.txt").write_text("0.1\n")
    result = run(["flow", "upload"], transport=both(server, fs))  # every volume with local:
    assert result.exit_code == 0, result.stderr
    assert [(r.method, r.url.path) for r in server.requests] == [("POST", SYNC), ("GET", VOLUMES)]
    assert not server.last("GET", VOLUMES).url.params  # no job: just the volumes
    # $[[ project.project_name ]] is evaluated by the server: the results volume is no longer refused
    assert "Uploading volume results: ./results -> storage:/alice/results" in result.stderr
    assert fs.files == {
        "alice/proj/data/a.csv": b"1,2\n",
        "alice/proj/code/live/train.py": b"print('train')\n",
        "alice/results/r.txt": b"0.1\n",
    }

    for names, words in (
        (["nope"], "kiln: invalid input: no volume 'nope' in live.yml or project.yml (volumes: code, data, "),
        (["remote_only"], "kiln: invalid input: volume remote_only (.neuro/live.yml) has no local folder to copy"),
    ):
        refused = run(["flow", "upload", *names], transport=both(server, fs))
        assert refused.exit_code == 65 and refused.stderr.startswith(words), refused.stderr
        assert refused.stderr.count("\n") == 1

    server.on("GET", VOLUMES, body={"volumes": [volume("data", "disk:x", "data")], "job": None, "uploads": []})
    not_storage = run(["flow", "download", "data"], transport=both(server, fs))
    assert not_storage.exit_code == 65 and "volume data (.neuro/live.yml): remote 'disk:x'" in not_storage.stderr
    server.on("GET", VOLUMES, body={"volumes": [volume("x", "storage:x")], "job": None, "uploads": []})
    none = run(["flow", "upload"], transport=both(server, fs))
    assert none.exit_code == 65 and "no volume of this flow has a local folder" in none.stderr


def test_a_bad_expression_in_a_volume_is_reported_with_its_position(
    logged_in: Path, run: Run, server: FakeServer, project: Path
) -> None:
    error = {
        "file": ".neuro/live.yml",
        "line": 4,
        "column": 21,
        "message": "from_json(): invalid JSON",
        "text": ".neuro/live.yml:4:21: from_json(): invalid JSON",
    }
    server.on("POST", SYNC, body=FLOW)
    server.on(
        "GET",
        VOLUMES,
        422,
        {"error": {"code": "unprocessable", "message": error["text"], "details": {"errors": [error]}}},
    )
    for verb in ("upload", "download"):
        result = run(["flow", verb])
        assert result.exit_code == 65
        assert result.stderr.splitlines() == [
            ".neuro/live.yml:4:21: from_json(): invalid JSON",
            "kiln: unprocessable: volumes: the flow configuration has 1 error",
        ]


def test_upload_and_download_copy_the_folders(
    logged_in: Path, run: Run, server: FakeServer, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = FakeStorage()
    monkeypatch.setattr(transfer, "sleep", lambda s: None)
    server.on("POST", SYNC, body=FLOW).on("GET", VOLUMES, body=volumes_answer())
    result = run(["flow", "upload", "data", "code"], transport=both(server, fs))
    assert result.exit_code == 0, result.stderr
    assert fs.files == {"alice/proj/data/a.csv": b"1,2\n", "alice/proj/code/live/train.py": b"print('train')\n"}
    assert "Uploading volume data: ./data -> storage:proj/data" in result.stderr

    fs.put("alice/proj/data/new/b.csv", b"3,4\n")
    fs.files["alice/proj/data/a.csv"] = b"changed\n"
    down = run(["flow", "download", "data", "--json"], transport=both(server, fs))
    assert down.exit_code == 0, down.stderr
    assert (project / "data" / "new" / "b.csv").read_text() == "3,4\n"
    assert (project / "data" / "a.csv").read_text() == "changed\n"
    assert {r["dst"] for r in json.loads(down.stdout)} == {
        str(project / "data" / "a.csv"),
        str(project / "data" / "new" / "b.csv"),
    }

    refused = run(["flow", "upload", "remote_only"], transport=both(server, fs))
    assert refused.exit_code == 65 and "volume remote_only" in refused.stderr
    for key in [k for k in fs.files if k.startswith("alice/proj/code/")]:
        del fs.files[key]
    fs.dirs -= {"alice/proj/code", "alice/proj/code/live"}
    missing = run(["flow", "download", "code"], transport=both(server, fs))
    assert missing.exit_code == 4 and missing.stderr.splitlines()[-1].startswith(
        "kiln: storage:proj/code/live: not found"
    )


# --- bakes ------------------------------------------------------------------------------------------


def test_follower_prints_each_transition_once() -> None:
    lines: list[str] = []
    follower = BakeFollower(BAKE_ID, lines.append)
    follower.event({"type": "state", "bake": bake_detail(tasks=[task("a", "running"), task("b")])})
    follower.event({"type": "task.status", "bake_id": BAKE_ID, "attempt": 1, "task": task("a", "running")})
    follower.event({"type": "task.status", "bake_id": "bake-other", "attempt": 1, "task": task("b", "running")})
    follower.event({"type": "task.status", "bake_id": BAKE_ID, "attempt": 7, "task": task("b", "running")})
    follower.event(
        {"type": "task.status", "bake_id": BAKE_ID, "attempt": 1, "task": task("b", "failed", reason="Error")}
    )
    follower.event({"type": "bake.status", "bake": {"id": "bake-other", "status": "failed"}})
    assert not follower.finished
    follower.event({"type": "bake.status", "bake": {"id": BAKE_ID, "status": "failed"}})
    assert follower.finished
    assert lines == ["a  running", "b  failed (Error)"]


def dropping_bake_server(paths: list[str], final: str = "succeeded") -> Any:
    """Connection 1: state (a, b pending), a running, then a drop. Connection 2: a fresh state in
    which a has succeeded meanwhile and b runs, then b ends and the bake with it."""

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        paths.append(conn.request.path)
        if len(paths) == 1:
            conn.send(json.dumps({"type": "state", "bake": bake_detail()}))
            conn.send(
                json.dumps({"type": "task.status", "bake_id": BAKE_ID, "attempt": 1, "task": task("a", "running")})
            )
            conn.close(1011)
            return
        state = bake_detail(tasks=[task("a", "succeeded", reason="Completed"), task("b", "running")])
        conn.send(json.dumps({"type": "state", "bake": state}))
        conn.send(json.dumps({"type": "task.status", "bake_id": BAKE_ID, "attempt": 1, "task": task("b", final)}))
        conn.send(json.dumps({"type": "bake.status", "bake": {"id": BAKE_ID, "status": final}}))
        conn.close(1000)

    return handler


def bake_routes(server: FakeServer, final: str) -> None:
    server.on("POST", SYNC, body=FLOW)
    server.on("POST", "/api/v1/flows/proj/bakes/", 201, bake_detail("pending"))
    done = bake_detail(final, tasks=[task("a", "succeeded"), task("b", final)])
    server.on("GET", f"/api/v1/bakes/{BAKE_ID}/", body=done)


@pytest.mark.parametrize("final, code", [("succeeded", 0), ("failed", 1)])
def test_bake_follows_through_a_drop_and_exits_with_the_outcome(
    config_path: Path, run: Run, server: FakeServer, project: Path, final: str, code: int
) -> None:
    bake_routes(server, final)
    paths: list[str] = []
    with ws_server(dropping_bake_server(paths, final)) as url:
        login_to(config_path, url)
        result = run(["flow", "bake", "diamond", "-p", "n", "1", "--name", "nightly", "-t", "x", "-t", "y"])
    assert result.exit_code == code, result.stderr
    assert result.stdout.splitlines() == [BAKE_ID, "a  running", "a  succeeded", "b  running", f"b  {final}"]
    assert paths == [f"/ws/bakes/{BAKE_ID}/"] * 2
    body = server.body(server.last("POST", "/api/v1/flows/proj/bakes/"))
    assert body == {"batch": "diamond", "params": {"n": "1"}, "tags": ["x", "y"], "name": "nightly"}
    assert result.stderr == ("" if code == 0 else f"kiln: bake {BAKE_ID} failed\n")


def test_bake_detach_and_json_do_not_follow(logged_in: Path, run: Run, server: FakeServer, project: Path) -> None:
    bake_routes(server, "succeeded")
    detached = run(["flow", "bake", "-d", "diamond"])
    assert (detached.exit_code, detached.stdout) == (0, BAKE_ID + "\n")
    as_json = run(["flow", "bake", "diamond", "--json"])
    assert json.loads(as_json.stdout)["id"] == BAKE_ID


def test_bake_config_errors_are_listed_and_exit_65(
    logged_in: Path, run: Run, server: FakeServer, project: Path
) -> None:
    errors = [
        {"file": ".neuro/diamond.yml", "line": 3, "column": 7, "message": "task a needs itself"},
        {
            "file": ".neuro/project.yml",
            "line": 1,
            "column": 1,
            "message": "bad id",
            "text": ".neuro/project.yml:1:1: bad id",
        },
    ]
    server.on("POST", SYNC, body=FLOW)
    server.on(
        "POST",
        "/api/v1/flows/proj/bakes/",
        422,
        {"error": {"code": "unprocessable", "message": "x (and 1 more)", "details": {"errors": errors}}},
    )
    result = run(["flow", "bake", "diamond"])
    assert result.exit_code == 65 and result.stdout == ""
    assert result.stderr.splitlines() == [
        ".neuro/diamond.yml:3:7: task a needs itself",
        ".neuro/project.yml:1:1: bad id",
        "kiln: unprocessable: batch diamond: the flow configuration has 2 errors",
    ]


def test_restart_follows_the_new_attempt(config_path: Path, run: Run, server: FakeServer) -> None:
    tasks = [task("a", "succeeded", reason="From attempt 1", carried_from=f"{BAKE_ID}#1"), task("b")]
    server.on("POST", f"/api/v1/bakes/{BAKE_ID}/restart/", 201, bake_detail("pending", tasks, number=2))
    server.on("GET", f"/api/v1/bakes/{BAKE_ID}/", body=bake_detail("succeeded", [tasks[0], task("b", "succeeded")], 2))

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "state", "bake": bake_detail("running", tasks, number=2)}))
        old = {"type": "task.status", "bake_id": BAKE_ID, "attempt": 1, "task": task("b", "failed")}
        conn.send(json.dumps(old))  # a late event of attempt 1: not ours
        conn.send(json.dumps({"type": "task.status", "bake_id": BAKE_ID, "attempt": 2, "task": task("b", "succeeded")}))
        conn.send(json.dumps({"type": "bake.status", "bake": {"id": BAKE_ID, "status": "succeeded"}}))

    with ws_server(handler) as url:
        login_to(config_path, url)
        result = run(["flow", "restart", "--no-from-failed", BAKE_ID])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [BAKE_ID, "a  succeeded (From attempt 1)", "b  succeeded"]
    assert "Attempt 2 started" in result.stderr
    assert server.body(server.last("POST", f"/api/v1/bakes/{BAKE_ID}/restart/")) == {"from_failed": False}


def test_bakes_lists_every_page(logged_in: Path, run: Run, server: FakeServer, project: Path) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        first = {**bake_detail("succeeded"), "id": "bake-1"}
        if request.url.params.get("cursor") is None:
            nxt = "http://internal/api/v1/flows/proj/bakes/?cursor=c2"
            return httpx.Response(200, json={"next": nxt, "results": [first]})
        return httpx.Response(200, json={"next": None, "results": [{**first, "id": "bake-2", "name": ""}]})

    server.on("POST", SYNC, body=FLOW).on("GET", "/api/v1/flows/proj/bakes/", handler=page)
    result = run(["flow", "bakes"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "BATCH", "STATUS", "WHEN"]
    assert lines[1].split()[:4] == ["bake-1", "nightly", "diamond", "succeeded"]
    assert lines[2].split()[:3] == ["bake-2", "diamond", "succeeded"]
    assert [b["id"] for b in json.loads(run(["flow", "bakes", "--json"]).stdout)] == ["bake-1", "bake-2"]
    assert [b["id"] for b in json.loads(run(["flow", "bakes", "--limit", "1", "--json"]).stdout)] == ["bake-1"]


# --- inspect, cancel --------------------------------------------------------------------------------


def test_inspect_prints_the_attempt_and_its_tasks(logged_in: Path, run: Run, server: FakeServer, tmp_path) -> None:
    tasks = [
        task(
            "a",
            "succeeded",
            raw_id="job-a",
            started_at="2025-01-10T14:00:00+00:00",
            finished_at="2025-01-10T14:01:00+00:00",
        ),
        task("b", "failed", raw_id="job-b"),
    ]
    server.on("GET", f"/api/v1/bakes/{BAKE_ID}/", body=bake_detail("failed", tasks, number=2))
    result = run(["flow", "inspect", BAKE_ID])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Bake:", BAKE_ID]
    assert ["Attempt:", "2", "of", "2"] in [line.split() for line in lines]
    assert ["Status:", "failed"] in [line.split() for line in lines]
    assert ["From", "failed:", "yes"] in [line.split() for line in lines]
    header = lines.index(next(line for line in lines if line.startswith("ID")))
    assert lines[header].split() == ["ID", "STATUS", "RAW", "ID", "STARTED", "FINISHED"]
    assert lines[header + 1].split()[:3] == ["a", "succeeded", "job-a"] and len(lines[header + 1].split()) == 7
    assert lines[header + 2].split() == ["b", "failed", "job-b"]
    assert json.loads(run(["flow", "inspect", BAKE_ID, "--json"]).stdout)["attempt"]["number"] == 2
    server.requests.clear()
    run(["flow", "inspect", BAKE_ID, "--attempt", "1"])
    assert server.requests[0].url.params["attempt"] == "1"


def test_inspect_writes_the_graph(logged_in: Path, run: Run, server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", f"/api/v1/bakes/{BAKE_ID}/", body=bake_detail("succeeded"))

    def graph(request: httpx.Request) -> httpx.Response:
        kind = request.url.params["format"]
        return httpx.Response(200, content=b'digraph { "a" -> "b"; }' if kind == "dot" else f"<{kind}>".encode())

    server.on("GET", f"/api/v1/bakes/{BAKE_ID}/graph/", handler=graph)
    dot = tmp_path / "g.dot"
    result = run(["flow", "inspect", BAKE_ID, "--output-graph", str(dot)])
    assert result.exit_code == 0, result.stderr
    assert dot.read_text() == 'digraph { "a" -> "b"; }' and f"Wrote the graph to {dot}" in result.stderr
    svg = tmp_path / "g.svg"
    assert run(["flow", "inspect", BAKE_ID, "--output-graph", str(svg), "--attempt", "1"]).exit_code == 0
    assert svg.read_bytes() == b"<svg>"
    assert server.last("GET", f"/api/v1/bakes/{BAKE_ID}/graph/").url.params["attempt"] == "1"
    other = tmp_path / "graph.out"
    assert run(["flow", "inspect", BAKE_ID, "--output-graph", str(other), "--pdf"]).exit_code == 0
    assert other.read_bytes() == b"<pdf>"
    unknown = run(["flow", "inspect", BAKE_ID, "--output-graph", str(tmp_path / "g.txt")])
    assert unknown.exit_code == 65 and "--dot/--svg/--pdf" in unknown.stderr
    assert run(["flow", "inspect", BAKE_ID, "--svg"]).exit_code == 2
    server.error("GET", f"/api/v1/bakes/{BAKE_ID}/graph/", 503, "unavailable", "Graphviz is not installed here")
    missing = run(["flow", "inspect", BAKE_ID, "--output-graph", str(tmp_path / "x.svg")])
    assert missing.exit_code == 1 and "Graphviz is not installed" in missing.stderr
    assert not (tmp_path / "x.svg").exists()


def test_inspect_of_a_stranger_bake_is_exit_4(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.error("GET", f"/api/v1/bakes/{BAKE_ID}/", 404, "not_found", f"No such bake: {BAKE_ID}")
    result = run(["flow", "inspect", BAKE_ID])
    assert result.exit_code == 4 and result.stderr == f"kiln: not found: No such bake: {BAKE_ID}\n"


def test_cancel(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", f"/api/v1/bakes/{BAKE_ID}/cancel/", body=bake_detail("cancelled"))
    result = run(["flow", "cancel", BAKE_ID])
    assert (result.exit_code, result.stdout) == (0, f"{BAKE_ID} cancelled\n")
    server.error("POST", f"/api/v1/bakes/{BAKE_ID}/cancel/", 409, "conflict", "has already finished")
    assert run(["flow", "cancel", BAKE_ID]).exit_code == 7


# --- init ---------------------------------------------------------------------------------------------


def test_init_creates_from_the_template_and_downloads_it(
    logged_in: Path, run: Run, server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fs = FakeStorage()
    demo = {**FLOW, "id": "demo", "uri": "flow://default/alice/demo", "folder": "storage://default/alice/demo"}

    def create(request: httpx.Request) -> httpx.Response:
        fs.put("alice/demo/.neuro/live.yml", b"kind: live\n")
        fs.put("alice/demo/modules/train.py", b"print(1)\n")
        fs.dirs.add("alice/demo/results")
        return httpx.Response(201, json=demo)

    server.on("POST", "/api/v1/flows/", handler=create)
    result = run(["flow", "init", "demo", "--title", "Demo"], transport=both(server, fs))
    assert result.exit_code == 0, result.stderr
    assert server.body(server.last("POST", "/api/v1/flows/")) == {"template": True, "name": "demo", "title": "Demo"}
    assert (tmp_path / "demo" / ".neuro" / "live.yml").read_text() == "kind: live\n"
    assert (tmp_path / "demo" / "modules" / "train.py").read_text() == "print(1)\n"
    assert (tmp_path / "demo" / "results").is_dir()
    assert "flow://default/alice/demo" in result.stdout and "cd demo" in result.stderr
    assert find_project(tmp_path / "demo" / "modules").root == (tmp_path / "demo").resolve()

    again = run(["flow", "init", "demo"], transport=both(server, fs))
    assert again.exit_code == 7 and "./demo exists" in again.stderr
    assert len([r for r in server.requests if r.url.path == "/api/v1/flows/"]) == 1
