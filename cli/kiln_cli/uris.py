"""Light client-side checks of resource URIs; the server does the real parsing.

Accepted here: `scheme:rest` or `scheme://rest` with scheme one of job, storage, image, flow
(`job:`, `storage:cifar-10`, `storage:/alice/x`, `job://default/bob/x`, …).
"""

from __future__ import annotations

import re

import click

from kiln_cli.errors import bad_input

SCHEMES = ("job", "storage", "image", "flow")
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)$", re.DOTALL)


def check_uri(value: str) -> str:
    """Return `value` when it looks like a Kiln URI; else raise `KilnError` (exit 65)."""
    match = _URI.match(value.strip()) if value else None
    if not match:
        raise bad_input(
            f"{value!r} is not a resource URI: expected e.g. job:NAME, storage:PATH, "
            "flow:ID, image:NAME or job://default/OWNER/NAME"
        )
    scheme = match["scheme"]
    if scheme not in SCHEMES:
        raise bad_input(f"unknown scheme {scheme!r} in {value!r}: use one of {', '.join(SCHEMES)}")
    if any(c in value for c in "\n\r\t\x00"):
        raise bad_input(f"{value!r} contains control characters")
    return value.strip()


class UriType(click.ParamType):
    """A click argument type for resource URIs (errors exit 65, like the server's 400)."""

    name = "URI"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return check_uri(str(value))


URI = UriType()
