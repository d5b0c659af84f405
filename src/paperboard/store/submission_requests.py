"""Submissions waiting for arXiv: queued by the submit form or API, fetched in the background.

A request starts ``queued``; whoever fetches it (the site's background task, or the worker for
one left over) first *claims* it, one atomic update that only one claimant can win, and ends it
``fetched`` or ``failed``. A claim older than the caller's ``stale_before`` counts as abandoned
(the process fetching it died), so the request can be claimed again: nothing queued is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from paperboard.store.database import begin_write
from paperboard.store.rows import SubmissionRequestRow
from paperboard.store.schema import LoginFailure, Member, Submission, SubmissionRequest, table_of

requests = table_of(SubmissionRequest)
login_failures = table_of(LoginFailure)
members = table_of(Member)
submissions = table_of(Submission)

QUEUED, FETCHED, FAILED = "queued", "fetched", "failed"


class SubmissionRequestStore:
    """The ``submission_requests`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def queue(
        self, member_id: int, arxiv_id: str, *, quota: int, key: str, window: timedelta
    ) -> SubmissionRequestRow | None:
        """A new queued request of ``member_id`` for ``arxiv_id``, its arXiv look-up counted under
        the throttle ``key`` (a ``login_failures`` row, as ``MemberStore.claim_attempt`` counts),
        or None when the member's look-ups in the last ``window`` and submissions today already
        make ``quota``. Counted and inserted in one transaction, with the member's row locked as
        ``CommunityStore.submit`` locks it (PostgreSQL; SQLite writers queue on BEGIN IMMEDIATE),
        so that look-ups sent together, or ending in submissions meanwhile, stay within it."""
        now = datetime.now(UTC)
        with begin_write(self.engine) as connection:
            connection.execute(
                select(members.c.id).where(members.c.id == member_id).with_for_update()
            )
            if connection.dialect.name == "postgresql":  # the lock claim_attempt takes for a key
                connection.execute(
                    select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0)))
                )
            looked_up = connection.execute(
                select(func.count())
                .select_from(login_failures)
                .where(login_failures.c.key == key, login_failures.c.at > now - window)
            ).scalar_one()
            submitted = connection.execute(
                select(func.count())
                .select_from(submissions)
                .where(submissions.c.member_id == member_id, submissions.c.day == now.date())
            ).scalar_one()
            if looked_up + submitted >= quota:
                return None
            claim_id = connection.execute(
                insert(login_failures).values(key=key, at=now).returning(login_failures.c.id)
            ).scalar_one()
            new_id = connection.execute(
                insert(requests)
                .values(
                    member_id=member_id,
                    arxiv_id=arxiv_id,
                    state=QUEUED,
                    tries=0,
                    claim_id=claim_id,
                    created_at=now,
                    updated_at=now,
                )
                .returning(requests.c.id)
            ).scalar_one()
        found = self.get(int(new_id))
        assert found is not None
        return found

    def get(self, request_id: int) -> SubmissionRequestRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(requests).where(requests.c.id == request_id)).first()
        return cast(SubmissionRequestRow, dict(row._mapping)) if row else None

    def pending(self, member_id: int, arxiv_id: str) -> SubmissionRequestRow | None:
        """The member's request for this paper still queued, if any (asking twice queues once)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(requests)
                .where(
                    requests.c.member_id == member_id,
                    requests.c.arxiv_id == arxiv_id,
                    requests.c.state == QUEUED,
                )
                .order_by(requests.c.id)
            ).first()
        return cast(SubmissionRequestRow, dict(row._mapping)) if row else None

    def claim(
        self, request_id: int, stale_before: datetime, *, now: datetime | None = None
    ) -> SubmissionRequestRow | None:
        """Start fetching a queued request: the row (its ``tries`` counted) if this caller won it;
        None if it is no longer queued or someone claimed it after ``stale_before``."""
        now = now or datetime.now(UTC)
        with begin_write(self.engine) as connection:
            won = connection.execute(
                update(requests)
                .where(
                    requests.c.id == request_id,
                    requests.c.state == QUEUED,
                    or_(requests.c.claimed_at.is_(None), requests.c.claimed_at < stale_before),
                )
                .values(claimed_at=now, updated_at=now, tries=requests.c.tries + 1)
            ).rowcount
        return self.get(request_id) if won == 1 else None

    def finish(self, request_id: int, state: str, error: str | None = None) -> None:
        """End a request ``fetched`` or ``failed`` (with ``error``, one sentence)."""
        if state not in (FETCHED, FAILED):
            raise ValueError(f"a request ends fetched or failed, not {state!r}")
        with begin_write(self.engine) as connection:
            connection.execute(
                update(requests)
                .where(requests.c.id == request_id)
                .values(state=state, error=error, updated_at=datetime.now(UTC))
            )

    def leftovers(self, stale_before: datetime, *, limit: int = 50) -> list[int]:
        """Queued requests nobody is fetching: never claimed since before ``stale_before``, or
        claimed before it (the process fetching them went away), oldest first."""
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(requests.c.id)
                    .where(
                        requests.c.state == QUEUED,
                        or_(
                            and_(
                                requests.c.claimed_at.is_(None),
                                requests.c.created_at < stale_before,
                            ),
                            requests.c.claimed_at < stale_before,
                        ),
                    )
                    .order_by(requests.c.id)
                    .limit(limit)
                ).scalars()
            )
