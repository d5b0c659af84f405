"""Sending a period's digests: one per subscriber, even when the run is killed and started again.

For each due subscriber, in order: a digest already sent (or recorded as empty) is skipped; an
intent left in doubt by a killed run is sent again with its recorded Message-ID and papers; any
other subscriber gets a new digest, whose intent is committed before the message goes out and
marked sent after (through SMTP, or into the outbox while no SMTP host is set: ``transport``).
Transient SMTP failures are retried with backoff (``Mailer``) and, if they persist, left as an
intent for the next run; a permanent (5xx) refusal marks the digest failed and counts against
the address, whose mail stops after ``PAPERBOARD_MAIL_MAX_BOUNCES`` of them.
Nothing to send is recorded and counted, never silently skipped, and no empty e-mail goes out.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from paperboard.core.config import Settings
from paperboard.core.errors import PaperboardError
from paperboard.core.names import normalize_email
from paperboard.present.container import Container
from paperboard.present.coordination import describe_holder, take_lease
from paperboard.present.mail.messages import digest_bytes, digest_message, message_id
from paperboard.present.mail.outbox import Outbox
from paperboard.present.mail.smtp import MailError, PermanentMailError
from paperboard.present.mail.transport import Transport, open_transport
from paperboard.rank.digest import PICKS, TOP, DigestContent, DigestPeriod, for_you, top_papers
from paperboard.rank.recommend import (
    MemberInterests,
    PoolCache,
    interests_of,
    interests_of_many,
    saved_search_matches,
)
from paperboard.store.rows import CountedPaperRow, SubscriberRow

log = logging.getLogger(__name__)


@dataclass
class DigestReport:
    period: DigestPeriod
    sent: int = 0
    resent: int = 0  # in doubt after a killed run, sent again with the same Message-ID
    empty: int = 0
    failed: int = 0
    skipped: int = 0  # already sent in an earlier run
    written: list[Path] = field(default_factory=list)  # --dry-run files
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "resent": self.resent,
            "empty": self.empty,
            "failed": self.failed,
            "skipped": self.skipped,
        }

    def summary(self) -> str:
        parts = [f"{self.period.key}: {self.sent} sent"]
        for name in ("resent", "empty", "failed", "skipped"):
            if getattr(self, name):
                parts.append(f"{getattr(self, name)} {name}")
        if self.written:
            parts.append(f"{len(self.written)} written")
        return ", ".join(parts)


class Composer:
    """Builds digests: the stores, the search index and each member's interests (their model is
    trained per digest, against the run's one pool of candidates). What many subscribers share is
    computed once per run: the pool, the top papers of each set of categories, and the picks of
    each set of categories and keywords before any signal; each subscriber's already-mailed
    papers are then filtered out of those."""

    SEARCH_PICKS = 3  # per saved search
    MARGIN = 20  # extra candidates kept in the shared lists, to survive per-subscriber filtering

    def __init__(self, app: Container) -> None:
        self.settings = app.settings
        self.store = app.papers
        self.digests = app.digests
        self.community = app.community
        self.interests = app.interests
        self.pools = PoolCache()
        self.index = app.index
        self._top: dict[tuple[Any, ...], list[CountedPaperRow]] = {}
        self._cold: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._sent: dict[int, set[str]] = {}
        self._interests: dict[int, MemberInterests] = {}

    def prefetch(self, subscribers: list[SubscriberRow]) -> None:
        """Read the already-mailed papers and the members' interests of a batch of subscribers
        at once (each is used once, by the next :meth:`content` for that subscriber)."""
        self._sent.update(self.digests.sent_paper_ids_of([s["id"] for s in subscribers]))
        members = [s["member_id"] for s in subscribers if s["member_id"] and s["for_you"]]
        if members:
            self._interests.update(interests_of_many(self.community, self.interests, members))

    def _shared_top(
        self, period: DigestPeriod, categories: list[str], sent: set[str]
    ) -> list[CountedPaperRow]:
        key = (period.key, tuple(sorted(categories)))
        if key not in self._top:
            self._top[key] = list(
                top_papers(self.store, period, categories, set(), k=TOP + self.MARGIN)
            )
        ranked = [row for row in self._top[key] if row["id"] not in sent]
        if len(ranked) < TOP and len(self._top[key]) == TOP + self.MARGIN:
            # filtered too much: the long way
            return list(top_papers(self.store, period, categories, sent))
        return ranked[:TOP]

    def content(self, subscriber: SubscriberRow, period: DigestPeriod) -> DigestContent:
        sent = self._sent.pop(subscriber["id"], None)
        if sent is None:
            sent = self.digests.sent_paper_ids(subscriber["id"])
        categories = list(subscriber["categories"] or [])
        content = DigestContent(top=self._shared_top(period, categories, sent))
        if not subscriber["for_you"]:
            return content
        banned = sent | {row["id"] for row in content.top}
        member_id = subscriber["member_id"]
        member = None
        if member_id:
            member = self._interests.pop(member_id, None) or interests_of(
                self.community, self.interests, member_id
            )
        if member is not None and member.saved_searches:
            content.picks = self._searches(member, period, banned | member.hidden)
            banned = banned | {pick["id"] for pick in content.picks}
        if member is not None and (member.signals or member.follows):
            content.picks = [
                *for_you(
                    self.index,
                    self.store,
                    subscriber,
                    period,
                    banned=banned,
                    member=member,
                    pools=self.pools,
                ),
                *content.picks,
            ]
            return content
        key = (period.key, tuple(sorted(categories)), tuple(subscriber["keywords"] or []))
        if key not in self._cold:
            self._cold[key] = for_you(
                self.index,
                self.store,
                subscriber,
                period,
                banned=set(),
                pools=self.pools,
                k=PICKS + self.MARGIN,
            )
        hidden = member.hidden if member is not None else set()
        cold = [pick for pick in self._cold[key] if pick["id"] not in banned | hidden][:PICKS]
        content.picks = [*cold, *content.picks]
        return content

    def _searches(
        self, member: MemberInterests, period: DigestPeriod, banned: set[str]
    ) -> list[dict[str, Any]]:
        """The period's new papers matching each saved search (a section each, at most
        :data:`SEARCH_PICKS`), none already mailed."""
        out: list[dict[str, Any]] = []
        seen = set(banned)
        for name, words in member.saved_searches:
            found = saved_search_matches(self.index, words, period.start, period.end)
            fresh = [pid for pid in found if pid not in seen][: self.SEARCH_PICKS]
            rows = self.store.get_many(fresh)
            for pid in fresh:
                if pid in rows:
                    seen.add(pid)
                    out.append(
                        {
                            "id": pid,
                            "reason": f"matches your saved search “{name}”",
                            "because": None,
                            "section": name,
                            "paper": rows[pid],
                        }
                    )
        return out

    def replay(self, record: dict[str, Any]) -> DigestContent:
        """The content recorded with an intent (papers deleted since are left out)."""
        wanted = [*record["top_ids"], *(p["id"] for p in record["picks"])]
        rows = self.store.get_many(wanted)
        return DigestContent(
            top=[rows[pid] for pid in record["top_ids"] if pid in rows],
            picks=[{**p, "paper": rows[p["id"]]} for p in record["picks"] if p["id"] in rows],
        )

    def message(
        self, subscriber: SubscriberRow, period: DigestPeriod, content: DigestContent, msgid: str
    ) -> EmailMessage:
        return digest_message(self.settings, subscriber, period, content, msgid=msgid)

    def message_bytes(
        self, subscriber: SubscriberRow, period: DigestPeriod, content: DigestContent, msgid: str
    ) -> bytes:
        """:meth:`message` as sent over SMTP."""
        return digest_bytes(self.settings, subscriber, period, content, msgid=msgid)


@dataclass
class Prepared:
    """A composed digest, ready to record and send: the message already rendered to bytes, so
    that a parallel composer hands back a string, not an object graph to unpickle (``data``
    None: nothing to send)."""

    subscriber_id: int
    top_ids: list[str]
    picks: list[dict[str, Any]]
    message_id: str | None
    data: bytes | None


_worker_composer: Composer | None = None  # in a composing process: its own container's


def _start_worker(settings: Settings) -> None:
    global _worker_composer
    # One thread each: the processes already fill the cores, and faiss's OpenMP threads spinning
    # against each other's made two processes no faster than one.
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:  # pragma: no cover - faiss is a dependency
        pass
    _worker_composer = Composer(Container.open(settings))


def _prepare_in_worker(job: tuple[list[SubscriberRow], DigestPeriod]) -> list[Prepared]:
    assert _worker_composer is not None
    return _prepare_batch(_worker_composer, *job)


def _prepare_batch(
    composer: Composer, subscribers: list[SubscriberRow], period: DigestPeriod
) -> list[Prepared]:
    composer.prefetch(subscribers)
    return [_prepare(composer, subscriber, period) for subscriber in subscribers]


def _prepare(composer: Composer, subscriber: SubscriberRow, period: DigestPeriod) -> Prepared:
    content = composer.content(subscriber, period)
    picks = [
        {
            "id": p["id"],
            "reason": p["reason"],
            "because": p["because"],
            **({"section": p["section"]} if p.get("section") else {}),
        }
        for p in content.picks
    ]
    if content.empty:
        return Prepared(subscriber["id"], [r["id"] for r in content.top], picks, None, None)
    msgid = message_id(composer.settings)
    data = composer.message_bytes(subscriber, period, content, msgid)
    return Prepared(subscriber["id"], [r["id"] for r in content.top], picks, msgid, data)


def default_processes(count: int) -> int:
    """Compose in parallel, one process per core (at most 4), when there are enough digests to
    repay starting them (each loads the search index)."""
    return 1 if count < PARALLEL_FROM else max(1, min(4, os.cpu_count() or 1))


PARALLEL_FROM = 400
BATCH = 32  # subscribers composed together (their mailed papers read in one query)


def prepare_all(
    app: Container,
    period: DigestPeriod,
    subscribers: list[SubscriberRow],
    *,
    processes: int | None = None,
) -> Iterator[Prepared]:
    """Compose the digests of ``subscribers``, in their order. With several processes, each
    composes a share (choosing papers and rendering are CPU-bound); nothing here writes."""
    processes = default_processes(len(subscribers)) if processes is None else processes
    batches = [subscribers[n : n + BATCH] for n in range(0, len(subscribers), BATCH)]
    if processes <= 1 or len(subscribers) < 2:
        composer = Composer(app)
        for batch in batches:
            yield from _prepare_batch(composer, batch, period)
        return
    # spawn, not fork: the parent may hold faiss/ONNX thread pools and open database handles.
    with get_context("spawn").Pool(
        processes, initializer=_start_worker, initargs=(app.settings,)
    ) as pool:
        for prepared in pool.imap(_prepare_in_worker, [(b, period) for b in batches]):
            yield from prepared


class DigestBusyError(PaperboardError):
    """Another process is sending this period's digests now."""


def send_digests(
    app: Container,
    period: DigestPeriod,
    *,
    dry_run_to: Path | None = None,
    only: str | None = None,
    mailer: Transport | None = None,
    processes: int | None = None,
    on_progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestReport:
    """Send (or with ``dry_run_to`` write as .eml files, recording nothing) the period's digests."""
    settings, digests = app.settings, app.digests
    report = DigestReport(period)
    due = [
        s for s in digests.due(period.kind) if only is None or s["email"] == normalize_email(only)
    ]
    if only is not None and not due:
        raise PaperboardError(f"{only} is not a confirmed {period.kind} subscriber")
    if dry_run_to is not None:
        dry_run_to.mkdir(parents=True, exist_ok=True)
        by_id = {s["id"]: s for s in due}
        for prepared in prepare_all(app, period, due, processes=processes):
            if prepared.data is None:
                report.empty += 1
                continue
            subscriber = by_id[prepared.subscriber_id]
            path = (
                dry_run_to
                / f"{subscriber['id']:06d}-{subscriber['email'].replace('@', '_at_')}.eml"
            )
            path.write_bytes(prepared.data)
            report.written.append(path)
        return report

    lease, holder = f"digest:{period.key}", settings.node
    if not take_lease(app.leases, lease, settings):
        raise DigestBusyError(
            f"{period.key} is being sent by {describe_holder(app.leases, lease)}: nothing sent "
            "here; its digests go out once"
        )
    with app.leases.kept(lease, holder, settings.lease_seconds):
        return _send_held(app, period, due, report, mailer, processes, on_progress, sleep)


def _send_held(
    app: Container,
    period: DigestPeriod,
    due: list[SubscriberRow],
    report: DigestReport,
    mailer: Transport | None,
    processes: int | None,
    on_progress: Callable[[str], None] | None,
    sleep: Callable[[float], None],
) -> DigestReport:
    """The sending part of :func:`send_digests`, run while this process holds the period's
    lease (so no other sender works on it at the same time)."""
    settings, digests = app.settings, app.digests
    run_id = digests.start_run(period.key)
    records = digests.records(period.key)
    pending = [s for s in due if s["id"] not in records or records[s["id"]]["status"] == "intent"]
    report.skipped = len(due) - len(pending)
    fresh = [s for s in pending if s["id"] not in records]
    own_mailer = mailer is None
    gap = 1.0 / settings.mail_rate
    last_send = 0.0
    status = "done"
    replayer: Composer | None = None
    try:
        if own_mailer:
            mailer = open_transport(settings)
        assert mailer is not None
        composed = prepare_all(app, period, fresh, processes=processes)
        for subscriber in pending:
            record = records.get(subscriber["id"])
            if record is not None:  # an intent left by a killed run: the same message again
                replayer = replayer or Composer(app)
                content = replayer.replay(record)
                data = replayer.message_bytes(subscriber, period, content, record["message_id"])
                resend = True
            else:
                prepared = next(composed)
                assert prepared.subscriber_id == subscriber["id"]
                if prepared.data is None or prepared.message_id is None:
                    digests.record_empty(subscriber["id"], period.key, "nothing new in this period")
                    report.empty += 1
                    log.info("digest %s for %s: nothing to send", period.key, subscriber["email"])
                    continue
                data = prepared.data
                record = digests.record_intent(
                    subscriber["id"],
                    period.key,
                    prepared.message_id,
                    prepared.top_ids,
                    prepared.picks,
                )
                if record is None:  # recorded by a sender whose lease this one took over
                    report.skipped += 1
                    continue
                resend = False
            wait = gap - (time.monotonic() - last_send)
            if wait > 0 and not isinstance(mailer, Outbox):  # the rate is the mail server's
                sleep(wait)
            last_send = time.monotonic()
            try:
                mailer.send_bytes(subscriber["email"], data)
            except PermanentMailError as error:
                digests.mark(record["id"], "failed", error=str(error))
                stopped = digests.bounced(
                    subscriber["id"], str(error), limit=settings.mail_max_bounces
                )
                report.failed += 1
                report.problems.append(
                    f"{subscriber['email']}: {error}" + (" (mail to it stopped)" if stopped else "")
                )
                continue
            except (
                MailError
            ) as error:  # still failing after retries: left in doubt for the next run
                digests.mark(record["id"], "intent", error=str(error))
                report.failed += 1
                report.problems.append(f"{subscriber['email']}: {error} (will be retried)")
                continue
            digests.mark(record["id"], "sent")
            if resend:
                report.resent += 1
            else:
                report.sent += 1
            if on_progress is not None:
                on_progress(subscriber["email"])
    except BaseException:
        status = "interrupted"
        raise
    finally:
        if own_mailer and mailer is not None:
            mailer.close()
        if status == "done" and report.failed:
            status = "done with failures"
        detail = "; ".join(report.problems[:20]) or None
        if not due:
            detail = f"no confirmed {period.kind} subscribers"
        digests.finish_run(run_id, status, report.counts(), detail)
    return report


def preview(app: Container, email: str, period: DigestPeriod) -> EmailMessage | None:
    """What this subscriber would get for ``period`` now (nothing is recorded); None when empty."""
    composer = Composer(app)
    subscriber = composer.digests.by_email(email)
    if subscriber is None:
        raise PaperboardError(f"{email} is not a subscriber")
    content = composer.content(subscriber, period)
    if content.empty:
        return None
    return composer.message(subscriber, period, content, message_id(app.settings))
