"""The scheduler behind ``paperboard worker``: ingestion from the configured sources, indexing,
and digests at the configured local times.

Jobs and when they are due (``PAPERBOARD_TIMEZONE`` decides what "today" and "07:00" mean):

- ``ingest``: every ``PAPERBOARD_INGEST_EVERY_MINUTES``, each of ``PAPERBOARD_INGEST_SOURCES``
  (``hf``: today's and yesterday's daily papers; ``arxiv:CAT``: the category's last two days;
  ``oai:SET``: changes since the last harvest), then ``index`` (words, embeddings, neighbours).
- ``daily digest``: once a day from ``PAPERBOARD_DIGEST_TIME``, for yesterday.
- ``weekly digest``: on ``PAPERBOARD_WEEKLY_DIGEST_DAY`` from the same time, for last week.

When each job last ran is kept in ``HOME/worker.json``; each run is logged to
``HOME/logs/worker.log`` (and imports and digests to their own tables). Digests are idempotent per
subscriber and period, so a worker restarted in the middle of one simply finishes it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from paperboard.core.config import Settings
from paperboard.core.errors import PaperboardError
from paperboard.core.files import atomic_write

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class JobResult:
    job: str
    ok: bool
    summary: str


def _state_path(settings: Settings) -> Path:
    return settings.home / "worker.json"


def load_state(settings: Settings) -> dict[str, str]:
    try:
        return dict(json.loads(_state_path(settings).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def save_state(settings: Settings, state: dict[str, str]) -> None:
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(state, indent=1))


def due_jobs(settings: Settings, state: dict[str, str], now: datetime) -> list[str]:
    """The jobs due at ``now`` (an aware datetime), in the order they should run."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    jobs: list[str] = []
    if settings.ingest_sources:
        last = state.get("ingest")
        if last is None or now - datetime.fromisoformat(last) >= timedelta(
            minutes=settings.ingest_every_minutes
        ):
            jobs.append("ingest")
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    past_time = (local.hour, local.minute) >= (hour, minute)
    if past_time and state.get("daily digest") != local.date().isoformat():
        jobs.append("daily digest")
    weekly_today = WEEKDAYS[local.weekday()] == settings.weekly_digest_day
    if past_time and weekly_today and state.get("weekly digest") != local.date().isoformat():
        jobs.append("weekly digest")
    return jobs


def _ingest(settings: Settings, now: datetime) -> str:
    from paperboard.index.indexer import SearchIndex, build_neighbours, sync_lexical, sync_vectors
    from paperboard.sources.arxiv_api import ArxivApiSource
    from paperboard.sources.hf_daily import HfDailySource
    from paperboard.sources.http import PoliteClient
    from paperboard.sources.oai import OaiSource, harvest_key
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    summaries: list[str] = []
    failures: list[str] = []
    store = PaperStore.open(settings)
    try:
        for item in settings.ingest_sources:
            kind, _, value = item.partition(":")
            if kind == "hf":
                with PoliteClient.for_url(
                    settings, settings.hf_api_url, min_interval=0.0
                ) as client:
                    reports = [
                        run_import(
                            store,
                            HfDailySource.from_api(client, settings.hf_api_url, day),
                            processes=1,
                        )
                        for day in (today - timedelta(days=1), today)
                    ]
            elif kind == "arxiv":
                with PoliteClient.for_url(settings, settings.arxiv_api_url) as client:
                    source = ArxivApiSource(
                        client,
                        settings.arxiv_api_url,
                        category=value,
                        date_from=today - timedelta(days=2),
                        date_to=today,
                    )
                    reports = [run_import(store, source, processes=1)]
            else:  # oai: resume a harvest of changes since the last one
                key = f"worker:{item}"
                since = store.harvest_state(key)
                start = datetime.fromisoformat(since).date() if since else today - timedelta(days=2)
                with PoliteClient.for_url(settings, settings.arxiv_oai_url) as client:
                    source = OaiSource(
                        client,
                        settings.arxiv_oai_url,
                        set_spec=value,
                        date_from=start,
                        resume_token=store.harvest_state(
                            harvest_key(settings.arxiv_oai_url, value, start, None)
                        ),
                    )
                    reports = [run_import(store, source, processes=1)]
                if all(r.ok for r in reports):
                    from paperboard.core.records import Checkpoint

                    store.write([], Checkpoint(key, today.isoformat()))
            for report in reports:
                summaries.append(f"{item}: {report.summary()}")
                if not report.ok:
                    failures.append(f"{item}: {report.failure or 'nothing could be read'}")
        index = SearchIndex(settings)
        added, removed = sync_lexical(store, index)
        embedded = sync_vectors(store, index)
        if embedded:
            build_neighbours(index)
        summaries.append(f"index: {added} indexed, {removed} removed, {embedded} embedded")
    finally:
        store.close()
    if failures:
        raise PaperboardError("; ".join(failures))
    return "; ".join(summaries)


def _digest(settings: Settings, kind: str, now: datetime) -> str:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for
    from paperboard.store.papers import PaperStore

    period = period_for(kind, timezone=settings.timezone, now=now)
    store = PaperStore.open(settings)
    try:
        report = send_digests(settings, store, period)
    finally:
        store.close()
    if report.failed and not (report.sent or report.resent):
        raise PaperboardError(report.summary() + ": " + "; ".join(report.problems[:3]))
    return report.summary()


def run_job(settings: Settings, job: str, now: datetime) -> JobResult:
    try:
        if job == "ingest":
            summary = _ingest(settings, now)
        elif job == "daily digest":
            summary = _digest(settings, "daily", now)
        elif job == "weekly digest":
            summary = _digest(settings, "weekly", now)
        else:
            raise PaperboardError(f"unknown job {job!r}")
    except PaperboardError as error:
        return JobResult(job, False, str(error))
    return JobResult(job, True, summary)


def _logger(settings: Settings) -> logging.Logger:
    logger = logging.getLogger("paperboard.worker")
    path = str((settings.log_dir / "worker.log").resolve())
    for handler in list(logger.handlers):  # another home's log (a second worker in one process)
        if isinstance(handler, logging.FileHandler) and handler.baseFilename != path:
            logger.removeHandler(handler)
            handler.close()
    if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def run_worker(
    settings: Settings,
    *,
    once: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    report: Callable[[JobResult], None] = lambda result: None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[JobResult]:
    """Run due jobs; with ``once`` return after one pass, else check again every 30 seconds."""
    logger = _logger(settings)
    results: list[JobResult] = []
    while True:
        now = clock()
        state = load_state(settings)
        for job in due_jobs(settings, state, now):
            logger.info("%s: started", job)
            result = run_job(settings, job, now)
            (logger.info if result.ok else logger.error)("%s: %s", job, result.summary)
            # A failed ingest waits for its next turn; a failed digest run is retried next pass
            # (it only sends what is still missing).
            if result.ok or job == "ingest":
                local = now.astimezone(ZoneInfo(settings.timezone))
                state[job] = now.isoformat() if job == "ingest" else local.date().isoformat()
                save_state(settings, state)
            results.append(result)
            report(result)
        if once:
            return results
        sleep(30)


def describe(settings: Settings) -> str:
    sources = ", ".join(settings.ingest_sources) or "no sources (set PAPERBOARD_INGEST_SOURCES)"
    return (
        f"ingest {sources} every {settings.ingest_every_minutes} min; "
        f"digests at {settings.digest_time} "
        f"{settings.timezone}, weekly on {settings.weekly_digest_day}"
    )
