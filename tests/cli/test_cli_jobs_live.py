"""`kiln run/ps/status/logs/kill/exec/browse` as subprocesses against a live server, with a real
Celery worker running the jobs in bubblewrap sandboxes."""

import json
import os
import subprocess
import sys

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from jobs.models import Job
from tests.conftest import PASSWORD, free_port
from tests.jobs.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

IMAGE = "python:3.11"


@pytest.fixture
def kiln(tmp_path, asgi_server, celery_workers):
    """`kiln(*args, user="bob")`: run the CLI as that user (each user has their own config)."""

    def environment(user: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        env["KILN_CONFIG"] = str(tmp_path / f"{user}.json")
        return env

    def run(*args: str, user: str = "bob", stdin: str | None = None, timeout: float = 120):
        return subprocess.run([sys.executable, "-m", "kiln_cli", *args], input=stdin, capture_output=True,
                              text=True, env=environment(user), timeout=timeout)

    def popen(*args: str, user: str = "bob") -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "kiln_cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=environment(user))

    def login(user: str) -> None:
        result = run("login", asgi_server.url, "--username", user, user=user, stdin=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr

    run.popen = popen
    run.login = login
    run.config_for = lambda user: tmp_path / f"{user}.json"
    run.server = asgi_server
    return run


def job_status(job_id: str) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def wait_job(job_id: str, *statuses: str, timeout: float = 60) -> None:
    wait_for(lambda: job_status(job_id) in statuses, timeout=timeout)


def run_detached(kiln, *args: str) -> str:
    result = kiln("run", "-d", "--life-span", "3m", *args)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    assert job_id.startswith("job-") and "\n" not in job_id
    return job_id


def test_run_attached_prints_the_output_and_exits_with_the_outcome(kiln, bob):
    kiln.login("bob")
    ok = kiln("run", IMAGE, "--", "sh", "-c", "echo hello; echo world >&2; python3 -c 'print(6*7)'")
    assert ok.returncode == 0, ok.stderr
    job_id, *lines = ok.stdout.splitlines()
    assert job_id.startswith("job-") and lines == ["hello", "world", "42"]
    assert job_status(job_id) == "succeeded"

    bad = kiln("run", "-n", "boom", IMAGE, "--", "sh", "-c", "echo before; exit 3")
    failed_id = bad.stdout.splitlines()[0]
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[1:] == ["before"]
    assert bad.stderr == f"kiln: job {failed_id} failed (Error, exit code 3)\n"

    # logs of a finished job, by name and by id, streamed or from the REST pages
    for args in (("boom",), (failed_id, "--no-follow"), ("job:/bob/boom",)):
        logs = kiln("logs", *args)
        assert (logs.returncode, logs.stdout) == (1, "before\n"), (args, logs.stderr)
        assert "failed (Error, exit code 3)" in logs.stderr
    assert kiln("logs", job_id).stdout == "hello\nworld\n42\n"

    status = kiln("status", "boom")
    assert status.returncode == 0, status.stderr
    assert "ID:" in status.stdout and failed_id in status.stdout
    history = [line.split()[:3] for line in status.stdout.splitlines()]
    assert ["pending", "Created"] in [h[:2] for h in history]
    assert ["failed", "Error", "3"] in history


def test_detach_ps_kill_status(kiln, bob):
    kiln.login("bob")
    job_id = run_detached(kiln, "-n", "sleeper", "-t", "cli-test", IMAGE, "--", "sleep", "300")
    try:
        listed = kiln("ps")
        assert listed.returncode == 0 and job_id in listed.stdout, listed.stderr
        assert listed.stdout.splitlines()[0].split() == ["ID", "NAME", "STATUS", "WHEN", "IMAGE", "OWNER", "COMMAND"]
        assert [j["id"] for j in json.loads(kiln("ps", "-t", "cli-test", "-n", "sleeper", "--json").stdout)] == [job_id]
        assert json.loads(kiln("ps", "-s", "succeeded", "--json").stdout) == []
        wait_job(job_id, "running")
    finally:
        killed = kiln("kill", "sleeper")
    assert (killed.returncode, killed.stdout) == (0, f"{job_id}\n"), killed.stderr
    wait_job(job_id, "cancelled")

    status = kiln("status", job_id)
    assert status.returncode == 0, status.stderr
    assert any(line.split()[:2] == ["Status:", "cancelled"] for line in status.stdout.splitlines())
    assert any(line.split()[:2] == ["cancelled", "Cancelled"] for line in status.stdout.splitlines())
    detail = json.loads(kiln("status", "sleeper", "--json").stdout)
    assert (detail["id"], detail["status"], detail["history"][-1]["reason"]) == (job_id, "cancelled", "Cancelled")

    assert job_id not in kiln("ps").stdout  # active only by default
    everything = json.loads(kiln("ps", "-a", "--json").stdout)
    assert {"id": job_id, "status": "cancelled"}.items() <= next(j for j in everything if j["id"] == job_id).items()

    again = kiln("kill", job_id, "job-00000000-0000-4000-8000-000000000000")
    assert again.returncode == 1  # 409 and 404: different failures
    assert again.stdout == "" and again.stderr.count("\n") == 2
    assert kiln("logs", "sleeper").returncode == 1  # cancelled


def test_stranger_gets_404_and_a_reader_can_read_but_not_kill(kiln, bob, alice, carol):
    for user in ("bob", "alice", "carol"):
        kiln.login(user)
    job_id = run_detached(kiln, "-n", "shared-job", IMAGE, "--", "sh", "-c", "echo for-readers; sleep 300")
    try:
        for verb in ("status", "logs", "kill"):
            stranger = kiln(verb, "job:/bob/shared-job", user="carol")
            assert stranger.returncode == 4, (verb, stranger.stderr)
            assert stranger.stderr.startswith("kiln:") and stranger.stderr.count("\n") == 1
        assert kiln("status", job_id, user="carol").returncode == 4

        shared = kiln("share", "job:shared-job", "alice", "read")
        assert shared.returncode == 0, shared.stderr
        assert [j["id"] for j in json.loads(kiln("ps", "--shared", "--json", user="alice").stdout)] == [job_id]

        # alice follows the live log; it ends when bob kills the job
        follower = kiln.popen("logs", "job:/bob/shared-job", user="alice")
        assert follower.stdout.readline() == "for-readers\n"
        refused = kiln("kill", "job:/bob/shared-job", user="alice")
        assert refused.returncode == 5 and "forbidden" in refused.stderr
        if not exec_route_missing(kiln.server):
            no_exec = kiln("exec", "-T", "job:/bob/shared-job", "--", "true", user="alice")
            assert no_exec.returncode == 5, no_exec.stderr  # exec needs write
        assert job_status(job_id) in ("pending", "running")
    finally:
        assert kiln("kill", job_id).returncode == 0
    out, err = follower.communicate(timeout=60)
    assert (follower.returncode, out) == (1, "")
    assert err == f"kiln: job {job_id} cancelled (Cancelled)\n"


def exec_route_missing(server) -> bool:
    try:
        with connect(f"{server.ws_url}/ws/jobs/job-none/exec/", open_timeout=10) as ws:
            ws.close()
    except InvalidStatus as exc:
        return exc.response.status_code == 404
    except Exception:
        return False
    return False


def test_exec_relays_stdin_stdout_and_the_exit_code(kiln, asgi_server, bob, alice):
    if exec_route_missing(asgi_server):
        pytest.skip("the server answers 404 on /ws/jobs/<id>/exec/ (exec not deployed on this server)")
    kiln.login("bob")
    kiln.login("alice")
    job_id = run_detached(kiln, "-n", "shell", "-e", "GREETING=hi", IMAGE, "--", "sleep", "300")
    try:
        wait_job(job_id, "running")
        piped = kiln("exec", "-T", "shell", "--", "sh", "-c", "cat; echo $GREETING; exit 5", stdin="through stdin\n")
        assert (piped.returncode, piped.stdout) == (5, "through stdin\nhi\n"), piped.stderr

        with_tty = kiln("exec", "-t", job_id, stdin="echo $((6*7)); [ -t 0 ] && echo on-a-terminal; exit 3\n")
        assert with_tty.returncode == 3, with_tty.stderr
        assert "\n42\n" in with_tty.stdout and "\non-a-terminal\n" in with_tty.stdout  # (text mode: \r\n -> \n)

        assert kiln("exec", "-T", f"job:/bob/{job_id}", "--", "true").returncode == 0
        assert kiln("exec", "-T", job_id, "--", "true", user="alice").returncode == 4  # a stranger
    finally:
        kiln("kill", job_id)
    wait_job(job_id, "cancelled")
    finished = kiln("exec", "-T", job_id, "--", "true")
    assert finished.returncode == 7 and "not running" in finished.stderr


def test_browse_prints_the_url_of_a_job_with_an_http_port(kiln, asgi_server, bob):
    kiln.login("bob")
    port = free_port()
    command = (f"mkdir -p /tmp/site && echo hello-from-job > /tmp/site/index.html && cd /tmp/site && "
               f"exec python3 -m http.server {port}")
    job_id = run_detached(kiln, "-n", "web", "--http-port", str(port), IMAGE, "--", "sh", "-c", command)
    try:
        browse = kiln("browse", "web")
        assert browse.returncode == 0, browse.stderr
        url = browse.stdout.strip()
        assert url == f"{asgi_server.url}/jobs/{job_id}/browse/"
        wait_job(job_id, "running")
        token = json.loads(kiln.config_for("bob").read_text())["token"]

        def page() -> str | None:
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            return response.text if response.status_code == 200 else None

        assert "hello-from-job" in wait_for(page, timeout=30, interval=0.3)
    finally:
        kiln("kill", job_id)

    plain = run_detached(kiln, IMAGE, "--", "true")
    no_port = kiln("browse", plain)
    assert no_port.returncode == 65 and "no HTTP port" in no_port.stderr
