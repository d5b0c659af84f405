"""The scheduler behind ``paperboard worker``: ingestion from the configured sources, indexing,
and digests at the configured local times.

Jobs and when they are due (``PAPERBOARD_TIMEZONE`` decides what "today" and "07:00" mean):

- ``ingest``: every ``PAPERBOARD_INGEST_EVERY_MINUTES``, each of ``PAPERBOARD_INGEST_SOURCES``
  (``hf``: today's and yesterday's daily papers; ``arxiv:CAT``: the category's last two days;
  ``oai:SET``: changes since the UTC day of the last complete harvest, which resumes if it was
  interrupted; ``rss:CAT+CAT``: the categories' last arXiv announcement, same-day papers that
  ``arxiv:`` or ``oai:`` complete later), then ``index`` (words, embeddings, neighbours), then,
  with ``PAPERBOARD_THUMBNAILS``, the thumbnails of the last three days' papers still without one
  (at most :data:`THUMBNAILS_PER_PASS`).
- ``daily digest``: once a day from ``PAPERBOARD_DIGEST_TIME``, for yesterday.
- ``weekly digest``: on ``PAPERBOARD_WEEKLY_DIGEST_DAY`` from the same time, for last week.
- ``index``: every pass, this worker's own indexes follow the store (``Replica``), whichever
  worker ingested; papers still without a vector are embedded here, a big run split with the
  other workers by share leases; reported only when something changed.
- ``submissions``: every pass, the submissions still queued that the site is not fetching (left
  by a crash or a restart of the site), fetched from arXiv with its pause between requests;
  reported only when there were some.
- ``webhooks``: every pass, the new papers of saved searches with a webhook queued and the due
  deliveries posted (:func:`paperboard.present.webhooks.run_webhooks`); reported only when there
  was something to do.

When each job last finished is kept in the database (``job_runs``), with the lease each job
runs under (``leases``), so any number of workers share one schedule; each run is logged to
``HOME/logs/worker.log`` (and imports and digests to their own tables). Digests are idempotent per
subscriber and period, so a worker restarted in the middle of one simply finishes it. A job that
fails, even with an unexpected exception (logged with its traceback), does not stop the jobs after
it or the next pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from paperboard.core.config import Settings
from paperboard.core.errors import PaperboardError
from paperboard.index.replica import Replica
from paperboard.present import metrics
from paperboard.present.container import Container
from paperboard.present.coordination import claimer, describe_holder, take_lease
from paperboard.present.log_format import log_formatter
from paperboard.present.mail.digests import DigestBusyError

if TYPE_CHECKING:
    from paperboard.store.leases import LeaseStore
    from paperboard.store.papers import PaperStore

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class JobResult:
    job: str
    ok: bool
    summary: str
    finished: bool = True  # False: another process does this job now (not done by this run)


SCHEDULED = ("ingest", "daily digest", "weekly digest")


def due_key(settings: Settings, job: str, now: datetime) -> str:
    """The due time ``now`` falls in for ``job``: the start of its ingest slot (slots of
    ``PAPERBOARD_INGEST_EVERY_MINUTES`` counted from the epoch, so every worker agrees), or the
    local day of a digest. A job runs once per due time, whichever worker runs it."""
    if job == "ingest":
        slot = settings.ingest_every_minutes * 60
        start = int(now.timestamp()) // slot * slot
        return datetime.fromtimestamp(start, UTC).isoformat()
    return now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()


def load_state(leases: LeaseStore) -> dict[str, str]:
    """The due time each scheduled job last finished for, from the database's job runs."""
    state: dict[str, str] = {}
    for job in SCHEDULED:
        last = leases.last_finished(job)
        if last is not None:
            state[job] = last["due"]
    return state


def due_jobs(settings: Settings, state: dict[str, str], now: datetime) -> list[str]:
    """The jobs due at ``now`` (an aware datetime), in the order they should run; ``state``
    maps a job to the due time it last finished for."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    jobs: list[str] = []
    if settings.ingest_sources and state.get("ingest", "") < due_key(settings, "ingest", now):
        jobs.append("ingest")
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    past_time = (local.hour, local.minute) >= (hour, minute)
    today = local.date().isoformat()
    if past_time and state.get("daily digest") != today:
        jobs.append("daily digest")
    weekly_today = WEEKDAYS[local.weekday()] == settings.weekly_digest_day
    if past_time and weekly_today and state.get("weekly digest") != today:
        jobs.append("weekly digest")
    return jobs


def _ingest(settings: Settings, now: datetime) -> str:
    from paperboard.core.records import Checkpoint
    from paperboard.index.indexer import (
        build_neighbours,
        index_lock,
        sync_facets,
        sync_lexical,
        sync_vectors,
    )
    from paperboard.sources.arxiv_api import ArxivApiSource
    from paperboard.sources.arxiv_rss import ArxivRssSource
    from paperboard.sources.hf_daily import HfDailySource
    from paperboard.sources.http import PoliteClient
    from paperboard.sources.oai import OaiSource, harvest_key
    from paperboard.store.importer import run_import

    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    summaries: list[str] = []
    failures: list[str] = []
    with Container.open(settings) as app:
        store = app.papers
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
            elif kind == "rss":
                with PoliteClient.for_url(settings, settings.arxiv_rss_url) as client:
                    listing = ArxivRssSource(client, settings.arxiv_rss_url, value.split("+"))
                    reports = [run_import(store, listing, processes=1)]
                if listing.notice:
                    summaries.append(f"{item}: {listing.notice}")
            else:  # oai: resume a harvest of changes since the last one
                # OAI-PMH datestamps are UTC days: a local "today" ahead of UTC would skip hours.
                utc_today = now.astimezone(UTC).date()
                key = f"worker:{item}"
                since = store.harvest_state(key)
                if since is None:  # pin a first harvest's start, so it resumes on a later day too
                    since = (utc_today - timedelta(days=2)).isoformat()
                    store.write([], Checkpoint(key, since))
                start = datetime.fromisoformat(since).date()
                # Open-ended like ``paperboard ingest oai --from START``: the same request (and
                # so the same checkpoint) until a harvest completes, so an interrupted one resumes.
                token = store.harvest_state(harvest_key(settings.arxiv_oai_url, value, start, None))
                with PoliteClient.for_url(settings, settings.arxiv_oai_url) as client:
                    harvest = OaiSource(
                        client,
                        settings.arxiv_oai_url,
                        set_spec=value,
                        date_from=start,
                        date_until=None,
                        resume_token=token,
                    )
                    reports = [run_import(store, harvest, processes=1)]
                if all(r.ok for r in reports):  # the next harvest starts from this one's day
                    store.write([], Checkpoint(key, utc_today.isoformat()))
            for report in reports:
                metrics.count_ingested(item, report)  # metrics
                summaries.append(f"{item}: {report.summary()}")
                if not report.ok:
                    failures.append(f"{item}: {report.failure or 'nothing could be read'}")
        with index_lock(app.index, wait=True):
            added, removed = sync_lexical(store, app.index)
            claim = claimer(app.leases, settings)
            embedded = sync_vectors(store, app.index, claim=claim)
            metrics.count_embedded(embedded)  # metrics
            faceted = sync_facets(store, app.index, claim=claim) if settings.facets else 0
            if embedded or faceted:
                build_neighbours(app.index)
        summaries.append(
            f"index: {added} indexed, {removed} removed, {embedded} embedded, {faceted} faceted"
        )
        if settings.thumbnails:
            summaries.append(_thumbnails(settings, store, today))
    if failures:
        raise PaperboardError("; ".join(failures))
    return "; ".join(summaries)


THUMBNAILS_PER_PASS = 60
"""Thumbnails one ingest pass makes at most: arXiv's pause makes each take three seconds."""


def _thumbnails(settings: Settings, store: PaperStore, today: date) -> str:
    """Thumbnails of the papers on the feed in the last three days; a failing network stops them
    until the next pass, and fails no job (the papers are there, only their pictures wait)."""
    from itertools import islice

    from paperboard.core.errors import SourceError
    from paperboard.index.thumbnails import make_thumbnail, missing_thumbnails
    from paperboard.sources.arxiv_pdf import PdfError
    from paperboard.sources.http import PoliteClient

    since = today - timedelta(days=2)
    wanted = list(islice(missing_thumbnails(store, settings, since=since), THUMBNAILS_PER_PASS))
    made = failed = 0
    with PoliteClient.for_url(settings, settings.arxiv_pdf_url) as client:
        for paper_id in wanted:
            try:
                make_thumbnail(client, settings, paper_id)
            except PdfError:
                failed += 1
            except SourceError as error:
                return f"thumbnails: {made} made, {failed} failed, stopped: {error}"
            else:
                made += 1
    return f"thumbnails: {made} made, {failed} failed"


def _digest(settings: Settings, kind: str, now: datetime) -> str:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    period = period_for(kind, timezone=settings.timezone, now=now)
    with Container.open(settings) as app:
        report = send_digests(app, period)
    metrics.count_digests(report)  # metrics
    if report.failed and not (report.sent or report.resent):
        raise PaperboardError(report.summary() + ": " + "; ".join(report.problems[:3]))
    return report.summary()


def _submissions(settings: Settings, now: datetime) -> str:
    """Fetch the queued submissions nobody is fetching; "" when there were none."""
    from paperboard.present.submitting import LEASE, complete_leftovers, fetch_from_arxiv
    from paperboard.sources.http import PoliteClient
    from paperboard.store.submission_requests import FETCHED

    with Container.open(settings) as app:
        if not app.submission_requests.leftovers(now - LEASE):
            return ""
        with PoliteClient.for_url(settings, settings.arxiv_api_url) as client:
            done = complete_leftovers(
                app, lambda arxiv_id: fetch_from_arxiv(app, client, arxiv_id), now=now
            )
        ended = [app.submission_requests.get(request_id) for request_id in done]
        fetched = sum(1 for row in ended if row is not None and row["state"] == FETCHED)
    return f"{fetched} fetched, {len(done) - fetched} failed"


def _webhooks(settings: Settings, now: datetime) -> str:
    """Queue saved searches' new papers and post the due deliveries; "" when there were none."""
    from paperboard.present.webhooks import run_webhooks

    with Container.open(settings) as app:
        run = run_webhooks(app, now)
    if not (run.check.queued or run.send.tried or run.check.problems):
        return ""
    if run.send.failed and not run.send.sent:
        problems = run.check.problems + run.send.problems
        raise PaperboardError(run.summary() + ": " + "; ".join(problems[:3]))
    return run.summary()


@metrics.count_jobs  # metrics: paperboard_jobs_total{job,outcome}
def run_job(settings: Settings, job: str, now: datetime) -> JobResult:
    """Run one job. It fails with its one-line message on a PaperboardError; any other exception
    (a bug, or input nothing checks) fails it too, logged with its traceback to the worker log, so
    that the other jobs still run. KeyboardInterrupt and SystemExit are not caught."""
    try:
        if job == "ingest":
            summary = _ingest(settings, now)
        elif job == "submissions":
            summary = _submissions(settings, now)
        elif job == "webhooks":
            summary = _webhooks(settings, now)
        elif job == "daily digest":
            summary = _digest(settings, "daily", now)
        elif job == "weekly digest":
            summary = _digest(settings, "weekly", now)
        else:
            raise PaperboardError(f"unknown job {job!r}")
    except DigestBusyError as error:
        return JobResult(job, True, str(error), finished=False)
    except PaperboardError as error:
        return JobResult(job, False, str(error))
    except Exception as error:
        _logger(settings).exception("%s: unexpected error", job)
        detail = " ".join(str(error).split())
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        where = settings.log_dir / "worker.log"
        return JobResult(
            job,
            False,
            f"unexpected {type(error).__name__}{': ' + detail if detail else ''} "
            f"(traceback in {where})",
        )
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
        handler.setFormatter(log_formatter(settings, "%(asctime)s %(levelname)s %(message)s"))
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
    """Run due jobs; with ``once`` return after one pass, else check again every 30 seconds.

    Any number of workers may run against one database: each job runs under a lease
    (``job:NAME``) that only one of them holds at a time, renewed while it runs, and a
    scheduled job is marked finished for its due time in ``job_runs``, so it runs once per due
    time. A worker that dies stops renewing; after ``PAPERBOARD_LEASE_SECONDS`` another takes
    the job over (a digest run then sends only what is still missing)."""
    logger = _logger(settings)
    results: list[JobResult] = []

    def say(result: JobResult) -> None:
        (logger.info if result.ok else logger.error)("%s: %s", result.job, result.summary)
        results.append(result)
        report(result)

    with Container.open(settings) as own:
        # This worker's own indexes follow the store every pass, whoever ingested: saved
        # searches (webhooks, digest sections) search them. Papers without a vector are
        # embedded here, a big run shared with the other workers by lease.
        replica = Replica(settings, own.papers, own.index, claim=claimer(own.leases, settings))
        while True:
            now = clock()
            _refresh(replica, say)
            _pass(settings, now, say, logger)
            if once:
                return results
            sleep(30)


def _refresh(replica: Replica, say: Callable[[JobResult], None]) -> None:
    """Bring this worker's indexes up to date; said only when it did something (or failed)."""
    try:
        report = replica.refresh(wait=True)
    except PaperboardError as error:
        say(JobResult("index", False, str(error)))
        return
    except Exception as error:  # as run_job: logged with its traceback, the jobs still run
        _logger(replica.settings).exception("index: unexpected error")
        detail = " ".join(str(error).split())[:200]
        say(JobResult("index", False, f"unexpected {type(error).__name__}: {detail}"))
        return
    if report is not None and report.changed:
        say(
            JobResult(
                "index",
                True,
                f"{report.lexical} indexed, {report.deleted} removed, "
                f"{report.embedded} embedded{', vectors copied' if report.vectors else ''}",
            )
        )


def _pass(
    settings: Settings,
    now: datetime,
    say: Callable[[JobResult], None],
    logger: logging.Logger,
) -> None:
    """One pass over the jobs: the every-pass ones, then those due, each under its lease."""
    with Container.open(settings) as app:
        leases, holder, seconds = app.leases, settings.node, settings.lease_seconds
        for every_pass in ("submissions", "webhooks"):
            if not take_lease(leases, f"job:{every_pass}", settings):
                continue  # another worker is on it this moment
            with leases.kept(f"job:{every_pass}", holder, seconds):
                leftover = run_job(settings, every_pass, now)
            if leftover.summary:  # a pass with nothing of this kind to do says nothing of it
                say(leftover)
        for job in due_jobs(settings, load_state(leases), now):
            due = due_key(settings, job, now)
            if not take_lease(leases, f"job:{job}", settings):
                where = describe_holder(leases, f"job:{job}")
                say(JobResult(job, True, f"running in {where}", finished=False))
                continue
            with leases.kept(f"job:{job}", holder, seconds):
                if leases.finished(job, due):  # finished by another worker meanwhile
                    continue
                logger.info("%s: started", job)
                leases.started(job, due, holder)
                result = run_job(settings, job, now)
                # A failed ingest waits for its next turn; a failed digest run is retried
                # next pass (it only sends what is still missing), as is one that another
                # process is sending now (it may not finish).
                if result.finished and (result.ok or job == "ingest"):
                    leases.finish(job, due, holder, result.summary)
            say(result)


def describe(settings: Settings) -> str:
    sources = ", ".join(settings.ingest_sources) or "no sources (set PAPERBOARD_INGEST_SOURCES)"
    return (
        f"ingest {sources} every {settings.ingest_every_minutes} min; "
        f"digests at {settings.digest_time} "
        f"{settings.timezone}, weekly on {settings.weekly_digest_day}"
    )
