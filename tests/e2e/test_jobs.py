"""The Jobs tab in headless Chromium, against the live server and a real Celery worker that runs
jobs in bubblewrap: run a job from the form and watch its log arrive, share it, see it as a
reader; see a new job appear live, open a shell in it, kill it."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from console import services as core
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

COUNT_TO_50 = "for i in $(seq 1 50); do echo line-$i; sleep 0.1; done"


def job_row(page, job_id: str):
    return page.locator(f'[data-testid="job-row"][data-job-id="{job_id}"]')


def test_run_from_the_form_watch_the_log_share_and_read_as_alice(page, browser, base_url, celery_workers, bob, alice):
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    log_in(page, base_url, "bob", PASSWORD, "/jobs")
    page.get_by_role("button", name="Run job").click()
    form = page.get_by_role("dialog", name="Run job")
    expect(form.get_by_label("Image")).to_have_value("python:3.11")
    expect(form.get_by_label("Preset")).to_have_value("cpu-small")  # the server's default preset
    form.get_by_label("Command").fill(COUNT_TO_50)
    form.get_by_label("Name").fill("count-lines")
    form.get_by_label("Tags").fill("e2e")
    form.get_by_role("button", name="Run", exact=True).click()

    # The new job's page: its log arrives while it runs, and the view follows it to the end.
    expect(page).to_have_url(re.compile(r"/jobs/job-[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text("count-lines")
    status = page.get_by_test_id("job-status")
    logs = page.get_by_test_id("job-logs")
    expect(status).to_have_text("running", timeout=30_000)
    expect(logs.get_by_text("line-3", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("logs-end")).to_have_count(0)  # lines came before the end: live
    expect(page.get_by_label("Follow")).to_be_checked()
    expect(logs.get_by_text("line-50", exact=True)).to_be_visible(timeout=30_000)
    expect(status).to_have_text("succeeded", timeout=30_000)
    expect(page.get_by_test_id("logs-end")).to_contain_text("succeeded")
    expect(page.get_by_test_id("logs-end")).to_contain_text("50 lines")
    expect(page.get_by_label("Follow")).to_be_checked()
    expect(page.get_by_role("button", name="Kill")).to_be_disabled()  # finished
    expect(page.get_by_role("link", name="Download logs")).to_have_attribute(
        "href", f"/api/v1/jobs/{job_id}/logs/?format=text")
    expect(page.get_by_test_id("history-row")).to_have_count(3)  # pending, running, succeeded

    # Bob shares this job with Alice, at read.
    page.get_by_role("button", name="Share", exact=True).click()
    share = page.get_by_role("dialog", name="Share")
    expect(share).to_contain_text(f"job://default/bob/{job_id}")
    share.get_by_label("User or group").fill("ali")
    share.get_by_role("option", name=re.compile("alice")).click()
    share.get_by_label("Level").select_option("read")
    share.get_by_role("button", name="Share", exact=True).click()
    expect(share.get_by_test_id("acl-row")).to_contain_text("alice")
    expect(share.get_by_test_id("acl-row")).to_contain_text("read")
    share.get_by_role("button", name="Close").click()

    # Alice, in a browser of her own, finds it among the jobs shared with her, and can only read it.
    context = browser.new_context()
    try:
        other = context.new_page()
        log_in(other, base_url, "alice", PASSWORD, "/jobs")
        expect(other.get_by_role("heading", level=1)).to_have_text("Jobs")
        other.get_by_role("tab", name="All").click()
        other.get_by_label("Shared with me").check()
        row = job_row(other, job_id)
        expect(row).to_contain_text("count-lines")
        expect(row).to_contain_text("bob")
        expect(row).to_contain_text("succeeded")
        expect(other.get_by_test_id("job-row")).to_have_count(1)
        row.click()
        expect(other).to_have_url(re.compile(rf"/jobs/{job_id}$"))
        expect(other.get_by_test_id("job-status")).to_have_text("succeeded")
        expect(other.get_by_test_id("job-logs").get_by_text("line-50", exact=True)).to_be_visible()
        expect(other.get_by_role("button", name="Kill")).to_be_disabled()
        expect(other.get_by_role("button", name="Terminal")).to_be_disabled()
    finally:
        context.close()
    # Bob's page streamed the whole log over one connection, and did not reconnect after the end.
    log_sockets = [url for url in sockets if "/logs/" in url]
    assert log_sockets == [f"{base_url.replace('http', 'ws')}/ws/jobs/{job_id}/logs/?after=-1"]


def test_new_job_appears_live_then_a_shell_in_it_and_kill(page, base_url, celery_workers, bob):
    log_in(page, base_url, "bob", PASSWORD, "/jobs")
    expect(page.get_by_role("tab", name="Running")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-status", "live")

    # Started elsewhere (the CLI's way: a token and the API): the list hears of it over /ws/events/.
    token = core.token_create(user=bob, name="e2e")[1]
    answer = httpx.post(f"{base_url}/api/v1/jobs/", headers={"Authorization": f"Bearer {token}"},
                        json={"image": "python:3.11", "command": "echo started; sleep 300", "name": "sleeper"})
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["id"]
    row = job_row(page, job_id)
    expect(row).to_contain_text("sleeper")
    expect(row).to_contain_text("running", timeout=30_000)
    row.click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job_id}$"))
    expect(page.get_by_test_id("job-logs").get_by_text("started", exact=True)).to_be_visible(timeout=30_000)

    # A shell inside the job, in xterm.js over the exec WebSocket.
    page.get_by_role("button", name="Terminal").click()
    state = page.get_by_test_id("terminal-state")
    expect(state).to_have_attribute("data-phase", "running", timeout=30_000)
    terminal = page.get_by_test_id("terminal")
    terminal.click()
    page.keyboard.type("echo hello-$((6*7)) $KILN_JOB_ID\n")
    expect(terminal).to_contain_text(f"hello-42 {job_id}", timeout=15_000)
    page.keyboard.type("exit 3\n")
    expect(state).to_have_text("Exited with code 3", timeout=15_000)

    # Kill, after confirming.
    page.get_by_role("button", name="Kill").click()
    confirm = page.get_by_role("alertdialog", name="Kill job")
    confirm.get_by_role("button", name="Kill").click()
    expect(page.get_by_test_id("job-status")).to_have_text("cancelled", timeout=30_000)
    expect(page.get_by_test_id("logs-end")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Kill")).to_be_disabled()

    # Back on the list: no longer among the running jobs, but under All.
    page.get_by_role("link", name="Jobs", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    expect(job_row(page, job_id)).to_have_count(0)
    page.get_by_role("tab", name="All").click()
    expect(job_row(page, job_id)).to_contain_text("cancelled")
