"""The local backend's writes: durable without a long final fsync, and still all-or-nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from storage.backends import local
from storage.backends.base import Key, UploadInterrupted
from storage.backends.local import WRITEBACK_EVERY, LocalBackend

MiB = 1 << 20


def pieces(data: bytes, size: int = 777_777) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.fixture
def writeback_calls(monkeypatch) -> list[tuple[int, int]]:
    """The ranges whose writeback was started (the real call still runs)."""
    calls: list[tuple[int, int]] = []
    real = local._start_writeback

    def spy(fd: int, offset: int, count: int) -> None:
        calls.append((offset, count))
        if real is not None:
            real(fd, offset, count)

    monkeypatch.setattr(local, "_start_writeback", spy)
    return calls


def test_a_big_upload_is_sent_to_disk_as_it_arrives_and_lands_whole(tmp_path, writeback_calls):
    backend = LocalBackend(tmp_path)
    data = os.urandom(3 * WRITEBACK_EVERY + 12345)
    entry = backend.write(Key("bob", ("big.bin",)), pieces(data), size=len(data))
    assert entry.size == len(data)
    assert (tmp_path / "bob" / "big.bin").read_bytes() == data
    # Contiguous ranges from the start, as the bytes came; the final fsync only has the tail left.
    assert writeback_calls[0][0] == 0 and len(writeback_calls) >= 2
    assert all(offset + count == following for (offset, count), (following, _) in
               zip(writeback_calls, writeback_calls[1:], strict=False))
    last_offset, last_count = writeback_calls[-1]
    assert len(data) - (last_offset + last_count) < WRITEBACK_EVERY + 777_777
    assert os.listdir(tmp_path / ".kiln-uploads") == []


def test_without_fsync_no_writeback_is_asked_for(tmp_path, writeback_calls):
    backend = LocalBackend(tmp_path, fsync=False)
    data = os.urandom(2 * WRITEBACK_EVERY + 1)
    backend.write(Key("bob", ("fast.bin",)), pieces(data))
    assert (tmp_path / "bob" / "fast.bin").read_bytes() == data and writeback_calls == []


def test_an_upload_cut_after_writeback_began_leaves_nothing(tmp_path, writeback_calls):
    backend = LocalBackend(tmp_path)
    key = Key("bob", ("cut.bin",))
    backend.write(key, [b"the old file"])
    data = os.urandom(2 * WRITEBACK_EVERY + 5)

    def cut() -> Iterator[bytes]:
        yield from pieces(data)
        raise UploadInterrupted("the client went away")

    with pytest.raises(UploadInterrupted):
        backend.write(key, cut())
    assert writeback_calls  # the cut came after bytes were on their way to the disk
    assert (tmp_path / "bob" / "cut.bin").read_bytes() == b"the old file"
    assert os.listdir(tmp_path / ".kiln-uploads") == []


def test_a_resumable_chunk_is_appended_at_its_offset(tmp_path, writeback_calls):
    backend = LocalBackend(tmp_path)
    state = backend.session_begin(Key("bob", ("r.bin",)), session_id="0" * 32, size=3 * WRITEBACK_EVERY)
    first, second = os.urandom(WRITEBACK_EVERY + 3), os.urandom(WRITEBACK_EVERY + 7)
    offset, state = backend.session_append(state, offset=0, chunks=pieces(first), renew=lambda: None)
    offset, state = backend.session_append(state, offset=offset, chunks=pieces(second), renew=lambda: None)
    assert offset == len(first) + len(second)
    assert (tmp_path / ".kiln-uploads" / f"session-{'0' * 32}").read_bytes() == first + second
    assert writeback_calls[-1][0] >= len(first)  # the second chunk's ranges start past the first
