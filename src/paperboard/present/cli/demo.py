"""``paperboard demo``: load the demo papers shipped with the package."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from paperboard.present.cli.common import console, import_and_report, open_app


def demo(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Load the demo papers (those on the Daily Papers pages we model) and print them.

    Loading twice changes nothing.

    Example: paperboard demo
    """
    from paperboard.sources.demo import DemoSource

    source = DemoSource()
    import_and_report(source, dry_run=False, quiet=quiet)
    if quiet:
        return
    with open_app() as app:
        rows = [row for row in (app.papers.get(pid) for pid in source.paper_ids()) if row]
    rows.sort(key=lambda r: (-(r["upvotes"] or 0), str(r["feed_date"] or ""), r["id"]))
    for row in rows:
        count = len(row["authors"]) or row["author_count"] or 0
        when = row["feed_date"].isoformat() if row["feed_date"] else "undated"
        authors = f"{count} author{'s' * (count != 1)}" if count else "authors unknown"
        console.print(
            f"▲{row['upvotes'] or 0:>3}  {escape(row['title'] or '')} "
            f"[dim]({authors}, {when}, {row['id']})[/dim]"
        )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
