"""``paperboard map``: compute and store the map of the literature, or draw it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperboard.core.errors import PaperboardError
from paperboard.present.cli.common import console, err_console, open_app, print_json


def map_command(
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Also draw the map into this SVG file.")
    ] = None,
    highlight: Annotated[
        str | None, typer.Option("--highlight", help="Highlight a search's results (with --svg).")
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Highlight a feed day's papers, YYYY-MM-DD (with --svg)."),
    ] = None,
    reuse: Annotated[
        bool, typer.Option("--reuse", help="Draw the stored map instead of computing a new one.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the clusters as JSON.")] = False,
) -> None:
    """Compute the 2D map of the literature (embedded papers, labelled clusters) and store it.

    Example: paperboard map --svg map.svg --highlight "gaussian splatting"
    """
    if svg is not None and not svg.resolve().parent.is_dir():
        # Said before the map is computed, which takes a while.
        raise typer.BadParameter(f"no folder {svg.parent} to write into", param_hint="--svg")

    from paperboard.index.maps import build_map, load_map
    from paperboard.present.map_svg import render_svg
    from paperboard.rank import periods
    from paperboard.rank.search import search

    with open_app() as app:
        store, index = app.papers, app.index
        if reuse:
            literature_map = load_map(index)
        else:
            literature_map = build_map(
                store, index, progress=lambda message: err_console.print(message, markup=False)
            )
        marked: list[str] = []
        if highlight:
            marked += [hit.id for hit in search(index, store, highlight, k=200).hits]
        if day:
            period = periods.day(day)
            marked += [row["id"] for row in store.list_papers(period.start, period.end)]
    if svg is not None:
        try:
            svg.write_text(render_svg(literature_map, highlighted=marked))
        except OSError as error:  # the map itself is stored: `paperboard map --reuse` draws it
            raise PaperboardError(
                f"cannot write {svg}: {error.strerror}; the map is stored, "
                "draw it with paperboard map --reuse --svg FILE"
            ) from None
    if as_json:
        print_json(
            [
                {"id": c.id, "label": c.label, "terms": c.terms, "size": c.size, "x": c.x, "y": c.y}
                for c in literature_map.clusters
            ]
        )
        return
    console.print(
        f"map: {len(literature_map.points):,} papers in {len(literature_map.clusters)} regions"
        + (f"; drawn in {svg}" if svg else ""),
        markup=False,
    )
    for cluster in sorted(literature_map.clusters, key=lambda c: -c.size)[:12]:
        console.print(f"  {cluster.size:>6,}  {cluster.label}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
