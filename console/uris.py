"""Resource URIs: ``<scheme>://<cluster>/<owner>/<path…>`` and their short forms.

This module is the one place URIs are parsed and normalised (DESIGN §3). It knows nothing of the
database, so the CLI's server side, the storage layer and the permission checks all agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEMES = ("job", "storage", "image", "flow")

# Owner (user) names follow Django's username rules minus '@' and '+', which are awkward in URIs.
_OWNER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,150}$")
_CLUSTER_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = " \t\r\n\f\v"


class InvalidUri(ValueError):
    """A URI that cannot be parsed; the message says why in words a user understands."""


@dataclass(frozen=True, order=True)
class Uri:
    scheme: str
    cluster: str
    owner: str = ""
    path: str = ""  # the part below the owner, '/'-separated, no leading or trailing '/'

    def __str__(self) -> str:
        text = f"{self.scheme}://{self.cluster}"
        if self.owner:
            text += f"/{self.owner}"
            if self.path:
                text += f"/{self.path}"
        return text

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.path.split("/")) if self.path else ()

    @property
    def name(self) -> str:
        """The last path segment (or the owner for a user root)."""
        return self.parts[-1] if self.parts else self.owner

    @property
    def is_root(self) -> bool:
        """The owner's root (``job://default/bob``): everything of that kind the owner has."""
        return not self.path

    def parent(self) -> Uri | None:
        if self.path:
            return Uri(self.scheme, self.cluster, self.owner, "/".join(self.parts[:-1]))
        if self.owner:
            return Uri(self.scheme, self.cluster)
        return None

    def ancestors(self, *, include_self: bool = True) -> list[Uri]:
        """This URI and every URI above it up to the owner's root, nearest first."""
        chain: list[Uri] = [self] if include_self else []
        node = self.parent()
        while node is not None and node.owner:
            chain.append(node)
            node = node.parent()
        return chain

    def child(self, *segments: str) -> Uri:
        extra = "/".join(segment for segment in segments if segment)
        path = f"{self.path}/{extra}" if self.path and extra else (self.path or extra)
        return parse_uri(str(Uri(self.scheme, self.cluster, self.owner, path)))

    def is_within(self, other: Uri) -> bool:
        """True when ``self`` is ``other`` or lies below it."""
        if (self.scheme, self.cluster) != (other.scheme, other.cluster):
            return False
        if not other.owner:
            return True
        if self.owner != other.owner:
            return False
        return not other.path or self.path == other.path or self.path.startswith(other.path + "/")


def _clean_path(raw: str) -> str:
    segments = []
    for segment in raw.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            raise InvalidUri("'..' is not allowed in a URI")
        segments.append(segment)
    return "/".join(segments)


def parse_uri(text: str, *, username: str | None = None, cluster: str | None = None) -> Uri:
    """Parse a long or short URI into its canonical form.

    Short forms need ``username`` (the caller): ``job:x`` → ``job://<cluster>/<username>/x``,
    ``storage:/alice/x`` → ``storage://<cluster>/alice/x``, ``storage:`` → the caller's root.
    """
    from django.conf import settings

    cluster = cluster or settings.KILN_CLUSTER
    if not isinstance(text, str) or not text.strip(_SPACE):
        raise InvalidUri("A URI is required, for example job:my-job or storage://default/bob/data")
    # ASCII blanks only: str.strip() would also eat a trailing U+2028 or U+3000, which are
    # legal in file names, and the URI would then name another file.
    text = text.strip(_SPACE)
    if _CONTROL_RE.search(text):
        raise InvalidUri("A URI cannot contain control characters or NUL")
    scheme, sep, rest = text.partition(":")
    if not sep:
        raise InvalidUri(f"{text!r} is not a URI: expected <scheme>:…, with scheme one of {', '.join(SCHEMES)}")
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidUri(f"Unknown URI scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")

    if rest.startswith("//"):
        host, _, path = rest[2:].partition("/")
        if not _CLUSTER_RE.match(host):
            raise InvalidUri(f"Invalid cluster name {host!r} in {text!r}")
        owner, _, below = _clean_path(path).partition("/")
        uri = Uri(scheme, host, owner, below)
    elif rest.startswith("/"):
        owner, _, below = _clean_path(rest).partition("/")
        if not owner:
            raise InvalidUri(f"{text!r} names no user: write {scheme}:/<user>/<path>")
        uri = Uri(scheme, cluster, owner, below)
    else:
        if not username:
            raise InvalidUri(f"The short form {text!r} needs a logged-in user")
        uri = Uri(scheme, cluster, username, _clean_path(rest))
    if uri.owner and not _OWNER_RE.match(uri.owner):
        raise InvalidUri(f"Invalid user name {uri.owner!r} in {text!r}")
    return uri
