"""``paperboard demo``: load the demo shipped with the package (the seed pages' papers, a slice
of real arXiv metadata and made-up demo activity), or take its activity away again."""

from __future__ import annotations

from contextlib import ExitStack
from importlib import resources
from typing import Annotated

import typer
from rich.markup import escape

from paperboard.present.cli.common import console, import_and_report, open_app

ARXIV_SLICE = "demo_arxiv.jsonl.gz"


def _print_seed_papers(paper_ids: list[str]) -> None:
    with open_app() as app:
        rows = [row for row in (app.papers.get(pid) for pid in paper_ids) if row]
    rows.sort(key=lambda r: (-(r["upvotes"] or 0), str(r["feed_date"] or ""), r["id"]))
    for row in rows:
        count = len(row["authors"]) or row["author_count"] or 0
        when = row["feed_date"].isoformat() if row["feed_date"] else "undated"
        authors = f"{count} author{'s' * (count != 1)}" if count else "authors unknown"
        console.print(
            f"▲{row['upvotes'] or 0:>3}  {escape(row['title'] or '')} "
            f"[dim]({authors}, {when}, {row['id']})[/dim]"
        )


def demo(
    seeds_only: Annotated[
        bool,
        typer.Option(
            "--seeds-only", help="Load only the papers of the two seed pages, and list them."
        ),
    ] = False,
    activity: Annotated[
        bool,
        typer.Option(
            "--activity/--no-activity",
            help="Add the made-up demo members, upvotes and comments (marked on /about).",
        ),
    ] = True,
    remove_activity: Annotated[
        bool,
        typer.Option("--remove-activity", help="Delete the demo members, upvotes and comments."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Load the demo: the papers on the Daily Papers pages we model, about 3,000 real arXiv
    papers of December 2025 (arXiv's CC0 metadata) and demo activity.

    Loading twice changes nothing. Run ``paperboard index`` afterwards for search by meaning.

    Example: paperboard demo && paperboard index
    """
    from paperboard.sources.demo import DemoSource
    from paperboard.sources.snapshot import SnapshotSource
    from paperboard.store import demo_activity

    if remove_activity:
        with open_app() as app:
            removed = demo_activity.remove(app.engine)
        if not quiet:
            console.print(
                f"demo activity removed: {removed.members} members, {removed.upvotes} upvotes, "
                f"{removed.comments} comments"
            )
        return
    source = DemoSource()
    import_and_report(source, dry_run=False, quiet=quiet)
    if seeds_only:
        if not quiet:
            _print_seed_papers(source.paper_ids())
        return
    with ExitStack() as stack:
        path = stack.enter_context(
            resources.as_file(resources.files("paperboard").joinpath("data", ARXIV_SLICE))
        )
        import_and_report(SnapshotSource(path), dry_run=False, quiet=quiet)
    if not activity:
        return
    with open_app() as app:
        added = demo_activity.add(app.engine)
        held = demo_activity.counts(app.engine)
    if not quiet:
        what = "added" if added.members else "already there"
        console.print(
            f"demo activity {what}: {held.members} members, {held.upvotes} upvotes, "
            f"{held.comments} comments (remove with paperboard demo --remove-activity)"
        )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
