"""Helpers for flow tests: a flow project written into storage, waiting for bakes."""

from __future__ import annotations

import textwrap
import time

from flows import services
from flows.models import Bake, BakeAttempt, BakeTask, Flow

LIVE = """
kind: live
title: Test flow
jobs:
  hello:
    image: python:3.11
    params:
      who: {default: world, descr: Whom to greet}
    bash: echo hello ${{ params.who }}; sleep 60
  many:
    image: python:3.11
    multi: true
    bash: sleep 60
"""


# a → b, c → d, with outputs passed along (bakes and `kiln flow bake` tests).
DIAMOND = """\
kind: batch
tasks:
  - id: a
    image: python:3.11
    bash: echo "::set-output name=word::kiln"
  - id: b
    needs: [a]
    image: python:3.11
    bash: echo "::set-output name=upper::${{ upper(needs.a.outputs.word) }}"
  - id: c
    needs: [a]
    image: python:3.11
    bash: echo c
  - id: d
    needs: [b, c]
    image: python:3.11
    bash: echo "got ${{ needs.b.outputs.upper }}"; echo "::set-output name=final::${{ needs.b.outputs.upper }}-done"
"""


# One task that runs until it is cancelled (cancel, sharing and resume tests).
LONG = """
kind: batch
tasks:
  - id: long
    image: python:3.11
    bash: sleep 300
"""


def make_flow(user, name: str = "testflow", **batches: str) -> Flow:
    files = {".neuro/project.yml": f"id: {name}\n", ".neuro/live.yml": textwrap.dedent(LIVE)}
    for batch, text in batches.items():
        files[f".neuro/{batch}.yml"] = textwrap.dedent(text)
    return services.flow_sync(by=user, folder=f"storage:{name}", files=files)


def wait_bake(bake: Bake, *statuses: str, timeout: float = 90) -> Bake:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bake.refresh_from_db()
        if bake.status in statuses:
            return bake
        time.sleep(0.2)
    raise AssertionError(f"bake {bake.pk} is {bake.status}, not {statuses}: {task_statuses(bake)}")


def tasks_of(bake: Bake) -> dict[str, BakeTask]:
    attempt = BakeAttempt.objects.filter(bake=bake).order_by("-number").first()
    return {task.task_id: task for task in attempt.tasks.all()}


def task_statuses(bake: Bake) -> dict[str, str]:
    return {task_id: task.status for task_id, task in tasks_of(bake).items()}
