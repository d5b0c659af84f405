"""``paperboard backup`` and ``paperboard restore``: the whole database to one file and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperboard.present.cli.common import console, settings
from paperboard.store.backup import backup, restore


def backup_command(
    path: Annotated[
        Path, typer.Argument(help="The backup file to write (an older backup there is replaced).")
    ],
) -> None:
    """Copy the whole database (papers, members, votes, subscribers ...) into one file.

    A consistent snapshot, safe while the site and the worker keep writing. SQLite gives a
    database file, PostgreSQL a pg_dump archive (pg_dump must be installed).

    Example: paperboard backup /var/backups/paperboard-$(date +%F).db
    """
    console.print(backup(settings().db_url, path).summary(), markup=False)


def restore_command(
    path: Annotated[Path, typer.Argument(help="A file written by paperboard backup.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a database that already holds papers or members."),
    ] = False,
) -> None:
    """Replace the database with a backup, then bring its schema up to date.

    Stop the site and the worker first. The search indexes are rebuilt from the restored papers
    with paperboard index --rebuild.

    Example: paperboard restore /var/backups/paperboard-2026-11-30.db
    """
    report = restore(path, settings().db_url, force=force)
    console.print(f"{report.summary()}; now run paperboard index --rebuild", markup=False)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
