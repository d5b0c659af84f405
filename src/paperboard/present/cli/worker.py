"""``paperboard worker``: the scheduler (ingestion, indexing, digests at configured times)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from paperboard.present.cli.common import console, err_console, settings


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due now, then exit (for cron).")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Pretend it is this time (ISO 8601, for trying a schedule)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve Prometheus metrics at http://HOST:PORT/metrics "
            "(default: PAPERBOARD_WORKER_METRICS_PORT; unset, none).",
        ),
    ] = None,
) -> None:
    """Run ingestion, indexing and digests on schedule (PAPERBOARD_INGEST_SOURCES,
    PAPERBOARD_DIGEST_TIME, PAPERBOARD_TIMEZONE). Each run is logged to HOME/logs/worker.log.

    Example: paperboard worker --once --now 2026-11-23T07:30:00+01:00
    """
    from paperboard.present.log_format import configure_logging
    from paperboard.present.metrics import serve_worker_metrics
    from paperboard.present.worker import JobResult, describe, run_worker

    config = settings()
    configure_logging(config)
    port = metrics_port or config.worker_metrics_port
    if port is not None:
        serve_worker_metrics(port)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    if now is not None:
        try:
            fixed = datetime.fromisoformat(now)
        except ValueError:
            raise typer.BadParameter(
                f"expected an ISO 8601 time, got {now!r}", param_hint="--now"
            ) from None
        fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=UTC)
        clock = lambda: fixed  # noqa: E731

    def show(result: JobResult) -> None:
        (console if result.ok else err_console).print(
            f"{'ok' if result.ok else 'FAILED'}  {result.job}: {result.summary}", markup=False
        )

    if not once:
        serving = f"; metrics on port {port}" if port is not None else ""
        console.print(
            f"paperboard worker: {describe(config)}{serving} (Ctrl-C stops)", markup=False
        )
    try:
        results = run_worker(config, once=once, clock=clock, report=show)
    except KeyboardInterrupt:
        if once:  # cut short, not done: Typer's status 130, like every other command
            raise
        return  # Ctrl-C is how a running worker is stopped
    if once and not results:
        console.print("nothing is due", markup=False)
    if once and any(not r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
