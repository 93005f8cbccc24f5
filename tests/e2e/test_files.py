"""The Files tab in headless Chromium against the live server (local storage backend under
KILN_DATA_DIR): a folder dropped onto the page uploads with its structure (a big file through
the resumable protocol), a temporary link downloads it without an account, the folder is shared
with alice, who browses it; a file written elsewhere shows up live."""

import re

import httpx
import pytest
from django.conf import settings
from playwright.sync_api import expect

from console import services as core
from console.selectors import has_access
from storage.models import UploadSession
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

BIG = 9 * 1024 * 1024 + 123  # over the 8 MiB threshold: resumable, in two chunks
BIG_BYTES = bytes(i % 251 for i in range(BIG))

# A folder as a user drops it: relative paths, the folder structure to keep.
DROPPED = {
    "dataset/a.txt": "alpha\n",
    "dataset/sub/b.txt": "beta – ünïcode ✓\n",
}


def drop_folder(page, files: dict[str, str], big_path: str, big_size: int) -> None:
    """Dispatch a real drop event on the drop zone with a DataTransfer holding File objects whose
    ``webkitRelativePath`` carries the folder structure (what react-dropzone's file-selector reads)."""
    data_transfer = page.evaluate_handle(
        """([files, bigPath, bigSize]) => {
            const dt = new DataTransfer();
            const add = (path, parts) => {
                const file = new File(parts, path.split("/").pop(), {type: "application/octet-stream"});
                Object.defineProperty(file, "webkitRelativePath", {value: path});
                dt.items.add(file);
            };
            for (const [path, text] of Object.entries(files)) add(path, [text]);
            const big = new Uint8Array(bigSize);
            for (let i = 0; i < bigSize; i++) big[i] = i % 251;
            add(bigPath, [big]);
            return dt;
        }""",
        [files, big_path, big_size],
    )
    zone = page.get_by_test_id("dropzone")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": data_transfer})


def file_row(page, name: str):
    return page.locator(f'[data-testid="file-row"][data-name="{name}"]')


def test_drop_a_folder_link_a_file_share_the_folder(page, browser, base_url, bob, alice):
    home = settings.KILN_STORAGE_ROOT / "bob"
    log_in(page, base_url, "bob", PASSWORD, "/files")
    expect(page.get_by_role("heading", level=1)).to_have_text("Files")
    expect(page.get_by_test_id("files-path")).to_have_text("/")
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-status", "live")
    expect(page.get_by_text("This folder is empty.")).to_be_visible()

    # Written elsewhere (the CLI's way: a token and the API): storage.changed on /ws/events/
    # refreshes the listing without a reload.
    token = core.token_create(user=bob, name="e2e")[1]
    answer = httpx.put(f"{base_url}/api/v1/storage/content/", params={"uri": "storage:notes.txt"},
                       headers={"Authorization": f"Bearer {token}"}, content=b"written by the CLI")
    assert answer.status_code == 201, answer.text
    expect(file_row(page, "notes.txt")).to_be_visible()

    # A folder dropped onto the list: one progress bar per file and one overall, then the files.
    drop_folder(page, DROPPED, "dataset/big.bin", BIG)
    uploads = page.get_by_test_id("upload-row")
    expect(uploads).to_have_count(3)
    for name in [*DROPPED, "dataset/big.bin"]:
        row = page.locator(f'[data-testid="upload-row"][data-name="{name}"]')
        expect(row).to_contain_text(name)
        expect(row.locator("progress")).to_have_count(1)
    total = page.get_by_test_id("upload-total")
    expect(total).to_contain_text("3 of 3 files uploaded", timeout=60_000)
    everything = BIG + sum(len(t.encode()) for t in DROPPED.values())
    expect(total.locator("progress")).to_have_attribute("value", str(everything))
    expect(page.locator('[data-testid="upload-row"][data-status="done"]')).to_have_count(3)
    big_bar = page.locator('[data-testid="upload-row"][data-name="dataset/big.bin"] progress')
    expect(big_bar).to_have_attribute("value", str(BIG))
    expect(big_bar).to_have_attribute("max", str(BIG))

    # The structure is kept: dataset/ with a.txt, big.bin and sub/b.txt.
    expect(file_row(page, "dataset")).to_have_attribute("data-type", "dir")
    file_row(page, "dataset").dblclick()
    expect(page).to_have_url(re.compile(r"/files/dataset$"))
    expect(page.get_by_test_id("files-path")).to_have_text("/dataset")
    for name in ("a.txt", "sub", "big.bin"):
        expect(file_row(page, name)).to_be_visible()
    expect(file_row(page, "big.bin")).to_contain_text("9 MiB")
    file_row(page, "sub").dblclick()
    expect(page).to_have_url(re.compile(r"/files/dataset/sub$"))
    expect(file_row(page, "b.txt")).to_be_visible()
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb).to_contain_text("Home")
    breadcrumb.get_by_role("link", name="dataset").click()
    expect(page).to_have_url(re.compile(r"/files/dataset$"))
    assert (home / "dataset" / "a.txt").read_text() == DROPPED["dataset/a.txt"]
    assert (home / "dataset" / "sub" / "b.txt").read_text(encoding="utf-8") == DROPPED["dataset/sub/b.txt"]
    assert (home / "dataset" / "big.bin").stat().st_size == BIG
    # The big one went through a resumable session (the small ones were single PUTs).
    sessions = UploadSession.objects.filter(created_by=bob)
    assert [(s.uri, s.offset, s.completed_at is not None) for s in sessions] == [
        ("storage://default/bob/dataset/big.bin", BIG, True)]

    # A temporary link (1 hour) to the big file, downloaded by someone with no account.
    file_row(page, "big.bin").click()
    page.get_by_role("button", name="Links").click()
    links = page.get_by_role("dialog", name="Links")
    links.get_by_label("Expires in").select_option(label="1 hour")
    links.get_by_role("button", name="Create").click()
    link_row = links.get_by_test_id("link-row")
    expect(link_row).to_have_count(1)
    expect(link_row).to_contain_text("temporary")
    expect(link_row).not_to_contain_text("never")
    expect(link_row.get_by_role("button", name="Copy")).to_be_visible()
    url = link_row.get_by_role("link").get_attribute("href")
    assert re.fullmatch(rf"{re.escape(base_url)}/s/[A-Za-z0-9_-]{{20,}}/", url), url

    stranger = browser.new_context()
    try:
        assert stranger.cookies() == []
        download = stranger.request.get(url)
        assert download.status == 200, download.text()
        assert download.body() == BIG_BYTES

        # Revoked: dead at once.
        link_row.get_by_role("button", name="Revoke").click()
        expect(links.get_by_test_id("link-row")).to_have_count(0)
        assert stranger.request.get(url).status == 404
    finally:
        stranger.close()
    links.get_by_role("button", name="Close").click()

    # Bob shares the dataset folder with alice, at read, from the Share dialog.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Home").click()
    expect(page).to_have_url(re.compile(r"/files$"))
    file_row(page, "dataset").get_by_role("checkbox").check()
    page.get_by_role("button", name="Share", exact=True).click()
    share = page.get_by_role("dialog", name="Share")
    expect(share).to_contain_text("storage://default/bob/dataset")
    share.get_by_label("User or group").fill("ali")
    share.get_by_role("option", name=re.compile("alice")).click()
    share.get_by_label("Level").select_option("read")
    share.get_by_role("button", name="Share", exact=True).click()
    expect(share.get_by_test_id("acl-row")).to_contain_text("alice")
    expect(share.get_by_test_id("acl-row")).to_contain_text("read")
    share.get_by_role("button", name="Close").click()
    assert has_access(alice, "storage://default/bob/dataset/sub/b.txt", "read")
    assert not has_access(alice, "storage://default/bob/dataset", "write")

    # Alice finds it under Shared with me and browses it, read-only.
    context = browser.new_context()
    try:
        other = context.new_page()
        log_in(other, base_url, "alice", PASSWORD, "/files?view=shared")
        shared = other.get_by_test_id("shared-row")
        expect(shared).to_have_count(1)
        expect(shared).to_contain_text("/~bob/dataset")
        shared.click()
        expect(other).to_have_url(re.compile(r"/files/~bob/dataset$"))
        for name in ("a.txt", "sub", "big.bin"):
            expect(file_row(other, name)).to_be_visible()
        expect(other.get_by_role("button", name="Upload", exact=True)).to_be_disabled()
        expect(other.get_by_role("button", name="Links")).to_be_disabled()
    finally:
        context.close()
