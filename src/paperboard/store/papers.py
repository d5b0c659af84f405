"""The paper store: papers, harvest checkpoints and import runs.

Every source's records reach the paper rows through here; the one other writer is
:meth:`CommunityStore.submit <paperboard.store.community.CommunityStore.submit>`, which puts a
member's submission on the feed (its Daily Papers day and submitter) in the same transaction as
the submission itself.

``PaperStore.write`` takes a batch of source records and applies
:func:`~paperboard.store.merge.merge` to each inside one transaction, together with the checkpoint
that follows the batch, so a crash loses nothing and a rerun duplicates nothing. Reads return
plain dicts of column values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any, cast

import orjson
from sqlalchemy import (
    JSON,
    Connection,
    Date,
    Engine,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from paperboard.core.config import Settings
from paperboard.core.errors import PaperboardError
from paperboard.core.names import author_key
from paperboard.core.records import Checkpoint, PaperRecord
from paperboard.store.database import (
    after_key,
    begin_write,
    db_error,
    ensure_schema,
    open_engine,
    write_connection,
)
from paperboard.store.embeddings import EmbeddingStore, SharedFiles
from paperboard.store.merge import CONTENT_COLUMNS, first_values, is_changed, merge
from paperboard.store.rows import CountedPaperRow, FilterFieldsRow, PaperRow
from paperboard.store.schema import (
    Harvest,
    IngestRun,
    Paper,
    PaperCategory,
    PaperCounts,
    PaperDeletion,
    UTCDateTime,
    table_of,
)

papers = table_of(Paper)
paper_categories = table_of(PaperCategory)
harvests = table_of(Harvest)
ingest_runs = table_of(IngestRun)
paper_deletions = table_of(PaperDeletion)
paper_counts = table_of(PaperCounts)

# Member upvotes and comments ride along with every paper read for display; ``total_upvotes``
# is the imported count (e.g. Hugging Face's) plus this site's members' votes.
_member_votes = func.coalesce(paper_counts.c.votes, 0)
total_upvotes = func.coalesce(papers.c.upvotes, 0) + _member_votes
_with_counts = select(
    papers,
    _member_votes.label("member_votes"),
    func.coalesce(paper_counts.c.comments, 0).label("comment_count"),
    total_upvotes.label("total_upvotes"),
).select_from(papers.outerjoin(paper_counts, paper_counts.c.paper_id == papers.c.id))


def _counted(row: Any) -> CountedPaperRow:
    return cast(CountedPaperRow, dict(row._mapping))


_CHUNK = 900  # stays below every backend's limit on bound parameters per statement
_UPDATE_COLUMNS = [c.name for c in papers.columns if c.name not in ("id", "added_at")]


@dataclass(slots=True)
class WriteCounts:
    """What a write did: records that created a paper, changed one, or changed nothing."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: WriteCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@lru_cache(maxsize=8192)
def _sqlite_datetime(value: datetime) -> str:
    # Cached: a batch shares its added/changed time, and papers share submission times.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def _sqlite_encoder(column_type: Any) -> Callable[[Any], Any] | None:
    # The same text SQLAlchemy's own SQLite types write (and read back with fromisoformat).
    if isinstance(column_type, UTCDateTime):
        return _sqlite_datetime
    if isinstance(column_type, Date):
        return date.isoformat
    if isinstance(column_type, JSON):
        return lambda value: orjson.dumps(value).decode()
    return None


def _bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows. On SQLite this skips SQLAlchemy's per-value processing, which is most of
    the cost of a bulk import; values are encoded exactly as SQLAlchemy's SQLite types encode them.
    """
    if connection.dialect.name != "sqlite":
        connection.execute(insert(table), rows)
        return
    columns = [(column.name, _sqlite_encoder(column.type)) for column in table.columns]
    names = ", ".join(f'"{name}"' for name, _ in columns)
    marks = ", ".join("?" for _ in columns)
    values_of = itemgetter(*(name for name, _ in columns))
    encoded = [(index, encode) for index, (_, encode) in enumerate(columns) if encode is not None]
    params = []
    for row in rows:
        values = list(values_of(row))
        for index, encode in encoded:
            if values[index] is not None:
                values[index] = encode(values[index])
        params.append(tuple(values))
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', params)


# A new paper's row on SQLite, staged before the write lock is taken: the values of
# ``first_values`` encoded, then ``added_at`` and ``changed_at``, which are bound under the lock.
_STAGED_ENCODERS = [
    (index, encode)
    for index, name in enumerate(CONTENT_COLUMNS)
    if (encode := _sqlite_encoder(papers.c[name].type)) is not None
]
_STAGED_INSERT = "INSERT INTO papers ({}) VALUES ({})".format(
    ", ".join(f'"{name}"' for name in (*CONTENT_COLUMNS, "added_at", "changed_at")),
    ", ".join("?" * (len(CONTENT_COLUMNS) + 2)),
)
_CATEGORY_INSERT = "INSERT INTO paper_categories (paper_id, category, position) VALUES (?, ?, ?)"
_CATEGORIES = CONTENT_COLUMNS.index("categories")

StagedPaper = tuple[tuple[Any, ...], list[tuple[str, str, int]]]


def _stage(records: Sequence[PaperRecord]) -> dict[str, StagedPaper | None]:
    """Each record's paper row and category rows, encoded for SQLite as if it were new, by id;
    ``None`` for an id that occurs more than once in the batch (those merge in order, under the
    lock). Run before the write lock is taken, so another process can write meanwhile."""
    staged: dict[str, StagedPaper | None] = {}
    for record in records:
        if record.id in staged:
            staged[record.id] = None
            continue
        values = list(first_values(record))
        categories = [
            (record.id, category, position)
            for position, category in enumerate(dict.fromkeys(values[_CATEGORIES]))
        ]
        for index, encode in _STAGED_ENCODERS:
            value = values[index]
            if value is not None:
                values[index] = encode(value)
        staged[record.id] = (tuple(values), categories)
    return staged


def category_condition(category: str) -> Any:
    """Papers listed in ``category`` (any position); an archive such as ``cs`` matches ``cs.*``."""
    column = paper_categories.c.category
    condition = column == category
    if "." not in category:
        condition = or_(condition, column.like(f"{category}.%"))
    return papers.c.id.in_(select(paper_categories.c.paper_id).where(condition))


class PaperStore:
    """Papers, harvest checkpoints and import runs in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, settings: Settings) -> PaperStore:
        """Open the configured database, upgrading its schema if needed."""
        engine = open_engine(settings.db_url)
        ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @cached_property
    def embeddings(self) -> EmbeddingStore:
        """The paper vectors every node shares."""
        return EmbeddingStore(self.engine)

    @cached_property
    def shared_files(self) -> SharedFiles:
        """Derived files every node serves alike (the literature map)."""
        return SharedFiles(self.engine)

    # -- writing ------------------------------------------------------------------------------

    def write(
        self,
        records: Sequence[PaperRecord],
        checkpoint: Checkpoint | None = None,
        *,
        dry_run: bool = False,
    ) -> WriteCounts:
        """Merge ``records`` into the store and save ``checkpoint``, all in one transaction.

        With ``dry_run`` the counts are computed exactly and the transaction is rolled back.
        On SQLite each record's row as a new paper is encoded before the transaction begins, so
        that a parallel importer can hold the write lock meanwhile; under the lock, records of
        papers already stored (or repeated in the batch) go through :func:`merge` as always.
        """
        staged = _stage(records) if self.engine.dialect.name == "sqlite" else {}
        for attempt in range(3):
            try:
                with write_connection(self.engine) as connection:
                    transaction = connection.begin()
                    try:
                        counts = self._write(connection, records, staged)
                        if checkpoint is not None:
                            self._save_checkpoint(connection, checkpoint)
                    except BaseException:
                        transaction.rollback()
                        raise
                    if dry_run:
                        transaction.rollback()
                    else:
                        transaction.commit()
                    return counts
            except IntegrityError:
                # Another writer inserted one of these papers between our read and our insert
                # (PostgreSQL; SQLite writers queue on BEGIN IMMEDIATE). Reading again resolves it.
                if attempt == 2:
                    raise
            except OperationalError as error:
                raise PaperboardError(f"database write failed: {db_error(error)}") from None
        raise AssertionError("unreachable")

    def _write(
        self,
        connection: Connection,
        records: Sequence[PaperRecord],
        staged: dict[str, StagedPaper | None],
    ) -> WriteCounts:
        counts = WriteCounts()
        if not records:
            return counts
        now = datetime.now(UTC)
        ids = list(staged) if staged else list(dict.fromkeys(record.id for record in records))
        stored: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            for row in connection.execute(select(papers).where(papers.c.id.in_(chunk))):
                stored[row.id] = dict(row._mapping)
        current = dict(stored)
        fresh: list[StagedPaper] = []  # staged rows of papers new to the store
        for record in records:
            before = current.get(record.id)
            if before is None and (ready := staged.get(record.id)) is not None:
                fresh.append(ready)
                counts.new += 1
                continue
            merged = merge(before, record, now)
            if before is None:
                merged["changed_at"] = now
                counts.new += 1
            elif is_changed(before, merged):
                merged["changed_at"] = now
                counts.updated += 1
            else:
                counts.unchanged += 1
                continue
            current[record.id] = merged

        if fresh:
            times = (_sqlite_datetime(now),) * 2
            connection.exec_driver_sql(_STAGED_INSERT, [values + times for values, _ in fresh])
        inserts = [row for pid, row in current.items() if pid not in stored]
        updates = [row for pid, row in current.items() if pid in stored and row is not stored[pid]]
        if inserts:
            _bulk_insert(connection, papers, inserts)
        if updates:
            statement = (
                update(papers)
                .where(papers.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in _UPDATE_COLUMNS})
            )
            connection.execute(
                statement,
                [{"_id": row["id"], **{n: row[n] for n in _UPDATE_COLUMNS}} for row in updates],
            )
        recategorized = [
            row for row in updates if row["categories"] != stored[row["id"]]["categories"]
        ]
        for chunk in _chunks([row["id"] for row in recategorized]):
            connection.execute(
                delete(paper_categories).where(paper_categories.c.paper_id.in_(chunk))
            )
        category_rows = [
            {"paper_id": row["id"], "category": category, "position": position}
            for row in (*inserts, *recategorized)
            for position, category in enumerate(dict.fromkeys(row["categories"]))
        ]
        if category_rows:
            _bulk_insert(connection, paper_categories, category_rows)
        fresh_categories = [row for _, categories in fresh for row in categories]
        if fresh_categories:
            connection.exec_driver_sql(_CATEGORY_INSERT, fresh_categories)
        return counts

    def _save_checkpoint(self, connection: Connection, checkpoint: Checkpoint) -> None:
        if checkpoint.state is None:
            connection.execute(delete(harvests).where(harvests.c.key == checkpoint.key))
            return
        now = datetime.now(UTC)
        result = connection.execute(
            update(harvests)
            .where(harvests.c.key == checkpoint.key)
            .values(state=checkpoint.state, updated_at=now)
        )
        if result.rowcount == 0:
            connection.execute(
                insert(harvests).values(key=checkpoint.key, state=checkpoint.state, updated_at=now)
            )

    def harvest_state(self, key: str) -> str | None:
        """The saved resume state of the harvest ``key``, if one was interrupted."""
        with self.engine.connect() as connection:
            return connection.execute(
                select(harvests.c.state).where(harvests.c.key == key)
            ).scalar_one_or_none()

    def clear_harvest(self, key: str) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(delete(harvests).where(harvests.c.key == key))

    def delete(self, paper_id: str) -> bool:
        """Remove a paper, leaving a tombstone for the indexes; True if it existed."""
        with begin_write(self.engine) as connection:
            connection.execute(
                delete(paper_categories).where(paper_categories.c.paper_id == paper_id)
            )
            existed = connection.execute(delete(papers).where(papers.c.id == paper_id)).rowcount > 0
            if existed:
                connection.execute(
                    delete(paper_deletions).where(paper_deletions.c.paper_id == paper_id)
                )
                connection.execute(
                    insert(paper_deletions).values(paper_id=paper_id, deleted_at=datetime.now(UTC))
                )
            return existed

    def changed_since(
        self, since: datetime | None, *, batch: int = 1000
    ) -> Iterator[list[PaperRow]]:
        """Papers added or changed after ``since`` (all when ``None``), in batches, oldest change
        first; each row has every column. Stable under concurrent writes: rows are read by
        (changed_at, id) keyset pages."""
        after: tuple[datetime, str] | None = None
        while True:
            query = select(papers)
            if since is not None:
                query = query.where(papers.c.changed_at > since)
            if after is not None:
                query = query.where(after_key(papers.c.changed_at, papers.c.id, after))
            query = query.order_by(papers.c.changed_at, papers.c.id).limit(batch)
            with self.engine.connect() as connection:
                rows = [cast(PaperRow, dict(row._mapping)) for row in connection.execute(query)]
            if not rows:
                return
            yield rows
            after = (rows[-1]["changed_at"], rows[-1]["id"])

    def deleted_since(self, since: datetime | None) -> list[str]:
        """Ids of papers deleted after ``since`` (all tombstones when ``None``)."""
        query = select(paper_deletions.c.paper_id)
        if since is not None:
            query = query.where(paper_deletions.c.deleted_at > since)
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def filter_fields(self, paper_ids: Sequence[str]) -> dict[str, FilterFieldsRow]:
        """Just what search filters look at (categories, dates, code links), by id: much cheaper
        than whole rows for hundreds of candidates."""
        columns = [
            papers.c.id,
            papers.c.categories,
            papers.c.published_at,
            papers.c.feed_date,
            papers.c.code_urls,
        ]
        found: dict[str, FilterFieldsRow] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(dict.fromkeys(paper_ids))):
                for row in connection.execute(select(*columns).where(papers.c.id.in_(chunk))):
                    found[row.id] = cast(FilterFieldsRow, dict(row._mapping))
        return found

    def get_many(self, paper_ids: Sequence[str]) -> dict[str, CountedPaperRow]:
        """Rows of the papers that exist among ``paper_ids``, by id."""
        found: dict[str, CountedPaperRow] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(dict.fromkeys(paper_ids))):
                for row in connection.execute(_with_counts.where(papers.c.id.in_(chunk))):
                    found[row.id] = _counted(row)
        return found

    # -- import runs ----------------------------------------------------------------------------

    def start_run(self, source: str, target: str | None) -> int:
        with begin_write(self.engine) as connection:
            result = connection.execute(
                insert(ingest_runs)
                .values(
                    source=source, target=target, started_at=datetime.now(UTC), status="running"
                )
                .returning(ingest_runs.c.id)
            )
            return int(result.scalar_one())

    def finish_run(
        self, run_id: int, status: str, counts: WriteCounts, skipped: int, detail: str | None
    ) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(
                update(ingest_runs)
                .where(ingest_runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=datetime.now(UTC),
                    new=counts.new,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    skipped=skipped,
                    detail=detail,
                )
            )

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(ingest_runs).order_by(ingest_runs.c.id.desc()).limit(limit)
            )
            return [dict(row._mapping) for row in rows]

    # -- reading --------------------------------------------------------------------------------

    def get(self, paper_id: str) -> CountedPaperRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(_with_counts.where(papers.c.id == paper_id)).first()
            return _counted(row) if row else None

    def count(self) -> int:
        return self.count_changed_since(None)

    def oldest_change_after(self, since: datetime | None) -> datetime | None:
        """When the oldest change after ``since`` happened (None: nothing changed since): how
        far behind an index that has seen everything up to ``since`` is."""
        query = select(func.min(papers.c.changed_at))
        if since is not None:
            query = query.where(papers.c.changed_at > since)
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(query).scalar_one()
        return value

    def newest_change(self) -> datetime | None:
        """When the newest change to a paper happened (None: no papers)."""
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(
                select(func.max(papers.c.changed_at))
            ).scalar_one()
        return value

    def newest_deletion(self) -> datetime | None:
        """When the last paper was deleted (None: never)."""
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(
                select(func.max(paper_deletions.c.deleted_at))
            ).scalar_one()
        return value

    def count_changed_since(self, since: datetime | None) -> int:
        """How many papers :meth:`changed_since` would yield now."""
        query = select(func.count()).select_from(papers)
        if since is not None:
            query = query.where(papers.c.changed_at > since)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def list_papers(
        self,
        start: date,
        end: date,
        *,
        category: str | None = None,
        submitter: str | None = None,
        sort: str = "upvotes",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CountedPaperRow]:
        """Papers whose feed day lies in ``[start, end]``, most upvoted first (``sort="upvotes"``,
        counting members' votes) or newest first (``sort="published"``)."""
        query = _with_counts.where(papers.c.feed_date >= start, papers.c.feed_date <= end)
        if category:
            query = query.where(category_condition(category))
        if submitter is not None:
            query = query.where(papers.c.submitted_by == submitter)
        if sort == "published":
            order = [papers.c.published_at.desc(), papers.c.id]
        else:
            order = [total_upvotes.desc(), papers.c.published_at.desc(), papers.c.id]
        query = query.order_by(*order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [_counted(row) for row in connection.execute(query)]

    def count_papers(
        self, start: date, end: date, *, category: str | None = None, submitter: str | None = None
    ) -> int:
        """How many papers :meth:`list_papers` would list without a limit."""
        query = (
            select(func.count())
            .select_from(papers)
            .where(papers.c.feed_date >= start, papers.c.feed_date <= end)
        )
        if category:
            query = query.where(category_condition(category))
        if submitter is not None:
            query = query.where(papers.c.submitted_by == submitter)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def adjacent_feed_days(
        self, start: date, end: date, *, category: str | None = None
    ) -> tuple[date | None, date | None]:
        """The nearest feed days with papers before ``start`` and after ``end``."""
        before = select(func.max(papers.c.feed_date)).where(papers.c.feed_date < start)
        after = select(func.min(papers.c.feed_date)).where(papers.c.feed_date > end)
        if category:
            before = before.where(category_condition(category))
            after = after.where(category_condition(category))
        with self.engine.connect() as connection:
            return connection.execute(before).scalar_one_or_none(), connection.execute(
                after
            ).scalar_one_or_none()

    def upvoted_since(self, since: date, *, limit: int = 5000) -> list[CountedPaperRow]:
        """Papers on the feed from ``since`` on that have any upvotes, most upvoted first
        (the candidates of the trending ranking)."""
        query = (
            _with_counts.where(papers.c.feed_date >= since, total_upvotes > 0)
            .order_by(total_upvotes.desc(), papers.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_counted(row) for row in connection.execute(query)]

    def latest_feed_date(self, category: str | None = None) -> date | None:
        query = select(func.max(papers.c.feed_date))
        if category:
            query = query.where(category_condition(category))
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()

    def stats(self) -> dict[str, Any]:
        """Totals, counts by source and by primary category, and the date ranges covered."""
        dialect = self.engine.dialect.name
        by_source_sql = (
            "SELECT s.value, count(*) FROM papers, json_each(papers.sources) AS s GROUP BY s.value"
            if dialect == "sqlite"
            else "SELECT s, count(*) FROM papers, jsonb_array_elements_text(papers.sources) AS s "
            "GROUP BY s"
        )
        with self.engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(papers)).scalar_one()
            by_source = dict(connection.execute(text(by_source_sql)).tuples().all())
            by_category = (
                connection.execute(
                    select(papers.c.primary_category, func.count())
                    .group_by(papers.c.primary_category)
                    .order_by(func.count().desc(), papers.c.primary_category)
                )
                .tuples()
                .all()
            )
            first, last = connection.execute(
                select(func.min(papers.c.published_at), func.max(papers.c.published_at))
            ).one()
            feed_first, feed_last = connection.execute(
                select(func.min(papers.c.feed_date), func.max(papers.c.feed_date))
            ).one()
        return {
            "papers": int(total),
            "by_source": {k: int(v) for k, v in sorted(by_source.items(), key=lambda kv: -kv[1])},
            "by_primary_category": {(k or "unknown"): int(v) for k, v in by_category},
            "published": {"first": first, "last": last},
            "feed_days": {"first": feed_first, "last": feed_last},
        }

    # -- papers by author -----------------------------------------------------------------------

    def papers_by_author(self, name: str, *, limit: int = 500) -> list[CountedPaperRow]:
        """Papers with ``name`` among their authors, compared as :func:`author_key` folds names,
        newest first (``limit`` at most).

        There is no table of authors: the names are the JSON list ``authors``. A LIKE on its text
        narrows the rows to those holding the longest run of plain ASCII letters and digits of
        the folded name (a stored spelling with an accent on exactly those letters is missed);
        each row's names are then compared folded. On a big store
        :func:`paperboard.rank.authors.papers_by_author` narrows with the lexical index instead.
        """
        key = author_key(name)
        if not key or limit <= 0:
            return []
        query = select(papers.c.id, papers.c.authors).order_by(
            papers.c.published_at.desc().nulls_last(), papers.c.id
        )
        run = max(re.findall(r"[a-z0-9]+", key), key=len, default="")
        if len(run) >= 2:  # one letter would select nearly every paper: read them all instead
            query = query.where(func.lower(papers.c.authors.cast(Text)).like(f"%{run}%"))
        ids: list[str] = []
        with self.engine.connect() as connection:
            for row in connection.execution_options(yield_per=1000).execute(query):
                if any(author_key(str(other)) == key for other in row.authors or ()):
                    ids.append(row.id)
                    if len(ids) >= limit:
                        break
        found = self.get_many(ids)
        return [found[pid] for pid in ids if pid in found]

    # -- papers by DOI and by title (a reader's library) --------------------------------------

    def existing_ids(self, paper_ids: Iterable[str]) -> set[str]:
        """Which of ``paper_ids`` are stored (ids only: cheaper than :meth:`get_many`)."""
        found: set[str] = set()
        with self.engine.connect() as connection:
            for chunk in _chunks(list(dict.fromkeys(paper_ids))):
                found.update(
                    connection.execute(select(papers.c.id).where(papers.c.id.in_(chunk))).scalars()
                )
        return found

    def find_by_dois(self, dois: Iterable[str]) -> dict[str, str]:
        """Stored papers with one of ``dois``, compared without case: ``{doi lowercased: paper
        id}``; where papers share a DOI, the smallest id. One query per 900 DOIs."""
        # A NUL is in no stored DOI, and PostgreSQL refuses it even as a parameter.
        wanted = list(
            dict.fromkeys(doi.strip().lower() for doi in dois if doi.strip() and "\x00" not in doi)
        )
        found: dict[str, str] = {}
        column = func.lower(papers.c.doi)
        with self.engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = connection.execute(
                    select(column.label("doi"), papers.c.id)
                    .where(column.in_(chunk))
                    .order_by(papers.c.id)
                )
                for row in rows:
                    found.setdefault(row.doi, row.id)
        return found

    def find_by_titles(self, titles: Iterable[str]) -> dict[str, str]:
        """Stored papers whose title equals one of ``titles`` once whitespace is collapsed and
        case folded: ``{title_key(title): paper id}``; where papers share a title, the smallest
        id. One query per 450 titles.

        Stored titles are one line already (``sources.normalize``), so SQL's ``lower()`` narrows
        the rows and :func:`title_key` decides. SQLite's ``lower()`` folds ASCII letters only: a
        title that differs from the stored one in the case of a non-ASCII letter is missed there.
        """
        lines = [" ".join(t.split()) for t in titles if t.strip() and "\x00" not in t]
        keys = {line.casefold() for line in lines}
        # Each title as either backend's lower() may write it: all of it, or its ASCII letters.
        variants = list(
            dict.fromkeys(form for line in lines for form in (line.lower(), _ascii_lower(line)))
        )
        found: dict[str, str] = {}
        column = func.lower(papers.c.title)
        with self.engine.connect() as connection:
            for chunk in _chunks(variants):
                rows = connection.execute(
                    select(papers.c.id, papers.c.title)
                    .where(column.in_(chunk))
                    .order_by(papers.c.id)
                )
                for row in rows:
                    key = title_key(row.title or "")
                    if key in keys:
                        found.setdefault(key, row.id)
        return found


def title_key(title: str) -> str:
    """A title as :meth:`PaperStore.find_by_titles` compares it: one line, case folded."""
    return " ".join(title.split()).casefold()


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)
