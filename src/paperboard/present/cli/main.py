"""The ``paperboard`` command: a thin Typer layer over the library.

Exit statuses: 0 success; 1 the work failed (a source failed, nothing could be read, unknown id);
2 bad usage or configuration.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from paperboard import __version__
from paperboard.core.errors import ConfigError, PaperboardError
from paperboard.present.cli import db as db_commands
from paperboard.present.cli import demo as demo_commands
from paperboard.present.cli import digest as digest_commands
from paperboard.present.cli import ingest as ingest_commands
from paperboard.present.cli import map as map_commands
from paperboard.present.cli import read as read_commands
from paperboard.present.cli import search as search_commands
from paperboard.present.cli import serve as serve_commands
from paperboard.present.cli import user as user_commands
from paperboard.present.cli import worker as worker_commands
from paperboard.present.cli.common import err_console


class _Group(TyperGroup):
    """Turns paperboard's own errors, raised anywhere below, into one line and an exit status."""

    # typer vendors click privately, so its Context class has no public name to annotate with.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            err_console.print(f"paperboard: error: {error}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        except PaperboardError as error:
            err_console.print(f"paperboard: error: {error}", highlight=False, markup=False)
            raise typer.Exit(1) from None


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
digest_commands.register(app)
worker_commands.register(app)


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
