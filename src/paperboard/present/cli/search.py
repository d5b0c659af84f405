"""``paperboard index``, ``search``, ``similar`` and ``recommend``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperboard.core.errors import InvalidIdError, NotFoundError
from paperboard.core.ids import canonical_id
from paperboard.present.cli.common import (
    console,
    err_console,
    open_app,
    parse_day,
    print_json,
    settings,
)
from paperboard.present.serialize import paper_dict

if TYPE_CHECKING:
    from paperboard.index.indexer import SearchIndex
    from paperboard.store.papers import PaperStore

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Count = Annotated[int, typer.Option("-k", "--limit", min=1, max=1000, help="How many results.")]
Categories = Annotated[
    list[str] | None, typer.Option("--category", "-c", help="Category or archive; repeatable.")
]


@contextmanager
def _index() -> Iterator[tuple[PaperStore, SearchIndex]]:
    with open_app() as app:
        yield app.papers, app.index


def _terminal(html_text: str) -> str:
    """Highlight markup for the terminal: <mark> becomes bold, the rest is plain text."""
    parts = re.split(r"(<mark>.*?</mark>)", html_text)
    out = []
    for part in parts:
        if part.startswith("<mark>"):
            out.append(f"[bold yellow]{escape(unescape(part[6:-7]))}[/bold yellow]")
        else:
            out.append(escape(unescape(part)))
    return "".join(out)


def index(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Start the indexes from scratch.")
    ] = False,
    lexical_only: Annotated[
        bool, typer.Option("--lexical-only", help="Skip embeddings (fast).")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
) -> None:
    """Bring the search indexes up to date: lexical index, embeddings, facets, neighbour index.

    Incremental and resumable: a killed run redoes nothing already stored.

    Example: paperboard index
    """
    import time

    from paperboard.index.indexer import (
        IndexReport,
        build_neighbours,
        index_lock,
        sync_facets,
        sync_lexical,
        sync_vectors,
    )
    from paperboard.present.coordination import claimer

    started = time.perf_counter()
    report = IndexReport()
    with open_app() as app, index_lock(app.index, wait=True):
        store, search_index, settings = app.papers, app.index, app.settings
        report.lexical, report.deleted = sync_lexical(store, search_index, rebuild=rebuild)
        if not lexical_only:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                disable=quiet or not err_console.is_terminal,
                transient=True,
            ) as progress:
                task = progress.add_task("embedding", total=None)
                claim = claimer(app.leases, settings)
                report.embedded = sync_vectors(
                    store,
                    search_index,
                    rebuild=rebuild,
                    claim=claim,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
                if settings.facets:
                    progress.update(task, description="facets", completed=0, total=None)
                    report.faceted = sync_facets(
                        store,
                        search_index,
                        rebuild=rebuild,
                        claim=claim,
                        progress=lambda done, total: progress.update(
                            task, completed=done, total=total
                        ),
                    )
            report.vectors = build_neighbours(search_index)
    report.seconds = time.perf_counter() - started
    if not quiet:
        console.print(report.summary())


def search_command(
    query: Annotated[
        str,
        typer.Argument(help='Words, "a phrase", au:name, ti:word, cat:cs.LG, or an arXiv id/URL.'),
    ],
    mode: Annotated[str, typer.Option("--mode", "-m", help="hybrid, lexical or dense.")] = "hybrid",
    category: Categories = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Published on or after YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Published on or before YYYY-MM-DD.")
    ] = None,
    has_code: Annotated[
        bool, typer.Option("--has-code", help="Only papers with a code link.")
    ] = False,
    k: Count = 10,
    as_json: Json = False,
) -> None:
    """Search papers by words and by meaning (hybrid by default).

    Example: paperboard search "latent space geometry" --category cs.LG -k 5
    """
    from paperboard.index.lexical import Filters
    from paperboard.rank.search import search

    filters = Filters(
        categories=tuple(category or ()),
        since=parse_day(since, "--since"),
        until=parse_day(until, "--until"),
        has_code=True if has_code else None,
    )
    with _index() as (store, search_index):
        result = search(search_index, store, query, mode=mode, k=k, filters=filters)
    if as_json:
        print_json(
            {
                "query": result.query,
                "mode": result.mode,
                "paper_id": result.paper_id,
                "milliseconds": round(result.milliseconds, 2),
                "results": [
                    {
                        **paper_dict(hit.paper),
                        "score": hit.score,
                        "title_html": hit.title_html,
                        "snippet_html": hit.snippet_html,
                        "lexical_rank": hit.lexical_rank,
                        "dense_rank": hit.dense_rank,
                    }
                    for hit in result.hits
                ],
            }
        )
        return
    if result.paper_id and not result.hits:
        raise NotFoundError(f"no paper {result.paper_id} in the store")
    if not result.hits:
        console.print(f"no results for {escape(query)!s}")
        return
    for rank, hit in enumerate(result.hits, start=1):
        console.print(f"[bold]{rank:>2}.[/bold] {_terminal(hit.title_html)} [dim]({hit.id})[/dim]")
        console.print(f"    {_terminal(hit.snippet_html)}")
    console.print(
        f"[dim]{len(result.hits)} results, {result.mode}, {result.milliseconds:.0f} ms[/dim]"
    )


def similar_command(
    paper_id: Annotated[
        str, typer.Argument(metavar="ID", help="arXiv id or URL, or a paperboard id.")
    ],
    k: Count = 10,
    facet: Annotated[
        str | None,
        typer.Option(
            "--facet",
            help="Similar in one facet only: background, method or result.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Papers most like one paper (embeddings plus shared terms), or like it in one facet.

    Example: paperboard similar 2503.11731 -k 5 --facet method
    """
    from paperboard.index.facets import FACETS
    from paperboard.rank.similar import similar

    if facet is not None and facet not in FACETS:  # a usage error, like --mode's (status 2)
        raise typer.BadParameter(
            f"unknown facet {facet!r}: use one of {', '.join(FACETS)}", param_hint="--facet"
        )
    try:
        wanted = canonical_id(paper_id)
    except InvalidIdError as error:
        raise NotFoundError(str(error)) from None
    with _index() as (store, search_index):
        hits = similar(search_index, store, wanted, k=k, facet=facet)
    if as_json:
        print_json(
            [
                {
                    **paper_dict(h.paper),
                    "score": h.score,
                    "similarity": h.similarity,
                    **({"facet_similarity": h.facet_similarity} if facet else {}),
                }
                for h in hits
            ]
        )
        return
    if facet is not None and not hits:
        console.print(f"no papers to show: {wanted} has no {facet} sentence, or no facets yet")
    for rank, hit in enumerate(hits, start=1):
        cosine = f"{hit.similarity:.2f}" if hit.similarity is not None else "–"
        if hit.facet_similarity is not None:
            cosine += f", {facet} {hit.facet_similarity:.2f}"
        console.print(
            f"{rank:>2}. {escape(hit.paper['title'] or '')} [dim]({hit.id}, cosine {cosine})[/dim]"
        )


def recommend_command(
    upvoted: Annotated[
        list[str] | None,
        typer.Option(
            "--upvoted", "-u", help="A paper the reader upvoted; repeat, most recent first."
        ),
    ] = None,
    category: Categories = None,
    keyword: Annotated[
        list[str] | None, typer.Option("--keyword", help="A keyword to follow; repeatable.")
    ] = None,
    k: Count = 10,
    as_json: Json = False,
) -> None:
    """Papers picked for a reader from their upvotes (or chosen categories and keywords).

    Example: paperboard recommend --upvoted 2503.11731 --upvoted 2504.00001
    """
    from paperboard.rank.recommend import recommend

    try:
        seeds = [canonical_id(u) for u in upvoted or ()]
    except InvalidIdError as error:
        raise typer.BadParameter(str(error), param_hint="--upvoted") from None
    with _index() as (store, search_index):
        picks = recommend(
            search_index,
            store,
            upvoted=seeds,
            categories=category or (),
            keywords=keyword or (),
            k=k,
        )
    if as_json:
        print_json(
            [
                {**paper_dict(p.paper), "score": p.score, "reason": p.reason, "because": p.because}
                for p in picks
            ]
        )
        return
    if not picks:
        console.print("nothing to recommend yet: upvote papers or choose categories or keywords")
    for rank, pick in enumerate(picks, start=1):
        console.print(f"{rank:>2}. {escape(pick.paper['title'] or '')} [dim]({pick.id})[/dim]")
        console.print(f"    [italic]{escape(pick.reason)}[/italic]")


def eval_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Judged set in BEIR layout: queries.jsonl, qrels/test.tsv, corpus.jsonl."
        ),
    ],
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            "-m",
            help="lexical, dense or hybrid (with --similar also background, method or result, "
            "the facet rankings); repeatable (default: the first three).",
        ),
    ] = None,
    similar: Annotated[
        bool,
        typer.Option(
            "--similar", help="Rank queries naming a `paper` by the similar-papers function."
        ),
    ] = False,
    recommend: Annotated[
        bool,
        typer.Option(
            "--recommend",
            help='Score "for you" on readers instead (DIR: corpus.jsonl.gz, users.jsonl, '
            "qrels/test.tsv), with baselines.",
        ),
    ] = False,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus", help="A snapshot file (JSON lines) to use instead of corpus.jsonl."
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Keep the evaluation's index here for the next run."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Measure search quality: nDCG@10, nDCG@20, recall@100 and MRR@10 for each mode.

    Example: paperboard eval bench/devset --corpus ../shared/data/arxiv-2025.jsonl.gz
    """
    from paperboard.index.facets import FACETS
    from paperboard.rank.evaluate import MODES, evaluate

    if recommend:
        _eval_recommend(folder, home, as_json)
        return

    modes = mode or list(MODES)
    allowed = (*MODES, *FACETS) if similar else MODES
    unknown = [m for m in modes if m not in allowed]
    if unknown:
        raise typer.BadParameter(f"unknown mode {unknown[0]!r}", param_hint="--mode")
    scores = evaluate(
        folder,
        settings(),
        modes=modes,
        similar=similar,
        corpus=corpus,
        home=home,
        progress=lambda message: err_console.print(message, markup=False),
    )
    if as_json:
        print_json({m: {k: round(v, 4) for k, v in scores[m].items()} for m in modes})
        return
    metrics = ["ndcg@10", "ndcg@20", "recall@100", "mrr@10"]
    console.print(f"{'mode':<10}" + "".join(f"{m:>12}" for m in metrics))
    for m in modes:
        console.print(f"{m:<10}" + "".join(f"{scores[m][k]:>12.4f}" for k in metrics))


def _eval_recommend(folder: Path, home: Path | None, as_json: bool) -> None:
    from paperboard.rank.evaluate_recommend import evaluate_recommend

    scores = evaluate_recommend(
        folder,
        settings(),
        home=home,
        progress=lambda message: err_console.print(message, markup=False),
    )
    if as_json:
        print_json({name: {k: round(v, 4) for k, v in row.items()} for name, row in scores.items()})
        return
    metrics = ["ndcg@20", "recall@20", "recall@100", "mrr"]
    console.print(f"{'ranking':<12}" + "".join(f"{m:>12}" for m in metrics))
    for name, row in scores.items():
        console.print(f"{name:<12}" + "".join(f"{row[k]:>12.4f}" for k in metrics))


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search_command)
    app.command("similar")(similar_command)
    app.command("recommend")(recommend_command)
    app.command("eval")(eval_command)
