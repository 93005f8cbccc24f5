"""Which job commands skip the shell, and that skipping it changes nothing."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.runtime.shell import direct_argv

PATH = os.environ.get("PATH", "/usr/bin:/bin")


@pytest.mark.parametrize(("command", "argv"), [
    ("bash -euo pipefail -c 'echo hi; exit 3'", ["bash", "-euo", "pipefail", "-c", "echo hi; exit 3"]),
    ('python3 -c "print(1)"', ["python3", "-c", "print(1)"]),
    ("  sleep\t0.01  ", ["sleep", "0.01"]),
    ("bash -c 'two\nlines' ''", ["bash", "-c", "two\nlines", ""]),
    ("env a=b", ["env", "a=b"]),
])
def test_plain_commands_run_directly(command: str, argv: list[str]) -> None:
    assert direct_argv(command, PATH) == argv


@pytest.mark.parametrize("command", [
    "", "   ", "echo hi", "true", "cd /tmp", "exec sleep 1", "if true; then :; fi",  # builtins, words
    "ls *.txt", "ls ~", "sleep 1 && ls", "ls; ls", "ls | wc", "cat <x", "ls >x", "ls &",  # operators
    "echo $HOME", 'bash -c "$X"', "bash -c `id`", 'bash -c "a\\"b"', "ls $(id)",  # expansions
    "a=1 env", "'bash' -c x", "ls # comment", "ls\nls", "bash -c 'unclosed", "ls {a,b}",  # the rest
    "no-such-program-here --help",  # the shell's "not found" and its exit code 127
])
def test_commands_that_need_the_shell_keep_it(command: str) -> None:
    assert direct_argv(command, PATH) is None


PROBE = "python3 -c 'import sys, json; print(json.dumps(sys.argv[1:]))'"


# Mostly what may run directly (plain characters, blanks, quotes), with some of what may not.
ALPHABET = "ab =-./\t" * 3 + "''\"\"" + "$*;\\`~#{}\n"


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=16))
def test_running_directly_gives_the_program_what_the_shell_would(tail: str) -> None:
    command = f"{PROBE} {tail}"
    argv = direct_argv(command, PATH)
    if argv is None:
        return
    by_shell = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=True).stdout
    direct = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert json.loads(direct) == json.loads(by_shell)
