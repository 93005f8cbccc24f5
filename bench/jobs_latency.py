"""Jobs: submit → process running, and log line printed → received by a WebSocket client.

    .venv/bin/python bench/jobs_latency.py [--jobs 30] [--rate 10000] [--seconds 5]

Starts its own Kiln (bench/harness.py). Submit latency is measured from just before the POST to
the first thing the job's process does (printing the wall clock with `date`). Log latency is
measured per line from the time the job printed it (in the line) to the time the client got it,
while the job prints `--rate` lines per second; lines lost = printed − received.
Targets: submit → running ≤ 150 ms median; log p50 ≤ 20 ms, p99 ≤ 100 ms; 0 lines lost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from harness import percentile, running_kiln
from websockets.sync.client import connect

PRINTER = """
import sys, time
rate, seconds = {rate}, {seconds}
start = time.time()
total = int(rate * seconds)
for i in range(total):
    target = start + i / rate
    while time.time() < target:
        pass
    sys.stdout.write(f"{{i}} {{time.time():.6f}}\\n")
    if i % 50 == 0:
        sys.stdout.flush()
sys.stdout.flush()
"""


def wait_job(kiln, job_id: str, statuses: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = kiln.client.get(f"/api/v1/jobs/{job_id}/").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise TimeoutError(job_id)


def submit_latency(kiln, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        sent = time.time()
        job = kiln.client.post("/api/v1/jobs/", json={"image": "python:3.11", "command": "date +%s.%N"}).json()
        wait_job(kiln, job["id"], {"succeeded", "failed"})
        first = kiln.client.get(f"/api/v1/jobs/{job['id']}/logs/").json()["lines"][0]["text"]
        latencies.append((float(first) - sent) * 1000)
    return latencies


def log_latency(kiln, rate: int, seconds: float) -> tuple[list[float], int, int]:
    script = PRINTER.format(rate=rate, seconds=seconds)
    job = kiln.client.post("/api/v1/jobs/", json={"image": "python:3.11", "command": f"python3 -c '{script}'"}).json()
    latencies: list[float] = []
    seen: set[int] = set()
    headers = {"Authorization": f"Bearer {kiln.token}"}
    with connect(f"{kiln.ws_url}/ws/jobs/{job['id']}/logs/?after=-1", additional_headers=headers,
                 max_size=None) as ws:
        while True:
            message = json.loads(ws.recv(timeout=120))
            now = time.time()
            if message["type"] == "log":
                for index, text in enumerate(message["lines"]):
                    number, _, stamp = text.partition(" ")
                    if number.isdigit():
                        seen.add(message["first"] + index)
                        latencies.append((now - float(stamp)) * 1000)
            elif message["type"] == "end":
                break
    printed = int(rate * seconds)
    return latencies, printed, printed - len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with running_kiln(workers=2) as kiln:
        submit_latency(kiln, 3)  # warm up imports, connections, the sandbox's page cache
        submit = submit_latency(kiln, args.jobs)
        print(f"submit → running over {args.jobs} jobs: median {statistics.median(submit):.1f} ms, "
              f"p95 {percentile(submit, 0.95):.1f} ms (target: median ≤ 150 ms)")
        latencies, printed, lost = log_latency(kiln, args.rate, args.seconds)
        print(f"log lines at {args.rate}/s for {args.seconds:g} s: {printed} printed, {lost} lost (target 0); "
              f"latency p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
              f"max {max(latencies):.1f} ms (targets: p50 ≤ 20 ms, p99 ≤ 100 ms)")


if __name__ == "__main__":
    main()
