"""Saved searches beyond the search page: the papers one matches (newest first, for its private
feed) and its webhook, which gets one JSON POST per paper first seen after the search last looked.

What a saved search *matches* is what its words, fields and filters select: the papers the search
page's total counts (the lexical matches). Its ranking mode orders the search page only; a feed or
a webhook of "papers close in meaning" would carry every new paper.

Delivery runs in two steps, both safe to rerun and to run from several processes:
:func:`check_saved_searches` queues the new matches of every search that has a webhook (once per
search and paper, whatever happens later), and :func:`send_due` posts the queued deliveries that
are due; the store retries failures with back-off and gives up after the last try.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from paperboard import __version__
from paperboard.core.errors import PaperboardError
from paperboard.index.lexical import Filters
from paperboard.index.query import ParsedQuery, parse_query
from paperboard.present.container import Container
from paperboard.rank.search import MODES
from paperboard.store.interests import SavedSearchRow
from paperboard.store.rows import CountedPaperRow, PaperRow

FEED_ITEMS = 50
MATCH_CAP = 5_000  # matches of one search (or one day of new papers) read at most
WINDOWS = (7, 31, 366, None)  # days looked back for a feed's newest matches, widened in turn
HOLD = timedelta(days=1)  # how long a new paper the search index lacks holds a search back
TIMEOUT = 10.0
MAX_URL = 2_000
MESSAGE_CHARS = 1_900  # Discord refuses a message over 2,000 characters


# -- what a saved search matches -----------------------------------------------------------------


def clean_filters(
    category: str | None = None,
    since: date | None = None,
    until: date | None = None,
    code: bool | None = None,
) -> dict[str, Any]:
    """The filters of the search page as a saved search keeps them (only those set)."""
    out: dict[str, Any] = {}
    if category:
        out["category"] = category
    if since is not None:
        out["since"] = since.isoformat()
    if until is not None:
        out["until"] = until.isoformat()
    if code is not None:
        out["code"] = code
    return out


def _day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def search_filters(saved: Mapping[str, Any]) -> Filters:
    filters = saved.get("filters") or {}
    category = filters.get("category")
    code = filters.get("code")
    return Filters(
        categories=(str(category),) if category else (),
        since=_day(filters.get("since")),
        until=_day(filters.get("until")),
        has_code=code if isinstance(code, bool) else None,
    )


def search_link(saved: Mapping[str, Any]) -> str:
    """The search page that runs the saved search."""
    from urllib.parse import urlencode

    filters = saved.get("filters") or {}
    params: dict[str, str] = {"q": saved["query"], "mode": saved["mode"]}
    for key in ("category", "since", "until"):
        if filters.get(key):
            params[key] = str(filters[key])
    if isinstance(filters.get("code"), bool):
        params["code"] = "true" if filters["code"] else "false"
    return f"/papers?{urlencode(params)}"


def _parsed(text: str) -> ParsedQuery:
    """The saved words; none (a search of filters only) selects by the filters alone."""
    return parse_query(text) if text.strip() else ParsedQuery(raw="")


def check_search(query: str, mode: str, filters: Mapping[str, Any]) -> None:
    """Refuse, in one line, a search that could not be saved and run later."""
    if mode not in MODES:
        raise PaperboardError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    if query.strip():
        parse_query(query)
    elif not filters:
        raise PaperboardError("a saved search needs words or filters")
    since, until = _day(filters.get("since")), _day(filters.get("until"))
    if since is not None and until is not None and since > until:
        raise PaperboardError("the search's since day is after its until day: it matches nothing")


def _newest(fields: Mapping[str, Any], ids: Iterable[str]) -> list[str]:
    """``ids`` newest first by first publication; papers without that date last."""

    def key(paper_id: str) -> tuple[bool, datetime, str]:
        published = (fields.get(paper_id) or {}).get("published_at")
        return published is not None, published or datetime.min.replace(tzinfo=UTC), paper_id

    return sorted(ids, key=key, reverse=True)


def newest_matches(
    container: Container, saved: Mapping[str, Any], limit: int = FEED_ITEMS
) -> list[CountedPaperRow]:
    """The newest ``limit`` papers the saved search matches, newest first by first publication.

    The words rank by relevance, not by date, so the matches are read in windows of recent
    publication, widened until one holds ``limit`` of them: every match of the window is read and
    sorted by date (exact while a window holds at most :data:`MATCH_CAP`)."""
    lexical = container.search_index().lexical
    parsed = _parsed(saved["query"])
    base = search_filters(saved)
    today = datetime.now(UTC).date()
    window, count = base, 0
    for days in WINDOWS:
        window = base
        if days is not None:
            start = today - timedelta(days=days)
            window = replace(base, since=max(start, base.since) if base.since else start)
            if base.until is not None and window.since is not None and window.since > base.until:
                continue
        count = lexical.match_count(parsed, filters=window)
        if count >= limit:
            break
    if not count:
        return []
    ids = [pid for pid, _ in lexical.search_ids(parsed, k=min(count, MATCH_CAP), filters=window)]
    chosen = _newest(container.papers.filter_fields(ids), ids)[:limit]
    rows = container.papers.get_many(chosen)
    return [rows[pid] for pid in chosen if pid in rows]


def new_matches(
    container: Container, saved: SavedSearchRow, now: datetime
) -> tuple[list[str], datetime]:
    """The papers first stored after the search's ``checked_at`` (and by ``now``) that it
    matches, and how far that looked: ``now``, or just before the first new paper the search
    index has not taken in yet (for at most :data:`HOLD`), so that it is looked at again."""
    since = saved["checked_at"] or saved["created_at"]
    until = now
    candidates: dict[str, PaperRow] = {}
    for batch in container.papers.changed_since(since):
        for row in batch:
            if since < row["added_at"] <= now:
                candidates[row["id"]] = row
    if not candidates:
        return [], until
    lexical = container.search_index().lexical
    indexed = lexical.indexed_changes(list(candidates))
    for paper_id, row in candidates.items():
        if paper_id not in indexed and now - row["added_at"] < HOLD:
            until = min(until, row["added_at"] - timedelta(microseconds=1))
    parsed = _parsed(saved["query"])
    base = search_filters(saved)
    # One search per day of publication (or feed day, for papers without one) among the new
    # papers: a day's matches are few, so all of them are read and kept where they are new.
    days: set[tuple[Literal["published", "feed"], date]] = set()
    for paper_id, row in candidates.items():
        if paper_id not in indexed:
            continue
        published = row.get("published_at")
        if published is not None:
            day = published.astimezone(UTC).date()
            if (base.since is None or day >= base.since) and (
                base.until is None or day <= base.until
            ):
                days.add(("published", day))
        elif (feed_day := row.get("feed_date")) and base.since is None and base.until is None:
            days.add(("feed", feed_day))
    found: list[str] = []
    for date_field, day in sorted(days):
        filters = replace(base, since=day, until=day, date_field=date_field)
        count = lexical.match_count(parsed, filters=filters)
        if not count:
            continue
        hits = lexical.search_ids(parsed, k=min(count, MATCH_CAP), filters=filters)
        found += [pid for pid, _ in hits if pid in candidates and pid in indexed]
    return sorted(set(found), key=lambda pid: (candidates[pid]["added_at"], pid)), until


@dataclass
class CheckReport:
    searches: int = 0
    queued: int = 0
    problems: list[str] = field(default_factory=list)


def check_saved_searches(
    container: Container, now: datetime | None = None, *, dry_run: bool = False
) -> CheckReport:
    """Queue the new matches of every saved search with a webhook, oldest first; ``dry_run``
    counts them and records nothing. A search that fails (a query the parser now refuses) is
    reported and the others still run."""
    now = now or datetime.now(UTC)
    report = CheckReport()
    for saved in container.interests.with_webhooks():
        try:
            ids, until = new_matches(container, saved, now)
        except PaperboardError as error:
            report.problems.append(f"saved search {saved['id']} ({saved['name']}): {error}")
            continue
        report.searches += 1
        if dry_run:
            report.queued += len(ids)
        else:
            report.queued += container.interests.queue_deliveries(saved["id"], ids, until)
    return report


# -- delivery ------------------------------------------------------------------------------------


def clean_webhook_url(url: str | None) -> str | None:
    """A webhook address as a member may set it (None clears it): http(s), at most
    :data:`MAX_URL` characters. Where it points is checked when a delivery is sent."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if len(url) > MAX_URL:
        raise PaperboardError(f"a webhook URL may have at most {MAX_URL:,} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise PaperboardError("a webhook URL cannot hold spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is not a number raises here
    except ValueError:
        raise PaperboardError(f"not a URL: {url[:80]!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PaperboardError("a webhook URL must be an http:// or https:// address")
    return url


def private_address(url: str) -> str | None:
    """Why the server must not post to ``url`` (its host is or resolves to a loopback, private,
    link-local or otherwise non-public address), or None. The host is resolved here and again
    when connecting: a name that changes its answer in between can slip through."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as error:
            return f"cannot resolve {host}: {getattr(error, 'strerror', None) or error}"
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            return (
                f"{host} is a non-public address ({address}): "
                "set PAPERBOARD_WEBHOOK_ALLOW_PRIVATE=true to allow it"
            )
    return None


def payload(container: Container, search_name: str, row: CountedPaperRow) -> dict[str, Any]:
    """What a webhook gets: the same one-line message as ``text`` (Slack, Matrix hookshot),
    ``content`` (Discord) and ``body``, and the paper and the search's name for other readers."""
    url = f"{container.settings.base_url}/papers/{row['id']}"
    title = " ".join((row.get("title") or row["id"]).split())
    prefix = f"New paper for “{search_name}”: "
    room = MESSAGE_CHARS - len(prefix) - len(url) - 1
    if len(title) > room:
        title = title[: max(room - 1, 0)] + "…"
    message = f"{prefix}{title} {url}"
    published = row.get("published_at")
    return {
        "text": message,
        "content": message,
        "body": message,
        "paper": {
            "id": row["id"],
            "title": row.get("title"),
            "url": url,
            "authors": list(row.get("authors") or []),
            "abstract": row.get("abstract"),
            "published_at": published.isoformat() if published else None,
        },
        "saved_search": search_name,
    }


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # given up for good in this run
    problems: list[str] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return self.sent + self.retrying + self.failed


def _post(client: httpx.Client, url: str, body: dict[str, Any]) -> str | None:
    """Post ``body``; None when the receiver answered 2xx, else the error to record."""
    try:
        response = client.post(url, json=body, timeout=TIMEOUT)
    except httpx.HTTPError as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        return f"{type(error).__name__}: {detail}"[:300]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def send_due(
    container: Container,
    client: httpx.Client,
    now: datetime | None = None,
    *,
    limit: int = 500,
) -> SendReport:
    """POST each delivery due at ``now`` (default: the present) as JSON; a 2xx answer marks it
    sent, anything else is recorded and retried later by the store's back-off."""
    report = SendReport()
    interests = container.interests
    due = interests.due_deliveries_at(now or datetime.now(UTC), limit)
    rows = container.papers.get_many([d["paper_id"] for d in due])
    allow_private = container.settings.webhook_allow_private
    for delivery in due:
        url = delivery["webhook_url"]
        row = rows.get(delivery["paper_id"])
        error: str | None
        if url is None:
            error = "the saved search has no webhook any more"
        elif row is None:
            error = f"paper {delivery['paper_id']} is no longer stored"
        else:
            error = None if allow_private else private_address(url)
            if error is None:
                error = _post(client, url, payload(container, delivery["search_name"], row))
        state = interests.delivered(delivery["saved_search_id"], delivery["paper_id"], error)
        if state == "sent":
            report.sent += 1
            continue
        if state == "failed":
            report.failed += 1
        else:
            report.retrying += 1
        report.problems.append(
            f"{delivery['search_name']}: {delivery['paper_id']}: {error} ({state})"
        )
    return report


def webhook_client() -> httpx.Client:
    """The HTTP client deliveries go out with: no redirects followed (a 3xx is a failure, and
    cannot lead the server to an address it would refuse)."""
    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": f"paperboard/{__version__} (saved search webhook)"},
    )


@dataclass
class WebhookRun:
    check: CheckReport
    send: SendReport
    due: int = 0  # with dry_run: the deliveries that would be tried

    def summary(self, dry_run: bool = False) -> str:
        if dry_run:
            return (
                f"{self.check.queued} new papers would be queued for "
                f"{self.check.searches} saved searches; {self.due} deliveries are due"
            )
        return (
            f"{self.check.queued} queued for {self.check.searches} saved searches; "
            f"{self.send.sent} sent, {self.send.retrying} to retry, {self.send.failed} failed"
        )


def run_webhooks(
    container: Container, now: datetime | None = None, *, dry_run: bool = False
) -> WebhookRun:
    """One pass: check every saved search with a webhook, then send what is due (``dry_run``:
    count both, record and send nothing)."""
    now = now or datetime.now(UTC)
    check = check_saved_searches(container, now, dry_run=dry_run)
    now = max(now, datetime.now(UTC))  # what was just queued is due on the store's clock
    if dry_run:
        due = len(container.interests.due_deliveries_at(now))
        return WebhookRun(check, SendReport(), due)
    if not container.interests.due_deliveries_at(now, 1):
        return WebhookRun(check, SendReport())
    with webhook_client() as client:
        return WebhookRun(check, send_due(container, client, now))
