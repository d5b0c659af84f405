"""``paperboard thumbnails``: render the first page of arXiv papers' PDFs for the cards."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperboard.present.cli.common import console, err_console, open_app, parse_day, settings


def thumbnails(
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Make at most this many.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only papers on the feed on or after YYYY-MM-DD."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the papers that would get one; fetch nothing.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar, no summary on success.")
    ] = False,
) -> None:
    """Fetch arXiv papers' PDFs and keep their first page as a thumbnail (PAPERBOARD_THUMBNAILS=1).

    Newest papers first; papers that have a thumbnail already are skipped, so a rerun goes on
    where the last one stopped. Exit status 1 when some paper's PDF could not be had, or the
    network failed.

    Example: paperboard thumbnails --since 2026-11-01 --limit 100
    """
    from itertools import islice

    from paperboard.core.errors import SourceError
    from paperboard.index.thumbnails import make_thumbnail, missing_thumbnails
    from paperboard.sources.arxiv_pdf import PdfError
    from paperboard.sources.http import PoliteClient

    start = parse_day(since, "--since")
    config = settings()
    if not config.thumbnails:
        console.print(
            "thumbnails are off: set PAPERBOARD_THUMBNAILS=1 to make and show them; nothing done",
            markup=False,
        )
        return
    with open_app() as app:
        wanted = list(islice(missing_thumbnails(app.papers, config, since=start), limit))
    if dry_run:
        for paper_id in wanted:
            console.print(paper_id, markup=False)
        if not quiet:
            console.print(f"dry run: {len(wanted):,} papers would get a thumbnail", markup=False)
        return
    made: list[str] = []
    failed: list[str] = []
    stopped: str | None = None
    with (
        PoliteClient.for_url(config, config.arxiv_pdf_url) as client,
        Progress(
            TextColumn("[bold]thumbnails"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=quiet or not err_console.is_terminal,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("thumbnails", total=len(wanted))
        for paper_id in wanted:
            try:
                make_thumbnail(client, config, paper_id)
            except PdfError as error:
                failed.append(paper_id)
                progress.console.print(f"paperboard: error: {error}", markup=False)
            except SourceError as error:  # the network, not this paper: the rest would fail too
                stopped = str(error)
                break
            else:
                made.append(paper_id)
            progress.advance(task)
    if not quiet or failed or stopped:
        left = len(wanted) - len(made) - len(failed)
        summary = f"thumbnails: {len(made):,} made, {len(failed):,} failed"
        console.print(summary + (f", {left:,} left for the next run" if left else ""), markup=False)
    if stopped:
        err_console.print(f"paperboard: error: {stopped}", markup=False)
    if failed or stopped:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("thumbnails")(thumbnails)
