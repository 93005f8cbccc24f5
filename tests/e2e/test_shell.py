"""The SPA shell in headless Chromium against the live server: log in, tabs, deep links,
sharing from the Share dialog, log out."""

import re

import pytest
from playwright.sync_api import expect

from console.selectors import has_access
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_login_tabs_deep_link_reload_and_logout(page, base_url, bob):
    page.goto(f"{base_url}/files/datasets/cifar")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")

    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/files/datasets/cifar$"))  # back to the deep link
    expect(page.get_by_test_id("files-path")).to_have_text("/datasets/cifar")

    for tab in ["Jobs", "Flows", "Files"]:
        page.get_by_role("link", name=tab, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(tab)

    page.goto(f"{base_url}/flows/my-flow")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Flow not found")  # the flow's page, for no flow
    expect(page.get_by_role("alert")).to_contain_text("No such flow: my-flow")
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-status", "live")

    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(f"{base_url}/jobs")
    expect(page).to_have_url(re.compile(r"/login"))


def test_share_dialog_grants_and_revokes(page, base_url, bob, alice):
    log_in(page, base_url, "bob", PASSWORD, "/jobs")
    page.get_by_role("button", name="Share all my jobs").click()
    dialog = page.get_by_role("dialog", name="Share")
    dialog.get_by_label("User or group").fill("ali")
    dialog.get_by_role("option", name=re.compile("alice")).click()
    dialog.get_by_label("Level").select_option("write")
    dialog.get_by_role("button", name="Share").click()
    row = dialog.get_by_test_id("acl-row")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("write")
    assert has_access(alice, "job://default/bob/any-job", "write")

    dialog.get_by_role("button", name="Revoke").click()
    expect(dialog.get_by_test_id("acl-row")).to_have_count(0)
    assert not has_access(alice, "job://default/bob/any-job", "read")
