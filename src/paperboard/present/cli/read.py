"""``paperboard stats``, ``show`` and ``list``: read the store."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from paperboard.core.errors import InvalidIdError, NotFoundError
from paperboard.core.ids import canonical_id
from paperboard.present.cli.common import console, open_app, print_json
from paperboard.present.serialize import json_ready, paper_dict
from paperboard.rank import periods

MAX_LIST = 100_000
"""The most papers ``list`` prints (a month of all of arXiv is about 25,000)."""

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def stats(as_json: Json = False) -> None:
    """Count papers: in all, by source, by primary category, and the dates covered.

    Example: paperboard stats --json
    """
    with open_app() as app:
        data = app.papers.stats()
        runs = app.papers.recent_runs(5)
    if as_json:
        print_json(json_ready({**data, "recent_imports": runs}))
        return
    console.print(f"[bold]{data['papers']:,}[/bold] papers")
    published, feed = data["published"], data["feed_days"]
    if published["first"]:
        console.print(
            f"published {published['first']:%Y-%m-%d} to {published['last']:%Y-%m-%d}; "
            f"feed days {feed['first']} to {feed['last']}"
        )
    if data["by_source"]:
        console.print("by source: " + ", ".join(f"{k} {v:,}" for k, v in data["by_source"].items()))
    top = list(data["by_primary_category"].items())
    if top:
        shown = ", ".join(f"{k} {v:,}" for k, v in top[:12])
        more = f" and {len(top) - 12} more" if len(top) > 12 else ""
        console.print(f"by primary category: {shown}{more}")


def show(
    paper_id: Annotated[
        str, typer.Argument(metavar="ID", help="arXiv id or URL, or a paperboard id.")
    ],
    as_json: Json = False,
) -> None:
    """Print one paper with all its fields.

    Example: paperboard show 2503.11731 --json
    """
    try:
        wanted = canonical_id(paper_id)
    except InvalidIdError as error:
        raise NotFoundError(str(error)) from None
    with open_app() as app:
        row = app.papers.get(wanted)
    if row is None:
        raise NotFoundError(f"no paper {wanted} in the store")
    paper = paper_dict(row)
    if as_json:
        print_json(paper)
        return
    _print_paper(paper)


def _print_paper(paper: dict[str, Any]) -> None:
    console.print(f"[bold]{escape(paper['title'] or '(untitled)')}[/bold]")
    authors = paper["authors"] or []
    if authors:
        console.print(escape(", ".join(authors)))
    elif paper["author_count"]:
        console.print(f"{paper['author_count']} authors")
    facts = [paper["id"] + (f"v{paper['version']}" if paper["version"] else "")]
    if paper["categories"]:
        facts.append(" ".join(paper["categories"]))
    if paper["published_at"]:
        facts.append("published " + paper["published_at"][:10])
    upvotes = paper.get("total_upvotes", paper["upvotes"])
    if upvotes is not None:
        facts.append(f"▲ {upvotes}")
    console.print(" · ".join(escape(f) for f in facts))
    if paper["abstract"]:
        console.print()
        console.print(escape(paper["abstract"]))
    console.print()
    for label, key in (("comments", "comments"), ("journal", "journal_ref"), ("doi", "doi")):
        if paper[key]:
            console.print(f"{label}: {escape(paper[key])}")
    for url in paper["code_urls"]:
        console.print(f"code: {url}")
    for url in paper["project_urls"]:
        console.print(f"project: {url}")
    if paper["arxiv_url"]:
        console.print(f"arXiv: {paper['arxiv_url']}")
    console.print(f"sources: {', '.join(paper['sources'])}")


def list_papers(
    day: Annotated[str | None, typer.Option("--date", help="A feed day, YYYY-MM-DD.")] = None,
    week: Annotated[str | None, typer.Option("--week", help="An ISO week, YYYY-Www.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="A month, YYYY-MM.")] = None,
    category: Annotated[
        str | None, typer.Option("--category", "-c", help="Category (cs.LG) or archive (cs).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=MAX_LIST, help="At most this many.")
    ] = 50,
    as_json: Json = False,
) -> None:
    """List a day's, week's or month's papers, most upvoted first (default: the latest day).

    Example: paperboard list --week 2026-W47 --category cs.LG
    """
    chosen = [
        (kind, value) for kind, value in (("date", day), ("week", week), ("month", month)) if value
    ]
    if len(chosen) > 1:
        raise typer.BadParameter("give at most one of --date, --week, --month")
    with open_app() as app:
        if chosen:
            kind, value = chosen[0]
            try:
                period = getattr(periods, "day" if kind == "date" else kind)(value)
            except periods.PeriodError as error:
                raise typer.BadParameter(str(error), param_hint=f"--{kind}") from None
        else:
            latest = app.papers.latest_feed_date(category)
            period = periods.day(latest.isoformat()) if latest else None
        rows = (
            app.papers.list_papers(period.start, period.end, category=category, limit=limit)
            if period
            else []
        )
    if as_json:
        print_json([paper_dict(row) for row in rows])
        return
    if period is None:
        console.print("no papers yet: try paperboard demo")
        return
    heading = f"{period.label}" + (f" · {category}" if category else "")
    if not rows:
        console.print(f"{heading}: no papers")
        return
    console.print(f"[bold]{escape(heading)}[/bold]: {len(rows)} paper{'s' * (len(rows) != 1)}")
    for row in rows:
        count = len(row["authors"]) or row["author_count"] or 0
        code = " [code]" if row["code_urls"] else ""
        upvotes = row.get("total_upvotes", row["upvotes"]) or 0
        console.print(
            f"▲{upvotes:>4}  {row['id']:<18} {escape(row['title'] or '')}"
            f" [dim]({count} author{'s' * (count != 1)}, {row['feed_date']}){escape(code)}[/dim]"
        )


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("show")(show)
    app.command("list")(list_papers)
