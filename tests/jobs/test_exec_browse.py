"""Exec into a running job over the WebSocket, and browse its HTTP port through the console."""

import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from console import services as core
from jobs import services
from tests.jobs.conftest import wait_for, wait_status

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {core.token_create(user=user, name='t')[1]}"}


def exec_session(server, job, headers, *, command=None, tty=False, stdin: bytes = b""):
    """Run one exec session; returns (output bytes, exit code)."""
    with connect(f"{server.ws_url}/ws/jobs/{job.id}/exec/", additional_headers=headers) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
        ws.send(json.dumps({"type": "start", "command": command, "tty": tty, "cols": 100, "rows": 30}))
        assert json.loads(ws.recv(timeout=15)) == {"type": "started"}
        if stdin:
            ws.send(stdin)
            if not tty:
                ws.send(json.dumps({"type": "eof"}))
        output = b""
        while True:
            message = ws.recv(timeout=30)
            if isinstance(message, bytes):
                output += message
            else:
                event = json.loads(message)
                assert event["type"] == "exit", event
                return output, event["code"]


def test_exec_runs_inside_the_sandbox(asgi_server, celery_workers, bob):
    job = services.job_run(by=bob, image="python:3.11", command="echo ready > /tmp/marker; sleep 300",
                           env={"GREETING": "hi"})
    wait_status(job, "running")
    time.sleep(12)  # the runner's exec host must still answer after idling (regression)
    headers = bearer(bob)
    output, code = exec_session(asgi_server, job, headers,
                                command=["sh", "-c", "cat /tmp/marker; echo $GREETING; echo pid=$$; "
                                                     "grep CapEff /proc/self/status; exit 7"])
    text = output.decode()
    assert code == 7
    assert "ready" in text and "hi" in text  # the job's private /tmp and environment
    assert "CapEff:\t0000000000000000" in text  # no capabilities inside
    assert "DATABASE_URL" not in text

    piped, code = exec_session(asgi_server, job, headers, command=["cat"], stdin=b"through stdin\n")
    assert (piped, code) == (b"through stdin\n", 0)

    interactive, code = exec_session(asgi_server, job, headers, command=None, tty=True,
                                     stdin=b"echo $((6*7)); [ -t 0 ] && echo on-a-terminal; exit 3\n")
    assert code == 3 and b"\r42\r\n" in interactive and b"\non-a-terminal\r\n" in interactive
    services.job_kill(job=job, by=bob)


def test_exec_needs_write_and_a_running_job(asgi_server, celery_workers, bob, alice, carol):
    job = services.job_run(by=bob, image="python:3.11", command="sleep 300")
    core.share(by=bob, uri=job.uri, principal="alice", level="read")
    wait_status(job, "running")
    for user, code in [(alice, 4403), (carol, 4404)]:
        with connect(f"{asgi_server.ws_url}/ws/jobs/{job.id}/exec/", additional_headers=bearer(user)) as ws:
            messages = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    messages.append(json.loads(ws.recv(timeout=10)))
            assert closed.value.rcvd.code == code
    services.job_kill(job=job, by=bob)
    wait_status(job, "cancelled")
    with connect(f"{asgi_server.ws_url}/ws/jobs/{job.id}/exec/", additional_headers=bearer(bob)) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd.code == 4409


SERVER = ("mkdir -p /tmp/site/sub && echo hello-from-job > /tmp/site/index.html && "
          "echo nested > /tmp/site/sub/page.txt && cd /tmp/site && python3 -m http.server {port}")


def test_browse_proxies_to_the_job_with_read_access(asgi_server, celery_workers, bob, alice, carol):
    from tests.conftest import free_port

    port = free_port()
    job = services.job_run(by=bob, image="python:3.11", command=SERVER.format(port=port), http_port=port,
                           name="site")
    wait_status(job, "running")
    url = f"{asgi_server.url}/jobs/{job.id}/browse/"
    owner = httpx.Client(headers=bearer(bob))

    def answers():
        response = owner.get(url)
        return response if response.status_code == 200 else None

    page = wait_for(answers, timeout=30, interval=0.3)
    assert "hello-from-job" in page.text
    assert "sandbox" in page.headers["content-security-policy"]
    assert owner.get(f"{asgi_server.url}/jobs/site/browse/sub/page.txt").text == "nested\n"  # by name
    assert httpx.get(url, headers=bearer(carol)).status_code == 404
    anonymous = httpx.get(url)
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/login?next=")
    core.share(by=bob, uri="job:site", principal="alice", level="read")
    assert "hello-from-job" in httpx.get(url, headers=bearer(alice)).text

    # A second job declaring the same port on this worker fails with a reason that says why.
    clash = services.job_run(by=bob, image="python:3.11", command="sleep 60", http_port=port)
    wait_status(clash, "failed", "running", "succeeded")
    assert clash.status == "failed" and clash.reason == "RuntimeUnavailable"
    assert f"port {port}" in clash.status_description and job.id in clash.status_description
    services.job_kill(job=job, by=bob)


def test_public_job_is_browsable_without_login(asgi_server, celery_workers, bob):
    from tests.conftest import free_port

    port = free_port()
    job = services.job_run(by=bob, image="python:3.11", command=SERVER.format(port=port), http_port=port,
                           http_auth=False)
    wait_status(job, "running")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.get(f"{asgi_server.url}/jobs/{job.id}/browse/")
        if response.status_code == 200:
            break
        time.sleep(0.3)
    assert "hello-from-job" in response.text
    services.job_kill(job=job, by=bob)
