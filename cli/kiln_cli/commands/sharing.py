"""`kiln share`, `kiln revoke`, `kiln acl`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from kiln_cli.app import App, json_option, pass_app
from kiln_cli.errors import bad_input
from kiln_cli.output import Output
from kiln_cli.uris import SCHEMES, URI

LEVELS = ("read", "write", "manage")
SHARES = "/api/v1/shares/"
REVOKE = "/api/v1/shares/revoke/"
ACL = "/api/v1/acl/"
WITH_ME = "/api/v1/shares/with-me/"
BY_ME = "/api/v1/shares/by-me/"

GRANT_COLUMNS = ("URI", "PRINCIPAL", "KIND", "LEVEL")


def check_principal(value: str) -> str:
    """`alice`, `user:alice` or `group:ml-team`; passed to the server as typed."""
    value = value.strip()
    kind, sep, name = value.rpartition(":")
    if not value or any(c.isspace() for c in value) or (sep and (kind not in ("user", "group") or not name)):
        raise bad_input(f"{value!r} is not a principal: use NAME, user:NAME or group:NAME")
    return value


def principal_of(grant: dict[str, Any]) -> tuple[str, str]:
    """(name, kind) of a grant's principal, tolerating a bare string."""
    principal = grant.get("principal")
    if isinstance(principal, dict):
        return str(principal.get("name", "")), str(principal.get("kind", ""))
    return str(principal or ""), ""


def grant_label(grant: dict[str, Any]) -> str:
    name, kind = principal_of(grant)
    return f"{kind}:{name}" if kind else name


def grant_row(grant: dict[str, Any]) -> list[Any]:
    name, kind = principal_of(grant)
    return [grant.get("uri"), name, kind, grant.get("level")]


def render_grants(
    out: Output,
    grants: Iterable[dict[str, Any]],
    *,
    inherited: bool = False,
    empty: str = "No grants.",
) -> None:
    columns = [*GRANT_COLUMNS, "INHERITED"] if inherited else list(GRANT_COLUMNS)
    rows = [grant_row(g) + ([bool(g.get("inherited"))] if inherited else []) for g in grants]
    out.table(columns, rows, empty=empty)


@click.command()
@click.argument("uri", type=URI)
@click.argument("principal", metavar="USER|GROUP")
@click.argument("level", type=click.Choice(LEVELS, case_sensitive=False), metavar="read|write|manage")
@json_option
@pass_app
def share(app: App, uri: str, principal: str, level: str) -> None:
    """Give a user or a group READ, WRITE or MANAGE access to URI and everything below it.

    Needs manage on URI. Sharing again with the same principal replaces the previous level.
    USER|GROUP is `alice`, `user:alice` or `group:ml-team`.

    \b
    Examples:
      kiln share storage:cifar-10 alice read
      kiln share job:jupyter-x group:ml-team write
      kiln share job: user:carol read        # all my jobs, past and future
    """
    principal = check_principal(principal)
    out = app.out
    with app.client() as client:
        grant = client.post(SHARES, json={"uri": uri, "principal": principal, "level": level.lower()})
    if not isinstance(grant, dict):
        grant = {"uri": uri, "principal": principal, "level": level.lower()}
    out.emit(
        grant,
        lambda: out.line(f"Granted {grant.get('level')} on {grant.get('uri')} to {grant_label(grant)}"),
    )


@click.command()
@click.argument("uri", type=URI)
@click.argument("principal", metavar="USER|GROUP")
@json_option
@pass_app
def revoke(app: App, uri: str, principal: str) -> None:
    """Take back what was shared with a user or a group on URI.

    Needs manage on URI; exits 4 when that principal had no grant on exactly that URI
    (a grant on a parent is revoked on the parent).

    \b
    Examples:
      kiln revoke storage:cifar-10 alice
      kiln revoke job: group:ml-team
    """
    principal = check_principal(principal)
    out = app.out
    with app.client() as client:
        client.post(REVOKE, json={"uri": uri, "principal": principal})
    out.emit(
        {"uri": uri, "principal": principal, "revoked": True},
        lambda: out.line(f"Revoked {principal}'s access to {uri}"),
    )


@click.command()
@click.argument("uri", type=URI, required=False)
@click.option(
    "--scheme",
    type=click.Choice(SCHEMES),
    help="Without URI: only grants on job, storage, flow or image URIs.",
)
@json_option
@pass_app
def acl(app: App, uri: str | None, scheme: str | None) -> None:
    """Who has what on URI; without URI, what is shared with me and by me.

    With URI, lists every grant that applies to it (INHERITED: the grant sits on a parent)
    and your own level. Needs read on URI.

    \b
    Examples:
      kiln acl storage:cifar-10
      kiln acl job://default/bob/jupyter-x --json
      kiln acl --scheme storage
    """
    out = app.out
    if uri and scheme:
        raise click.UsageError("--scheme only applies without URI")
    with app.client() as client:
        if uri:
            answer = client.get(ACL, params={"uri": uri})
            if not isinstance(answer, dict):
                answer = {}
            grants = [g for g in answer.get("grants") or [] if isinstance(g, dict)]

            def human_acl() -> None:
                render_grants(out, grants, inherited=True)
                out.line()
                if answer.get("owner"):
                    out.line(f"Owner: {answer['owner']}")
                out.line(f"You have: {answer.get('my_level') or 'unknown'}")

            out.emit(answer, human_acl)
            return

        params = {"scheme": scheme}
        with_me = list(client.paginate(WITH_ME, params=params))
        by_me = list(client.paginate(BY_ME, params=params))

    def human_lists() -> None:
        out.line("Shared with me")
        render_grants(out, with_me, empty="  (nothing)")
        out.line()
        out.line("Shared by me")
        render_grants(out, by_me, empty="  (nothing)")

    out.emit({"shared_with_me": with_me, "shared_by_me": by_me}, human_lists)


COMMANDS: list[click.Command] = [share, revoke, acl]
