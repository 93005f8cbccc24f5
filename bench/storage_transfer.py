"""Upload and download of a big file through Kiln's HTTP API, beside a plain ``cp`` on the same disk.

    .venv/bin/python bench/storage_transfer.py            # 1 GiB
    .venv/bin/python bench/storage_transfer.py --size-mib 256 --app console.asgi:application
    .venv/bin/python bench/storage_transfer.py --http auto   # uvicorn's own protocol: no zero-copy
    .venv/bin/python bench/storage_transfer.py --bound       # + a bare receiver, the upload ceiling

Starts its own uvicorn (by default ``console.asgi:application``, the console app with streamed
upload bodies, served with Kiln's HTTP protocol ``console.server:HttpProtocol`` as deployed:
zero-copy downloads) on a throw-away PostgreSQL database, with the local-disk backend rooted in a
temporary folder next to the test file. The client is a minimal HTTP/1.1 client on a raw socket that
moves the bodies inside the kernel, as ``cp`` does: ``sendfile`` for the ``PUT`` body, ``splice``
(socket → pipe → file) for the ``GET`` body (``--recv-client``: ``recv_into`` a 1 MiB buffer and
``write``, one more copy, as most clients do), so the figures measure the server, not the client.
Prints MB/s (10^6 bytes per second) of cp, upload and download, the ratios upload/cp and
download/cp, and the server process's peak RSS growth during each transfer (psutil, sampled every
10 ms). Targets: ratios ≥ 0.7, growth ≤ 64 MiB.

Uploads are fsync'ed before they appear (that is what makes them durable and atomic); ``cp`` is
not, so the cp + fsync figure is printed as well for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_file(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)
    with open(path, "wb") as handle:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            handle.write(piece)
            left -= len(piece)
        handle.flush()
        os.fsync(handle.fileno())


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def _head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read a response head; returns the status, the headers and the body bytes read with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("the server closed the connection")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    if status == 100:
        return _head_after(sock, rest)
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return status, headers, rest


def _head_after(sock: socket.socket, rest: bytes) -> tuple[int, dict[str, str], bytes]:
    if b"\r\n\r\n" in rest:
        head, _, body = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin1").split("\r\n")
        headers = {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:])}
        return int(lines[0].split()[1]), headers, body
    status, headers, body = _head(sock)
    return status, headers, body


def http_put_file(port: int, path: str, token: str, source: Path) -> float:
    size = source.stat().st_size
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(source, "rb") as handle:
        sock.sendall((f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n"
                      "Connection: close\r\n\r\n").encode())
        sock.sendfile(handle)
        status, _, _ = _head(sock)
    if status != 201:
        raise RuntimeError(f"upload answered {status}")
    return time.perf_counter() - start


def _recv_to_file(sock: socket.socket, handle, left: int) -> None:
    buffer = bytearray(MiB)
    view = memoryview(buffer)
    while left:
        got = sock.recv_into(view, min(MiB, left))
        if not got:
            raise ConnectionError("the download ended early")
        handle.write(view[:got])
        left -= got


def _splice_to_file(sock: socket.socket, handle, left: int) -> None:
    read_end, write_end = os.pipe()
    try:
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, MiB)
        except OSError:
            pass  # the default 64 KiB pipe only means more calls
        while left:
            got = os.splice(sock.fileno(), write_end, min(MiB, left))
            if not got:
                raise ConnectionError("the download ended early")
            moved = 0
            while moved < got:
                moved += os.splice(read_end, handle.fileno(), got - moved)
            left -= got
    finally:
        os.close(read_end)
        os.close(write_end)


def http_get_file(port: int, path: str, token: str, target: Path, *, splice: bool = True) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(target, "wb", buffering=0) as handle:
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                      "Connection: close\r\n\r\n").encode())
        status, headers, first = _head(sock)
        if status != 200:
            raise RuntimeError(f"download answered {status}")
        left = int(headers["content-length"]) - len(first)
        handle.write(first)
        if splice and hasattr(os, "splice"):
            _splice_to_file(sock, handle, left)
        else:
            _recv_to_file(sock, handle, left)
    return time.perf_counter() - start


def _start_writeback() -> Any:
    """Linux ``sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)``, as the local backend uses it."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return lambda fd, offset, count: None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return lambda fd, offset, count: call(fd, offset, count, 2)


def bare_receive(source: Path, target: Path) -> float:
    """The same bytes over loopback into a file with no HTTP server at all: one thread, recv_into a
    1 MiB buffer, write, writeback started every 8 MiB, fsync at the end (an upload's durability).
    The most a single-stream receiver gets from this machine; seconds."""
    writeback = _start_writeback()
    size = source.stat().st_size
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def send() -> None:
            with socket.create_connection(listener.getsockname()) as sock, open(source, "rb") as handle:
                sock.sendfile(handle)

        sender = threading.Thread(target=send)
        start = time.perf_counter()
        sender.start()
        connection, _ = listener.accept()
        with connection, open(target, "wb", buffering=0) as handle:
            view = memoryview(bytearray(MiB))
            got = flushed = 0
            while got < size:
                n = connection.recv_into(view)
                if not n:
                    raise ConnectionError("the sender stopped early")
                handle.write(view[:n])
                got += n
                if got - flushed >= 8 * MiB:
                    writeback(handle.fileno(), flushed, got - flushed)
                    flushed = got
            os.fsync(handle.fileno())
        seconds = time.perf_counter() - start
        sender.join()
    target.unlink()
    return seconds


class PeakRss:
    """Samples a process's RSS in a thread; ``growth`` is the peak above the value at start."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.base = self.process.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / MiB


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True,
                          text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--app", default="console.asgi:application")
    parser.add_argument("--http", default="console.server:HttpProtocol", help="uvicorn's --http (auto: its own)")
    parser.add_argument("--recv-client", action="store_true", help="download with recv_into + write, not splice")
    parser.add_argument("--bound", action="store_true",
                        help="also time a bare loopback receiver into a file (no HTTP): the ceiling for uploads")
    parser.add_argument("--dir", default=None, help="where to put the files (default: the system temp folder)")
    args = parser.parse_args()

    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-storage-", dir=args.dir))
    tag = f"bench_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{tag}",
        "KILN_REDIS_PREFIX": tag,
        "KILN_DATA_DIR": str(work / "data"),
        "KILN_STORAGE_ROOT": str(work / "storage"),
        "KILN_STORAGE_BACKEND": "local",
        "PYTHONUNBUFFERED": "1",
    }
    server = None
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", tag], check=True)
    try:
        source = work / "source.bin"
        print(f"making a {args.size_mib} MiB test file in {work} …", flush=True)
        make_file(source, size)

        copy = work / "copy.bin"
        cp_seconds = timed(["cp", str(source), str(copy)])
        start = time.perf_counter()
        subprocess.run(["sync", "-f", str(copy)], check=True)
        cp_sync_seconds = cp_seconds + time.perf_counter() - start
        copy.unlink()
        bound_seconds = bare_receive(source, work / "bound.bin") if args.bound else None

        manage(env, "migrate", "--no-input", "-v", "0")
        token = manage(env, "shell", "-c", (
            "from django.contrib.auth import get_user_model; from console.services import token_create; "
            "u = get_user_model().objects.create_user('bench'); print(token_create(user=u, name='bench')[1])"
        )).strip().splitlines()[-1]
        port = free_port()
        log = (work / "server.log").open("w")
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", args.app, "--http", args.http, "--host",
                                   "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
                                  cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the server did not start; see {work / 'server.log'}")
            time.sleep(0.2)
        content = "/api/v1/storage/content/?uri=storage:bench.bin"
        # Warm up: the first request loads code that is not the transfer's cost.
        httpx.put(f"{url}/api/v1/storage/content/?uri=storage:warm.bin", content=os.urandom(4 * MiB),
                  headers=headers, timeout=60).raise_for_status()
        httpx.get(f"{url}/api/v1/storage/content/?uri=storage:warm.bin", headers=headers, timeout=60)

        with PeakRss(server.pid) as up_rss:
            up_seconds = http_put_file(port, content, token, source)
        download = work / "download.bin"
        with PeakRss(server.pid) as down_rss:
            down_seconds = http_get_file(port, content, token, download, splice=not args.recv_client)

        stored = work / "storage" / "bench" / "bench.bin"
        same = sha256(source) == sha256(stored) == sha256(download)
        mb = size / 1e6
        print(f"\nfile: {args.size_mib} MiB, server: uvicorn {args.app} --http {args.http}, backend: local disk")
        print(f"cp                  {mb / cp_seconds:8.0f} MB/s  ({cp_seconds:.2f} s)")
        print(f"cp + fsync          {mb / cp_sync_seconds:8.0f} MB/s  ({cp_sync_seconds:.2f} s)")
        if bound_seconds is not None:
            print(f"bare receiver       {mb / bound_seconds:8.0f} MB/s  ({bound_seconds:.2f} s)   "
                  f"no HTTP: recv_into + write + fsync, {cp_seconds / bound_seconds:.2f} x cp")
        print(f"upload (HTTP PUT)   {mb / up_seconds:8.0f} MB/s  ({up_seconds:.2f} s)   "
              f"peak server RSS growth {up_rss.growth_mib:.1f} MiB")
        client = "recv_into + write" if args.recv_client or not hasattr(os, "splice") else "splice"
        print(f"download (HTTP GET) {mb / down_seconds:8.0f} MB/s  ({down_seconds:.2f} s)   "
              f"peak server RSS growth {down_rss.growth_mib:.1f} MiB   (client: {client})")
        print(f"ratios: upload/cp {cp_seconds / up_seconds:.2f}, download/cp {cp_seconds / down_seconds:.2f}; "
              f"upload/(cp + fsync) {cp_sync_seconds / up_seconds:.2f}")
        print(f"content identical after the round trip: {same}")
        # A shared 2-core machine: another process's work shows in the figures.
        print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", tag], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
