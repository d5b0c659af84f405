"""``paperboard ingest``: bring papers in from arXiv (API, OAI-PMH, RSS, snapshot) and Hugging
Face."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperboard.core.errors import InvalidIdError
from paperboard.core.ids import parse_arxiv_id
from paperboard.present.cli.common import (
    console,
    err_console,
    import_and_report,
    open_app,
    parse_day,
    settings,
)
from paperboard.sources.http import PoliteClient

app = typer.Typer(
    help=(
        "Import papers from a source.\n\n"
        "Example: paperboard ingest arxiv --category cs.LG --max 200"
    ),
    no_args_is_help=True,
)

DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Read and count everything, write nothing.")
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar, no summary on success.")
]


@app.command("snapshot")
def snapshot(
    path: Annotated[Path, typer.Argument(help="JSON-lines snapshot file, plain or .gz.")],
    dry_run: DryRun = False,
    quiet: Quiet = False,
) -> None:
    """Import arXiv's bulk metadata snapshot (arxiv-metadata-oai-snapshot.json layout).

    Example: paperboard ingest snapshot arxiv-metadata-oai-snapshot.json.gz
    """
    from paperboard.sources.snapshot import SnapshotSource

    import_and_report(SnapshotSource(path), dry_run=dry_run, quiet=quiet)


@app.command("arxiv")
def arxiv(
    category: Annotated[
        str | None, typer.Option("--category", "-c", help="arXiv category, e.g. cs.LG.")
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="arXiv id or URL; repeat for several."),
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First submission day, YYYY-MM-DD.")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last submission day, YYYY-MM-DD.")
    ] = None,
    max_results: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many papers.")
    ] = None,
    dry_run: DryRun = False,
    quiet: Quiet = False,
) -> None:
    """Import from the arXiv API, by category (and dates) or by id.

    Example: paperboard ingest arxiv --category cs.LG --from 2026-11-01 --to 2026-11-20
    """
    from paperboard.sources.arxiv_api import ArxivApiSource

    if bool(category) == bool(ids):
        raise typer.BadParameter(
            "give either --category or one or more --id", param_hint="--category/--id"
        )
    canonical: list[str] | None = None
    if ids:
        try:
            parsed = [parse_arxiv_id(raw) for raw in ids]
        except InvalidIdError as error:
            raise typer.BadParameter(str(error), param_hint="--id") from None
        canonical = [p.id + (f"v{p.version}" if p.version else "") for p in parsed]
    start, end = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if start and end and start > end:
        raise typer.BadParameter("--from is after --to", param_hint="--from")
    config = settings()
    with PoliteClient.for_url(config, config.arxiv_api_url) as client:
        source = ArxivApiSource(
            client,
            config.arxiv_api_url,
            category=category,
            ids=canonical,
            date_from=start,
            date_to=end,
            max_results=max_results,
        )
        import_and_report(source, dry_run=dry_run, quiet=quiet)


@app.command("oai")
def oai(
    set_spec: Annotated[
        str | None, typer.Option("--set", help="OAI set, e.g. cs or physics:hep-th.")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Records changed on or after YYYY-MM-DD.")
    ] = None,
    date_until: Annotated[
        str | None, typer.Option("--until", help="Records changed on or before YYYY-MM-DD.")
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Forget a saved checkpoint and start over.")
    ] = False,
    dry_run: DryRun = False,
    quiet: Quiet = False,
) -> None:
    """Harvest arXiv's OAI-PMH interface (arXivRaw); an interrupted harvest resumes on rerun.

    Example: paperboard ingest oai --set cs --from 2026-11-01
    """
    from paperboard.sources.oai import OaiSource, harvest_key

    start, until = parse_day(date_from, "--from"), parse_day(date_until, "--until")
    if start and until and start > until:
        raise typer.BadParameter("--from is after --until", param_hint="--from")
    config = settings()
    key = harvest_key(config.arxiv_oai_url, set_spec, start, until)
    with open_app() as app:
        if restart:
            app.papers.clear_harvest(key)
        token = app.papers.harvest_state(key)
    if token and not quiet:
        err_console.print("resuming the interrupted harvest from its last checkpoint", markup=False)
    with PoliteClient.for_url(config, config.arxiv_oai_url) as client:
        source = OaiSource(
            client,
            config.arxiv_oai_url,
            set_spec=set_spec,
            date_from=start,
            date_until=until,
            resume_token=token,
        )
        import_and_report(source, dry_run=dry_run, quiet=quiet)


@app.command("rss")
def rss(
    categories: Annotated[
        list[str] | None,
        typer.Option("--category", "-c", help="arXiv category, e.g. cs.LG; repeat for several."),
    ] = None,
    dry_run: DryRun = False,
    quiet: Quiet = False,
) -> None:
    """Import arXiv's last announcement (new, cross-listed and replaced papers) from its RSS feed.

    Same-day papers with a preview of their metadata; the arXiv API or OAI-PMH completes them.

    Example: paperboard ingest rss --category cs.LG --category cs.CV
    """
    from paperboard.sources.arxiv_rss import ArxivRssSource, check_categories

    try:
        wanted = check_categories(categories or [])
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--category") from None
    config = settings()
    with PoliteClient.for_url(config, config.arxiv_rss_url) as client:
        source = ArxivRssSource(client, config.arxiv_rss_url, wanted)
        import_and_report(source, dry_run=dry_run, quiet=quiet)
    if source.notice and not quiet:
        console.print(source.notice, markup=False)


@app.command("hf")
def hf(
    path: Annotated[
        Path | None, typer.Argument(help="A saved /api/daily_papers JSON file.")
    ] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Fetch that day's list from PAPERBOARD_HF_API_URL.")
    ] = None,
    dry_run: DryRun = False,
    quiet: Quiet = False,
) -> None:
    """Import Hugging Face daily papers (upvotes, submission day, code and project links).

    Example: paperboard ingest hf --date 2026-11-20
    """
    from paperboard.sources.hf_daily import HfDailySource

    if (path is None) == (day is None):
        raise typer.BadParameter("give either a FILE or --date", param_hint="FILE/--date")
    if path is not None:
        import_and_report(HfDailySource.from_file(path), dry_run=dry_run, quiet=quiet)
        return
    when = parse_day(day, "--date")
    assert when is not None
    config = settings()
    with PoliteClient.for_url(config, config.hf_api_url, min_interval=0.0) as client:
        import_and_report(
            HfDailySource.from_api(client, config.hf_api_url, when), dry_run=dry_run, quiet=quiet
        )
