"""Digest subscribers and the send ledger: the only code that touches those tables.

The ledger is what makes a digest run safe to kill: for each subscriber and period, the intent (a
stable Message-ID and the papers chosen) is committed before the message goes out and marked sent
after. A rerun skips what is sent, resends an intent left in doubt with the same Message-ID and the
same papers, and composes the rest.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperboard.core.errors import NotFoundError
from paperboard.core.names import normalize_email
from paperboard.store.database import begin_write
from paperboard.store.rows import MemberRow, SubscriberRow
from paperboard.store.schema import DigestRun, DigestSend, SentPaper, Subscriber, table_of

subscribers = table_of(Subscriber)
digest_sends = table_of(DigestSend)
sent_papers = table_of(SentPaper)
digest_runs = table_of(DigestRun)

FREQUENCIES = ("daily", "weekly", "off")


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def _subscriber(row: Any) -> SubscriberRow:
    return cast(SubscriberRow, dict(row._mapping))


class DigestStore:
    """Subscribers, what was sent to them, and digest runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- subscribers ----------------------------------------------------------------------------

    def subscribe(
        self,
        email: str,
        *,
        member_id: int | None = None,
        frequency: str = "daily",
        categories: list[str] | None = None,
        keywords: list[str] | None = None,
        for_you: bool = True,
        confirmed: bool = False,
    ) -> SubscriberRow:
        """Add an address, or update its choices. An address that had unsubscribed, or is new,
        must confirm again (unless ``confirmed``, for admins adding addresses they vouch for)."""
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
        address = normalize_email(email)
        now = datetime.now(UTC)
        choices = {
            "frequency": frequency,
            "categories": sorted(dict.fromkeys(c.strip() for c in categories or [] if c.strip())),
            "keywords": list(dict.fromkeys(k.strip() for k in keywords or [] if k.strip())),
            "for_you": for_you,
        }
        current = select(subscribers).where(subscribers.c.email == address).with_for_update()
        with begin_write(self.engine) as connection:
            existing = connection.execute(current).first()
            if existing is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(subscribers).values(
                                email=address,
                                member_id=member_id,
                                created_at=now,
                                confirmed_at=now if confirmed else None,
                                **choices,
                            )
                        )
                except IntegrityError:
                    # A concurrent subscription of the same address (PostgreSQL; SQLite writers
                    # queue on BEGIN IMMEDIATE) committed first: update that one instead.
                    existing = connection.execute(current).one()
            if existing is not None:
                values: dict[str, Any] = dict(choices)
                if member_id is not None:
                    values["member_id"] = member_id
                if existing.unsubscribed_at is not None or existing.stopped_reason is not None:
                    values.update(
                        unsubscribed_at=None,
                        stopped_reason=None,
                        bounces=0,
                        confirmed_at=now if confirmed else None,
                    )
                elif confirmed and existing.confirmed_at is None:
                    values["confirmed_at"] = now
                connection.execute(
                    update(subscribers).where(subscribers.c.id == existing.id).values(values)
                )
        found = self.by_email(address)
        assert found is not None
        return found

    def get(self, subscriber_id: int) -> SubscriberRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(subscribers).where(subscribers.c.id == subscriber_id)
            ).first()
            return _subscriber(row) if row else None

    def by_email(self, email: str) -> SubscriberRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(subscribers).where(subscribers.c.email == normalize_email(email))
            ).first()
            return _subscriber(row) if row else None

    def by_member(self, member_id: int) -> SubscriberRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(subscribers).where(subscribers.c.member_id == member_id)
            ).first()
            return _subscriber(row) if row else None

    def for_member(self, member: MemberRow) -> SubscriberRow | None:
        """The subscription an account manages: its own, or the one of its address. None until
        the address is verified: signing up proves nothing about the address given, and the
        subscription belongs to whoever reads that inbox."""
        if member["email_verified_at"] is None:
            return None
        return self.by_member(member["id"]) or self.by_email(member["email"])

    def all(self) -> list[SubscriberRow]:
        with self.engine.connect() as connection:
            return [
                _subscriber(r)
                for r in connection.execute(select(subscribers).order_by(subscribers.c.id))
            ]

    def due(self, frequency: str) -> list[SubscriberRow]:
        """Confirmed, subscribed, not stopped, at this frequency: who gets this run's digest."""
        query = (
            select(subscribers)
            .where(
                subscribers.c.frequency == frequency,
                subscribers.c.confirmed_at.is_not(None),
                subscribers.c.unsubscribed_at.is_(None),
                subscribers.c.stopped_reason.is_(None),
            )
            .order_by(subscribers.c.id)
        )
        with self.engine.connect() as connection:
            return [_subscriber(r) for r in connection.execute(query)]

    def _set(self, subscriber_id: int, **values: Any) -> None:
        with begin_write(self.engine) as connection:
            result = connection.execute(
                update(subscribers).where(subscribers.c.id == subscriber_id).values(values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no subscriber {subscriber_id}")

    def confirm(self, subscriber_id: int) -> None:
        self._set(subscriber_id, confirmed_at=datetime.now(UTC), unsubscribed_at=None)

    def confirmation_sent(self, subscriber_id: int) -> None:
        self._set(subscriber_id, confirmation_sent_at=datetime.now(UTC))

    def unsubscribe(self, subscriber_id: int) -> None:
        self._set(subscriber_id, unsubscribed_at=datetime.now(UTC))

    def remove(self, email: str) -> bool:
        with begin_write(self.engine) as connection:
            return (
                connection.execute(
                    delete(subscribers).where(subscribers.c.email == normalize_email(email))
                ).rowcount
                > 0
            )

    def bounced(self, subscriber_id: int, reason: str, *, limit: int) -> bool:
        """Count a permanent failure; after ``limit`` of them, mail to the address stops.
        Returns True when it stopped."""
        with begin_write(self.engine) as connection:
            bounces = connection.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(bounces=subscribers.c.bounces + 1)
                .returning(subscribers.c.bounces)
            ).scalar_one_or_none()
            if bounces is None:
                return False
            if bounces >= limit:
                connection.execute(
                    update(subscribers)
                    .where(subscribers.c.id == subscriber_id)
                    .values(stopped_reason=reason[:500])
                )
            return int(bounces) >= limit

    def stopped(self) -> list[SubscriberRow]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(subscribers)
                .where(subscribers.c.stopped_reason.is_not(None))
                .order_by(subscribers.c.id)
            )
            return [_subscriber(r) for r in rows]

    # -- the ledger -----------------------------------------------------------------------------

    def send_record(self, subscriber_id: int, period_key: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(digest_sends).where(
                    digest_sends.c.subscriber_id == subscriber_id,
                    digest_sends.c.period_key == period_key,
                )
            ).first()
            return _row(row) if row else None

    def records(self, period_key: str) -> dict[int, dict[str, Any]]:
        """Every ledger row of a period, by subscriber."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(digest_sends).where(digest_sends.c.period_key == period_key)
            )
            return {int(r.subscriber_id): _row(r) for r in rows}

    def record_intent(
        self,
        subscriber_id: int,
        period_key: str,
        message_id: str,
        top_ids: list[str],
        picks: list[dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Commit what is about to be sent (and mark its papers as sent to this subscriber);
        None when this subscriber's digest of the period is already recorded (by another
        sender: the caller sends nothing)."""
        now = datetime.now(UTC)
        papers = list(dict.fromkeys([*top_ids, *(p["id"] for p in picks)]))
        try:
            self._record_intent(subscriber_id, period_key, message_id, top_ids, picks, papers, now)
        except IntegrityError:  # uq_digest_sends_subscriber_period: someone else's now
            return None
        record = self.send_record(subscriber_id, period_key)
        assert record is not None
        return record

    def _record_intent(
        self,
        subscriber_id: int,
        period_key: str,
        message_id: str,
        top_ids: list[str],
        picks: list[dict[str, Any]],
        papers: list[str],
        now: datetime,
    ) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(
                insert(digest_sends).values(
                    subscriber_id=subscriber_id,
                    period_key=period_key,
                    message_id=message_id,
                    status="intent",
                    top_ids=top_ids,
                    picks=picks,
                    created_at=now,
                )
            )
            known = set(
                connection.execute(
                    select(sent_papers.c.paper_id).where(
                        sent_papers.c.subscriber_id == subscriber_id
                    )
                ).scalars()
            )
            fresh = [
                {"subscriber_id": subscriber_id, "paper_id": pid}
                for pid in papers
                if pid not in known
            ]
            if fresh:
                connection.execute(insert(sent_papers), fresh)

    def record_empty(self, subscriber_id: int, period_key: str, reason: str) -> None:
        """Record that this subscriber had nothing new in the period (nothing if another sender
        recorded the period for them meanwhile)."""
        with contextlib.suppress(IntegrityError), begin_write(self.engine) as connection:
            connection.execute(
                insert(digest_sends).values(
                    subscriber_id=subscriber_id,
                    period_key=period_key,
                    message_id="",
                    status="empty",
                    top_ids=[],
                    picks=[],
                    created_at=datetime.now(UTC),
                    last_error=reason,
                )
            )

    def mark(self, record_id: int, status: str, *, error: str | None = None) -> None:
        values: dict[str, Any] = {
            "status": status,
            "attempts": digest_sends.c.attempts + 1,
            "last_error": error,
        }
        if status == "sent":
            values["sent_at"] = datetime.now(UTC)
        with begin_write(self.engine) as connection:
            connection.execute(
                update(digest_sends).where(digest_sends.c.id == record_id).values(values)
            )

    def sent_paper_ids(self, subscriber_id: int) -> set[str]:
        return self.sent_paper_ids_of([subscriber_id])[subscriber_id]

    def sent_paper_ids_of(self, subscriber_ids: list[int]) -> dict[int, set[str]]:
        """:meth:`sent_paper_ids` of many subscribers in one query per 500 (each id is a key)."""
        found: dict[int, set[str]] = {sid: set() for sid in subscriber_ids}
        wanted = list(found)
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), 500):
                rows = connection.execute(
                    select(sent_papers.c.subscriber_id, sent_papers.c.paper_id).where(
                        sent_papers.c.subscriber_id.in_(wanted[start : start + 500])
                    )
                )
                for subscriber_id, paper_id in rows:
                    found[subscriber_id].add(paper_id)
        return found

    # -- runs -----------------------------------------------------------------------------------

    def start_run(self, period_key: str) -> int:
        with begin_write(self.engine) as connection:
            return int(
                connection.execute(
                    insert(digest_runs)
                    .values(period_key=period_key, started_at=datetime.now(UTC), status="running")
                    .returning(digest_runs.c.id)
                ).scalar_one()
            )

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, int], detail: str | None = None
    ) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(
                update(digest_runs)
                .where(digest_runs.c.id == run_id)
                .values(status=status, finished_at=datetime.now(UTC), detail=detail, **counts)
            )

    def recent_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(digest_runs).order_by(digest_runs.c.id.desc()).limit(limit)
            )
            return [_row(r) for r in rows]
