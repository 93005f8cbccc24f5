"""`kiln ls/mkdir/cp/rm/mv/df/link` as subprocesses against a live server: folder round trips,
a 20 MiB resumable upload (also through a proxy that cuts the connection midway), downloads
resumed with Range, share links fetched without login, and who may do what."""

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from console import services
from storage.models import UploadSession
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
MiB = 1 << 20


@pytest.fixture
def kiln(tmp_path, asgi_server):
    """`kiln(*args, user="bob")`: the CLI as that user (each has a config file of their own)."""

    def environment(user: str, extra: dict | None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        env["KILN_CONFIG"] = str(tmp_path / f"{user}.json")
        env.update(extra or {})
        return env

    def run(*args: str, user: str = "bob", env: dict | None = None, cwd=None, timeout: float = 120):
        return subprocess.run([sys.executable, "-m", "kiln_cli", *args], capture_output=True, text=True,
                              env=environment(user, env), cwd=cwd, timeout=timeout)

    def login(user: str) -> None:
        result = subprocess.run([sys.executable, "-m", "kiln_cli", "login", asgi_server.url, "--username", user],
                                input=PASSWORD + "\n", capture_output=True, text=True,
                                env=environment(user, None), timeout=60)
        assert result.returncode == 0, result.stderr

    run.login = login
    return run


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def tree(root: Path) -> dict:
    """Every folder (None) and file (its bytes) below root, by relative path."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            found[os.path.relpath(os.path.join(folder, name), root)] = Path(folder, name).read_bytes()
    return found


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty" / "also empty").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(3 * MiB + 17))
    (root / "sub" / "deeper" / "naïve name #1.txt").write_text("ünïcode ✓")
    (root / "sub" / "zero").write_bytes(b"")


class CuttingProxy:
    """A TCP proxy to the server that breaks the connection once, after `after` bytes went in
    `direction` ("up": client to server, "down": server to client). It also keeps the bytes sent
    up, so a test can see which requests the client made."""

    def __init__(self, upstream: str, *, after: int, direction: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.after, self.direction = after, direction
        self.counted, self.cut = 0, False
        self.sent_up = bytearray()
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            pair = (client, upstream)
            threading.Thread(target=self.pump, args=(client, upstream, "up", pair), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, "down", pair), daemon=True).start()

    def pump(self, src: socket.socket, dst: socket.socket, direction: str, pair) -> None:
        try:
            while data := src.recv(65536):
                with self.lock:
                    if direction == "up":
                        self.sent_up += data[:4096]  # request heads are what the tests look for
                    if direction == self.direction and not self.cut:
                        self.counted += len(data)
                        if self.counted > self.after:
                            self.cut = True
                            self.drop(pair)
                            return
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            self.drop(pair)

    @staticmethod
    def drop(pair) -> None:
        for sock in pair:  # shutdown first: it wakes the other pump, blocked in recv on the same socket
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def saw(self, text: bytes) -> bool:
        return text.lower() in bytes(self.sent_up).lower()

    def close(self) -> None:
        self.server.close()


def test_cp_r_up_and_back_down_byte_for_byte(kiln, bob, tmp_path):
    kiln.login("bob")
    src = tmp_path / "project"
    make_tree(src)
    ok(kiln("cp", "-r", "-q", str(src), "storage:backups/"))
    listing = json.loads(ok(kiln("ls", "storage:backups/project", "--json")).stdout)
    assert sorted(e["name"] for e in listing) == ["a.txt", "empty", "sub"]
    down = tmp_path / "down"
    down.mkdir()
    ok(kiln("cp", "-r", "storage:backups/project", str(down)))
    assert tree(down / "project") == tree(src)
    # into a new name, and the JSON report
    report = json.loads(ok(kiln("cp", "-r", "--json", "storage:backups/project", str(tmp_path / "again"))).stdout)
    assert {r["action"] for r in report} == {"download"} and len(report) == 4
    assert tree(tmp_path / "again") == tree(src)


def test_a_20_mib_file_goes_up_resumably_and_comes_back_whole(kiln, bob, tmp_path):
    kiln.login("bob")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * MiB + 123))
    ok(kiln("cp", "--chunk-size", "2M", str(big), "storage:big/"))
    session = UploadSession.objects.get(created_by=bob, uri="storage://default/bob/big/big.bin")
    assert session.completed_at is not None and session.size == big.stat().st_size
    ok(kiln("cp", "storage:big/big.bin", str(tmp_path / "back.bin")))
    assert sha(tmp_path / "back.bin") == sha(big)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "big.bin", "bob.json"]  # no part files left


def test_uploads_and_downloads_survive_a_cut_connection(kiln, bob, asgi_server, tmp_path):
    _, token = services.token_create(user=bob, name="cut")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * MiB + 5))
    up = CuttingProxy(asgi_server.url, after=7 * MiB, direction="up")
    try:
        ok(kiln("cp", "-q", "--chunk-size", "4M", str(big), "storage:cut/big.bin",
                env={"KILN_URL": up.url, "KILN_TOKEN": token}))
    finally:
        up.close()
    assert up.cut and up.saw(b"HEAD /api/v1/storage/uploads/")  # it asked the server where to go on
    down = CuttingProxy(asgi_server.url, after=9 * MiB, direction="down")
    try:
        ok(kiln("cp", "-q", "storage:cut/big.bin", str(tmp_path / "back.bin"),
                env={"KILN_URL": down.url, "KILN_TOKEN": token}))
    finally:
        down.close()
    assert down.cut and down.saw(b"Range: bytes=")
    assert sha(tmp_path / "back.bin") == sha(big)


def test_ls_mkdir_mv_rm_df(kiln, bob, tmp_path):
    kiln.login("bob")
    ok(kiln("mkdir", "-p", "storage:work/a/b"))
    assert kiln("mkdir", "storage:work/a").returncode == 7
    (tmp_path / "f.txt").write_text("hello")
    ok(kiln("cp", str(tmp_path / "f.txt"), "storage:work/a/"))
    assert ok(kiln("ls", "storage:work/a")).stdout.splitlines() == ["b/", "f.txt"]
    long = ok(kiln("ls", "-l", "storage:work/a")).stdout.splitlines()
    assert long[0].split() == ["NAME", "TYPE", "SIZE", "MODIFIED"]
    assert long[2].split()[:4] == ["f.txt", "file", "5", "B"]
    ok(kiln("mv", "storage:work/a/f.txt", "storage:work/g.txt"))
    ok(kiln("mv", "storage:work/a", "storage:work/renamed"))
    assert ok(kiln("ls", "storage:work")).stdout.splitlines() == ["g.txt", "renamed/"]
    usage = json.loads(ok(kiln("df", "storage:work", "--json")).stdout)
    assert (usage["size"], usage["files"], usage["dirs"]) == (5, 1, 2)
    assert "storage://default/bob/work" in ok(kiln("df", "storage:work")).stdout
    refused = kiln("rm", "storage:work/renamed")
    assert refused.returncode == 7 and "rm -r" in refused.stderr and refused.stderr.count("\n") == 1
    ok(kiln("rm", "-r", "storage:work/renamed", "storage:work/g.txt"))
    assert ok(kiln("ls", "storage:work")).stdout == ""
    assert kiln("ls", "storage:work/nope").returncode == 4
    ok(kiln("rm", "-rf", "storage:work/nope"))


def test_link_create_fetch_revoke(kiln, bob, asgi_server, tmp_path):
    kiln.login("bob")
    data = os.urandom(100_000)
    (tmp_path / "report.bin").write_bytes(data)
    ok(kiln("cp", str(tmp_path / "report.bin"), "storage:public/"))
    url = ok(kiln("link", "create", "storage:public/report.bin")).stdout.strip()
    assert url.startswith(f"{asgi_server.url}/s/") and url.endswith("/")
    fetched = httpx.get(url, timeout=30)  # no login
    assert fetched.status_code == 200 and fetched.content == data
    temporary = ok(kiln("link", "create", "storage:public/report.bin", "--expires", "1h"))
    assert "Expires" in temporary.stderr
    links = json.loads(ok(kiln("link", "ls", "storage:public/report.bin", "--json")).stdout)
    assert sorted(link["kind"] for link in links) == ["permanent", "temporary"]
    table = ok(kiln("link", "ls")).stdout
    assert url in table and "never" in table
    ok(kiln("link", "revoke", url))
    assert httpx.get(url, timeout=30).status_code == 404
    other = next(link for link in links if link["kind"] == "temporary")
    ok(kiln("link", "revoke", str(other["id"])))
    assert httpx.get(temporary.stdout.strip(), timeout=30).status_code == 404
    assert ok(kiln("link", "ls")).stdout == "No links.\n"


def test_strangers_and_readers(kiln, bob, alice, carol, tmp_path):
    for user in ("bob", "alice", "carol"):
        kiln.login(user)
    (tmp_path / "x.txt").write_text("shared bytes")
    ok(kiln("cp", str(tmp_path / "x.txt"), "storage:x/"))
    hidden = kiln("ls", "storage:/bob/x", user="carol")
    assert hidden.returncode == 4 and hidden.stderr.startswith("kiln: not found")
    assert kiln("cp", "storage:/bob/x/x.txt", str(tmp_path / "carol.txt"), user="carol").returncode == 4
    ok(kiln("share", "storage:x", "alice", "read"))
    ok(kiln("cp", "storage:/bob/x/x.txt", str(tmp_path / "alice.txt"), user="alice"))
    assert (tmp_path / "alice.txt").read_text() == "shared bytes"
    denied = kiln("rm", "storage:/bob/x/x.txt", user="alice")
    assert denied.returncode == 5 and denied.stderr.count("\n") == 1 and "Traceback" not in denied.stderr
    assert kiln("cp", str(tmp_path / "alice.txt"), "storage:/bob/x/new.txt", user="alice").returncode == 5
    assert kiln("link", "create", "storage:/bob/x", user="alice").returncode == 5
    assert ok(kiln("ls", "storage:x")).stdout == "x.txt\n"
