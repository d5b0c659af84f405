"""The ``paperboard`` command: a thin Typer layer over the library.

Exit statuses: 0 success; 1 the work failed (a source failed, nothing could be read, unknown id);
2 bad usage or configuration.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from paperboard import __version__
from paperboard.core.errors import ConfigError, PaperboardError
from paperboard.present.cli import backup as backup_commands
from paperboard.present.cli import db as db_commands
from paperboard.present.cli import demo as demo_commands
from paperboard.present.cli import digest as digest_commands
from paperboard.present.cli import ingest as ingest_commands
from paperboard.present.cli import library as library_commands
from paperboard.present.cli import map as map_commands
from paperboard.present.cli import mcp as mcp_commands
from paperboard.present.cli import read as read_commands
from paperboard.present.cli import search as search_commands
from paperboard.present.cli import serve as serve_commands
from paperboard.present.cli import thumbnails as thumbnail_commands
from paperboard.present.cli import user as user_commands
from paperboard.present.cli import webhooks as webhook_commands
from paperboard.present.cli import worker as worker_commands
from paperboard.present.cli.common import err_console


def _say(message: str) -> None:
    err_console.print(f"paperboard: error: {message}", highlight=False, markup=False)


def _fail(message: str, status: int) -> NoReturn:
    _say(message)
    raise typer.Exit(status)


class _Group(TyperGroup):
    """Turns errors raised anywhere below (paperboard's own, usage errors, a file that cannot be
    written) into one line ``paperboard: error: ...`` on stderr and an exit status."""

    # typer vendors click privately, so its Context class has no public name to annotate with.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            _fail(str(error), 2)
        except PaperboardError as error:
            _fail(str(error), 1)
        except OSError as error:  # the disk is full, a folder is gone: no traceback for that
            if error.errno == errno.EPIPE:  # stdout closed early (| head): typer exits quietly
                raise
            where = f"{error.filename}: " if error.filename else ""
            _fail(f"{where}{error.strerror or error}", 1)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        # Typer draws usage errors in a five-line box; paperboard says them in one line, as it
        # says every other error, so it runs typer's main without its standalone handling.
        def run() -> Any:
            return super(_Group, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        if not standalone_mode:
            return run()
        try:
            status = run()
        except typer.TyperException as error:  # click's errors, vendored by typer
            if error.__class__.__name__ == "NoArgsIsHelpError":
                sys.exit(error.exit_code)  # the help is already printed
            ctx = getattr(error, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            _say(f"{error.format_message()}{hint}")
            sys.exit(error.exit_code)
        except typer.Abort:
            _say("aborted")
            sys.exit(1)
        sys.exit(status if isinstance(status, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="paperboard",
    help=(
        "A self-hosted Daily Papers: import papers, browse the feed, search, send digests.\n\n"
        "Example: paperboard demo && paperboard list"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_commands.app, name="db")
app.add_typer(ingest_commands.app, name="ingest")
app.add_typer(user_commands.app, name="user")
read_commands.register(app)
demo_commands.register(app)
search_commands.register(app)
map_commands.register(app)
serve_commands.register(app)
thumbnail_commands.register(app)
digest_commands.register(app)
library_commands.register(app)
webhook_commands.register(app)
worker_commands.register(app)
mcp_commands.register(app)
backup_commands.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"paperboard {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A self-hosted Daily Papers."""


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
