"""Drive any source into the store: batch its records, save its checkpoints with them, count what
happened and report what was skipped. One function, used by the CLI, the worker and the site.

A source that can be split (``shard(index, count)``, as the bulk snapshot can) is imported by one
process per core, each reading its own share of the input and writing its own batches: parsing
then runs on every core while another process holds the database's write lock, and nothing has to
be copied between processes. Results merge into one report.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from paperboard.core.errors import PaperboardError, SourceError
from paperboard.core.records import Checkpoint, PaperRecord, Skip
from paperboard.sources.base import Source
from paperboard.sources.normalize import prepare
from paperboard.store.papers import PaperStore, WriteCounts

KEEP_SKIPS = 100  # the report keeps this many skip details; the count is always exact
MAX_PROCESSES = 4  # beyond this, processes mostly wait for SQLite's single write lock


@dataclass
class ImportReport:
    """The outcome of one import."""

    source: str
    read: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    skipped: int = 0
    bad_input: int = 0
    skips: list[Skip] = field(default_factory=list)
    failure: str | None = None
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """False when the source failed or not one record could be read from input that had some."""
        return self.failure is None and not (self.read == 0 and self.bad_input > 0)

    def add_skip(self, skip: Skip) -> None:
        self.skipped += 1
        self.bad_input += not skip.expected
        if len(self.skips) < KEEP_SKIPS:
            self.skips.append(skip)

    def summary(self) -> str:
        c = self.counts
        rate = f", {self.read / self.seconds:,.0f}/s" if self.seconds > 0 and self.read else ""
        prefix = "dry run, nothing written: " if self.dry_run else ""
        return (
            f"{self.source}: {prefix}{self.read:,} read: {c.new:,} new, {c.updated:,} updated, "
            f"{c.unchanged:,} unchanged, {self.skipped:,} skipped ({self.seconds:.1f}s{rate})"
        )


def process_count(source: Source) -> int:
    """How many processes import ``source``: one per core for splittable sources, else one."""
    if not hasattr(source, "shard"):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


def run_import(
    store: PaperStore,
    source: Source,
    *,
    batch_size: int = 2000,
    dry_run: bool = False,
    on_skip: Callable[[Skip], None] | None = None,
    show_progress: bool = False,
    console: Console | None = None,
    processes: int | None = None,
) -> ImportReport:
    """Import everything ``source`` yields. Never raises for bad input or a failed source: the
    report says what happened. Records read before a failure are kept.
    """
    report = ImportReport(source=source.name, dry_run=dry_run)
    started = time.perf_counter()
    run_id = None if dry_run else store.start_run(source.name, getattr(source, "target", None))
    count = processes or process_count(source)
    parts: list[Source] = [source.shard(i, count) for i in range(count)] if count > 1 else [source]  # type: ignore[attr-defined]
    helpers = [_Helper(store, part, batch_size, dry_run) for part in parts[1:]]

    def take_skip(skip: Skip) -> None:
        report.add_skip(skip)
        if on_skip is not None:
            on_skip(skip)

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
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
            main = parts[0]

            def tick() -> None:
                for helper in helpers:
                    helper.drain(report, take_skip)
                done, total = main.progress()
                papers = report.read + sum(h.read for h in helpers)
                progress.update(task, completed=done, total=total, papers=papers)

            _import_part(store, main, report, batch_size, dry_run, take_skip, tick)
    except BaseException:
        status = "interrupted"
        for helper in helpers:
            helper.stop()
        raise
    finally:
        for helper in helpers:
            helper.finish(report, take_skip)
        report.seconds = time.perf_counter() - started
        if run_id is not None:
            if status == "ok":
                status = "failed" if report.failure else ("empty" if not report.ok else "ok")
            store.finish_run(run_id, status, report.counts, report.skipped, report.failure)
    return report


def _import_part(
    store: PaperStore,
    source: Source,
    report: ImportReport,
    batch_size: int,
    dry_run: bool,
    on_skip: Callable[[Skip], None],
    tick: Callable[[], None],
) -> None:
    """The import loop of one process; failures of the source end up in ``report.failure``."""
    batch: list[PaperRecord] = []

    def flush(checkpoint: Checkpoint | None = None) -> None:
        if batch or checkpoint is not None:
            report.counts.add(store.write(batch, checkpoint, dry_run=dry_run))
            batch.clear()
            gc.collect(1)
            tick()

    # Records and rows hold no reference cycles and die with their batch; left on, the cyclic
    # collector keeps rescanning every live record (measured: a third of the import's time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for item in source.records():
            if isinstance(item, PaperRecord):
                batch.append(prepare(item))
                report.read += 1
                if len(batch) >= batch_size:
                    flush()
            elif isinstance(item, Skip):
                on_skip(item)
            else:
                flush(item)
        flush()
    except SourceError as error:
        flush()  # keep every good record read before the failure
        report.failure = str(error)
    except PaperboardError as error:
        report.failure = str(error)
    finally:
        if gc_was_enabled:
            gc.enable()


class _Helper:
    """Another process importing one share of a source; it reports skips and totals by pipe."""

    def __init__(self, store: PaperStore, part: Source, batch_size: int, dry_run: bool) -> None:
        context = get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self.read = 0
        self._done = False
        self._process = context.Process(
            target=_helper_main,
            args=(store, part, batch_size, dry_run, send, os.getpid()),
            daemon=True,
        )
        self._process.start()
        send.close()

    def drain(
        self, report: ImportReport, on_skip: Callable[[Skip], None], wait: bool = False
    ) -> None:
        """Handle what the process has sent; with ``wait``, until it is done or gone."""
        while not self._done:
            if not self._receive.poll(1 if wait else 0):
                if wait and self._process.is_alive():
                    continue
                return
            try:
                kind, payload = self._receive.recv()
            except EOFError:
                return
            if kind == "skip":
                on_skip(Skip(*payload))
            elif kind == "read":
                self.read = payload
            else:
                self._merge(report, payload)
                self._done = True

    def _merge(self, report: ImportReport, totals: dict[str, Any]) -> None:
        report.read += totals["read"]
        report.counts.add(WriteCounts(**totals["counts"]))
        if totals["failure"] and not report.failure:
            report.failure = totals["failure"]

    def finish(self, report: ImportReport, on_skip: Callable[[Skip], None]) -> None:
        self.drain(report, on_skip, wait=True)
        self._process.join(timeout=10)
        if not self._done and not report.failure:
            report.failure = f"an import process died (exit code {self._process.exitcode})"
        self._receive.close()

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._done = True


def _helper_main(
    store: PaperStore, part: Source, batch_size: int, dry_run: bool, send: Connection, parent: int
) -> None:
    store.engine.dispose(close=False)  # connections inherited from the parent are not ours to use
    report = ImportReport(source=part.name, dry_run=dry_run)

    def on_skip(skip: Skip) -> None:
        send.send(("skip", (skip.where, skip.reason, skip.expected)))

    def tick() -> None:
        if os.getppid() != parent:  # the importer is gone: stop after this committed batch
            os._exit(1)
        send.send(("read", report.read))

    try:
        _import_part(store, part, report, batch_size, dry_run, on_skip, tick)
    except BaseException as error:
        report.failure = report.failure or f"{type(error).__name__}: {error}"
    counts = report.counts
    send.send(
        (
            "done",
            {
                "read": report.read,
                "counts": {
                    "new": counts.new,
                    "updated": counts.updated,
                    "unchanged": counts.unchanged,
                },
                "failure": report.failure,
            },
        )
    )
    send.close()
