"""The `kiln` root command: global options, verb registration, and the no-traceback guarantee.

To add verbs, write `commands/<area>.py` with a `COMMANDS` list and add the module to
`VERB_MODULES` below.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import Any

import click

from kiln_cli import __version__
from kiln_cli.app import App
from kiln_cli.commands import auth, flow, jobs, sharing, storage
from kiln_cli.errors import ExitCode, KilnError

VERB_MODULES = (auth, sharing, jobs, storage, flow)

EPILOG = """\b
Exit codes: 0 ok, 1 error, 2 usage, 3 not logged in, 4 not found,
5 forbidden, 6 server unreachable, 7 conflict, 65 bad input.
Environment: KILN_URL, KILN_TOKEN, KILN_CONFIG, KILN_DEBUG=1 (tracebacks).
"""


class KilnGroup(click.Group):
    """A group that never lets a traceback reach the user (unless KILN_DEBUG is set)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (KeyboardInterrupt, EOFError):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE or os.environ.get("KILN_DEBUG"):
                raise  # click handles a closed pipe (`kiln acl | head`) quietly
            raise KilnError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc
        except Exception as exc:
            if os.environ.get("KILN_DEBUG"):
                raise
            raise KilnError(
                f"internal error: {type(exc).__name__}: {exc} (set KILN_DEBUG=1 for a traceback)",
                ExitCode.ERROR,
            ) from exc


@click.group(
    cls=KilnGroup,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--json", "json_flag", is_flag=True, help="Print machine-readable JSON instead of tables.")
@click.option(
    "--url",
    metavar="URL",
    help="Kiln server, e.g. http://localhost:8000 (overrides KILN_URL and the config file).",
)
@click.version_option(__version__, "--version", prog_name="kiln", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, json_flag: bool, url: str | None) -> None:
    """Kiln: jobs, storage, flows and sharing from the command line.

    \b
    Example:
      kiln login http://localhost:8000
      kiln run -n train python:3.11 -- python -c 'print(42)'
      kiln ps -a
      kiln share storage:cifar-10 alice read
      kiln acl storage:cifar-10
      kiln flow bake pipeline
      kiln --json acl | jq '.shared_with_me[].uri'
    """
    app = ctx.ensure_object(App)
    app.json = app.json or json_flag
    if url:
        app.url_option = url


for _module in VERB_MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`kiln = "kiln_cli.main:main"`)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="kiln")


if __name__ == "__main__":
    main()
