"""kiln ps / status / logs / run / kill / exec / browse against a fake REST server and local
WebSocket servers (logs that drop midway, an exec peer that relays raw bytes)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN, URL, FakeServer, Run
from websockets.sync.server import ServerConnection, serve

# isort: split
from kiln_cli import ws
from kiln_cli.commands import jobs as jobs_module
from kiln_cli.commands.jobs import LogPrinter, check_volume, exit_status, outcome, parse_duration, parse_env
from kiln_cli.errors import KilnError
from kiln_cli.output import relative_time

JOB_ID = "job-0c5e8d1a-1111-4222-8333-444455556666"
NOW = datetime.now(UTC)


def summary(**over: Any) -> dict[str, Any]:
    job = {
        "id": JOB_ID,
        "name": "train",
        "owner": "alice",
        "uri": f"job://default/alice/{JOB_ID}",
        "status": "running",
        "reason": "Started",
        "description": "",
        "exit_code": None,
        "image": "python:3.11",
        "command": "python -c 'print(42)'",
        "preset": "cpu-small",
        "tags": ["exp"],
        "http_port": None,
        "created_at": (NOW - timedelta(minutes=5)).isoformat(),
        "started_at": (NOW - timedelta(minutes=3)).isoformat(),
        "finished_at": None,
        "restarts": 0,
        "flow_id": None,
        "bake_id": None,
        "task_id": None,
    }
    job.update(over)
    return job


def detail(**over: Any) -> dict[str, Any]:
    job = {
        **summary(),
        "name_uri": "job://default/alice/train",
        "cluster": "default",
        "workdir": "",
        "env": {"SEED": "1"},
        "volumes": ["storage:data:/data:ro"],
        "cpu": 1.0,
        "memory_mb": 1024,
        "http_auth": True,
        "http_url": None,
        "life_span": 5400,
        "schedule_timeout": None,
        "restart_policy": "never",
        "job_description": "",
        "worker": "w1@host",
        "log_lines": 3,
        "my_level": "manage",
        "history": [
            {"status": "pending", "reason": "Created", "description": "", "exit_code": None, "at": NOW.isoformat()},
            {
                "status": "running",
                "reason": "Started",
                "description": "on w1",
                "exit_code": None,
                "at": NOW.isoformat(),
            },
        ],
    }
    job.update(over)
    return job


# --- helpers: a config pointing at a local WebSocket server ------------------------------------------

WsHandler = Callable[[ServerConnection], None]


@contextmanager
def ws_server(handler: WsHandler) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
        finally:
            server.shutdown()
            thread.join(5)


def login_to(config_path: Path, url: str) -> None:
    """Like the `logged_in` fixture, for another server URL (REST still goes to the MockTransport)."""
    config_path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    config_path.write_text(json.dumps({"url": url, "username": "alice", "token": TOKEN, "token_id": "7"}))
    config_path.chmod(0o600)


def after_of(conn: ServerConnection) -> int:
    assert conn.request is not None
    return int(conn.request.path.rsplit("after=", 1)[1])


# --- small parsers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172_800), ("1d2h3m4s", 93_784), ("1H", 3600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "1x", "h", "1m1h", "-5", "1.5h", "0s"])
def test_bad_durations_exit_65(text: str) -> None:
    with pytest.raises(KilnError) as info:
        parse_duration(text)
    assert info.value.exit_code == 65


def test_env_pairs_and_copies_from_the_local_environment() -> None:
    assert parse_env(["A=1", "B=x=y", "C=", "HOME"], {"HOME": "/home/a"}) == {
        "A": "1",
        "B": "x=y",
        "C": "",
        "HOME": "/home/a",
    }
    for bad in (["MISSING"], ["=v"], ["1A=v"]):
        with pytest.raises(KilnError):
            parse_env(bad, {})


def test_volumes_are_checked_lightly() -> None:
    assert check_volume("storage:data:/data:ro") == "storage:data:/data:ro"
    assert check_volume("storage://default/bob/x:/mnt") == "storage://default/bob/x:/mnt"
    for bad in ("data:/data", "storage:data", "storage:data:mnt", "job:x:/x", ":/x"):
        with pytest.raises(KilnError) as info:
            check_volume(bad)
        assert info.value.exit_code == 65


def test_outcome_and_exit_status() -> None:
    assert outcome("failed", "Error", 3) == "failed (Error, exit code 3)"
    assert outcome("cancelled", "Cancelled", None) == "cancelled (Cancelled)"
    assert outcome("succeeded", "Completed", 0) == "succeeded"
    assert [exit_status(c) for c in (0, 3, -9, 300, None)] == [0, 3, 137, 1, 1]


def test_relative_time() -> None:
    now = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    assert relative_time("2025-01-10T11:57:00+00:00", now) == "3m ago"
    assert relative_time("2025-01-10T12:00:02Z", now) == "just now"
    assert relative_time("2025-01-08T12:00:00+00:00", now) == "2d ago"
    assert relative_time(None, now) == ""


# --- ps --------------------------------------------------------------------------------------------


def test_ps_shows_active_jobs_as_a_table(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/", body={"next": None, "results": [summary()]})
    result = run(["ps"])
    assert result.exit_code == 0, result.stderr
    params = server.requests[-1].url.params
    assert "all" not in params and "status" not in params
    assert server.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "WHEN", "IMAGE", "OWNER", "COMMAND"]
    # NOW was taken when this module was imported; the suite may have run for minutes since.
    minutes = int((datetime.now(UTC) - NOW + timedelta(minutes=3)).total_seconds() // 60)
    assert lines[1].split()[:7] == [JOB_ID, "train", "running", f"{minutes}m", "ago", "python:3.11", "alice"]
    assert lines[1].endswith("python -c 'print(42)'")


def test_ps_filters_become_query_params(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/", body={"next": None, "results": []})
    args = ["ps", "-a", "-s", "running,failed", "-s", "pending", "-n", "train", "-t", "a", "-t", "b"]
    result = run([*args, "-o", "alice", "--owner", "bob", "--shared"])
    assert result.exit_code == 0, result.stderr
    params = server.requests[-1].url.params
    assert params["all"] == "1" and params["shared"] == "1" and params["name"] == "train"
    assert params.get_list("status") == ["running", "failed", "pending"]
    assert params.get_list("tag") == ["a", "b"]
    assert params.get_list("owner") == ["alice", "bob"]
    assert result.stdout == "No jobs.\n"


def test_ps_follows_cursor_pages_and_limit_caps_the_total(logged_in: Path, run: Run, server: FakeServer) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor is None:
            nxt = "http://internal/api/v1/jobs/?cursor=c2&limit=2&all=1"
            return httpx.Response(200, json={"next": nxt, "results": [summary(id="job-1"), summary(id="job-2")]})
        if cursor == "c2":
            nxt = "http://internal/api/v1/jobs/?cursor=c3&limit=2&all=1"
            return httpx.Response(200, json={"next": nxt, "results": [summary(id="job-3"), summary(id="job-4")]})
        return httpx.Response(200, json={"next": None, "results": [summary(id="job-5")]})

    server.on("GET", "/api/v1/jobs/", handler=page)
    everything = json.loads(run(["ps", "-a", "--json"]).stdout)
    assert [j["id"] for j in everything] == ["job-1", "job-2", "job-3", "job-4", "job-5"]
    assert [r.url.host for r in server.requests] == ["kiln.test"] * 3

    server.requests.clear()
    capped = json.loads(run(["ps", "-a", "--limit", "3", "--json"]).stdout)
    assert [j["id"] for j in capped] == ["job-1", "job-2", "job-3"]
    assert server.requests[0].url.params["limit"] == "3"
    assert len(server.requests) == 2  # stopped once it had 3


def test_ps_rejects_unknown_status(logged_in: Path, run: Run, server: FakeServer) -> None:
    result = run(["ps", "-s", "runing"])
    assert result.exit_code == 65 and "unknown status 'runing'" in result.stderr
    assert not server.requests


def test_ps_empty_default_hint(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/", body={"next": None, "results": []})
    assert "kiln ps -a" in run(["ps"]).stdout


# --- status ----------------------------------------------------------------------------------------


def test_status_shows_every_field_and_the_history(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", f"/api/v1/jobs/{JOB_ID}/", body=detail(http_port=8888, http_url=f"/jobs/{JOB_ID}/browse/"))
    result = run(["status", JOB_ID])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for label, value in [
        ("ID:", JOB_ID),
        ("Status:", "running"),
        ("Env:", "SEED=1"),
        ("Volumes:", "storage:data:/data:ro"),
        ("Life span:", "1h30m (5400 s)"),
        ("Browse URL:", f"{URL}/jobs/{JOB_ID}/browse/"),
        ("My level:", "manage"),
        ("Worker:", "w1@host"),
        ("Memory (MB):", "1024"),
    ]:
        assert any(line.startswith(label) and line.endswith(value) for line in out.splitlines()), (label, out)
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("STATUS")))
    assert lines[header].split() == ["STATUS", "REASON", "EXIT", "WHEN", "DESCRIPTION"]
    assert lines[header + 1].split()[:2] == ["pending", "Created"]
    assert lines[header + 2].split()[:2] == ["running", "Started"] and lines[header + 2].endswith("on w1")


def test_status_json_is_the_detail(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())
    assert json.loads(run(["status", "train", "--json"]).stdout) == detail()


def test_refs_are_quoted_into_the_path(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.error("GET", "/api/v1/jobs/job:/bob/x/", 404, "not_found", "No such job: job:/bob/x")
    result = run(["status", "job:/bob/x"])
    assert (result.exit_code, result.stderr) == (4, "kiln: not found: No such job: job:/bob/x\n")
    assert server.requests[-1].url.raw_path == b"/api/v1/jobs/job:/bob/x/"
    run(["status", "we ird%"])
    assert server.requests[-1].url.raw_path == b"/api/v1/jobs/we%20ird%25/"
    assert run(["status", "storage:x"]).exit_code == 65


# --- logs ------------------------------------------------------------------------------------------


def dropping_log_server(end: dict[str, Any], paths: list[str]) -> WsHandler:
    """Connection 1 sends lines 0–4 and drops (1011); connection 2 resends 3–7 (an overlap the
    client must skip), then 8–9 and `end`."""

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        assert conn.request.headers["Authorization"] == f"Bearer {TOKEN}"
        paths.append(conn.request.path)
        after = after_of(conn)
        conn.send(json.dumps({"type": "state", "job": summary()}))
        if len(paths) == 1:
            assert after == -1
            conn.send(json.dumps({"type": "log", "first": 0, "lines": ["l0", "l1", "l2"]}))
            conn.send(json.dumps({"type": "log", "first": 3, "lines": ["l3", "l4"]}))
            conn.close(1011)
            return
        conn.send(json.dumps({"type": "log", "first": 3, "lines": [f"l{i}" for i in range(3, 8)]}))
        conn.send(json.dumps({"type": "job.status", "job": summary(status="failed")}))
        conn.send(json.dumps({"type": "log", "first": 8, "lines": ["l8", "l9"]}))
        conn.send(json.dumps({"type": "end", "last_offset": 9, **end}))
        conn.close(1000)

    return handler


def test_logs_resume_after_a_drop_without_loss_or_repeat(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())
    paths: list[str] = []
    end = {"status": "succeeded", "reason": "Completed", "exit_code": 0}
    with ws_server(dropping_log_server(end, paths)) as url:
        login_to(config_path, url)
        result = run(["logs", "train"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"l{i}" for i in range(10)]
    assert paths == [f"/ws/jobs/{JOB_ID}/logs/?after=-1", f"/ws/jobs/{JOB_ID}/logs/?after=4"]
    assert result.stderr == ""


def test_logs_of_a_failed_job_exit_1_with_its_status(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", f"/api/v1/jobs/{JOB_ID}/", body=detail())
    end = {"status": "failed", "reason": "Error", "exit_code": 3}
    with ws_server(dropping_log_server(end, [])) as url:
        login_to(config_path, url)
        result = run(["logs", JOB_ID])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"l{i}" for i in range(10)]
    assert result.stderr == f"kiln: job {JOB_ID} failed (Error, exit code 3)\n"


def test_logs_fetch_lines_the_end_says_were_missed(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", f"/api/v1/jobs/{JOB_ID}/", body=detail())
    server.on(
        "GET",
        f"/api/v1/jobs/{JOB_ID}/logs/",
        handler=lambda r: httpx.Response(
            200,
            json={
                "lines": [{"offset": 1, "text": "b"}] if r.url.params["after"] == "0" else [],
                "last_offset": 1,
                "status": "succeeded",
                "finished": True,
            },
        ),
    )

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "state", "job": summary()}))
        conn.send(json.dumps({"type": "log", "first": 0, "lines": ["a"]}))
        conn.send(json.dumps({"type": "end", "status": "succeeded", "reason": "Completed", "last_offset": 1}))

    with ws_server(handler) as url:
        login_to(config_path, url)
        result = run(["logs", JOB_ID])
    assert (result.exit_code, result.stdout) == (0, "a\nb\n")


def test_log_printer_never_repeats_or_reorders() -> None:
    written: list[str] = []
    printer = LogPrinter(written.append)
    printer.add(0, ["a", "b"])
    printer.add(0, ["a"])
    printer.add(1, ["b", "c"])
    printer.add(3, ["d"])
    assert "".join(written) == "a\nb\nc\nd\n" and printer.last == 3


def test_logs_no_follow_pages_through_the_stored_log(logged_in: Path, run: Run, server: FakeServer) -> None:
    finished = detail(status="cancelled", reason="Cancelled", finished_at=NOW.isoformat())
    server.on("GET", "/api/v1/jobs/train/", body=finished)

    def logs(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        lines = [{"offset": i, "text": f"line {i}"} for i in range(after + 1, min(after + 3, 5))]
        last = lines[-1]["offset"] if lines else after
        return httpx.Response(
            200, json={"lines": lines, "last_offset": last, "status": "cancelled", "finished": last == 4}
        )

    server.on("GET", f"/api/v1/jobs/{JOB_ID}/logs/", handler=logs)
    result = run(["logs", "--no-follow", "train"])
    assert result.stdout.splitlines() == [f"line {i}" for i in range(5)]
    afters = [r.url.params["after"] for r in server.requests if r.url.path.endswith("/logs/")]
    assert afters == ["-1", "1", "3"]
    assert (result.exit_code, result.stderr) == (1, f"kiln: job {JOB_ID} cancelled (Cancelled)\n")


def test_logs_of_a_stranger_job_exit_4(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.error("GET", "/api/v1/jobs/x/", 404, "not_found", "No such job: x")
    assert run(["logs", "x"]).exit_code == 4


def test_messages_give_up_after_a_minute_without_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnects back off (0.5, 1, 2 … 10 s) and stop with exit 6 once ~60 s have passed."""
    now = [0.0]
    sleeps: list[float] = []
    connects: list[Any] = []

    class Dropped:
        close_code = 1011

        def __iter__(self) -> Iterator[str]:
            yield json.dumps({"type": "state"})

    @contextmanager
    def fake_open(base_url: str, token: str | None, path: str, params: Any = None, **kw: Any) -> Iterator[Any]:
        connects.append(params)
        if len(connects) == 1:
            yield Dropped()
            return
        now[0] += 10.0  # a connect attempt that times out
        raise KilnError("server unreachable: nope", 6)

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(ws, "open_socket", fake_open)
    got = []
    with pytest.raises(KilnError) as info:
        for message in ws.messages(URL, "t", "/ws/x/", give_up_after=60, sleep=sleep, clock=lambda: now[0]):
            got.append(message)
    assert info.value.exit_code == 6 and "60 s" in info.value.message
    assert got == [{"type": "state"}]
    assert sleeps[:5] == [0.5, 1, 2, 4, 8]
    assert 60 <= now[0] <= 90


class Frames(list[str]):
    close_code = 1011


def test_messages_retry_a_5xx_answer_to_a_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    @contextmanager
    def fake_open(base_url: str, token: str | None, path: str, params: Any = None, **kw: Any) -> Iterator[Any]:
        calls.append(1)
        if len(calls) == 2:
            raise KilnError.for_status(502, "bad gateway")
        yield Frames([json.dumps({"type": "n", "i": len(calls)})])

    monkeypatch.setattr(ws, "open_socket", fake_open)
    got = []
    for message in ws.messages(URL, "t", "/ws/x/", sleep=lambda s: None):
        got.append(message["i"])
        if len(got) == 2:
            break
    assert got == [1, 3]


# --- run -------------------------------------------------------------------------------------------


def test_run_builds_the_body_and_detaches(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/jobs/", 201, detail(status="pending"))
    args = [
        "run", "-d", "-v", "storage:data:/data:ro", "--volume", "storage:/bob/out:/out",
        "-e", "A=1", "-e", "TOKEN_FROM_HERE", "--preset", "cpu-large", "--http-port", "8888", "--no-http-auth",
        "--life-span", "1h30m", "--schedule-timeout", "90s", "-n", "train", "-t", "x", "-t", "y",
        "--restart", "on-failure", "--workdir", "/data", "--share", "bob", "--share", "group:ml",
        "python:3.11", "--", "python", "-c", "print('hi there')",
    ]  # fmt: skip
    result = run(args, env={"TOKEN_FROM_HERE": "s3cret"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{JOB_ID}\n"
    assert server.body(server.last("POST", "/api/v1/jobs/")) == {
        "image": "python:3.11",
        "command": "python -c 'print('\"'\"'hi there'\"'\"')'",
        "volumes": ["storage:data:/data:ro", "storage:/bob/out:/out"],
        "env": {"A": "1", "TOKEN_FROM_HERE": "s3cret"},
        "preset": "cpu-large",
        "http_port": 8888,
        "http_auth": False,
        "life_span": 5400,
        "schedule_timeout": 90,
        "name": "train",
        "tags": ["x", "y"],
        "restart_policy": "on-failure",
        "workdir": "/data",
        "share": ["bob", "group:ml"],
    }


def test_run_minimal_body_and_json(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/jobs/", 201, detail(status="pending"))
    result = run(["run", "--json", "ubuntu", "--", "sh", "-c", "echo a; exit 3"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["id"] == JOB_ID  # --json: the job, not attached
    assert server.body(server.requests[-1]) == {"image": "ubuntu", "command": "sh -c 'echo a; exit 3'"}
    run(["run", "-d", "ubuntu", "echo", "-n", "x"])  # without `--`: everything after IMAGE is the command
    assert server.body(server.requests[-1])["command"] == "echo -n x"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "ubuntu"], 2, "Missing argument"),
        (["run", "ubuntu", "--"], 2, "give the command"),
        (["run", "ubuntu", "-d", "--", "ls"], 2, "options go before"),
        (["run", "-v", "data:/data", "ubuntu", "--", "ls"], 65, "is not a volume"),
        (["run", "--life-span", "soon", "ubuntu", "--", "ls"], 65, "is not a duration"),
        (["run", "-e", "NOT_SET_ANYWHERE", "ubuntu", "--", "ls"], 65, "not set in the local environment"),
        (["run", "--share", "team:x", "ubuntu", "--", "ls"], 65, "is not a principal"),
        (["run", "--restart", "sometimes", "ubuntu", "--", "ls"], 2, "sometimes"),
    ],
)
def test_run_rejects_bad_input_before_sending(
    logged_in: Path, run: Run, server: FakeServer, args: list[str], code: int, message: str
) -> None:
    result = run(args)
    assert result.exit_code == code and message in result.stderr, result.stderr
    assert not server.requests


def test_run_server_errors_keep_their_exit_code(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.error("POST", "/api/v1/jobs/", 400, "invalid", "Invalid input.")
    assert run(["run", "-d", "ubuntu", "--", "ls"]).exit_code == 65


def test_run_attached_prints_id_then_the_log_and_exits_with_the_outcome(
    config_path: Path, run: Run, server: FakeServer
) -> None:
    server.on("POST", "/api/v1/jobs/", 201, detail(status="pending"))
    paths: list[str] = []
    end = {"status": "failed", "reason": "Error", "exit_code": 3}
    with ws_server(dropping_log_server(end, paths)) as url:
        login_to(config_path, url)
        result = run(["run", "ubuntu", "--", "sh", "-c", "exit 3"])
    assert result.stdout.splitlines() == [JOB_ID, *(f"l{i}" for i in range(10))]
    assert (result.exit_code, result.stderr) == (1, f"kiln: job {JOB_ID} failed (Error, exit code 3)\n")


def test_ctrl_c_while_attached_detaches_without_killing(
    logged_in: Path, run: Run, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.on("POST", "/api/v1/jobs/", 201, detail(status="pending"))

    def interrupted(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs_module, "follow_logs", interrupted)
    result = run(["run", "ubuntu", "--", "sleep", "100"])
    assert result.exit_code == 130
    assert result.stdout == f"{JOB_ID}\n"
    assert f"kiln logs {JOB_ID}" in result.stderr and f"kiln kill {JOB_ID}" in result.stderr
    assert not any(r.url.path.endswith("/kill/") for r in server.requests)


# --- kill ------------------------------------------------------------------------------------------


def test_kill_goes_on_after_a_failure_and_exits_non_zero(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/jobs/a/kill/", body=detail(id="job-a", status="cancelled"))
    server.error("POST", "/api/v1/jobs/b/kill/", 404, "not_found", "No such job: b")
    server.error("POST", "/api/v1/jobs/c/kill/", 409, "conflict", "Job job-c has already finished (succeeded)")
    server.on("POST", "/api/v1/jobs/job:/bob/d/kill/", body=detail(id="job-d", status="cancelled"))
    result = run(["kill", "a", "b", "c", "job:/bob/d"])
    assert result.stdout == "job-a\njob-d\n"
    assert result.stderr.splitlines() == [
        "kiln: b: not found: No such job: b",
        "kiln: c: conflict: Job job-c has already finished (succeeded)",
    ]
    assert result.exit_code == 1  # different failures


@pytest.mark.parametrize(("status", "code"), [(403, 5), (404, 4), (409, 7)])
def test_kill_one_failure_keeps_its_exit_code(
    logged_in: Path, run: Run, server: FakeServer, status: int, code: int
) -> None:
    server.on("POST", "/api/v1/jobs/a/kill/", body=detail(id="job-a"))
    server.error("POST", "/api/v1/jobs/b/kill/", status, "x", "nope")
    result = run(["kill", "a", "b"])
    assert (result.exit_code, result.stdout) == (code, "job-a\n")


def test_kill_json(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("POST", "/api/v1/jobs/a/kill/", body=detail(id="job-a"))
    server.error("POST", "/api/v1/jobs/b/kill/", 403, "forbidden", "You need write access")
    result = run(["kill", "--json", "a", "b"])
    data = json.loads(result.stdout)
    assert [d.get("id") for d in data] == ["job-a", None]
    assert data[1]["error"]["exit_code"] == 5 and result.exit_code == 5


# --- browse ----------------------------------------------------------------------------------------


def test_browse_prints_and_opens_the_url(
    logged_in: Path, run: Run, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.on("GET", "/api/v1/jobs/nb/", body=detail(http_port=8888, http_url=f"/jobs/{JOB_ID}/browse/"))
    opened: list[str] = []
    monkeypatch.setattr(jobs_module.webbrowser, "open", opened.append)
    result = run(["browse", "nb", "--open"])
    assert (result.exit_code, result.stdout) == (0, f"{URL}/jobs/{JOB_ID}/browse/\n")
    assert opened == [f"{URL}/jobs/{JOB_ID}/browse/"]
    assert json.loads(run(["browse", "nb", "--json"]).stdout) == {"id": JOB_ID, "url": opened[0]}


def test_browse_without_http_port_exits_65(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/nb/", body=detail())
    result = run(["browse", "nb"])
    assert result.exit_code == 65 and "has no HTTP port" in result.stderr


# --- exec ------------------------------------------------------------------------------------------


def exec_peer(seen: dict[str, Any], *, exit_code: int = 7) -> WsHandler:
    """The documented exec protocol: state, start -> started, bytes echoed (tagged), eof -> exit."""

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        seen["path"] = conn.request.path
        seen["auth"] = conn.request.headers.get("Authorization")
        conn.send(json.dumps({"type": "state", "job": summary()}))
        seen["start"] = json.loads(conn.recv(timeout=5))
        conn.send(json.dumps({"type": "started"}))
        conn.send(b"\x1b[0m\x00\xff>")  # arbitrary bytes, not UTF-8
        received = b""
        while True:
            frame = conn.recv(timeout=5)
            if isinstance(frame, bytes):
                received += frame
                conn.send(b"<" + frame + b">")
                continue
            control = json.loads(frame)
            seen.setdefault("control", []).append(control)
            if control["type"] == "eof":
                break
        seen["stdin"] = received
        conn.send(json.dumps({"type": "exit", "code": exit_code}))
        conn.close(1000)

    return handler


def test_exec_relays_raw_bytes_and_exits_with_the_remote_code(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())
    seen: dict[str, Any] = {}
    stdin = b"hello\x00\xfe\nworld\n"
    with ws_server(exec_peer(seen)) as url:
        login_to(config_path, url)
        result = run(["exec", "train", "--", "python", "-c", "x"], input=stdin)  # type: ignore[arg-type]
    assert result.exit_code == 7, result.stderr
    assert seen["path"] == f"/ws/jobs/{JOB_ID}/exec/" and seen["auth"] == f"Bearer {TOKEN}"
    assert seen["start"] == {"type": "start", "command": ["python", "-c", "x"], "tty": False, "cols": 80, "rows": 24}
    assert seen["stdin"] == stdin
    assert seen["control"] == [{"type": "eof"}]
    assert result.stdout_bytes == b"\x1b[0m\x00\xff><" + stdin + b">"


def test_exec_tty_flag_and_default_command(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())
    seen: dict[str, Any] = {}
    with ws_server(exec_peer(seen, exit_code=0)) as url:
        login_to(config_path, url)
        result = run(["exec", "-t", "train"], input="")
    assert result.exit_code == 0, result.stderr
    assert seen["start"]["tty"] is True and "command" not in seen["start"]


@pytest.mark.parametrize(("close", "code"), [(4409, 7), (4403, 5), (4404, 4), (4504, 1)])
def test_exec_refusals_map_to_exit_codes(
    config_path: Path, run: Run, server: FakeServer, close: int, code: int
) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "state", "job": summary()}))
        conn.close(close)

    with ws_server(handler) as url:
        login_to(config_path, url)
        result = run(["exec", "-T", "train", "--", "ls"], input="")
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("kiln: ") and result.stderr.count("\n") == 1


def test_exec_error_message_is_the_one_line(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "error", "code": "forbidden", "message": "Exec needs write access to the job"}))
        conn.close(4403)

    with ws_server(handler) as url:
        login_to(config_path, url)
        result = run(["exec", "-T", "train", "--", "ls"], input="")
    assert (result.exit_code, result.stderr) == (5, "kiln: forbidden: Exec needs write access to the job\n")


def test_exec_into_a_finished_job_exits_7_without_connecting(logged_in: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail(status="succeeded"))
    result = run(["exec", "train", "--", "ls"], input="")
    assert result.exit_code == 7 and "not running" in result.stderr


def test_exec_dropped_connection_exits_6(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", "/api/v1/jobs/train/", body=detail())

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "started"}))
        conn.close(1011)

    with ws_server(handler) as url:
        login_to(config_path, url)
        result = run(["exec", "-T", "train", "--", "ls"], input="")
    assert result.exit_code == 6


def test_exec_at_a_terminal_goes_raw_follows_resizes_and_restores_it(config_path: Path) -> None:
    """`kiln exec` as a real process on a pseudo-terminal: keys (Ctrl-C included) reach the remote
    unprocessed, SIGWINCH sends a resize, and the terminal is restored when the command exits."""
    import fcntl
    import os
    import pty
    import signal
    import struct
    import subprocess
    import sys
    import termios
    from http import HTTPStatus

    from websockets.http11 import Request, Response

    seen: dict[str, Any] = {"bytes": b""}
    started, got_input, resized = threading.Event(), threading.Event(), threading.Event()

    def rest(conn: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/api/"):  # the REST call of the same server, answered here
            assert request.path == "/api/v1/jobs/train/"
            response = conn.respond(HTTPStatus.OK, json.dumps(detail()))
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    def handler(conn: ServerConnection) -> None:
        seen["start"] = json.loads(conn.recv(timeout=10))  # sent once the terminal is raw
        started.set()
        conn.send(json.dumps({"type": "started"}))
        while not resized.is_set():
            frame = conn.recv(timeout=10)
            if isinstance(frame, bytes):
                seen["bytes"] += frame
                if b"\x03" in seen["bytes"]:
                    got_input.set()
            elif json.loads(frame)["type"] == "resize":
                seen["resize"] = json.loads(frame)
                resized.set()
        conn.send(b"bye\r\n")
        conn.send(json.dumps({"type": "exit", "code": 9}))
        conn.close()

    def set_size(fd: int, cols: int, rows: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    master, slave = pty.openpty()
    set_size(slave, 100, 30)
    before = termios.tcgetattr(slave)
    with serve(handler, "127.0.0.1", 0, process_request=rest) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        login_to(config_path, f"http://127.0.0.1:{server.socket.getsockname()[1]}")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        process = subprocess.Popen(
            [sys.executable, "-m", "kiln_cli", "exec", "train"],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            assert started.wait(15), process.stderr.read() if process.poll() is not None and process.stderr else ""
            os.write(master, b"ab\x03")
            assert got_input.wait(10), seen
            set_size(master, 120, 40)
            process.send_signal(signal.SIGWINCH)
            assert resized.wait(10), seen
            assert process.wait(20) == 9, process.stderr.read() if process.stderr else ""
        finally:
            if process.poll() is None:
                process.kill()
            server.shutdown()
    output = os.read(master, 1024)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    assert seen["start"] == {"type": "start", "tty": True, "cols": 100, "rows": 30}
    assert seen["bytes"] == b"ab\x03"  # not line-buffered, no SIGINT: raw
    assert seen["resize"] == {"type": "resize", "cols": 120, "rows": 40}
    assert b"bye" in output
    assert after == before  # the terminal is restored


def test_ctrl_c_stops_following_a_log_at_once(config_path: Path) -> None:
    """A real SIGINT reaches `kiln logs` blocked on the socket: exit 130, no traceback."""
    import os
    import signal
    import subprocess
    import sys
    from http import HTTPStatus

    from websockets.http11 import Request, Response

    streaming = threading.Event()

    def rest(conn: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/api/"):
            return conn.respond(HTTPStatus.OK, json.dumps(detail()))
        return None

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "state", "job": summary()}))
        conn.send(json.dumps({"type": "log", "first": 0, "lines": ["working"]}))
        streaming.set()
        with suppress(Exception):
            conn.recv(timeout=30)  # a job that runs on

    with serve(handler, "127.0.0.1", 0, process_request=rest) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        login_to(config_path, f"http://127.0.0.1:{server.socket.getsockname()[1]}")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        process = subprocess.Popen(
            [sys.executable, "-m", "kiln_cli", "logs", "train"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            assert process.stdout is not None and process.stdout.readline() == b"working\n"
            assert streaming.wait(10)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
            server.shutdown()
    assert process.returncode == 130
    assert b"Traceback" not in err


def test_logs_fill_a_gap_in_the_stream_from_the_stored_log(config_path: Path, run: Run, server: FakeServer) -> None:
    server.on("GET", f"/api/v1/jobs/{JOB_ID}/", body=detail())
    stored = ["a", "b", "c", "d"]
    server.on(
        "GET",
        f"/api/v1/jobs/{JOB_ID}/logs/",
        handler=lambda r: httpx.Response(
            200,
            json={
                "lines": [{"offset": i, "text": t} for i, t in enumerate(stored) if i > int(r.url.params["after"])],
                "last_offset": 3,
                "status": "running",
                "finished": False,
            },
        ),
    )

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "log", "first": 0, "lines": ["a"]}))
        conn.send(json.dumps({"type": "log", "first": 3, "lines": ["d", "e"]}))  # 1 and 2 missing
        conn.send(json.dumps({"type": "end", "status": "succeeded", "last_offset": 4}))

    with ws_server(handler) as url:
        login_to(config_path, url)
        result = run(["logs", JOB_ID])
    assert (result.exit_code, result.stdout) == (0, "a\nb\nc\nd\ne\n")
