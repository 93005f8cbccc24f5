"""Jobs executed by a real Celery worker in bubblewrap sandboxes."""

import json
import time

import psutil
import pytest
from websockets.sync.client import connect

from console import services as core
from jobs import services
from jobs.models import Job
from tests.jobs.conftest import wait_for, wait_status

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def run(user, command, **kw):
    kw.setdefault("image", "python:3.11")
    return services.job_run(by=user, command=command, **kw)


def sandbox_processes(job: Job) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["cmdline"] and "bwrap" in cmdline[0] and job.id in cmdline:
            found.append(process)
    return found


def test_job_runs_in_a_sandbox_and_its_output_is_logged(celery_workers, bob, logs_of):
    job = run(bob, "echo hello; echo to-stderr >&2; echo pid=$$; ls /; python3 -c 'print(6*7)'")
    wait_status(job, "succeeded", "failed")
    assert (job.status, job.reason, job.exit_code) == ("succeeded", "Completed", 0)
    lines = logs_of(job)
    assert lines[:3] == ["hello", "to-stderr", "pid=2"]  # PID 2 under the sandbox's own init
    assert "home" not in lines and "42" in lines  # the host's /home is not there; Python is
    assert [row.status for row in job.history.all()] == ["pending", "running", "succeeded"]
    assert job.started_at and job.finished_at and job.worker


def test_a_failing_command_fails_with_its_exit_code(celery_workers, bob):
    job = wait_status(run(bob, "exit 3"), "succeeded", "failed")
    assert (job.status, job.reason, job.exit_code) == ("failed", "Error", 3)


def test_kill_stops_the_whole_sandbox(celery_workers, bob):
    job = run(bob, "sleep 300 & sleep 300; wait")
    wait_status(job, "running")
    wait_for(lambda: sandbox_processes(job))
    services.job_kill(job=job, by=bob)
    wait_for(lambda: not sandbox_processes(job), timeout=30)
    job.refresh_from_db()
    assert (job.status, job.reason) == ("cancelled", "Cancelled")


def test_life_span_ends_the_job(celery_workers, bob):
    job = wait_status(run(bob, "sleep 300", life_span=2), "cancelled", "failed", "succeeded")
    assert (job.status, job.reason) == ("cancelled", "LifeSpanEnded")


def test_memory_limit_kills_with_oom(celery_workers, bob):
    job = run(bob, "python3 -c 'x = bytearray(512 * 1024 * 1024); print(len(x))'", preset="test-tiny")
    wait_status(job, "failed", "succeeded")
    assert job.status == "failed" and job.reason in {"OOMKilled", "Error"}  # Error where only rlimits apply
    assert job.exit_code != 0


def test_restart_on_failure_runs_again_until_killed(celery_workers, bob, logs_of):
    job = run(bob, "echo attempt; exit 1", restart_policy="on-failure")
    wait_for(lambda: Job.objects.get(pk=job.pk).restarts >= 2, timeout=30)
    services.job_kill(job=job, by=bob)
    wait_status(job, "cancelled")
    assert logs_of(job).count("attempt") >= 2
    assert any(row.reason == "Restarting" and row.exit_code == 1 for row in job.history.all())


def test_missing_bubblewrap_refuses_instead_of_running_unsandboxed(bob, settings, monkeypatch, logs_of):
    from jobs.runner import job_execute

    monkeypatch.setattr(services, "_enqueue_many", lambda jobs, **_: None)
    monkeypatch.setattr("shutil.which", lambda name: None)
    job = run(bob, "echo should-not-run")
    job_execute(job_id=job.id, worker="test")
    job.refresh_from_db()
    assert (job.status, job.reason) == ("failed", "RuntimeUnavailable")
    assert "bubblewrap" in job.status_description
    assert "should-not-run" not in logs_of(job)


def test_logs_stream_over_websocket_and_resume_without_loss_or_repeat(asgi_server, celery_workers, bob):
    _, token = core.token_create(user=bob, name="ws")
    job = run(bob, "for i in $(seq 1 300); do echo line-$i; done; sleep 1; for i in $(seq 301 400); do echo line-$i; "
                   "done")
    headers = {"Authorization": f"Bearer {token}"}
    received: dict[int, str] = {}
    with connect(f"{asgi_server.ws_url}/ws/jobs/{job.id}/logs/?after=-1", additional_headers=headers) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
        while len(received) < 150:
            message = json.loads(ws.recv(timeout=30))
            if message["type"] == "log":
                for index, text in enumerate(message["lines"]):
                    assert message["first"] + index not in received
                    received[message["first"] + index] = text
    last = max(received)
    with connect(f"{asgi_server.ws_url}/ws/jobs/{job.id}/logs/?after={last}", additional_headers=headers) as ws:
        end = None
        while end is None:
            message = json.loads(ws.recv(timeout=60))
            if message["type"] == "log":
                for index, text in enumerate(message["lines"]):
                    offset = message["first"] + index
                    assert offset not in received, f"line {offset} sent twice"
                    received[offset] = text
            elif message["type"] == "end":
                end = message
    assert end["status"] == "succeeded"
    assert [received[i] for i in range(400)] == [f"line-{i}" for i in range(1, 401)]


def test_stranger_cannot_open_the_log_socket(asgi_server, celery_workers, bob, carol):
    job = run(bob, "echo secret")
    _, token = core.token_create(user=carol, name="ws")
    with connect(f"{asgi_server.ws_url}/ws/jobs/{job.id}/logs/",
                 additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        message = json.loads(ws.recv(timeout=10))
        assert message["type"] == "error" and message["code"] == "not_found"


def test_worker_killed_mid_job_ends_it_worker_lost_and_another_worker_goes_on(celery_workers, bob):
    spare = celery_workers.start()  # a second worker that will survive
    job = run(bob, "sleep 600")
    wait_status(job, "running")
    victim = next(p for p in celery_workers.alive() if job.worker.startswith(p.hostname + "@"))
    started = time.monotonic()
    celery_workers.kill_hard(victim)
    wait_status(job, "failed", timeout=60)
    assert job.reason == "WorkerLost"
    print(f"WorkerLost after {time.monotonic() - started:.1f} s")
    assert not sandbox_processes(job)
    after = wait_status(run(bob, "echo still-working"), "succeeded", "failed")
    assert after.status == "succeeded"
    if victim is not spare and spare.poll() is None:
        pass  # the survivor keeps serving the rest of the session
    else:
        celery_workers.start()


def test_log_download_and_list_events_over_the_user_stream(asgi_server, celery_workers, bob, alice):
    import httpx

    core.share(by=bob, uri="job:", principal="alice", level="read")
    _, token = core.token_create(user=alice, name="ws")
    with connect(f"{asgi_server.ws_url}/ws/events/", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
        job = run(bob, "for i in 1 2 3; do echo n$i; done")
        seen = []
        while not seen or seen[-1] != "succeeded":
            event = json.loads(ws.recv(timeout=60))
            if event.get("job", {}).get("id") == job.id:
                seen.append(event["job"]["status"] if event["type"] == "job.status" else "created")
        assert seen[0] == "created" and "running" in seen
    text = httpx.get(f"{asgi_server.url}/api/v1/jobs/{job.id}/logs/?format=text",
                     headers={"Authorization": f"Bearer {token}"})
    assert text.status_code == 200 and text.text == "n1\nn2\nn3\n"
    assert "attachment" in text.headers["content-disposition"]
