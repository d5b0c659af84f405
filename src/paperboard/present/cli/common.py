"""What the CLI commands share: consoles, opening the store, printing JSON, reporting an import."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
import typer
from rich.console import Console

from paperboard.core.config import Settings, load_settings, with_served_url
from paperboard.core.records import Skip
from paperboard.present.container import Container
from paperboard.sources.base import Source
from paperboard.store.importer import ImportReport, run_import

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

SHOW_SKIPS = 20  # skip lines printed on the terminal; all of them go to the log file


def settings() -> Settings:
    """The settings, with the address ``paperboard serve`` last served when no base URL is set."""
    return with_served_url(load_settings())


@contextmanager
def open_app() -> Iterator[Container]:
    """The configured deployment (settings, stores, search index), closed afterwards."""
    with Container.open(settings()) as app:
        yield app


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=option) from None


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


class SkipLog:
    """Prints the first skips to stderr and every one of them to a log file in the home folder."""

    def __init__(self, source: str, quiet: bool) -> None:
        self.quiet = quiet
        self.count = 0
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.path: Path = settings().log_dir / f"ingest-{source}-{stamp}.log"
        self._file: TextIO | None = None

    def __call__(self, skip: Skip) -> None:
        self.count += 1
        line = f"skipped {skip}"
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._file.write(line + "\n")
        if not self.quiet and self.count <= SHOW_SKIPS:
            err_console.print(line, markup=False)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            if self.count > SHOW_SKIPS and not self.quiet:
                err_console.print(
                    f"... {self.count - SHOW_SKIPS:,} more skipped; all are listed in {self.path}",
                    markup=False,
                )


def _update_lexical_index(quiet: bool) -> None:
    """New papers become searchable by words at once; embeddings wait for `paperboard index`.

    Run after every import, even one that stored nothing new: the lexical index catches up from
    its own mark, so papers an earlier, killed ingest committed without indexing are indexed now
    (when nothing is missing this costs one query)."""
    from paperboard.core.errors import PaperboardError
    from paperboard.index.indexer import sync_lexical

    try:
        with open_app() as app:
            count, _ = sync_lexical(app.papers, app.index)
    except PaperboardError as error:
        err_console.print(
            f"paperboard: warning: the search index was not updated: {error}", markup=False
        )
        return
    if not quiet:
        console.print(f"search index: {count:,} papers updated", markup=False)


def import_and_report(
    source: Source, *, dry_run: bool, quiet: bool, batch_size: int | None = None
) -> ImportReport:
    """Run an import with progress and skip reporting, print the summary, exit 1 if it failed."""
    skip_log = SkipLog(source.name, quiet)
    try:
        with open_app() as app:
            report = run_import(
                app.papers,
                source,
                batch_size=batch_size or app.settings.batch_size,
                dry_run=dry_run,
                on_skip=skip_log,
                show_progress=not quiet and err_console.is_terminal,
                console=err_console,
            )
    finally:
        skip_log.close()
    if not quiet or not report.ok:
        console.print(report.summary(), markup=False)
    if not dry_run:
        _update_lexical_index(quiet)
    if report.failure:
        err_console.print(f"paperboard: error: {report.failure}", markup=False)
    elif not report.ok:
        err_console.print(
            f"paperboard: error: nothing could be read from {source.name}", markup=False
        )
    if not report.ok:
        raise typer.Exit(1)
    return report
