"""When a job's command can skip ``/bin/sh -c``: a command that is one program and its plain
arguments (``bash -euo pipefail -c '…'``, the form every flow task's ``bash:`` takes) means the
same run directly, and a shell less per job is one fork and exec less (~1 ms per task of a bake).
Anything the shell would interpret — operators, redirections, expansions, globs, assignments,
comments, a builtin or a program not on the sandbox's PATH (the shell's "not found", exit 127) —
keeps the shell."""

from __future__ import annotations

import re
import shutil
from functools import lru_cache

# dash's builtins and reserved words: these behave differently, or only exist, in the shell
# (its `echo` reads backslash escapes, `/bin/echo` does not).
SHELL_WORDS = frozenset(
    ". : [ alias bg break cd chdir command continue echo eval exec exit export false fc fg getopts hash jobs kill "
    "local printf pwd read readonly return set shift test times trap true type ulimit umask unalias unset wait "
    "! { } case do done elif else esac fi for if in then until while".split())
_PLAIN = re.compile(r"[A-Za-z0-9_@%+,./:=-]")  # characters no shell treats specially outside quotes
_DOUBLE_QUOTED_SPECIAL = frozenset('$`\\"')


def _words(command: str) -> list[str] | None:
    """The shell words of ``command`` if it has nothing but plain characters, blanks and quotes
    with literal contents; else None."""
    words: list[str] = []
    word: list[str] | None = None
    index, length = 0, len(command)
    while index < length:
        char = command[index]
        if char in " \t":
            if word is not None:
                words.append("".join(word))
                word = None
            index += 1
            continue
        if word is None:
            word = []
        if char == "'":
            end = command.find("'", index + 1)
            if end < 0:
                return None
            word.append(command[index + 1:end])
            index = end + 1
        elif char == '"':
            end = index + 1
            while end < length and command[end] not in _DOUBLE_QUOTED_SPECIAL:
                end += 1
            if end >= length or command[end] != '"':
                return None  # unclosed, or $ ` \\ inside: the shell would expand or unescape
            word.append(command[index + 1:end])
            index = end + 1
        elif _PLAIN.fullmatch(char):
            word.append(char)
            index += 1
        else:
            return None
    if word is not None:
        words.append("".join(word))
    return words


def direct_argv(command: str, path: str) -> list[str] | None:
    """The argv to run ``command`` without a shell, searching ``path`` (the sandbox's PATH, whose
    folders are the worker's own, bound read-only), or None when it needs the shell."""
    words = _words(command)
    if not words or words[0] in SHELL_WORDS or not re.fullmatch(r"[A-Za-z0-9_./+-]+", _first_word(command)):
        return None
    if _which(words[0], path) is None:
        return None
    return words  # bubblewrap finds the program on the sandbox's PATH, as the shell would


@lru_cache(maxsize=256)
def _which(program: str, path: str) -> str | None:
    """Per process: the sandbox's programs are the worker's system image, which does not change
    under a running worker (a program installed later still runs, through the shell)."""
    return shutil.which(program, path=path)


def _first_word(command: str) -> str:
    """The first word as written: quoting or an ``=`` in it (an assignment) keep the shell."""
    return command.lstrip(" \t").split(None, 1)[0] if command.strip(" \t") else ""
