"""``ws:`` actions that live anywhere in the flow's folder, not only in its config folder: read on
demand from storage by the console, snapshotted with a bake, sent by the CLI with the config."""

from __future__ import annotations

import pytest

from console.errors import InvalidInput
from flows import services
from flows.models import BakeAttempt
from flows.selectors import files_for_batch
from flows.spec import load_project
from tests.flows.helpers import task_statuses, wait_bake

LIVE_ACTION = "kind: live-action\ninputs:\n  who: {default: world}\njob:\n  image: python:3.11\n" \
              "  bash: echo hello ${{ inputs.who }}\n"
GREET = "kind: batch-action\ninputs:\n  who: {}\noutputs:\n  said:\n    value: ${{ needs.say.outputs.said }}\n" \
        "tasks:\n  - id: say\n    image: python:3.11\n" \
        "    bash: echo \"::set-output name=said::hi ${{ inputs.who }}\"\n"
CALLS_GREET = "kind: batch\ntasks:\n  - id: greet\n    action: ws:actions/greet.yml\n    args: {who: kiln}\n" \
              "  - id: after\n    needs: [greet]\n    image: python:3.11\n" \
              "    bash: echo \"got ${{ needs.greet.outputs.said }}\"\n"


def test_an_action_outside_the_config_folder_is_read_on_demand():
    files = {".neuro/live.yml": "kind: live\njobs:\n  hi:\n    action: ws:tools/hello\n"}
    asked: list[str] = []

    def read(path: str) -> str | None:
        asked.append(path)
        return LIVE_ACTION if path == "tools/hello.yml" else None

    loaded = load_project(files, folder_name="p", read_file=read)
    assert loaded.ok, loaded.errors
    assert loaded.project.live.jobs["hi"].action.path == "tools/hello.yml"
    assert loaded.fetched == {"tools/hello.yml": LIVE_ACTION}
    assert asked[:2] == ["tools/hello", "tools/hello.yml"] and len(asked) == len(set(asked))  # never twice
    assert not any(path.startswith(".neuro/") for path in asked)  # the config folder was given whole


def test_an_action_nowhere_is_an_error_at_its_call():
    files = {".neuro/live.yml": "kind: live\njobs:\n  hi:\n    action: ws:tools/hello\n"}
    loaded = load_project(files, folder_name="p", read_file=lambda path: None)
    assert [str(error) for error in loaded.errors] == [
        ".neuro/live.yml:4:13: action file for 'ws:tools/hello' not found (looked for tools/hello, "
        "tools/hello.yml, tools/hello.yaml, .neuro/tools/hello, .neuro/tools/hello.yml, .neuro/tools/hello.yaml)"]
    assert loaded.fetched == {}


def test_a_bake_keeps_batch_shaped_action_files_of_the_config_folder():
    files = {".neuro/main.yml": "kind: batch\ntasks:\n  - action: ws:.neuro/sub.yml\n",
             ".neuro/sub.yml": "kind: batch\ntasks:\n  - image: x\n",
             ".neuro/check.yml": "kind: batch\ninputs:\n  n: {}\ntasks:\n  - image: x\n",
             ".neuro/other.yml": "kind: batch\ntasks:\n  - image: x\n"}
    kept = files_for_batch(files, "main")
    assert sorted(kept) == [".neuro/check.yml", ".neuro/main.yml", ".neuro/sub.yml"]
    assert load_project(kept, folder_name="p").ok  # what `flow check` accepts, a bake accepts too


@pytest.mark.django_db(transaction=True)
def test_the_console_reads_actions_from_the_flows_folder(bob, client_for):
    services.flow_sync(by=bob, folder="storage:wsflow", files={
        ".neuro/project.yml": "id: wsflow\n",
        ".neuro/live.yml": "kind: live\njobs:\n  hi:\n    action: ws:tools/hello\n",
        ".neuro/calls.yml": CALLS_GREET,
        "tools/hello.yml": LIVE_ACTION,
        "actions/greet.yml": GREET,
    })
    detail = client_for(bob).get("/api/v1/flows/wsflow/").json()
    assert detail["ok"], detail.get("errors")
    assert [job["id"] for job in detail["live_jobs"]] == ["hi"]
    # `flow check` validates only what it is sent: without the action file it says which is missing.
    check = client_for(bob).post("/api/v1/flows/check/", {"files": {".neuro/calls.yml": CALLS_GREET},
                                                           "folder_name": "wsflow"}, format="json").json()
    assert not check["ok"] and "action file for 'ws:actions/greet.yml' not found" in check["errors"][0]["message"]
    # A sync writes config files and YAML action files, nothing else of the project.
    with pytest.raises(InvalidInput, match="'data/train.csv' is neither a file of a config folder"):
        services.flow_sync(by=bob, folder="storage:wsflow", files={"data/train.csv": "a,b\n"})


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_bake_runs_an_action_from_the_flows_folder(celery_workers, bob):
    flow = services.flow_sync(by=bob, folder="storage:wsbake", files={
        ".neuro/project.yml": "id: wsbake\n", ".neuro/calls.yml": CALLS_GREET, "actions/greet.yml": GREET})
    bake = services.bake_start(by=bob, flow=flow, batch="calls")
    # The attempt keeps the action as it was when the bake started.
    assert BakeAttempt.objects.get(bake=bake).config["actions/greet.yml"] == GREET
    from storage.services import storage_delete

    storage_delete(by=bob, uri="storage:wsbake/actions/greet.yml")
    wait_bake(bake, "succeeded", "failed", timeout=90)
    assert task_statuses(bake) == {"greet.say": "succeeded", "greet": "succeeded", "after": "succeeded"}
