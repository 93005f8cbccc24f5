"""How a job's output becomes log lines (``LogReader``), on a real pipe."""

from __future__ import annotations

import os
import threading
import time

from jobs.runner import MAX_LINE, LogReader


def read_all(chunks: list[bytes], most: int = 2000, pause: float = 0) -> list[list[str]]:
    """The batches ``take`` returns while another thread writes ``chunks`` into the pipe."""
    read_end, write_end = os.pipe()

    def write() -> None:
        for chunk in chunks:
            os.write(write_end, chunk)
            time.sleep(pause)
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    reader, batches = LogReader(os.fdopen(read_end, "rb")), []
    ended = False
    while not ended:
        lines, ended = reader.take(wait=5, most=most)
        if lines:
            batches.append(lines)
    writer.join()
    return batches


def lines_of(batches: list[list[str]]) -> list[str]:
    return [line for batch in batches for line in batch]


def test_lines_across_writes_crlf_and_an_unterminated_last_line() -> None:
    chunks = [b"one\ntw", b"o\r\n", b"\n", b"thr", b"ee\r\r\n", "caf\u00e9 \u2713\n".encode(), b"last"]
    assert lines_of(read_all(chunks, pause=0.01)) == ["one", "two", "", "three", "caf\u00e9 \u2713", "last"]


def test_long_lines_are_split_as_readline_would() -> None:
    exact = b"a" * (MAX_LINE - 1) + b"\n"  # fits with its newline
    over = b"b" * MAX_LINE + b"\n"  # the newline comes after a full piece: an empty line follows
    huge = b"c" * (2 * MAX_LINE + 5)  # and no newline at all before the end
    lines = lines_of(read_all([exact, over, huge]))
    assert [len(line) for line in lines] == [MAX_LINE - 1, MAX_LINE, 0, MAX_LINE, MAX_LINE, 5]


def test_a_batch_holds_at_most_most_lines_and_the_rest_follows_after_the_end() -> None:
    batches = read_all([b"".join(b"%d\n" % index for index in range(25))], most=10)
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert lines_of(batches) == [str(index) for index in range(25)]


def test_a_quiet_process_returns_nothing_after_the_wait() -> None:
    read_end, write_end = os.pipe()
    reader = LogReader(os.fdopen(read_end, "rb"))
    started = time.monotonic()
    assert reader.take(wait=0.1) == ([], False)
    assert time.monotonic() - started >= 0.09
    os.write(write_end, b"late\n")
    os.close(write_end)
    lines, ended = reader.take(wait=5)
    assert lines == ["late"]
    if not ended:  # the end may come with the line or in the next call
        assert reader.take(wait=5) == ([], True)
