"""Bakes: a chain of 40 tasks that each sleep ~10 ms, and a fan-out of 1,000 no-op tasks.

    .venv/bin/python bench/flows_dag.py [--chain 40] [--fanout 1000] [--job-workers N] [--slots 32] [--repeat 5]

Starts its own Kiln (bench/harness.py) with a jobs worker and a control worker. Prints the chain's
total wall time and time per hop (from the bake's creation to its end), and for the fan-out the
lag: wall time beyond the tasks' own run time. Since the tasks may all run at once, their own run
time is one no-op task's: its job's run time (claimed to ended) in a bake of that one task, run
alone just before. (The fan-out's own longest job is printed too, but it is no measure of the
task: under a thousand tasks a job waits for the CPU between being claimed and ending.)
The fan-out also prints the CPU the whole machine spent busy during it, per task: when it moves
with the lag, the work took more CPU time (a change, or the VM's pace: on this shared VM the same
build's runs ranged 8.5–10.1 ms); when the lag moves alone, the waiting did. Targets on this
2-core machine: chain ≤ 2 s total; 1,000 fan-out ≤ 5 s lag.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import closing
from datetime import datetime

from harness import running_kiln
from kiln_cli import ws

FINAL = ("succeeded", "failed", "cancelled")


def chain_batch(length: int) -> str:
    lines = ["kind: batch", "defaults:", "  cache:", "    strategy: none", "tasks:"]
    for index in range(length):
        lines += [f"  - id: t{index}", "    image: python:3.11", "    bash: sleep 0.01"]
    return "\n".join(lines) + "\n"


def fanout_batch(width: int) -> str:
    """One start task, then ``width`` tasks that each need only it (explicit tasks: a matrix is
    capped at 256 combinations)."""
    lines = ["kind: batch", "defaults:", "  cache:", "    strategy: none", "tasks:",
             "  - id: start", "    image: python:3.11", "    bash: 'true'"]
    for index in range(width):
        lines += [f"  - id: leaf{index}", "    needs: [start]", "    image: python:3.11", "    bash: 'true'"]
    return "\n".join(lines) + "\n"


def run_bake(kiln, batch: str, timeout: float = 600) -> tuple[dict, float]:
    """Start a bake and follow it over its WebSocket, as `kiln flow bake` does (polling the
    bake's detail with its thousand tasks every 50 ms would load the server more than the bake)."""
    started = time.monotonic()
    bake = kiln.client.post("/api/v1/flows/bench/bakes/", json={"batch": batch}).json()
    with closing(ws.messages(kiln.url, kiln.token, f"/ws/bakes/{bake['id']}/")) as stream:
        for message in stream:
            status = (message.get("bake") or {}).get("status")
            if message.get("type") in ("state", "bake.status") and status in FINAL:
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(batch)
    wall = time.monotonic() - started
    return kiln.client.get(f"/api/v1/bakes/{bake['id']}/").json(), wall


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (``/proc/stat``), all but idle and iowait."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def seconds(text: str | None) -> float:
    return datetime.fromisoformat(text).timestamp() if text else 0.0


def job_run_time(kiln, bake_id: str) -> list[float]:
    """Each task's own run time: its job's start (the sandbox's process) to its end."""
    spans, url = [], "/api/v1/jobs/"
    params = {"all": "1", "tag": f"bake_id:{bake_id}", "limit": 500}
    while url:
        page = kiln.client.get(url, params=params).json()
        spans += [seconds(j["finished_at"]) - seconds(j["started_at"]) for j in page["results"] if j["started_at"]]
        url, params = page["next"], None
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", type=int, default=40)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--job-workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="jobs worker processes (default: the launcher's, one per two CPUs)")
    parser.add_argument("--slots", type=int, default=32, help="jobs each worker process runs at once (KILN_JOB_SLOTS)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="take both figures this many times and print their medians (a shared VM drifts)")
    args = parser.parse_args()
    with running_kiln(workers=args.job_workers, extra_env={"KILN_JOB_SLOTS": str(args.slots)}) as kiln:
        files = {".neuro/project.yml": "id: bench\n", ".neuro/chain.yml": chain_batch(args.chain),
                 ".neuro/fanout.yml": fanout_batch(args.fanout), ".neuro/warm.yml": chain_batch(3),
                 ".neuro/single.yml": fanout_batch(0)}
        kiln.client.post("/api/v1/flows/sync/", json={"folder": "storage:bench", "files": files}).raise_for_status()
        run_bake(kiln, "warm")
        chains, lags, cpus = [], [], []
        for _ in range(args.repeat):
            detail, wall = run_bake(kiln, "chain")
            assert detail["status"] == "succeeded", detail["status"]
            chains.append(wall)
            print(f"chain of {args.chain} tasks (sleep 10 ms each): {wall:.2f} s total, "
                  f"{wall / args.chain * 1000:.0f} ms per hop (target: ≤ 2 s total)", flush=True)
            single, _ = run_bake(kiln, "single")
            own = max(job_run_time(kiln, single["id"]))
            busy_before = machine_busy_seconds()
            detail, wall = run_bake(kiln, "fanout", timeout=1800)
            cpu_per_task = (machine_busy_seconds() - busy_before) / args.fanout * 1000
            tasks = detail["attempt"]["tasks"]
            longest = max(job_run_time(kiln, detail["id"]))
            lags.append(wall - own)
            cpus.append(cpu_per_task)
            print(f"fan-out of {len(tasks) - 1} no-op tasks: {wall:.2f} s total, one task alone {own * 1000:.0f} ms, "
                  f"lag {wall - own:.2f} s (target: ≤ 5 s), status {detail['status']}; "
                  f"longest job in the fan-out {longest:.2f} s; machine CPU {cpu_per_task:.1f} ms per task", flush=True)
        if args.repeat > 1:
            print(f"median of {args.repeat}: chain {statistics.median(chains):.2f} s, "
                  f"fan-out lag {statistics.median(lags):.2f} s, machine CPU {statistics.median(cpus):.1f} ms per task")

if __name__ == "__main__":
    main()
