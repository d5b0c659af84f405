"""Members, their sessions, personal API tokens and failed sign-ins: the only code that touches
those tables.

Secrets never reach the database in the clear: session cookies and API tokens are random strings
of which only the SHA-256 is stored, and passwords arrive already hashed (``core/passwords.py``).
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperboard.core.errors import ConflictError, NotFoundError
from paperboard.core.names import check_display_name, check_email_address, normalize_email
from paperboard.store.database import begin_write
from paperboard.store.rows import MemberRow
from paperboard.store.schema import (
    ApiToken,
    Comment,
    LoginFailure,
    Member,
    MemberSession,
    Submission,
    SubmissionRequest,
    Vote,
    table_of,
)

members = table_of(Member)
member_sessions = table_of(MemberSession)
api_tokens = table_of(ApiToken)
login_failures = table_of(LoginFailure)

ROLES = ("member", "moderator", "admin")
TOKEN_PREFIX = "pb_"
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # how precisely a token's last use is kept


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _public(row: Any) -> MemberRow:
    return cast(MemberRow, dict(row._mapping))


class MemberStore:
    """Member accounts and everything that authenticates them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- accounts -------------------------------------------------------------------------------

    def create(
        self,
        email: str,
        name: str,
        password_hash: str,
        *,
        role: str = "member",
        verified: bool = False,
    ) -> MemberRow:
        """A new member; ConflictError if the address is taken, PaperboardError for a name that
        may not be shown (``core/names.py``). ``verified`` when whoever creates the account
        vouches for the address (an operator at the command line); sign-ups prove it by mail."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = datetime.now(UTC)
        address = check_email_address(email)
        values = {
            "email": address,
            "name": check_display_name(name),
            "password_hash": password_hash,
            "role": role,
            "created_at": now,
            "password_changed_at": now,
            "email_verified_at": now if verified else None,
        }
        try:
            with begin_write(self.engine) as connection:
                new_id = connection.execute(
                    insert(members).values(values).returning(members.c.id)
                ).scalar_one()
        except IntegrityError:
            if self.by_email(address) is not None:
                raise ConflictError(f"{address} already has an account") from None
            raise ConflictError(f"the name {values['name']!r} is taken: choose another") from None
        return cast(MemberRow, {"id": int(new_id), **values})

    def get(self, member_id: int) -> MemberRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(members).where(members.c.id == member_id)).first()
        return _public(row) if row else None

    def by_email(self, email: str) -> MemberRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(members).where(members.c.email == normalize_email(email))
            ).first()
        return _public(row) if row else None

    def names(self, member_ids: list[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(members.c.id, members.c.name).where(members.c.id.in_(set(member_ids)))
            )
            return {int(row.id): row.name for row in rows}

    def list(self) -> builtins.list[MemberRow]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(members).order_by(members.c.id))
            return [_public(row) for row in rows]

    def set_password(
        self, member_id: int, password_hash: str, *, keep_session: str | None = None
    ) -> None:
        """Change the password, end every session but ``keep_session`` (a cookie token) and revoke
        every API token: whoever held the old password may have minted one."""
        with begin_write(self.engine) as connection:
            connection.execute(
                update(members)
                .where(members.c.id == member_id)
                .values(password_hash=password_hash, password_changed_at=datetime.now(UTC))
            )
            query = delete(member_sessions).where(member_sessions.c.member_id == member_id)
            if keep_session:
                query = query.where(member_sessions.c.token_hash != _digest(keep_session))
            connection.execute(query)
            connection.execute(delete(api_tokens).where(api_tokens.c.member_id == member_id))

    def verify_email(self, member_id: int, email: str) -> bool:
        """Mark the address as proven, if the member still has it; False if not (the account is
        gone or its address is no longer the one the link was mailed to)."""
        with begin_write(self.engine) as connection:
            found = connection.execute(
                select(members.c.email_verified_at).where(
                    members.c.id == member_id, members.c.email == normalize_email(email)
                )
            ).first()
            if found is None:
                return False
            if found.email_verified_at is None:
                connection.execute(
                    update(members)
                    .where(members.c.id == member_id)
                    .values(email_verified_at=datetime.now(UTC))
                )
            return True

    def set_role(self, member_id: int, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with begin_write(self.engine) as connection:
            if (
                connection.execute(
                    update(members).where(members.c.id == member_id).values(role=role)
                ).rowcount
                == 0
            ):
                raise NotFoundError(f"no member {member_id}")

    def delete(self, member_id: int) -> None:
        """Remove the account, its sessions, tokens and upvotes. Comments stay, shown as by a
        deleted member; submissions stay on the feed without a submitter."""
        from paperboard.store.community import CommunityStore

        CommunityStore(self.engine).forget_member(member_id)
        with begin_write(self.engine) as connection:
            connection.execute(delete(members).where(members.c.id == member_id))

    def export(self, member_id: int) -> dict[str, Any]:
        """Everything stored about a member, as JSON-ready values (no secrets)."""
        member = self.get(member_id)
        if member is None:
            raise NotFoundError(f"no member {member_id}")
        with self.engine.connect() as connection:
            votes = connection.execute(
                select(Vote.paper_id, Vote.created_at)
                .where(Vote.member_id == member_id)
                .order_by(Vote.created_at)
            ).all()
            comments = connection.execute(
                select(
                    Comment.id,
                    Comment.paper_id,
                    Comment.body,
                    Comment.created_at,
                    Comment.edited_at,
                )
                .where(Comment.member_id == member_id)
                .order_by(Comment.created_at)
            ).all()
            submissions = connection.execute(
                select(Submission.paper_id, Submission.day, Submission.created_at)
                .where(Submission.member_id == member_id)
                .order_by(Submission.created_at)
            ).all()
            tokens = connection.execute(
                select(api_tokens.c.name, api_tokens.c.created_at, api_tokens.c.last_used_at).where(
                    api_tokens.c.member_id == member_id
                )
            ).all()
            asked = connection.execute(
                select(
                    SubmissionRequest.arxiv_id,
                    SubmissionRequest.state,
                    SubmissionRequest.error,
                    SubmissionRequest.created_at,
                    SubmissionRequest.updated_at,
                )
                .where(SubmissionRequest.member_id == member_id)
                .order_by(SubmissionRequest.id)
            ).all()
        return {
            "member": {
                k: member[k]
                for k in ("id", "email", "email_verified_at", "name", "role", "created_at")
            },
            "upvotes": [dict(row._mapping) for row in votes],
            "comments": [dict(row._mapping) for row in comments],
            "submissions": [dict(row._mapping) for row in submissions],
            "api_tokens": [dict(row._mapping) for row in tokens],
            "submission_requests": [dict(row._mapping) for row in asked],
        }

    # -- sessions -------------------------------------------------------------------------------

    def start_session(self, member_id: int, lifetime: timedelta) -> tuple[str, str]:
        """A new session; returns (cookie token, CSRF token). Always a fresh token, so a session
        id planted before sign-in is never promoted (no session fixation)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with begin_write(self.engine) as connection:
            connection.execute(member_sessions.delete().where(member_sessions.c.expires_at < now))
            connection.execute(
                insert(member_sessions).values(
                    token_hash=_digest(token),
                    member_id=member_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return token, csrf

    def session(self, token: str) -> tuple[MemberRow, str] | None:
        """(member, CSRF token) of a live session, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(members, member_sessions.c.csrf_token)
                .join(member_sessions, member_sessions.c.member_id == members.c.id)
                .where(
                    member_sessions.c.token_hash == _digest(token),
                    member_sessions.c.expires_at > datetime.now(UTC),
                )
            ).first()
        if row is None:
            return None
        values = dict(row._mapping)
        csrf = str(values.pop("csrf_token"))
        return cast(MemberRow, values), csrf

    def end_session(self, token: str) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(
                delete(member_sessions).where(member_sessions.c.token_hash == _digest(token))
            )

    # -- API tokens -----------------------------------------------------------------------------

    def create_token(self, member_id: int, name: str) -> str:
        """A new personal API token; the only time its value is known."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with begin_write(self.engine) as connection:
            connection.execute(
                insert(api_tokens).values(
                    member_id=member_id,
                    name=name.strip()[:80] or "token",
                    token_hash=_digest(token),
                    created_at=datetime.now(UTC),
                )
            )
        return token

    def tokens(self, member_id: int) -> builtins.list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    api_tokens.c.id,
                    api_tokens.c.name,
                    api_tokens.c.created_at,
                    api_tokens.c.last_used_at,
                )
                .where(api_tokens.c.member_id == member_id)
                .order_by(api_tokens.c.id)
            )
            return [dict(row._mapping) for row in rows]

    def revoke_token(self, member_id: int, token_id: int) -> bool:
        with begin_write(self.engine) as connection:
            result = connection.execute(
                delete(api_tokens).where(
                    api_tokens.c.id == token_id, api_tokens.c.member_id == member_id
                )
            )
            return result.rowcount > 0

    def token_member(self, token: str) -> MemberRow | None:
        """The member a bearer token belongs to, or None. Notes the token's use, to the minute: a
        token called many times a minute is read, not written, on all but the first call."""
        digest = _digest(token)
        now = datetime.now(UTC)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(members, api_tokens.c.last_used_at.label("token_used_at"))
                .join(api_tokens, api_tokens.c.member_id == members.c.id)
                .where(api_tokens.c.token_hash == digest)
            ).first()
        if row is None:
            return None
        values = dict(row._mapping)
        used_at = values.pop("token_used_at")
        if used_at is None or used_at < now - TOKEN_USE_RESOLUTION:
            stale = or_(
                api_tokens.c.last_used_at.is_(None),
                api_tokens.c.last_used_at < now - TOKEN_USE_RESOLUTION,
            )
            with begin_write(self.engine) as connection:
                connection.execute(
                    update(api_tokens)
                    .where(api_tokens.c.token_hash == digest, stale)
                    .values(last_used_at=now)
                )
        return cast(MemberRow, values)

    # -- failed sign-ins ------------------------------------------------------------------------

    def claim_attempt(self, limits: dict[str, int], window: timedelta) -> builtins.list[int] | None:
        """Count one sign-in attempt (or another throttled action: reset mails, sign-ups,
        comments) against each key's limit, as one atomic step: None (and nothing recorded) if a
        key already has its limit of rows in the last ``window``; otherwise the attempt is
        recorded under every key (for a sign-in, as a failure, before the password is checked),
        and the ids of those rows, in the keys' sorted order, are returned for
        :meth:`withdraw_attempt`. Concurrent
        attempts queue here (BEGIN IMMEDIATE on SQLite, an advisory lock per key on PostgreSQL),
        so each one counts those before it, whether they have finished or not."""
        now = datetime.now(UTC)
        keys = sorted(limits)  # locked in one order, so two attempts cannot deadlock
        with begin_write(self.engine) as connection:
            if connection.dialect.name == "postgresql":
                for key in keys:
                    connection.execute(
                        select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0)))
                    )
            for key in keys:
                failed = connection.execute(
                    select(func.count())
                    .select_from(login_failures)
                    .where(login_failures.c.key == key, login_failures.c.at > now - window)
                ).scalar_one()
                if failed >= limits[key]:
                    return None
            ids = [
                int(
                    connection.execute(
                        insert(login_failures)
                        .values(key=key, at=now)
                        .returning(login_failures.c.id)
                    ).scalar_one()
                )
                for key in keys
            ]
        with begin_write(self.engine) as connection:
            connection.execute(
                login_failures.delete().where(login_failures.c.at < now - timedelta(days=1))
            )
        return ids

    def withdraw_attempt(self, ids: builtins.list[int]) -> None:
        """Take back an attempt that :meth:`claim_attempt` recorded: it did not fail."""
        with begin_write(self.engine) as connection:
            connection.execute(delete(login_failures).where(login_failures.c.id.in_(ids)))

    def clear_failures(self, key: str) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(delete(login_failures).where(login_failures.c.key == key))
