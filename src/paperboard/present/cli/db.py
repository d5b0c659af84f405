"""``paperboard db``: schema migrations."""

from __future__ import annotations

import typer

from paperboard.present.cli.common import console, settings
from paperboard.store.database import current_revision, head_revision, open_engine, upgrade

app = typer.Typer(
    help="Manage the database schema.\n\nExample: paperboard db upgrade", no_args_is_help=True
)


@app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database schema up to date (commands that need it do this on their own).

    Example: paperboard db upgrade
    """
    engine = open_engine(settings().db_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"database already at revision {after}")
    else:
        console.print(f"database upgraded from {before or 'empty'} to {after}")


@app.command("current")
def current_command() -> None:
    """Print the database's schema revision and the newest one this version knows.

    Example: paperboard db current
    """
    engine = open_engine(settings().db_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else "behind: run paperboard db upgrade"
    console.print(f"revision {current or 'none'} (newest {head}; {state})")
