"""What a member tells paperboard about their interests, besides upvotes, and their library.

* signals on papers: ``more`` ("more like this"), ``less`` ("not interested", which also hides
  the paper from their "for you"), ``read`` (hidden from "for you" when they choose so);
* settings of their "for you" mix (:class:`InterestSettingsRow`);
* collections: named lists, private or public, with a note per paper;
* followed authors, by folded name (:func:`paperboard.core.names.author_key`);
* saved searches, each with an unguessable feed token and an optional webhook, and the
  webhook's deliveries (one per saved search and paper, retried until sent or given up).

Every write runs in :func:`~paperboard.store.database.begin_write`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperboard.core.errors import ConflictError, LimitError, NotFoundError, PaperboardError
from paperboard.core.names import author_key
from paperboard.store.database import begin_write
from paperboard.store.schema import (
    Collection,
    CollectionItem,
    Follow,
    InterestSettings,
    Paper,
    PaperSignal,
    SavedSearch,
    WebhookDelivery,
    table_of,
)

signals = table_of(PaperSignal)
settings_table = table_of(InterestSettings)
collections = table_of(Collection)
items = table_of(CollectionItem)
follows = table_of(Follow)
saved = table_of(SavedSearch)
deliveries = table_of(WebhookDelivery)
papers = table_of(Paper)

Signal = Literal["more", "less", "read"]
SIGNALS: tuple[Signal, ...] = ("more", "less", "read")
MAX_COLLECTIONS = 200
MAX_ITEMS = 5_000
MAX_FOLLOWS = 500
MAX_SAVED_SEARCHES = 50
MAX_NAME = 120
MAX_NOTE = 4_000
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6))


class InterestSettingsRow(TypedDict):
    categories: list[str]
    exploration: float
    popularity: float
    only_categories: bool
    hide_read: bool
    onboarded_at: datetime | None


DEFAULT_SETTINGS = InterestSettingsRow(
    categories=[],
    exploration=0.0,
    popularity=0.0,
    only_categories=False,
    hide_read=True,
    onboarded_at=None,
)


class CollectionRow(TypedDict):
    id: int
    member_id: int
    name: str
    description: str
    public: bool
    created_at: datetime
    size: int


class CollectionItemRow(TypedDict):
    paper_id: str
    note: str
    added_at: datetime


class FollowRow(TypedDict):
    key: str
    name: str
    created_at: datetime


class SavedSearchRow(TypedDict):
    id: int
    member_id: int
    name: str
    query: str
    mode: str
    filters: dict[str, Any]
    token: str
    webhook_url: str | None
    created_at: datetime
    checked_at: datetime | None


class DeliveryRow(TypedDict):
    saved_search_id: int
    paper_id: str
    state: str
    attempts: int
    last_error: str | None
    webhook_url: str | None
    search_name: str


def _now() -> datetime:
    return datetime.now(UTC)


def _clean_name(name: str, what: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise PaperboardError(f"the {what} needs a name")
    if len(clean) > MAX_NAME:
        raise PaperboardError(f"a {what} name may have at most {MAX_NAME} characters")
    return clean


def _require_papers(connection: Connection, paper_ids: Sequence[str]) -> None:
    found = set(connection.execute(select(papers.c.id).where(papers.c.id.in_(paper_ids))).scalars())
    missing = [pid for pid in paper_ids if pid not in found]
    if missing:
        raise NotFoundError(f"no paper {missing[0]}")


class InterestStore:
    """Signals, settings, collections, follows and saved searches in the paper database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- signals --------------------------------------------------------------------------------

    def set_signal(self, member_id: int, paper_id: str, kind: Signal) -> bool:
        """Record ``kind`` on the paper; ``more`` and ``less`` replace each other. False if it
        was already there."""
        if kind not in SIGNALS:
            raise PaperboardError(f"unknown signal {kind!r}: one of {', '.join(SIGNALS)}")
        with begin_write(self.engine) as connection:
            _require_papers(connection, [paper_id])
            if kind != "read":
                other = "less" if kind == "more" else "more"
                connection.execute(
                    delete(signals).where(
                        signals.c.member_id == member_id,
                        signals.c.paper_id == paper_id,
                        signals.c.kind == other,
                    )
                )
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(signals).values(
                            member_id=member_id, paper_id=paper_id, kind=kind, created_at=_now()
                        )
                    )
            except IntegrityError:
                return False
            return True

    def clear_signal(self, member_id: int, paper_id: str, kind: Signal) -> bool:
        with begin_write(self.engine) as connection:
            return bool(
                connection.execute(
                    delete(signals).where(
                        signals.c.member_id == member_id,
                        signals.c.paper_id == paper_id,
                        signals.c.kind == kind,
                    )
                ).rowcount
            )

    def signals_of(self, member_id: int) -> dict[str, list[tuple[str, datetime]]]:
        """Every signal of the member by kind, each list newest first."""
        return self.signals_of_many([member_id])[member_id]

    def signals_of_many(
        self, member_ids: Sequence[int]
    ) -> dict[int, dict[str, list[tuple[str, datetime]]]]:
        """:meth:`signals_of` for several members in one query (every id is a key)."""
        out: dict[int, dict[str, list[tuple[str, datetime]]]] = {
            mid: {kind: [] for kind in SIGNALS} for mid in member_ids
        }
        with self.engine.connect() as connection:
            for row in connection.execute(
                select(
                    signals.c.member_id, signals.c.kind, signals.c.paper_id, signals.c.created_at
                )
                .where(signals.c.member_id.in_(list(out)))
                .order_by(signals.c.created_at.desc(), signals.c.paper_id)
            ):
                out[row.member_id].setdefault(row.kind, []).append((row.paper_id, row.created_at))
        return out

    def marks(self, member_id: int, paper_ids: Sequence[str]) -> dict[str, set[str]]:
        """The signals the member gave each of ``paper_ids`` (for buttons on cards)."""
        out: dict[str, set[str]] = {}
        if not paper_ids:
            return out
        with self.engine.connect() as connection:
            for row in connection.execute(
                select(signals.c.paper_id, signals.c.kind).where(
                    signals.c.member_id == member_id, signals.c.paper_id.in_(list(paper_ids))
                )
            ):
                out.setdefault(row.paper_id, set()).add(row.kind)
        return out

    def signal_stamp(self, member_id: int) -> tuple[int, datetime | None]:
        """Changes when the member's signals do (a cheap key for a cached model)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(func.count(), func.max(signals.c.created_at)).where(
                    signals.c.member_id == member_id
                )
            ).one()
            return int(row[0]), row[1]

    # -- settings -------------------------------------------------------------------------------

    def settings(self, member_id: int) -> InterestSettingsRow:
        return self.settings_of_many([member_id])[member_id]

    def settings_of_many(self, member_ids: Sequence[int]) -> dict[int, InterestSettingsRow]:
        """:meth:`settings` for several members in one query (the defaults for those with none)."""
        out = {mid: InterestSettingsRow(**DEFAULT_SETTINGS) for mid in member_ids}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(settings_table).where(settings_table.c.member_id.in_(list(out)))
            ).mappings()
            for row in rows:
                out[row["member_id"]] = InterestSettingsRow(
                    categories=list(row["categories"] or []),
                    exploration=float(row["exploration"]),
                    popularity=float(row["popularity"]),
                    only_categories=bool(row["only_categories"]),
                    hide_read=bool(row["hide_read"]),
                    onboarded_at=row["onboarded_at"],
                )
        return out

    def save_settings(self, member_id: int, **changes: Any) -> InterestSettingsRow:
        """Change some settings (the others keep their value); the weights are clipped to 0–1."""
        unknown = set(changes) - set(DEFAULT_SETTINGS)
        if unknown:
            raise PaperboardError(f"unknown setting {sorted(unknown)[0]!r}")
        for weight in ("exploration", "popularity"):
            if weight in changes:
                changes[weight] = min(max(float(changes[weight]), 0.0), 1.0)
        if "categories" in changes:
            changes["categories"] = sorted({str(c).strip() for c in changes["categories"]} - {""})[
                :50
            ]
        with begin_write(self.engine) as connection:
            current = connection.execute(
                select(settings_table.c.member_id).where(settings_table.c.member_id == member_id)
            ).first()
            if current is None:
                values = {**DEFAULT_SETTINGS, **changes}
                connection.execute(
                    insert(settings_table).values(member_id=member_id, updated_at=_now(), **values)
                )
            elif changes:
                connection.execute(
                    update(settings_table)
                    .where(settings_table.c.member_id == member_id)
                    .values(updated_at=_now(), **changes)
                )
        return self.settings(member_id)

    # -- collections ----------------------------------------------------------------------------

    def _collection_rows(self, connection: Connection, *where: Any) -> list[CollectionRow]:
        size = (
            select(func.count())
            .where(items.c.collection_id == collections.c.id)
            .correlate(collections)
            .scalar_subquery()
        )
        rows = connection.execute(
            select(collections, size.label("size")).where(*where).order_by(collections.c.name)
        ).mappings()
        return [CollectionRow(**dict(row)) for row in rows]  # type: ignore[typeddict-item]

    def collections_of(self, member_id: int) -> list[CollectionRow]:
        with self.engine.connect() as connection:
            return self._collection_rows(connection, collections.c.member_id == member_id)

    def collection(self, collection_id: int) -> CollectionRow | None:
        with self.engine.connect() as connection:
            found = self._collection_rows(connection, collections.c.id == collection_id)
            return found[0] if found else None

    def collection_named(self, member_id: int, name: str) -> CollectionRow | None:
        with self.engine.connect() as connection:
            found = self._collection_rows(
                connection, collections.c.member_id == member_id, collections.c.name == name
            )
            return found[0] if found else None

    def create_collection(
        self, member_id: int, name: str, *, description: str = "", public: bool = False
    ) -> int:
        name = _clean_name(name, "collection")
        with begin_write(self.engine) as connection:
            count = connection.execute(
                select(func.count()).where(collections.c.member_id == member_id)
            ).scalar_one()
            if count >= MAX_COLLECTIONS:
                raise LimitError(f"at most {MAX_COLLECTIONS} collections")
            try:
                with connection.begin_nested():
                    return int(
                        connection.execute(
                            insert(collections)
                            .values(
                                member_id=member_id,
                                name=name,
                                description=description[:MAX_NOTE],
                                public=public,
                                created_at=_now(),
                            )
                            .returning(collections.c.id)
                        ).scalar_one()
                    )
            except IntegrityError:
                raise ConflictError(f"you already have a collection named {name!r}") from None

    def update_collection(
        self,
        member_id: int,
        collection_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        public: bool | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = _clean_name(name, "collection")
        if description is not None:
            values["description"] = description[:MAX_NOTE]
        if public is not None:
            values["public"] = public
        with begin_write(self.engine) as connection:
            self._own(connection, member_id, collection_id)
            if values:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            update(collections)
                            .where(collections.c.id == collection_id)
                            .values(**values)
                        )
                except IntegrityError:
                    raise ConflictError("you already have a collection with that name") from None

    def delete_collection(self, member_id: int, collection_id: int) -> None:
        with begin_write(self.engine) as connection:
            self._own(connection, member_id, collection_id)
            connection.execute(delete(items).where(items.c.collection_id == collection_id))
            connection.execute(delete(collections).where(collections.c.id == collection_id))

    @staticmethod
    def _own(connection: Connection, member_id: int, collection_id: int) -> None:
        owner = connection.execute(
            select(collections.c.member_id).where(collections.c.id == collection_id)
        ).scalar()
        if owner != member_id:
            raise NotFoundError(f"no collection {collection_id} of yours")

    def add_to_collection(
        self, member_id: int, collection_id: int, paper_ids: Sequence[str], note: str | None = None
    ) -> int:
        """Add papers (a note replaces the old one when given); how many were new."""
        with begin_write(self.engine) as connection:
            self._own(connection, member_id, collection_id)
            _require_papers(connection, list(paper_ids))
            have = set(
                connection.execute(
                    select(items.c.paper_id).where(items.c.collection_id == collection_id)
                ).scalars()
            )
            new = [pid for pid in dict.fromkeys(paper_ids) if pid not in have]
            if len(have) + len(new) > MAX_ITEMS:
                raise LimitError(f"a collection holds at most {MAX_ITEMS:,} papers")
            now = _now()
            if new:
                connection.execute(
                    insert(items),
                    [
                        {
                            "collection_id": collection_id,
                            "paper_id": pid,
                            "note": (note or "")[:MAX_NOTE],
                            "added_at": now,
                        }
                        for pid in new
                    ],
                )
            if note is not None:
                connection.execute(
                    update(items)
                    .where(items.c.collection_id == collection_id, items.c.paper_id.in_(paper_ids))
                    .values(note=note[:MAX_NOTE])
                )
            return len(new)

    def remove_from_collection(self, member_id: int, collection_id: int, paper_id: str) -> bool:
        with begin_write(self.engine) as connection:
            self._own(connection, member_id, collection_id)
            return bool(
                connection.execute(
                    delete(items).where(
                        items.c.collection_id == collection_id, items.c.paper_id == paper_id
                    )
                ).rowcount
            )

    def collection_items(self, collection_id: int) -> list[CollectionItemRow]:
        """The collection's papers, most recently added first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(items.c.paper_id, items.c.note, items.c.added_at)
                .where(items.c.collection_id == collection_id)
                .order_by(items.c.added_at.desc(), items.c.paper_id)
            ).mappings()
            return [CollectionItemRow(**dict(row)) for row in rows]  # type: ignore[typeddict-item]

    def saved_papers(self, member_id: int) -> list[tuple[str, datetime, str]]:
        """Every paper in any of the member's collections with when it was added and the
        collection's name, newest first, once each."""
        return self.saved_papers_of_many([member_id])[member_id]

    def saved_papers_of_many(
        self, member_ids: Sequence[int]
    ) -> dict[int, list[tuple[str, datetime, str]]]:
        """:meth:`saved_papers` for several members in one query (every id is a key)."""
        found: dict[int, dict[str, tuple[str, datetime, str]]] = {mid: {} for mid in member_ids}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    collections.c.member_id, items.c.paper_id, items.c.added_at, collections.c.name
                )
                .join(collections, collections.c.id == items.c.collection_id)
                .where(collections.c.member_id.in_(list(found)))
                .order_by(items.c.added_at.desc(), items.c.paper_id)
            )
            for row in rows:
                kept = found[row.member_id]
                kept.setdefault(row.paper_id, (row.paper_id, row.added_at, row.name))
        return {mid: list(papers.values()) for mid, papers in found.items()}

    # -- follows --------------------------------------------------------------------------------

    def follow(self, member_id: int, name: str) -> bool:
        name = " ".join(name.split())
        key = author_key(name)
        if not key or len(name) > 200:
            raise PaperboardError("an author to follow needs a name of at most 200 characters")
        with begin_write(self.engine) as connection:
            count = connection.execute(
                select(func.count()).where(follows.c.member_id == member_id)
            ).scalar_one()
            if count >= MAX_FOLLOWS:
                raise LimitError(f"at most {MAX_FOLLOWS} followed authors")
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(follows).values(
                            member_id=member_id, key=key, name=name, created_at=_now()
                        )
                    )
            except IntegrityError:
                return False
            return True

    def unfollow(self, member_id: int, name: str) -> bool:
        with begin_write(self.engine) as connection:
            return bool(
                connection.execute(
                    delete(follows).where(
                        follows.c.member_id == member_id, follows.c.key == author_key(name)
                    )
                ).rowcount
            )

    def follows_of(self, member_id: int) -> list[FollowRow]:
        return self.follows_of_many([member_id])[member_id]

    def follows_of_many(self, member_ids: Sequence[int]) -> dict[int, list[FollowRow]]:
        """:meth:`follows_of` for several members in one query (every id is a key)."""
        out: dict[int, list[FollowRow]] = {mid: [] for mid in member_ids}
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(follows.c.member_id, follows.c.key, follows.c.name, follows.c.created_at)
                .where(follows.c.member_id.in_(list(out)))
                .order_by(follows.c.name)
            )
            for row in rows:
                out[row.member_id].append(
                    FollowRow(key=row.key, name=row.name, created_at=row.created_at)
                )
        return out

    # -- saved searches -------------------------------------------------------------------------

    def save_search(
        self,
        member_id: int,
        name: str,
        query: str,
        *,
        mode: str = "hybrid",
        filters: dict[str, Any] | None = None,
        webhook_url: str | None = None,
    ) -> SavedSearchRow:
        name = _clean_name(name, "saved search")
        if not query.strip() and not filters:
            raise PaperboardError("a saved search needs words or filters")
        if len(query) > 500:
            raise PaperboardError("a saved search's words may have at most 500 characters")
        with begin_write(self.engine) as connection:
            count = connection.execute(
                select(func.count()).where(saved.c.member_id == member_id)
            ).scalar_one()
            if count >= MAX_SAVED_SEARCHES:
                raise LimitError(f"at most {MAX_SAVED_SEARCHES} saved searches")
            try:
                with connection.begin_nested():
                    new_id = connection.execute(
                        insert(saved)
                        .values(
                            member_id=member_id,
                            name=name,
                            query=query.strip(),
                            mode=mode,
                            filters=filters or {},
                            token=secrets.token_urlsafe(24),
                            webhook_url=webhook_url or None,
                            created_at=_now(),
                            checked_at=_now(),
                        )
                        .returning(saved.c.id)
                    ).scalar_one()
            except IntegrityError:
                raise ConflictError(f"you already have a saved search named {name!r}") from None
        found = self.saved_search(int(new_id))
        assert found is not None
        return found

    def _saved_rows(self, *where: Any) -> list[SavedSearchRow]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(saved).where(*where).order_by(saved.c.name))
            return [SavedSearchRow(**dict(row)) for row in rows.mappings()]  # type: ignore[typeddict-item]

    def saved_searches_of(self, member_id: int) -> list[SavedSearchRow]:
        return self._saved_rows(saved.c.member_id == member_id)

    def saved_searches_of_many(self, member_ids: Sequence[int]) -> dict[int, list[SavedSearchRow]]:
        """:meth:`saved_searches_of` for several members in one query (every id is a key)."""
        out: dict[int, list[SavedSearchRow]] = {mid: [] for mid in member_ids}
        for row in self._saved_rows(saved.c.member_id.in_(list(out))):
            out[row["member_id"]].append(row)
        return out

    def saved_search(self, search_id: int) -> SavedSearchRow | None:
        found = self._saved_rows(saved.c.id == search_id)
        return found[0] if found else None

    def saved_search_by_token(self, token: str) -> SavedSearchRow | None:
        found = self._saved_rows(saved.c.token == token) if 0 < len(token) <= 64 else []
        return found[0] if found else None

    def with_webhooks(self) -> list[SavedSearchRow]:
        return self._saved_rows(saved.c.webhook_url.is_not(None))

    def delete_saved_search(self, member_id: int, search_id: int) -> None:
        with begin_write(self.engine) as connection:
            removed = connection.execute(
                delete(saved).where(saved.c.id == search_id, saved.c.member_id == member_id)
            ).rowcount
            if not removed:
                raise NotFoundError(f"no saved search {search_id} of yours")

    def queue_deliveries(self, search_id: int, paper_ids: Iterable[str], until: datetime) -> int:
        """Queue one delivery per paper not queued before and move the search's ``checked_at``
        to ``until``, in one transaction; how many were queued."""
        with begin_write(self.engine) as connection:
            have = set(
                connection.execute(
                    select(deliveries.c.paper_id).where(deliveries.c.saved_search_id == search_id)
                ).scalars()
            )
            new = [pid for pid in dict.fromkeys(paper_ids) if pid not in have]
            now = _now()
            if new:
                connection.execute(
                    insert(deliveries),
                    [
                        {
                            "saved_search_id": search_id,
                            "paper_id": pid,
                            "state": "pending",
                            "attempts": 0,
                            "created_at": now,
                            "next_try_at": now,
                        }
                        for pid in new
                    ],
                )
            connection.execute(
                update(saved).where(saved.c.id == search_id).values(checked_at=until)
            )
            return len(new)

    def _deliveries(
        self, *where: Any, order: Sequence[Any], limit: int | None = None
    ) -> list[DeliveryRow]:
        query = (
            select(
                deliveries.c.saved_search_id,
                deliveries.c.paper_id,
                deliveries.c.state,
                deliveries.c.attempts,
                deliveries.c.last_error,
                saved.c.webhook_url,
                saved.c.name.label("search_name"),
            )
            .join(saved, saved.c.id == deliveries.c.saved_search_id)
            .where(*where)
            .order_by(*order)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings()
            return [DeliveryRow(**dict(row)) for row in rows]  # type: ignore[typeddict-item]

    def delivered(self, search_id: int, paper_id: str, error: str | None = None) -> str:
        """Record one try: ``sent`` without an error; else retried later, ``failed`` after the
        last try. The new state."""
        key = and_(deliveries.c.saved_search_id == search_id, deliveries.c.paper_id == paper_id)
        with begin_write(self.engine) as connection:
            attempts = connection.execute(select(deliveries.c.attempts).where(key)).scalar()
            if attempts is None:
                raise NotFoundError(f"no delivery of {paper_id} for saved search {search_id}")
            attempts += 1
            now = _now()
            if error is None:
                values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
            elif attempts > len(RETRY_AFTER):
                values = {"state": "failed", "last_error": error[:500]}
            else:
                values = {
                    "state": "pending",
                    "last_error": error[:500],
                    "next_try_at": now + RETRY_AFTER[attempts - 1],
                }
            connection.execute(update(deliveries).where(key).values(attempts=attempts, **values))
            return str(values["state"])

    def deliveries_of(self, search_id: int) -> list[DeliveryRow]:
        return self._deliveries(
            deliveries.c.saved_search_id == search_id,
            order=(deliveries.c.created_at, deliveries.c.paper_id),
        )

    # -- saved searches: edits, and the due list at a given moment (added for webhooks) ---------

    def update_saved_search(self, member_id: int, search_id: int, **changes: Any) -> SavedSearchRow:
        """Rename the saved search (``name``) or set its webhook (``webhook_url``; None or ""
        clears it). A webhook set where there was none starts from now: it is not sent the
        papers the search found before."""
        unknown = set(changes) - {"name", "webhook_url"}
        if unknown:
            raise PaperboardError(f"unknown saved search field {sorted(unknown)[0]!r}")
        values: dict[str, Any] = {}
        if changes.get("name") is not None:
            values["name"] = _clean_name(changes["name"], "saved search")
        with begin_write(self.engine) as connection:
            current = connection.execute(
                select(saved.c.member_id, saved.c.webhook_url).where(saved.c.id == search_id)
            ).first()
            if current is None or current.member_id != member_id:
                raise NotFoundError(f"no saved search {search_id} of yours")
            if "webhook_url" in changes:
                url = changes["webhook_url"] or None
                values["webhook_url"] = url
                if url is not None and current.webhook_url is None:
                    values["checked_at"] = _now()
            if values:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            update(saved).where(saved.c.id == search_id).values(**values)
                        )
                except IntegrityError:
                    raise ConflictError("you already have a saved search with that name") from None
        found = self.saved_search(search_id)
        assert found is not None
        return found

    def due_deliveries_at(self, now: datetime, limit: int = 500) -> list[DeliveryRow]:
        """The pending deliveries due at ``now`` (a sender that runs on another clock, or a
        test that moves time on)."""
        return self._deliveries(
            deliveries.c.state == "pending",
            deliveries.c.next_try_at <= now,
            order=(deliveries.c.next_try_at,),
            limit=limit,
        )

    def import_signals(
        self, member_id: int, kind: Signal, signals_at: Sequence[tuple[str, datetime]]
    ) -> int:
        """Record ``kind`` on many stored papers at the times given, in one transaction; how
        many were new. Where the member gave the paper the opposite of ``more``/``less``, the
        later of the two stays. Signals already there keep their time, so importing the same
        signals again changes nothing."""
        if kind not in SIGNALS:
            raise PaperboardError(f"unknown signal {kind!r}: one of {', '.join(SIGNALS)}")
        wanted = dict(signals_at)  # one time per paper: the last given
        if not wanted:
            return 0
        ids = list(wanted)
        other = {"more": "less", "less": "more"}.get(kind)
        with begin_write(self.engine) as connection:
            for chunk in _chunked(ids):
                _require_papers(connection, chunk)
            have: set[str] = set()
            opposite: dict[str, datetime] = {}
            for chunk in _chunked(ids):
                for row in connection.execute(
                    select(signals.c.paper_id, signals.c.kind, signals.c.created_at).where(
                        signals.c.member_id == member_id,
                        signals.c.paper_id.in_(chunk),
                        signals.c.kind.in_([kind, other or kind]),
                    )
                ):
                    if row.kind == kind:
                        have.add(row.paper_id)
                    else:
                        opposite[row.paper_id] = row.created_at
            new = [
                (pid, at)
                for pid, at in wanted.items()
                if pid not in have and (pid not in opposite or opposite[pid] <= at)
            ]
            replaced = [pid for pid, _ in new if pid in opposite]
            for chunk in _chunked(replaced):
                connection.execute(
                    delete(signals).where(
                        signals.c.member_id == member_id,
                        signals.c.paper_id.in_(chunk),
                        signals.c.kind == other,
                    )
                )
            if new:
                connection.execute(
                    insert(signals),
                    [
                        {"member_id": member_id, "paper_id": pid, "kind": kind, "created_at": at}
                        for pid, at in new
                    ],
                )
            return len(new)

    def import_collection_items(
        self, member_id: int, collection_id: int, entries: Sequence[tuple[str, str, datetime]]
    ) -> tuple[int, int]:
        """Add stored papers to the member's collection with each one's note and time added
        (``(paper_id, note, added_at)``), in one transaction. A paper already there keeps its
        time and its note, unless that note is empty and the new one is not. How many papers
        were added and how many notes set; importing the same entries again changes nothing."""
        wanted = {pid: (note[:MAX_NOTE], at) for pid, note, at in entries}
        with begin_write(self.engine) as connection:
            self._own(connection, member_id, collection_id)
            if not wanted:
                return 0, 0
            ids = list(wanted)
            for chunk in _chunked(ids):
                _require_papers(connection, chunk)
            have = {
                row.paper_id: row.note
                for row in connection.execute(
                    select(items.c.paper_id, items.c.note).where(
                        items.c.collection_id == collection_id
                    )
                )
            }
            new = [pid for pid in ids if pid not in have]
            if len(have) + len(new) > MAX_ITEMS:
                raise LimitError(f"a collection holds at most {MAX_ITEMS:,} papers")
            if new:
                connection.execute(
                    insert(items),
                    [
                        {
                            "collection_id": collection_id,
                            "paper_id": pid,
                            "note": wanted[pid][0],
                            "added_at": wanted[pid][1],
                        }
                        for pid in new
                    ],
                )
            noted = [pid for pid in ids if pid in have and not have[pid] and wanted[pid][0]]
            for pid in noted:
                connection.execute(
                    update(items)
                    .where(items.c.collection_id == collection_id, items.c.paper_id == pid)
                    .values(note=wanted[pid][0])
                )
            return len(new), len(noted)


def _chunked(values: Sequence[str], size: int = 900) -> Iterable[Sequence[str]]:
    """``values`` in slices that stay below every backend's limit on bound parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
