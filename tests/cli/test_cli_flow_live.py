"""`kiln flow …` as subprocesses, run from a local project folder, against a live server with real
Celery workers running the live jobs and the bakes' tasks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.models import Bake
from jobs.models import Job
from tests.conftest import PASSWORD
from tests.flows.helpers import DIAMOND

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PROJECT = "id: cliflow\n"
LIVE = """\
kind: live
title: CLI flow
volumes:
  data:
    remote: storage:$[[ flow.project_id ]]/data
    mount: /project/data
    local: data
jobs:
  hello:
    image: python:3.11
    volumes:
      - $[[ upload(volumes.data).ref_ro ]]
    params:
      who: world
    bash: echo "hello ${{ params.who }}"; cat /project/data/greeting.txt
"""
FAILING = """\
kind: batch
tasks:
  - id: boom
    image: python:3.11
    bash: echo before; exit 3
"""


@pytest.fixture
def kiln(tmp_path, asgi_server, celery_workers):
    """`kiln(*args, user="bob", cwd=…)`: the CLI as that user, run in a project folder."""

    def environment(user: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        env["KILN_CONFIG"] = str(tmp_path / f"{user}.json")
        return env

    def run(*args: str, user: str = "bob", cwd: Path | None = None, stdin: str | None = None, timeout: float = 180):
        return subprocess.run([sys.executable, "-m", "kiln_cli", *args], input=stdin, capture_output=True,
                              text=True, env=environment(user), cwd=cwd, timeout=timeout)

    def login(user: str) -> None:
        result = run("login", asgi_server.url, "--username", user, user=user, stdin=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr

    run.login = login
    return run


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "work" / "cliflow"
    (root / ".neuro").mkdir(parents=True)
    (root / ".neuro" / "project.yml").write_text(PROJECT)
    (root / ".neuro" / "live.yml").write_text(LIVE)
    (root / ".neuro" / "diamond.yml").write_text(DIAMOND)
    (root / ".neuro" / "failing.yml").write_text(FAILING)
    (root / "data").mkdir()
    (root / "data" / "greeting.txt").write_text("greetings from the data volume\n")
    return root


def test_check_run_ps_from_a_project_folder(kiln, project, bob):
    kiln.login("bob")
    ok = kiln("flow", "check", cwd=project / "data")  # from below the root too
    assert (ok.returncode, ok.stdout) == (0, "OK\n"), ok.stderr

    (project / ".neuro" / "broken.yml").write_text("kind: batch\ntasks:\n  - id: a\n    imag: x\n")
    broken = kiln("flow", "check", cwd=project)
    assert broken.returncode == 1
    lines = broken.stdout.splitlines()
    assert ".neuro/broken.yml:3:5: task 'a' has no image" in lines, broken.stdout
    assert any(line.startswith(".neuro/broken.yml:4:5: unknown key 'imag'") for line in lines), broken.stdout
    assert broken.stderr == "kiln: 2 errors in .neuro/\n"
    (project / ".neuro" / "broken.yml").unlink()

    nowhere = kiln("flow", "ps", cwd=project.parent)
    assert nowhere.returncode == 65 and "no flow project here" in nowhere.stderr

    ran = kiln("flow", "run", "hello", "--param", "who", "kiln", cwd=project)
    assert ran.returncode == 0, ran.stderr
    job_id, *lines = ran.stdout.splitlines()
    assert job_id.startswith("job-") and lines == ["hello kiln", "greetings from the data volume"]
    assert "Started hello" in ran.stderr and "Uploading volume data" in ran.stderr
    job = Job.objects.get(pk=job_id)
    assert job.status == "succeeded" and job.flow_id == "flow://default/bob/cliflow"

    ps = kiln("flow", "ps", cwd=project)
    assert ps.returncode == 0, ps.stderr
    rows = [line.split() for line in ps.stdout.splitlines()]
    assert rows[0] == ["JOB", "STATUS", "RAW", "ID", "WHEN"]
    assert rows[1][:3] == ["hello", "succeeded", job_id]
    assert json.loads(kiln("flow", "ps", "--json", cwd=project).stdout)[0]["raw_id"] == job_id
    killed = kiln("flow", "kill", "hello", cwd=project)
    assert killed.returncode == 7 and "already finished" in killed.stderr  # its latest run is over

    # the volume is in storage now, and comes back down
    (project / "data" / "greeting.txt").unlink()
    down = kiln("flow", "download", "data", cwd=project)
    assert down.returncode == 0, down.stderr
    assert (project / "data" / "greeting.txt").read_text() == "greetings from the data volume\n"


def test_bake_follows_to_the_end_then_bakes_and_inspect(kiln, project, tmp_path, bob, alice):
    kiln.login("bob")
    kiln.login("alice")
    baked = kiln("flow", "bake", "diamond", "--name", "nightly", cwd=project)
    assert baked.returncode == 0, baked.stderr
    bake_id, *transitions = baked.stdout.splitlines()
    assert bake_id.startswith("bake-") and Bake.objects.get(pk=bake_id).status == "succeeded"
    finals = [line.split()[:2] for line in transitions if line.split()[1] != "running"]
    assert sorted(finals) == [[t, "succeeded"] for t in "abcd"], baked.stdout
    assert transitions.index("d  succeeded") > transitions.index("b  succeeded")

    failed = kiln("flow", "bake", "failing", cwd=project)
    assert failed.returncode == 1
    failed_id = failed.stdout.splitlines()[0]
    assert "boom  failed" in failed.stdout and failed.stderr.endswith(f"kiln: bake {failed_id} failed\n")

    listed = kiln("flow", "bakes", cwd=project)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["ID", "NAME", "BATCH", "STATUS", "WHEN"]
    assert rows[1][:3] == [failed_id, "failing", "failed"]  # newest first; no name
    assert rows[2][:4] == [bake_id, "nightly", "diamond", "succeeded"]

    graph = tmp_path / "g.dot"
    inspected = kiln("flow", "inspect", bake_id, "--output-graph", str(graph), cwd=tmp_path)  # no project needed
    assert inspected.returncode == 0, inspected.stderr
    assert ["Status:", "succeeded"] in [line.split() for line in inspected.stdout.splitlines()]
    task_rows = {line.split()[0]: line.split() for line in inspected.stdout.splitlines() if line[:2] in
                 ("a ", "b ", "c ", "d ")}
    assert set(task_rows) == set("abcd") and all(row[1] == "succeeded" and row[2].startswith("job-")
                                                 for row in task_rows.values())
    dot = graph.read_text()
    for edge in ('"a" -> "b";', '"a" -> "c";', '"b" -> "d";', '"c" -> "d";'):
        assert edge in dot

    stranger = kiln("flow", "inspect", bake_id, user="alice", cwd=tmp_path)
    assert stranger.returncode == 4 and stranger.stderr.startswith("kiln: not found")

    restarted = kiln("flow", "restart", failed_id, cwd=tmp_path)
    assert restarted.returncode == 1 and restarted.stdout.splitlines()[0] == failed_id
    assert "Attempt 2 started" in restarted.stderr
    assert json.loads(kiln("flow", "inspect", failed_id, "--json").stdout)["attempt"]["number"] == 2


def test_init_downloads_the_template(kiln, tmp_path, bob):
    kiln.login("bob")
    where = tmp_path / "here"
    where.mkdir()
    made = kiln("flow", "init", "demo", cwd=where)
    assert made.returncode == 0, made.stderr
    demo = where / "demo"
    for name in (".neuro/live.yml", ".neuro/project.yml", ".neuro/pipeline.yml", "modules/train.py",
                 "requirements.txt", "README.md"):
        assert (demo / name).is_file(), name
    for name in ("data", "notebooks", "results", "config"):
        assert (demo / name).is_dir(), name
    assert "flow://default/bob/demo" in made.stdout
    again = kiln("flow", "init", "demo", cwd=where)
    assert again.returncode == 7 and "exists" in again.stderr
    check = kiln("flow", "check", cwd=demo / "modules")
    assert (check.returncode, check.stdout) == (0, "OK\n"), check.stdout + check.stderr
    listed = kiln("flow", "ps", cwd=demo)
    assert [row.split()[0] for row in listed.stdout.splitlines()[1:]] == ["train", "server", "shell"]


NAMED_LIVE = """\
kind: live
volumes:
  notes:
    remote: storage:/$[[ project.project_name ]]/$[[ replace(flow.project_id, '_', '-') ]]-notes
    mount: /project/notes
    local: $[[ fmt("docs/{}", "notes") ]]
jobs:
  show:
    image: python:3.11
    params:
      vol: notes
    volumes:
      - ${{ upload(volumes[params.vol]).ref_ro }}
    bash: cat /project/notes/note.txt
"""


def test_volumes_are_evaluated_by_the_server_end_to_end(kiln, tmp_path, bob):
    """Expressions the CLI never understood (project.project_name, functions, an upload() whose
    volume a param chooses) work for upload, run and download; a bad one names its position."""
    kiln.login("bob")
    root = tmp_path / "work" / "named"
    (root / ".neuro").mkdir(parents=True)
    (root / ".neuro" / "project.yml").write_text("id: named_vols\n")  # project_name: the owner's name
    (root / ".neuro" / "live.yml").write_text(NAMED_LIVE)
    (root / "docs" / "notes").mkdir(parents=True)
    (root / "docs" / "notes" / "note.txt").write_text("a note in bob's storage\n")

    up = kiln("flow", "upload", cwd=root / "docs")
    assert up.returncode == 0, up.stderr
    assert "Uploading volume notes: ./docs/notes -> storage:/bob/named-vols-notes" in up.stderr

    (root / "docs" / "notes" / "note.txt").write_text("edited before the run\n")
    ran = kiln("flow", "run", "show", cwd=root)
    assert ran.returncode == 0, ran.stderr
    assert "Uploading volume notes" in ran.stderr  # upload(volumes[params.vol]) found by rendering the job
    assert ran.stdout.splitlines()[1:] == ["edited before the run"]

    (root / "docs" / "notes" / "note.txt").unlink()
    down = kiln("flow", "download", "notes", cwd=root)
    assert down.returncode == 0, down.stderr
    assert (root / "docs" / "notes" / "note.txt").read_text() == "edited before the run\n"

    unknown = kiln("flow", "download", "nope", cwd=root)
    assert unknown.returncode == 65 and "no volume 'nope' in live.yml or project.yml (volumes: notes)" in unknown.stderr

    broken = NAMED_LIVE.replace("$[[ replace(flow.project_id, '_', '-') ]]", "$[[ from_json('{oops') ]]")
    (root / ".neuro" / "live.yml").write_text(broken)
    for verb in (["upload"], ["run", "show"]):
        refused = kiln("flow", *verb, cwd=root)
        assert refused.returncode == 65, refused.stderr
        first, *_, last = refused.stderr.splitlines()
        assert first.startswith(".neuro/live.yml:4:"), refused.stderr
        assert "from_json" in first and last.startswith("kiln: unprocessable:")
    assert Job.objects.filter(flow_id="flow://default/bob/named_vols").count() == 1  # the broken run never started
