"""The one exception type every verb raises, and the exit codes it carries.

A `KilnError` is a `click.ClickException`, so click prints it (as one line on stderr:
`kiln: not found: No such resource: job://default/bob/x`) and exits with its code.
"""

from __future__ import annotations

from enum import IntEnum
from typing import IO, Any

import click


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # generic failure, server error (5xx), unexpected answer
    USAGE = 2  # click's own usage errors
    NOT_LOGGED_IN = 3  # no token, or the server answered 401
    NOT_FOUND = 4  # 404 (also what Kiln answers for things you cannot read)
    FORBIDDEN = 5  # 403
    UNREACHABLE = 6  # connection refused, DNS failure, timeout, TLS failure
    CONFLICT = 7  # 409
    BAD_INPUT = 65  # 400, 413, 422, and input the client rejects itself (EX_DATAERR)


# HTTP status -> (exit code, label printed before the server's message)
_STATUS: dict[int, tuple[ExitCode, str]] = {
    400: (ExitCode.BAD_INPUT, "invalid input"),
    401: (ExitCode.NOT_LOGGED_IN, "not logged in"),
    403: (ExitCode.FORBIDDEN, "forbidden"),
    404: (ExitCode.NOT_FOUND, "not found"),
    409: (ExitCode.CONFLICT, "conflict"),
    413: (ExitCode.BAD_INPUT, "too large"),
    422: (ExitCode.BAD_INPUT, "unprocessable"),
}

# error codes the server sends over WebSockets (and in REST bodies) -> HTTP status
CODE_STATUS: dict[str, int] = {
    "invalid": 400,
    "not_authenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "unprocessable": 422,
}


def one_line(text: str, limit: int = 400) -> str:
    """Collapse whitespace so an error never spans several lines."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def status_exit(status: int) -> tuple[ExitCode, str]:
    """The exit code and label for an HTTP error status."""
    if status in _STATUS:
        return _STATUS[status]
    if status >= 500:
        return ExitCode.ERROR, "server error"
    return ExitCode.ERROR, f"HTTP {status}"


def format_details(details: Any) -> str:
    """`{"level": ["bad choice"], "uri": ["required"]}` -> `level: bad choice; uri: required`."""
    if not details:
        return ""
    if isinstance(details, dict):
        parts = []
        for field, messages in details.items():
            text = format_details(messages)
            parts.append(f"{field}: {text}" if field not in ("non_field_errors", "detail") else text)
        return "; ".join(p for p in parts if p)
    if isinstance(details, list):
        return "; ".join(format_details(d) for d in details if d)
    return str(details)


class KilnError(click.ClickException):
    """A failure the user should see as one line, with a meaningful exit code."""

    def __init__(
        self,
        message: str,
        exit_code: int = ExitCode.ERROR,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(one_line(message))
        self.exit_code = int(exit_code)
        self.status = status
        self.code = code
        self.details = details
        self.reason = self.message  # the server's own words, without our label (set below)

    @classmethod
    def for_status(cls, status: int, message: str, *, code: str | None = None, details: Any = None) -> KilnError:
        exit_code, label = status_exit(status)
        extra = format_details(details)
        if extra and extra not in message:
            message = f"{message} ({extra})"
        error = cls(f"{label}: {message}", exit_code, status=status, code=code, details=details)
        error.reason = one_line(message)
        return error

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"kiln: {self.format_message()}", err=file is None, file=file)


def not_logged_in(hint: str) -> KilnError:
    return KilnError(f"not logged in: {hint}", ExitCode.NOT_LOGGED_IN)


def bad_input(message: str) -> KilnError:
    return KilnError(f"invalid input: {message}", ExitCode.BAD_INPUT)
