"""Drive any source into the store: batch its records, save its checkpoints with them, count what
happened and report what was skipped. One function, used by the CLI, the worker and the site.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperboard.core.errors import PaperboardError, SourceError
from paperboard.sources.base import Checkpoint, PaperRecord, Skip, Source
from paperboard.sources.normalize import prepare
from paperboard.store.papers import PaperStore, WriteCounts

KEEP_SKIPS = 100  # the report keeps this many skip details; the count is always exact


@dataclass
class ImportReport:
    """The outcome of one import."""

    source: str
    read: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    skipped: int = 0
    skips: list[Skip] = field(default_factory=list)
    failure: str | None = None
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """False when the source failed or not one record could be read from input that had some."""
        return self.failure is None and not (self.read == 0 and self.skipped > 0)

    def summary(self) -> str:
        c = self.counts
        rate = f", {self.read / self.seconds:,.0f}/s" if self.seconds > 0 and self.read else ""
        prefix = "dry run, nothing written: " if self.dry_run else ""
        return (
            f"{self.source}: {prefix}{self.read:,} read: {c.new:,} new, {c.updated:,} updated, "
            f"{c.unchanged:,} unchanged, {self.skipped:,} skipped ({self.seconds:.1f}s{rate})"
        )


def run_import(
    store: PaperStore,
    source: Source,
    *,
    batch_size: int = 2000,
    dry_run: bool = False,
    on_skip: Callable[[Skip], None] | None = None,
    show_progress: bool = False,
    console: Console | None = None,
) -> ImportReport:
    """Import everything ``source`` yields. Never raises for bad input or a failed source: the
    report says what happened. Records read before a failure are kept.
    """
    report = ImportReport(source=source.name, dry_run=dry_run)
    started = time.perf_counter()
    run_id = None if dry_run else store.start_run(source.name, getattr(source, "target", None))
    batch: list[PaperRecord] = []

    def flush(checkpoint: Checkpoint | None = None) -> None:
        if batch or checkpoint is not None:
            report.counts.add(store.write(batch, checkpoint, dry_run=dry_run))
            batch.clear()

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[papers]:,} papers"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
        transient=True,
    )
    status = "ok"
    try:
        with progress:
            task = progress.add_task(source.name, total=None, papers=0)
            for item in source.records():
                if isinstance(item, PaperRecord):
                    batch.append(prepare(item))
                    report.read += 1
                    if len(batch) >= batch_size:
                        flush()
                        done, total = source.progress()
                        progress.update(task, completed=done, total=total, papers=report.read)
                elif isinstance(item, Skip):
                    report.skipped += 1
                    if len(report.skips) < KEEP_SKIPS:
                        report.skips.append(item)
                    if on_skip is not None:
                        on_skip(item)
                else:
                    flush(item)
                    done, total = source.progress()
                    progress.update(task, completed=done, total=total, papers=report.read)
            flush()
    except SourceError as error:
        flush()  # keep every good record read before the failure
        report.failure = str(error)
        status = "failed"
    except PaperboardError as error:
        report.failure = str(error)
        status = "failed"
    except BaseException:
        status = "interrupted"
        raise
    finally:
        report.seconds = time.perf_counter() - started
        if run_id is not None:
            if status == "ok" and not report.ok:
                status = "empty"
            store.finish_run(run_id, status, report.counts, report.skipped, report.failure)
    return report
