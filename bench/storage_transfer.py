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
Each figure is taken ``--rounds`` times (default 3), interleaved (cp, cp + fsync, upload, download,
then the loopback bounds, round after round), and the median is printed with the best: on a VM the
first write into memory the guest never touched is several times slower than the next, and a single
sequence charges that to whichever step comes first.

Prints MB/s (10^6 bytes per second) of cp, upload and download, the ratios upload/cp and
download/cp (medians), and the server process's peak RSS growth during each transfer (psutil,
sampled every 10 ms). Targets: ratios ≥ 0.7, growth ≤ 64 MiB. With ``--bound`` it also times what
loopback TCP alone gives on this machine, with no HTTP: a bare receiver into a file
(``recv_into`` + ``write`` + fsync, an upload's ceiling) and a bare ``sendfile`` → ``splice``
into a file (a download's ceiling).

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
import statistics
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


def bare_send(source: Path, target: Path) -> float:
    """The same bytes over loopback with no HTTP server at all: ``sendfile`` on one side, ``splice``
    into a file on the other, as the bench's download client does. A download's ceiling; seconds."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def send() -> None:
            connection, _ = listener.accept()
            with connection, open(source, "rb") as handle:
                connection.sendfile(handle)

        sender = threading.Thread(target=send)
        sender.start()
        start = time.perf_counter()
        with socket.create_connection(listener.getsockname()) as sock, open(target, "wb", buffering=0) as handle:
            _splice_to_file(sock, handle, source.stat().st_size)
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
    parser.add_argument("--rounds", type=int, default=3, help="times each figure is taken (median printed)")
    parser.add_argument("--bound", action="store_true",
                        help="also time bare loopback transfers into a file (no HTTP): the ceilings")
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

        runs: dict[str, list[float]] = {}
        growth = {"upload": 0.0, "download": 0.0}
        download = work / "download.bin"
        same = True

        def took(name: str, seconds: float) -> None:
            runs.setdefault(name, []).append(seconds)

        for round_ in range(args.rounds):
            copy = work / "copy.bin"
            cp_seconds = timed(["cp", str(source), str(copy)])
            took("cp", cp_seconds)
            start = time.perf_counter()
            subprocess.run(["sync", "-f", str(copy)], check=True)
            took("cp + fsync", cp_seconds + time.perf_counter() - start)
            copy.unlink()

            content = f"/api/v1/storage/content/?uri=storage:bench-{round_}.bin"
            with PeakRss(server.pid) as up_rss:
                took("upload (HTTP PUT)", http_put_file(port, content, token, source))
            with PeakRss(server.pid) as down_rss:
                took("download (HTTP GET)", http_get_file(port, content, token, download,
                                                          splice=not args.recv_client))
            growth["upload"] = max(growth["upload"], up_rss.growth_mib)
            growth["download"] = max(growth["download"], down_rss.growth_mib)
            stored = work / "storage" / "bench" / f"bench-{round_}.bin"
            if round_ == args.rounds - 1:
                same = sha256(source) == sha256(stored) == sha256(download)
            stored.unlink()
            download.unlink()
            if args.bound:
                took("bare receiver", bare_receive(source, work / "bound.bin"))
                took("bare sendfile", bare_send(source, work / "bound.bin"))

        mb = size / 1e6
        median = {name: statistics.median(seconds) for name, seconds in runs.items()}
        client = "recv_into + write" if args.recv_client or not hasattr(os, "splice") else "splice"
        notes = {
            "upload (HTTP PUT)": f"peak server RSS growth {growth['upload']:.1f} MiB",
            "download (HTTP GET)": f"peak server RSS growth {growth['download']:.1f} MiB   (client: {client})",
            "bare receiver": "no HTTP: recv_into + write + fsync (an upload's ceiling)",
            "bare sendfile": "no HTTP: sendfile -> splice into a file (a download's ceiling)",
        }
        print(f"\nfile: {args.size_mib} MiB, server: uvicorn {args.app} --http {args.http}, backend: local disk")
        print(f"{args.rounds} rounds, interleaved; MB/s median (best), and the median ratio to cp")
        for name, seconds in runs.items():
            print(f"{name:20} {mb / median[name]:6.0f} MB/s ({mb / min(seconds):5.0f})  "
                  f"{median['cp'] / median[name]:5.2f} x cp   {notes.get(name, '')}")
        print(f"ratios: upload/cp {median['cp'] / median['upload (HTTP PUT)']:.2f}, "
              f"download/cp {median['cp'] / median['download (HTTP GET)']:.2f}; "
              f"upload/(cp + fsync) {median['cp + fsync'] / median['upload (HTTP PUT)']:.2f}")
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
