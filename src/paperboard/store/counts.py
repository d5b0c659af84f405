"""Row counts for monitoring: cheap reads (one ``count(*)`` each) that a metrics scrape runs."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from paperboard.store.schema import DigestSend, Member, Paper, table_of

papers = table_of(Paper)
members = table_of(Member)
digest_sends = table_of(DigestSend)


class CountStore:
    """How many papers, members and digest sends the database holds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def papers(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(papers)).scalar_one())

    def members(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(members)).scalar_one())

    def digest_sends_by_status(self) -> dict[str, int]:
        """Rows of the send ledger by status (``intent``, ``sent``, ``empty``, ``failed``)."""
        query = select(digest_sends.c.status, func.count()).group_by(digest_sends.c.status)
        with self.engine.connect() as connection:
            return {str(status): int(n) for status, n in connection.execute(query).tuples()}
