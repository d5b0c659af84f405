"""Upvotes, comments and submissions: what members do to papers.

Each change updates ``paper_counts`` in the same transaction, so feed pages sort by upvotes and
show comment counts without counting rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from paperboard.core.errors import ForbiddenError, LimitError, NotFoundError
from paperboard.store.database import begin_write
from paperboard.store.rows import AuthoredCommentRow, CommentRow, MemberRow
from paperboard.store.schema import (
    Comment,
    LoginFailure,
    Member,
    Paper,
    PaperCounts,
    Submission,
    Vote,
    table_of,
)

votes = table_of(Vote)
comments = table_of(Comment)
submissions = table_of(Submission)
paper_counts = table_of(PaperCounts)
papers = table_of(Paper)
members = table_of(Member)
login_failures = table_of(LoginFailure)


def _bump(
    connection: Connection, paper_id: str, *, votes_by: int = 0, comments_by: int = 0
) -> None:
    # One upsert: an UPDATE that found no row followed by an INSERT would race with another
    # transaction inserting the same paper's first counts (a unique violation on PostgreSQL).
    upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        upsert(paper_counts)
        .values(paper_id=paper_id, votes=max(votes_by, 0), comments=max(comments_by, 0))
        .on_conflict_do_update(
            index_elements=[paper_counts.c.paper_id],
            set_={
                "votes": paper_counts.c.votes + votes_by,
                "comments": paper_counts.c.comments + comments_by,
            },
        )
    )


class CommunityStore:
    """Votes, comments and submissions in the paper database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _require_paper(self, connection: Connection, paper_id: str) -> None:
        if connection.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
            raise NotFoundError(f"no paper {paper_id}")

    # -- upvotes --------------------------------------------------------------------------------

    def upvote(self, member_id: int, paper_id: str) -> bool:
        """Add the member's upvote; False if it was already there (the primary key says so)."""
        with begin_write(self.engine) as connection:
            self._require_paper(connection, paper_id)
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(votes).values(
                            member_id=member_id, paper_id=paper_id, created_at=datetime.now(UTC)
                        )
                    )
            except IntegrityError:
                return False
            _bump(connection, paper_id, votes_by=1)
            return True

    def unvote(self, member_id: int, paper_id: str) -> bool:
        """Take the member's upvote back; False if there was none."""
        with begin_write(self.engine) as connection:
            removed = connection.execute(
                delete(votes).where(votes.c.member_id == member_id, votes.c.paper_id == paper_id)
            ).rowcount
            if removed:
                _bump(connection, paper_id, votes_by=-1)
            return bool(removed)

    def voted(self, member_id: int, paper_ids: list[str]) -> set[str]:
        """Which of ``paper_ids`` the member has upvoted."""
        if not paper_ids:
            return set()
        with self.engine.connect() as connection:
            return set(
                connection.execute(
                    select(votes.c.paper_id).where(
                        votes.c.member_id == member_id, votes.c.paper_id.in_(paper_ids)
                    )
                ).scalars()
            )

    def upvotes_of(self, member_id: int) -> list[tuple[str, datetime]]:
        """The member's upvoted papers with when, newest first (what recommendations learn from)."""
        return self.upvotes_of_many([member_id])[member_id]

    def upvotes_of_many(self, member_ids: Sequence[int]) -> dict[int, list[tuple[str, datetime]]]:
        """:meth:`upvotes_of` for several members in one query (every id is a key)."""
        out: dict[int, list[tuple[str, datetime]]] = {mid: [] for mid in member_ids}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(votes.c.member_id, votes.c.paper_id, votes.c.created_at)
                .where(votes.c.member_id.in_(list(out)))
                .order_by(votes.c.member_id, votes.c.created_at.desc())
            )
            for row in rows:
                out[row.member_id].append((row.paper_id, row.created_at))
        return out

    # -- comments -------------------------------------------------------------------------------

    def add_comment(self, paper_id: str, member_id: int, body: str) -> int:
        with begin_write(self.engine) as connection:
            self._require_paper(connection, paper_id)
            comment_id = connection.execute(
                insert(comments)
                .values(
                    paper_id=paper_id, member_id=member_id, body=body, created_at=datetime.now(UTC)
                )
                .returning(comments.c.id)
            ).scalar_one()
            _bump(connection, paper_id, comments_by=1)
            return int(comment_id)

    def comment(self, comment_id: int) -> CommentRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(comments).where(comments.c.id == comment_id)).first()
            return cast(CommentRow, dict(row._mapping)) if row else None

    def comments(self, paper_id: str) -> list[AuthoredCommentRow]:
        """A paper's comments, oldest first, each with its author's name (None once deleted)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(comments, members.c.name.label("author"))
                .select_from(comments.outerjoin(members, members.c.id == comments.c.member_id))
                .where(comments.c.paper_id == paper_id)
                .order_by(comments.c.created_at, comments.c.id)
            )
            return [cast(AuthoredCommentRow, dict(row._mapping)) for row in rows]

    def _check_owner(
        self, connection: Connection, comment_id: int, member: MemberRow, *, moderate: bool
    ) -> str:
        row = connection.execute(
            select(comments.c.member_id, comments.c.paper_id).where(comments.c.id == comment_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no comment {comment_id}")
        allowed = row.member_id == member["id"] or (
            moderate and member["role"] in ("moderator", "admin")
        )
        if not allowed:
            raise ForbiddenError("that comment is not yours")
        return str(row.paper_id)

    def edit_comment(self, comment_id: int, member: MemberRow, body: str) -> None:
        """Change one's own comment (moderators delete, they do not rewrite)."""
        with begin_write(self.engine) as connection:
            self._check_owner(connection, comment_id, member, moderate=False)
            connection.execute(
                update(comments)
                .where(comments.c.id == comment_id)
                .values(body=body, edited_at=datetime.now(UTC))
            )

    def delete_comment(self, comment_id: int, member: MemberRow) -> str:
        """Delete one's own comment, or any as a moderator or admin; returns the paper id."""
        with begin_write(self.engine) as connection:
            paper_id = self._check_owner(connection, comment_id, member, moderate=True)
            connection.execute(delete(comments).where(comments.c.id == comment_id))
            _bump(connection, paper_id, comments_by=-1)
            return paper_id

    # -- submissions ----------------------------------------------------------------------------

    def submit(
        self,
        paper_id: str,
        member_id: int,
        submitter: str,
        day: date,
        *,
        quota: int | None = None,
        withdraw: Sequence[int] = (),
    ) -> bool:
        """Put a stored paper on ``day``'s feed as submitted by ``submitter``; False if it had been
        submitted before (a paper is submitted once, as on Daily Papers). With ``quota``, a
        LimitError once the member has submitted that many papers on ``day``: counted in the same
        transaction as the insert, with the member's row locked (PostgreSQL; SQLite writers queue
        on BEGIN IMMEDIATE), so submissions sent together cannot all fit under the quota.
        ``withdraw``: the throttle rows (``MemberStore.claim_attempt``) that counted the arXiv
        look-up which became this submission, deleted in the same transaction as it is inserted,
        so that no one counting both in between sees the look-up twice or not at all."""
        now = datetime.now(UTC)
        with begin_write(self.engine) as connection:
            self._require_paper(connection, paper_id)
            taken = select(submissions.c.paper_id).where(submissions.c.paper_id == paper_id)
            if connection.execute(taken).first() is not None:
                return False
            if quota is not None:
                connection.execute(
                    select(members.c.id).where(members.c.id == member_id).with_for_update()
                )
                submitted = connection.execute(
                    select(func.count())
                    .select_from(submissions)
                    .where(submissions.c.member_id == member_id, submissions.c.day == day)
                ).scalar_one()
                if submitted >= quota:
                    raise LimitError(
                        f"you have submitted {quota} papers today, the daily quota: "
                        "try again tomorrow"
                    )
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(submissions).values(
                            paper_id=paper_id, member_id=member_id, day=day, created_at=now
                        )
                    )
            except IntegrityError:
                return False
            connection.execute(
                update(papers)
                .where(papers.c.id == paper_id)
                .values(
                    submitted_on_daily=day, submitted_by=submitter, feed_date=day, changed_at=now
                )
            )
            if withdraw:
                connection.execute(delete(login_failures).where(login_failures.c.id.in_(withdraw)))
            return True

    def submissions_on(self, member_id: int, day: date) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(submissions)
                    .where(submissions.c.member_id == member_id, submissions.c.day == day)
                ).scalar_one()
            )

    def submission(self, paper_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(submissions).where(submissions.c.paper_id == paper_id)
            ).first()
            return dict(row._mapping) if row else None

    # -- accounts going away --------------------------------------------------------------------

    def forget_member(self, member_id: int) -> None:
        """Take back a leaving member's upvotes (keeping the counts right); their comments and
        submissions stay, without an author."""
        with begin_write(self.engine) as connection:
            voted = list(
                connection.execute(
                    select(votes.c.paper_id).where(votes.c.member_id == member_id)
                ).scalars()
            )
            for paper_id in voted:
                _bump(connection, paper_id, votes_by=-1)
            connection.execute(delete(votes).where(votes.c.member_id == member_id))
            connection.execute(
                update(comments).where(comments.c.member_id == member_id).values(member_id=None)
            )
            connection.execute(
                update(submissions)
                .where(submissions.c.member_id == member_id)
                .values(member_id=None)
            )

    # -- imports: upvotes with their own times (a profile, a library) ---------------------------

    def import_upvotes(self, member_id: int, upvotes_at: Sequence[tuple[str, datetime]]) -> int:
        """Add the member's upvotes of many stored papers at the times given, in one
        transaction; how many were new. Upvotes already there keep their time, so importing
        the same upvotes again changes nothing."""
        wanted = dict(upvotes_at)  # one time per paper: the last given
        ids = list(wanted)
        with begin_write(self.engine) as connection:
            have: set[str] = set()
            for start in range(0, len(ids), 900):  # below every backend's limit on parameters
                chunk = ids[start : start + 900]
                known = set(
                    connection.execute(select(papers.c.id).where(papers.c.id.in_(chunk))).scalars()
                )
                missing = [pid for pid in chunk if pid not in known]
                if missing:
                    raise NotFoundError(f"no paper {missing[0]}")
                have.update(
                    connection.execute(
                        select(votes.c.paper_id).where(
                            votes.c.member_id == member_id, votes.c.paper_id.in_(chunk)
                        )
                    ).scalars()
                )
            new = [(pid, at) for pid, at in wanted.items() if pid not in have]
            if new:
                connection.execute(
                    insert(votes),
                    [
                        {"member_id": member_id, "paper_id": pid, "created_at": at}
                        for pid, at in new
                    ],
                )
                for pid, _ in new:
                    _bump(connection, pid, votes_by=1)
            return len(new)
