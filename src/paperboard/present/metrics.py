"""Prometheus metrics: the site's request and search durations, the worker's counters, and the
database's sizes read at scrape time.

Metrics live in ``prometheus_client``'s default registry, one set per process. When
``PROMETHEUS_MULTIPROC_DIR`` names a directory (set before any paperboard process starts, and
emptied before each start of the site), every process writes its values there and
:func:`exposition` adds up those of all the processes: the mode for ``paperboard serve --workers
N``. See docs/deployment.md, "Monitoring", for every metric.

The database gauges are functions registered with :func:`database_gauge`: each reads the database
through the store layer when ``/metrics`` is scraped and returns one metric family, so a new gauge
is one decorated function.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.context_managers import Timer
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from paperboard.core.errors import ConfigError
from paperboard.present.container import Container
from paperboard.store.counts import CountStore

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from paperboard.present.mail.digests import DigestReport
    from paperboard.store.importer import ImportReport

_MULTIPROC = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _MULTIPROC and not os.path.isdir(_MULTIPROC):
    raise ConfigError(
        f"PROMETHEUS_MULTIPROC_DIR is {_MULTIPROC}, which is not a directory: create it (empty) "
        "before starting paperboard, or unset it"
    )

log = logging.getLogger(__name__)

# Cached pages answer in well under a millisecond, searches and first renders in tens to hundreds.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

HTTP_SECONDS = Histogram(
    "paperboard_http_request_duration_seconds",
    "Time the site took to answer a request, by method, route template and status class.",
    ["method", "route", "status"],
    buckets=_SECONDS,
)
SEARCH_SECONDS = Histogram(
    "paperboard_search_duration_seconds",
    "Time a search took on the site (pages, API, feeds), by mode run.",
    ["mode"],
    buckets=_SECONDS,
)
INGESTED = Counter(
    "paperboard_ingested_papers",
    "Papers the worker's ingestion added or changed, by configured source.",
    ["source"],
)
EMBEDDED = Counter("paperboard_embedded_papers", "Papers the worker embedded.")
DIGESTS = Counter(
    "paperboard_digests",
    "Digest e-mails of the worker's digest runs: sent (or resent), failed, empty.",
    ["status"],
)
JOBS = Counter(
    "paperboard_jobs",
    "Worker job runs by job and outcome: ok, failed, idle (nothing to do).",
    ["job", "outcome"],
)


# -- the site ---------------------------------------------------------------------------------


def status_class(status: int) -> str:
    """``404`` -> ``"4xx"``."""
    return f"{status // 100}xx"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request; ``route`` is the matched route's template, or ``"other"``."""
    method = method if method in _METHODS else "other"  # clients may send any token
    HTTP_SECONDS.labels(method, route, status_class(status)).observe(seconds)


def search_timer(mode: str) -> Timer:
    """``with search_timer(mode):`` observes the duration of the search in the block."""
    return SEARCH_SECONDS.labels(mode).time()


# -- the worker -------------------------------------------------------------------------------


def count_ingested(source: str, report: ImportReport) -> None:
    INGESTED.labels(source).inc(report.counts.new + report.counts.updated)


def count_embedded(papers: int) -> None:
    EMBEDDED.inc(papers)


def count_digests(report: DigestReport) -> None:
    DIGESTS.labels("sent").inc(report.sent + report.resent)
    DIGESTS.labels("failed").inc(report.failed)
    DIGESTS.labels("empty").inc(report.empty)


class _Outcome(Protocol):
    job: str
    ok: bool
    summary: str


P = ParamSpec("P")
R = TypeVar("R", bound=_Outcome)


def count_jobs(run: Callable[P, R]) -> Callable[P, R]:
    """Decorates the function that runs one worker job: counts each result it returns."""

    @functools.wraps(run)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        result = run(*args, **kwargs)
        outcome = "failed" if not result.ok else "ok" if result.summary else "idle"
        JOBS.labels(result.job, outcome).inc()
        return result

    return counted


def serve_worker_metrics(port: int) -> WSGIServer:
    """Serve this process's metrics at ``http://HOST:port/metrics`` (every interface) from a
    background thread; ``shutdown()`` on the server returned stops it."""
    from prometheus_client import start_http_server

    try:
        return start_http_server(port)[0]
    except OSError as error:
        raise ConfigError(
            f"cannot serve worker metrics on port {port}: {error.strerror or error}"
        ) from None


# -- the database, read at scrape time ---------------------------------------------------------

DatabaseGauge = Callable[[Container], Metric]
DATABASE_GAUGES: list[DatabaseGauge] = []


def database_gauge(read: DatabaseGauge) -> DatabaseGauge:
    """Register a function that reads one metric family from the database at each scrape."""
    DATABASE_GAUGES.append(read)
    return read


@database_gauge
def _papers(app: Container) -> Metric:
    return GaugeMetricFamily(
        "paperboard_papers", "Papers in the database.", value=CountStore(app.engine).papers()
    )


@database_gauge
def _members(app: Container) -> Metric:
    return GaugeMetricFamily(
        "paperboard_members", "Member accounts.", value=CountStore(app.engine).members()
    )


@database_gauge
def _digest_sends(app: Container) -> Metric:
    family = GaugeMetricFamily(
        "paperboard_digest_sends",
        "Rows of the digest send ledger by status (intent, sent, empty, failed).",
        labels=["status"],
    )
    for status, count in sorted(CountStore(app.engine).digest_sends_by_status().items()):
        family.add_metric([status], count)
    return family


@database_gauge
def _leases(app: Container) -> Metric:
    family = GaugeMetricFamily(
        "paperboard_lease_expiry_seconds",
        "Seconds left on each lease held now (a job a worker is running), by lease and holder.",
        labels=["lease", "holder"],
    )
    now = datetime.now(UTC)
    for row in app.leases.holders(now=now):
        family.add_metric([row["name"], row["holder"]], (row["expires_at"] - now).total_seconds())
    return family


@database_gauge
def _replica_lag(app: Container) -> Metric:
    replica = getattr(app, "replica", None)  # the site's services have one; a worker has not
    family = GaugeMetricFamily(
        "paperboard_replica_lag_seconds",
        "How long the oldest paper change this node's indexes have not seen has waited.",
    )
    if replica is not None:
        family.add_metric([], replica.lag_seconds())
    return family


class DatabaseCollector:
    """Every :data:`DATABASE_GAUGES` read from ``app``'s database, plus
    ``paperboard_database_up``: 0 when one of them failed (logged, and left out)."""

    def __init__(self, app: Container, gauges: list[DatabaseGauge] | None = None) -> None:
        self.app = app
        self.gauges = DATABASE_GAUGES if gauges is None else gauges

    def collect(self) -> Iterator[Metric]:
        up = 1
        for read in self.gauges:
            try:
                family = read(self.app)
            except Exception as error:  # a scrape reports a failing database, it does not fail
                log.warning("metrics: %s: %s", read.__name__.strip("_"), error)
                up = 0
            else:
                yield family
        yield GaugeMetricFamily(
            "paperboard_database_up", "1 when every database gauge could be read.", value=up
        )


class _Registered:
    """The default registry's metrics (this process's), as one collector of another registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(app: Container, accept: str = "") -> tuple[bytes, str]:
    """The body and content type of a scrape: this process's metrics (every process's, in
    multiprocess mode) and the database gauges, in the format ``accept`` asks for."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Registered())
    registry.register(DatabaseCollector(app))
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
