"""Embeddings in the shared database, and the derived files every node serves alike.

A paper's vector is computed once, by whichever node embeds it, and stored here as float16
bytes with the hash of the text it came from; every node copies what was stored since it last
looked into its own local index (``paperboard.index.replica``), so a new app server pointed at
an existing database becomes ready without embedding anything. Rows are keyed by model, so
vectors of another model or text length never mix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from paperboard.store.database import after_key, begin_write
from paperboard.store.schema import PaperVector, SharedFile, table_of

paper_vectors = table_of(PaperVector)
shared_files = table_of(SharedFile)

_IN_LIST = 500  # ids per IN (...) list


def _upsert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class EmbeddingStore:
    """Stored paper vectors, by model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(
        self,
        model: str,
        rows: Sequence[tuple[str, str, bytes]],
        *,
        now: datetime | None = None,
    ) -> None:
        """Store ``(paper_id, text_hash, float16 bytes)`` rows, replacing a paper's older row."""
        if not rows:
            return
        now = now or datetime.now(UTC)
        values = [
            {"model": model, "paper_id": i, "text_hash": h, "vector": v, "stored_at": now}
            for i, h, v in rows
        ]
        with begin_write(self.engine) as connection:
            statement = _upsert(connection.dialect.name)(paper_vectors)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[paper_vectors.c.model, paper_vectors.c.paper_id],
                    set_={
                        "text_hash": statement.excluded.text_hash,
                        "vector": statement.excluded.vector,
                        "stored_at": statement.excluded.stored_at,
                    },
                ),
                values,
            )

    def get(self, model: str, paper_ids: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        """(text hash, float16 bytes) of each of ``paper_ids`` stored under ``model``."""
        wanted = list(paper_ids)
        found: dict[str, tuple[str, bytes]] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), _IN_LIST):
                part = wanted[start : start + _IN_LIST]
                rows = connection.execute(
                    select(
                        paper_vectors.c.paper_id, paper_vectors.c.text_hash, paper_vectors.c.vector
                    ).where(paper_vectors.c.model == model, paper_vectors.c.paper_id.in_(part))
                )
                found.update({row.paper_id: (row.text_hash, bytes(row.vector)) for row in rows})
        return found

    def stored_since(
        self, model: str, since: datetime | None, *, batch: int = 5000
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of ``model`` stored after ``since`` (all with None), oldest first, in batches of
        dicts with paper_id, text_hash, vector and stored_at. Paged by (stored_at, paper_id), so
        rows stored meanwhile are not skipped or repeated within one pass."""
        after: tuple[datetime, str] | None = None
        while True:
            query = select(
                paper_vectors.c.paper_id,
                paper_vectors.c.text_hash,
                paper_vectors.c.vector,
                paper_vectors.c.stored_at,
            ).where(paper_vectors.c.model == model)
            if since is not None:
                query = query.where(paper_vectors.c.stored_at > since)
            if after is not None:
                query = query.where(
                    after_key(paper_vectors.c.stored_at, paper_vectors.c.paper_id, after)
                )
            query = query.order_by(paper_vectors.c.stored_at, paper_vectors.c.paper_id).limit(batch)
            with self.engine.connect() as connection:
                rows = [dict(row._mapping) for row in connection.execute(query)]
            if not rows:
                return
            yield rows
            after = (rows[-1]["stored_at"], rows[-1]["paper_id"])
            if len(rows) < batch:
                return

    def count(self, model: str) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).where(paper_vectors.c.model == model)
                ).scalar_one()
            )

    def newest(self, model: str) -> datetime | None:
        """When the newest row of ``model`` was stored."""
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(
                select(func.max(paper_vectors.c.stored_at)).where(paper_vectors.c.model == model)
            ).scalar_one()
        return value

    def models(self) -> dict[str, int]:
        """Every model with stored vectors, and how many."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(paper_vectors.c.model, func.count()).group_by(paper_vectors.c.model)
            )
            return {row[0]: int(row[1]) for row in rows}

    def delete(self, paper_ids: Iterable[str]) -> int:
        """Forget the vectors (of every model) of deleted papers."""
        wanted = list(paper_ids)
        done = 0
        with begin_write(self.engine) as connection:
            for start in range(0, len(wanted), _IN_LIST):
                part = wanted[start : start + _IN_LIST]
                done += connection.execute(
                    delete(paper_vectors).where(paper_vectors.c.paper_id.in_(part))
                ).rowcount
        return done

    def drop_model(self, model: str) -> int:
        """Forget every vector of ``model`` (a rebuild with another model or text length)."""
        with begin_write(self.engine) as connection:
            return int(
                connection.execute(
                    delete(paper_vectors).where(paper_vectors.c.model == model)
                ).rowcount
            )


class SharedFiles:
    """Named files derived once and served by every node (the literature map)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, name: str, data: bytes, *, now: datetime | None = None) -> datetime:
        """Store ``data`` as ``name``; returns its stamp."""
        now = now or datetime.now(UTC)
        with begin_write(self.engine) as connection:
            statement = _upsert(connection.dialect.name)(shared_files).values(
                name=name, data=data, stored_at=now
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[shared_files.c.name],
                    set_={"data": statement.excluded.data, "stored_at": now},
                )
            )
        return now

    def stamp(self, name: str) -> datetime | None:
        """When ``name`` was last stored (None: never)."""
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(
                select(shared_files.c.stored_at).where(shared_files.c.name == name)
            ).scalar_one_or_none()
        return value

    def get(self, name: str) -> tuple[bytes, datetime] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(shared_files.c.data, shared_files.c.stored_at).where(
                    shared_files.c.name == name
                )
            ).first()
        return (bytes(row.data), row.stored_at) if row is not None else None
