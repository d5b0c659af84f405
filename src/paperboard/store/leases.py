"""Leases and job runs: how any number of workers, on any nodes, share one schedule.

A *lease* is a named lock with an expiry, held by one worker (``holder``) and renewed while it
works. Taking one is a single conditional upsert, so two workers asking at once cannot both get
it; a worker that dies stops renewing, and once ``expires_at`` has passed another may take it.
A *job run* row marks a job done for one due time (an ingest slot, a digest day): a worker that
finds it skips the job, so each runs once per due time however many workers look.

Expiry is judged by the clock of the node asking; nodes keep their clocks in step (NTP), and a
lease lasts long enough (minutes) that small differences do not matter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paperboard.store.database import begin_write
from paperboard.store.schema import JobRun, Lease, table_of

log = logging.getLogger(__name__)
leases = table_of(Lease)
job_runs = table_of(JobRun)


def _now() -> datetime:
    return datetime.now(UTC)


class LeaseStore:
    """Leases and job runs in the deployment's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def acquire(
        self,
        name: str,
        holder: str,
        seconds: float,
        *,
        replacing: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Take (or renew) the lease ``name`` for ``seconds``; False when another holder has it
        and it has not expired. ``replacing`` names a holder known to be dead, whose lease is
        taken even before it expires."""
        now = now or _now()
        expires = now + timedelta(seconds=seconds)
        with begin_write(self.engine) as connection:
            upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = upsert(leases).values(
                name=name, holder=holder, acquired_at=now, expires_at=expires
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[leases.c.name],
                    set_={
                        "holder": statement.excluded.holder,
                        # a renewal keeps when the lease was first taken
                        "acquired_at": _kept_acquired(statement, now),
                        "expires_at": statement.excluded.expires_at,
                    },
                    where=(leases.c.expires_at <= now)
                    | (leases.c.holder == holder)
                    | (leases.c.holder == (replacing or holder)),
                )
            )
            held = connection.execute(
                select(leases.c.holder).where(leases.c.name == name)
            ).scalar_one()
        return bool(held == holder)

    def renew(self, name: str, holder: str, seconds: float, *, now: datetime | None = None) -> bool:
        """Push the expiry of a lease this holder has on; False when it is no longer theirs
        (it expired and another took it)."""
        now = now or _now()
        with begin_write(self.engine) as connection:
            result = connection.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=now + timedelta(seconds=seconds))
            )
        return bool(result.rowcount)

    def holder_of(self, name: str, *, now: datetime | None = None) -> dict[str, Any] | None:
        """Who holds ``name`` now and until when (None: nobody)."""
        now = now or _now()
        with self.engine.connect() as connection:
            row = connection.execute(
                select(leases).where(leases.c.name == name, leases.c.expires_at > now)
            ).first()
        return dict(row._mapping) if row is not None else None

    def release(self, name: str, holder: str) -> None:
        """Give a lease back at once (only the holder's own)."""
        with begin_write(self.engine) as connection:
            connection.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )

    def holders(self, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """The leases held now: name, holder, acquired_at, expires_at."""
        now = now or _now()
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(leases).where(leases.c.expires_at > now).order_by(leases.c.name)
            )
            return [dict(row._mapping) for row in rows]

    @contextmanager
    def kept(self, name: str, holder: str, seconds: float) -> Iterator[LeaseKeeper]:
        """Renew a lease already taken every third of ``seconds`` while the block runs, then
        release it. The keeper's ``lost`` is set if another holder took it meanwhile (this
        process stalled longer than the lease)."""
        keeper = LeaseKeeper(self, name, holder, seconds)
        keeper.start()
        try:
            yield keeper
        finally:
            keeper.stop()
            self.release(name, holder)

    # -- job runs -------------------------------------------------------------------------------

    def finished(self, job: str, due: str) -> bool:
        """Whether ``job`` has run to the end for the due time ``due``."""
        with self.engine.connect() as connection:
            found = connection.execute(
                select(job_runs.c.finished_at).where(job_runs.c.job == job, job_runs.c.due == due)
            ).first()
        return found is not None and found.finished_at is not None

    def started(self, job: str, due: str, holder: str, *, now: datetime | None = None) -> None:
        """Record that ``holder`` works on ``job`` for ``due`` (again, after a failure or a
        dead holder: the row is taken over, never duplicated)."""
        now = now or _now()
        with begin_write(self.engine) as connection:
            upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = upsert(job_runs).values(job=job, due=due, holder=holder, started_at=now)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[job_runs.c.job, job_runs.c.due],
                    set_={"holder": holder, "started_at": now},
                    where=job_runs.c.finished_at.is_(None),
                )
            )

    def finish(
        self, job: str, due: str, holder: str, summary: str, *, now: datetime | None = None
    ) -> None:
        """Mark ``job`` done for ``due``."""
        now = now or _now()
        with begin_write(self.engine) as connection:
            connection.execute(
                update(job_runs)
                .where(job_runs.c.job == job, job_runs.c.due == due)
                .values(holder=holder, finished_at=now, summary=summary[:2000])
            )

    def last_finished(self, job: str) -> dict[str, Any] | None:
        """The newest finished run of ``job`` (by when it finished)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(job_runs)
                .where(job_runs.c.job == job, job_runs.c.finished_at.is_not(None))
                .order_by(job_runs.c.finished_at.desc())
                .limit(1)
            ).first()
        return dict(row._mapping) if row is not None else None

    def recent_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest job runs, finished or not."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(job_runs).order_by(job_runs.c.started_at.desc()).limit(limit)
            )
            return [dict(row._mapping) for row in rows]


class LeaseKeeper(threading.Thread):
    """Renews one lease in the background until stopped."""

    def __init__(self, leases: LeaseStore, name: str, holder: str, seconds: float) -> None:
        super().__init__(name=f"lease {name}", daemon=True)
        self.leases, self.lease, self.holder, self.seconds = leases, name, holder, seconds
        self.lost = threading.Event()
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.seconds / 3):
            try:
                if not self.leases.renew(self.lease, self.holder, self.seconds):
                    self.lost.set()
                    log.warning("lease %s was taken over from %s", self.lease, self.holder)
                    return
            except Exception:  # the database is away for a moment: try again next time
                log.warning("lease %s could not be renewed", self.lease, exc_info=True)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=10)


def _kept_acquired(statement: Any, now: datetime) -> Any:
    return case((leases.c.holder == statement.excluded.holder, leases.c.acquired_at), else_=now)
