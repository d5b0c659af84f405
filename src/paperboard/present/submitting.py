"""Submitting papers to today's feed: a stored paper at once, any other after a background fetch.

The submit form and the API put a paper arXiv must first be asked about in the queue
(``store/submission_requests.py``) and answer at once; :func:`complete` then fetches it, in the
site's background task or, for a request left over by a crash or restart, in the worker. Both
look papers up through one :class:`~paperboard.sources.http.PoliteClient` per process, one request
at a time, so arXiv's pause (``PAPERBOARD_ARXIV_DELAY``) holds across look-ups. Every way a
look-up can go wrong ends the request ``failed`` with one sentence the member is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from paperboard.core.errors import LimitError, NotFoundError, PaperboardError
from paperboard.present.container import Container
from paperboard.sources.http import PoliteClient
from paperboard.store.rows import CountedPaperRow, MemberRow, SubmissionRequestRow
from paperboard.store.submission_requests import FAILED, FETCHED

# A fetch still unfinished this long after it was claimed is taken as abandoned (its process went
# away) and may be claimed again: well past the longest look-up, PAPERBOARD_HTTP_RETRY_LIMIT.
LEASE = timedelta(minutes=5)

logger = logging.getLogger(__name__)

Fetch = Callable[[str], CountedPaperRow]


def fetch_from_arxiv(app: Container, client: PoliteClient, arxiv_id: str) -> CountedPaperRow:
    """Fetch one paper from the arXiv API into the store; its row, or a one-line error."""
    from paperboard.sources.arxiv_api import ArxivApiSource
    from paperboard.store.importer import run_import

    url = app.settings.arxiv_api_url
    report = run_import(app.papers, ArxivApiSource(client, url, ids=[arxiv_id]), processes=1)
    if report.failure:
        raise PaperboardError(f"could not fetch {arxiv_id} from arXiv: {report.failure}")
    row = app.papers.get(arxiv_id)
    if row is None:
        raise NotFoundError(f"arXiv has no paper {arxiv_id}")
    return row


def submit_stored(
    app: Container, member: MemberRow, row: CountedPaperRow, *, claim: list[int] | None = None
) -> tuple[CountedPaperRow, bool]:
    """Put a stored paper on today's feed as the member's submission, if it is recent enough and
    the member's quota allows; (paper, whether this was a new submission). ``claim`` is the
    throttle row that counted an arXiv look-up for it, withdrawn as it becomes the submission."""
    settings = app.settings
    published = row.get("published_at")
    if published is not None and published < datetime.now(UTC) - timedelta(
        days=settings.submit_max_age_days
    ):
        raise PaperboardError(
            f"{row['id']} first appeared on {published:%Y-%m-%d}: only papers from the last "
            f"{settings.submit_max_age_days} days can be submitted"
        )
    today = datetime.now(UTC).date()
    quota = settings.submit_daily_quota
    new = app.community.submit(
        row["id"], member["id"], member["name"], today, quota=quota, withdraw=claim or ()
    )
    refresh_lexical(app)
    stored = app.papers.get(row["id"])
    assert stored is not None
    return stored, new


def refresh_lexical(app: Container) -> None:
    """Index what just changed so it is searchable at once; when another process holds the index
    writer, the next ``paperboard index`` (or the worker) catches up instead."""
    from paperboard.index.indexer import sync_lexical

    try:
        sync_lexical(app.papers, app.search_index(), upgrade=False)
    except Exception as error:  # the submission itself is already stored
        logger.warning("lexical index not updated now: %s", error)


def complete(
    app: Container, request_id: int, fetch: Fetch, *, now: datetime | None = None
) -> SubmissionRequestRow | None:
    """Fetch a queued request's paper and submit it: the request as it ended, or None when it
    was not this caller's to fetch (already ended, or being fetched elsewhere)."""
    now = now or datetime.now(UTC)
    requests = app.submission_requests
    request = requests.claim(request_id, now - LEASE, now=now)
    if request is None:
        return None
    arxiv_id = request["arxiv_id"]
    try:
        member = app.members.get(request["member_id"])
        if member is None:
            raise NotFoundError("the account that asked for it is gone")
        row = app.papers.get(arxiv_id) or fetch(arxiv_id)
        submit_stored(app, member, row, claim=[request["claim_id"]] if request["claim_id"] else [])
    except LimitError as error:
        requests.finish(request_id, FAILED, str(error))
    except PaperboardError as error:
        requests.finish(request_id, FAILED, _sentence(str(error)))
    except Exception:  # a bug, or an answer nothing checks: the member still gets a sentence
        logger.exception("submission %s of %s: unexpected error", request_id, arxiv_id)
        requests.finish(
            request_id,
            FAILED,
            f"something went wrong while fetching {arxiv_id} from arXiv; try again later",
        )
    else:
        requests.finish(request_id, FETCHED)
    return requests.get(request_id)


def complete_leftovers(app: Container, fetch: Fetch, *, now: datetime | None = None) -> list[int]:
    """Fetch every queued request nobody is fetching (left by a crash or a restart); the ids of
    those this call ended."""
    now = now or datetime.now(UTC)
    done: list[int] = []
    for request_id in app.submission_requests.leftovers(now - LEASE):
        if complete(app, request_id, fetch, now=now) is not None:
            done.append(request_id)
    return done


def _sentence(text: str) -> str:
    """One line, as the status page shows it."""
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."
