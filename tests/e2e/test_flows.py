"""The Flows tab in headless Chromium, against the live server and a real Celery worker that runs
each task as a bubblewrap-sandboxed job: start a bake of a diamond-shaped batch from the flow's
page and watch its DAG colour itself live, task by task, without reloading; open a task's job and
its logs. A broken batch file shows its file:line:column error on the flow's page while the live
jobs still run: Run starts one (its raw id appears), Kill stops it."""

import re

import pytest
from playwright.sync_api import expect

from flows import services
from flows.models import Bake
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from tests.flows.helpers import make_flow, task_statuses, wait_bake

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# a → b, c → d; a and d take long enough for their "running" colour to be seen.
DIAMOND = """
kind: batch
tasks:
  - id: a
    image: python:3.11
    bash: sleep 2; echo "::set-output name=word::kiln"; echo a-done
  - id: b
    needs: [a]
    image: python:3.11
    bash: sleep 1; echo b
  - id: c
    needs: [a]
    image: python:3.11
    bash: sleep 1; echo c
  - id: d
    needs: [b, c]
    image: python:3.11
    bash: sleep 2; echo d-done
"""

BROKEN = """\
kind: batch
tasks:
  - id: a
    imag: python:3.11
    bash: echo a
"""

# Records, from the first page load on, every status each DAG node shows (nodes added, and
# changes of their data-status), so the test can assert the order a user saw them in. The SPA
# never loads a new document, so this one observer sees every page the test visits.
RECORD_DAG = """
window.__dag = [];
const record = (el) => window.__dag.push([el.dataset.task, el.dataset.status]);
new MutationObserver((mutations) => {
  for (const m of mutations) {
    if (m.type === "attributes" && m.target.matches?.('[data-testid="dag-node"]')) record(m.target);
    for (const node of m.addedNodes || []) {
      if (node.nodeType !== 1) continue;
      if (node.matches('[data-testid="dag-node"]')) record(node);
      node.querySelectorAll?.('[data-testid="dag-node"]').forEach(record);
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"]});
"""


def dag_node(page, task: str):
    return page.locator(f'[data-testid="dag-node"][data-task="{task}"]')


def seen_statuses(page, task: str) -> list[str]:
    """The statuses node ``task`` showed, in order, repeats collapsed."""
    seen: list[str] = []
    for name, status in page.evaluate("window.__dag"):
        if name == task and (not seen or seen[-1] != status):
            seen.append(status)
    return seen


def test_start_a_bake_and_watch_the_dag_colour_itself_live(page, base_url, celery_workers, bob):
    make_flow(bob, "diamondflow", diamond=DIAMOND)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.add_init_script(RECORD_DAG)
    log_in(page, base_url, "bob", PASSWORD, "/flows")

    # The flows list, then the flow's page.
    expect(page.get_by_role("heading", level=1)).to_have_text("Flows")
    row = page.locator('[data-testid="flow-row"][data-flow-id="diamondflow"]')
    expect(row).to_contain_text("bob")
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/flows/diamondflow$"))
    expect(page.get_by_test_id("flow-error")).to_have_count(0)
    expect(page.get_by_test_id("bake-row")).to_have_count(0)
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    # Start bake: the dialog offers the batch; the new bake's page opens.
    page.get_by_role("button", name="Start bake").click()
    dialog = page.get_by_role("dialog", name="Start bake")
    expect(dialog.get_by_label("Batch")).to_have_value("diamond")
    dialog.get_by_label("Bake name").fill("e2e")
    dialog.get_by_role("button", name="Start", exact=True).click()
    expect(page).to_have_url(re.compile(r"/flows/diamondflow/bakes/bake-[0-9a-f-]{36}$"))
    bake_id = page.url.rsplit("/", 1)[1]
    assert Bake.objects.get(pk=bake_id).name == "e2e"

    # The DAG, laid out and coloured; then, without a reload, the colours follow the bake.
    expect(page.get_by_test_id("dag-node")).to_have_count(4)
    expect(page.get_by_test_id("bake-connection")).to_have_attribute("data-status", "live")
    a, d = dag_node(page, "a"), dag_node(page, "d")
    expect(a).to_have_attribute("data-status", "running", timeout=30_000)
    expect(d).to_have_attribute("data-status", "pending")
    expect(a).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(d).to_have_attribute("data-status", "running", timeout=30_000)
    expect(d).to_have_attribute("data-status", "succeeded", timeout=30_000)
    status = page.get_by_test_id("bake-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(status).to_have_text("succeeded")

    # What the user saw, in order: each node went pending → running → succeeded, on one page load.
    assert seen_statuses(page, "a") == ["pending", "running", "succeeded"]
    assert seen_statuses(page, "d") == ["pending", "running", "succeeded"]
    assert page.evaluate("window.__sameDocument") is True
    bake_sockets = [url for url in sockets if "/ws/bakes/" in url]
    assert bake_sockets == [f"{base_url.replace('http', 'ws')}/ws/bakes/{bake_id}/"]

    # The tasks table: raw job ids linking to each task's job, outputs shown.
    rows = page.get_by_test_id("task-row")
    expect(rows).to_have_count(4)
    for task in "abcd":
        task_row = page.locator(f'[data-testid="task-row"][data-task="{task}"]')
        expect(task_row).to_have_attribute("data-status", "succeeded")
        raw_id = task_row.get_by_test_id("task-raw-id")
        expect(raw_id).to_have_attribute("href", re.compile(r"^/jobs/job-[0-9a-f-]{36}$"))
    expect(page.locator('[data-testid="task-row"][data-task="a"]')).to_contain_text("kiln")

    # Clicking a node shows its details; its job link opens the job's page with its logs.
    a.click()
    details = page.get_by_test_id("task-details")
    expect(details).to_have_attribute("data-task", "a")
    expect(details).to_contain_text("succeeded")
    expect(details).to_contain_text("word")
    page.locator('[data-testid="task-row"][data-task="a"]').get_by_test_id("task-raw-id").click()
    expect(page).to_have_url(re.compile(r"/jobs/job-[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("job-logs").get_by_text("a-done", exact=True)).to_be_visible(timeout=30_000)

    # Back on the flow's page, the bake is listed.
    page.go_back()
    page.get_by_role("link", name="diamondflow").click()
    bake_row = page.locator(f'[data-testid="bake-row"][data-bake-id="{bake_id}"]')
    expect(bake_row).to_contain_text("e2e")
    expect(bake_row).to_contain_text("diamond")
    expect(bake_row).to_contain_text("succeeded")


# Every WebSocket the page opens is kept in window.__sockets; while window.__blockSockets is set,
# new ones go to a closed port, as if the server were unreachable.
DROPPABLE_SOCKETS = """
window.__sockets = [];
window.__blockSockets = false;
const RealWebSocket = window.WebSocket;
window.WebSocket = class extends RealWebSocket {
  constructor(url, protocols) {
    super(window.__blockSockets ? "ws://127.0.0.1:9/" : url, protocols);
    window.__sockets.push(this);
  }
};
"""

SLOW_THEN_QUICK = """
kind: batch
tasks:
  - id: a
    image: python:3.11
    bash: sleep 6
  - id: b
    needs: [a]
    image: python:3.11
    bash: 'true'
"""


def test_a_dropped_connection_resyncs_the_dag_without_a_reload(page, base_url, celery_workers, bob):
    """The bake ends while the page has no connection: it hears none of it, and once it can
    connect again, the state the server sends first brings the DAG up to date."""
    flow = make_flow(bob, "resyncflow", slow=SLOW_THEN_QUICK)
    page.add_init_script(DROPPABLE_SOCKETS)
    log_in(page, base_url, "bob", PASSWORD, "/flows/resyncflow")
    bake = services.bake_start(by=bob, flow=flow, batch="slow")
    page.goto(f"{base_url}/flows/resyncflow/bakes/{bake.pk}")  # the deep link
    a, b = dag_node(page, "a"), dag_node(page, "b")
    connection = page.get_by_test_id("bake-connection")
    expect(a).to_have_attribute("data-status", "running", timeout=30_000)
    expect(connection).to_have_attribute("data-status", "live")

    page.evaluate("window.__sameDocument = true; window.__blockSockets = true; "
                  "window.__sockets.forEach((socket) => socket.close())")
    expect(connection).to_have_attribute("data-status", "reconnecting")
    wait_bake(bake, "succeeded", "failed")
    assert task_statuses(bake) == {"a": "succeeded", "b": "succeeded"}
    expect(a).to_have_attribute("data-status", "running")  # it heard nothing of the ends
    expect(b).to_have_attribute("data-status", "pending")

    page.evaluate("window.__blockSockets = false")
    expect(connection).to_have_attribute("data-status", "live", timeout=30_000)
    expect(a).to_have_attribute("data-status", "succeeded")
    expect(b).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("bake-status")).to_have_attribute("data-status", "succeeded")
    assert page.evaluate("window.__sameDocument") is True


def test_broken_batch_shows_its_error_and_live_jobs_still_run(page, base_url, celery_workers, bob):
    make_flow(bob, "liveflow", broken=BROKEN)
    log_in(page, base_url, "bob", PASSWORD, "/flows/liveflow")

    # The broken batch file's errors, as file:line:column: message.
    expect(page.get_by_role("heading", level=1)).to_have_text("Test flow")
    errors = page.get_by_test_id("flow-error")
    expect(errors.first).to_be_visible()
    expect(errors.filter(has_text=re.compile(r"^\.neuro/broken\.yml:4:5: unknown key 'imag'"))).to_have_count(1)

    # The live jobs (the `apolo-flow ps` view), none run yet.
    jobs = page.get_by_test_id("live-job-row")
    expect(jobs).to_have_count(2)
    hello = page.locator('[data-testid="live-job-row"][data-job="hello"]')
    expect(page.locator('[data-testid="live-job-row"][data-job="many"]')).to_contain_text("multi")
    expect(hello.get_by_role("button", name="Kill")).to_be_disabled()

    # Run, with a param changed from its default: a new job starts and its raw id appears.
    hello.get_by_role("button", name="Run").click()
    form = page.get_by_role("dialog", name="Run live job")
    expect(form).to_contain_text("Whom to greet")
    expect(form.get_by_label("who")).to_have_value("world")
    form.get_by_label("who").fill("kiln")
    form.get_by_role("button", name="Run", exact=True).click()
    notice = page.get_by_test_id("run-notice")
    expect(notice).to_contain_text("Started hello")
    expect(notice).to_have_attribute("data-started", "true")
    raw = hello.get_by_test_id("raw-id")
    expect(raw).to_have_text(re.compile(r"^job-[0-9a-f-]{36}$"))
    job_id = raw.inner_text()
    expect(raw).to_have_attribute("href", f"/jobs/{job_id}")
    expect(hello).to_have_attribute("data-status", "running", timeout=30_000)

    # Running it again attaches to the running job instead of starting another.
    hello.get_by_role("button", name="Run").click()
    page.get_by_role("dialog", name="Run live job").get_by_role("button", name="Run", exact=True).click()
    expect(notice).to_have_attribute("data-started", "false")
    expect(notice).to_contain_text("attached to")
    expect(raw).to_have_text(job_id)

    # Kill the latest run, after confirming.
    hello.get_by_role("button", name="Kill").click()
    page.get_by_role("alertdialog", name="Kill job").get_by_role("button", name="Kill").click()
    expect(hello).to_have_attribute("data-status", "cancelled", timeout=30_000)
    expect(hello.get_by_role("button", name="Kill")).to_be_disabled()

    # Its job page shows the param's value in the log.
    raw.click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job_id}$"))
    expect(page.get_by_test_id("job-logs").get_by_text("hello kiln", exact=True)).to_be_visible(timeout=30_000)
