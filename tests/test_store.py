"""The store keeps exactly one record per paper, whatever the source and the order of imports."""

import threading
from datetime import UTC, date, datetime

from conftest import sqlite_only
from sqlalchemy import event

from paperboard.core.records import Checkpoint, PaperRecord
from paperboard.sources.normalize import prepare
from paperboard.store.papers import PaperStore


def record(
    version: int | None = 1, source: str = "arxiv", id: str = "2503.11731", **fields: object
) -> PaperRecord:
    values: dict[str, object] = {
        "title": f"Title v{version}",
        "abstract": f"Abstract of version {version}.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.LG", "stat.ML"],
        "published_at": datetime(2025, 3, 18, tzinfo=UTC),
    }
    values.update(fields)
    return prepare(PaperRecord(id=id, source=source, version=version, **values))  # type: ignore[arg-type]


def test_first_write_creates_and_rerun_changes_nothing(store: PaperStore) -> None:
    counts = store.write([record(1)])
    assert (counts.new, counts.updated, counts.unchanged) == (1, 0, 0)
    stored = store.get("2503.11731")
    assert stored is not None
    assert stored["title"] == "Title v1" and stored["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert stored["primary_category"] == "cs.LG"
    assert stored["feed_date"] == date(2025, 3, 18)
    assert stored["published_at"] == datetime(2025, 3, 18, tzinfo=UTC)
    again = store.write([record(1)])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    assert store.get("2503.11731")["changed_at"] == stored["changed_at"]
    assert store.count() == 1


def test_newer_version_updates_and_older_never_overwrites(store: PaperStore) -> None:
    store.write([record(2, title="Second version")])
    older = store.write([record(1, title="First version", doi="10.1/old")])
    assert older.unchanged == 1
    stored = store.get("2503.11731")
    assert stored["title"] == "Second version" and stored["version"] == 2 and stored["doi"] is None
    newer = store.write([record(3, title="Third version", categories=["cs.CV"])])
    assert newer.updated == 1
    stored = store.get("2503.11731")
    assert stored["title"] == "Third version" and stored["version"] == 3
    assert stored["primary_category"] == "cs.CV"
    assert [
        p["id"] for p in store.list_papers(date(2025, 1, 1), date(2025, 12, 31), category="cs.CV")
    ] == ["2503.11731"]
    assert store.list_papers(date(2025, 1, 1), date(2025, 12, 31), category="stat.ML") == []


def test_same_version_fills_gaps_only(store: PaperStore) -> None:
    store.write([record(1, license=None)])
    filled = store.write(
        [record(1, title="Other title", license="http://creativecommons.org/licenses/by/4.0/")]
    )
    assert filled.updated == 1
    stored = store.get("2503.11731")
    assert stored["title"] == "Title v1"
    assert stored["license"] == "http://creativecommons.org/licenses/by/4.0/"


def test_sources_merge_into_one_record(store: PaperStore) -> None:
    store.write([record(2, source="snapshot")])
    hf = PaperRecord(
        id="2503.11731",
        source="hf",
        title="HF's title",
        upvotes=12,
        submitted_on_daily=date(2025, 3, 20),
        submitted_by="akhaliq",
        code_urls=["https://github.com/o/r"],
    )
    assert store.write([prepare(hf)]).updated == 1
    stored = store.get("2503.11731")
    assert stored["title"] == "Title v2"  # arXiv's bibliographic data wins over versionless sources
    assert stored["sources"] == ["snapshot", "hf"]
    assert stored["upvotes"] == 12 and stored["submitted_by"] == "akhaliq"
    assert stored["feed_date"] == date(2025, 3, 20)  # a Daily Papers submission sets the feed day
    assert stored["code_urls"] == ["https://github.com/o/r"]
    # an older HF file with fewer upvotes does not lower them; the first submission day stays
    hf_old = PaperRecord(
        id="2503.11731", source="hf", upvotes=3, submitted_on_daily=date(2025, 3, 25)
    )
    assert store.write([prepare(hf_old)]).unchanged == 1
    assert store.get("2503.11731")["upvotes"] == 12
    assert store.count() == 1


def test_duplicates_inside_one_batch(store: PaperStore) -> None:
    counts = store.write([record(1), record(2, title="Later"), record(1)])
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 1)
    assert store.get("2503.11731")["title"] == "Later"


def test_a_new_paper_is_stored_alike_whether_alone_or_merged_in_its_batch(
    store: PaperStore,
) -> None:
    # On SQLite a paper new to the store and alone in its batch is encoded before the write lock
    # is taken; one that occurs twice goes through merge(). Both must store the same row.
    fields: dict[str, object] = {
        "abstract": "Code at https://github.com/o/r and https://example.org/p.",
        "authors": ["Ada Lovelace"],
        "categories": ["cs.LG", "stat.ML", "cs.LG"],
        "updated_at": datetime(2025, 3, 20, 8, 30, tzinfo=UTC),
        "versions": [{"version": 1, "created": "2025-03-18T00:00:00+00:00"}],
        "comments": "12 pages",
        "doi": "10.1/x",
        "journal_ref": "J. 1",
        "report_no": "R-1",
        "license": "http://creativecommons.org/licenses/by/4.0/",
        "submitter": "Ada",
        "upvotes": 7,
        "submitted_on_daily": date(2025, 3, 21),
        "submitted_by": "akhaliq",
    }
    alone, twice = record(1, id="2503.00001", **fields), record(1, id="2503.00002", **fields)
    counts = store.write([alone, twice, twice])
    assert (counts.new, counts.updated, counts.unchanged) == (2, 0, 1)
    first, second = store.get("2503.00001"), store.get("2503.00002")
    assert first is not None and second is not None
    assert {**first, "id": "2503.00002"} == second
    # The stored text too (JSON, times), not only what reads back from it.
    with store.engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT * FROM papers ORDER BY id").all()
    assert raw[0][1:] == raw[1][1:]
    assert first["code_urls"] == ["https://github.com/o/r"]
    assert first["categories"] == ["cs.LG", "stat.ML"] and first["upvotes"] == 7
    listed = store.list_papers(date(2025, 3, 21), date(2025, 3, 21), category="stat")
    assert [p["id"] for p in listed] == ["2503.00001", "2503.00002"]
    assert store.write([alone]).unchanged == 1


def test_checkpoint_is_saved_with_the_batch_and_dry_run_writes_nothing(store: PaperStore) -> None:
    counts = store.write([record(1)], Checkpoint("harvest-a", "token-1"), dry_run=True)
    assert counts.new == 1
    assert store.count() == 0 and store.harvest_state("harvest-a") is None
    store.write([record(1)], Checkpoint("harvest-a", "token-1"))
    assert store.harvest_state("harvest-a") == "token-1"
    store.write([], Checkpoint("harvest-a", "token-2"))
    assert store.harvest_state("harvest-a") == "token-2"
    store.write([], Checkpoint("harvest-a", None))
    assert store.harvest_state("harvest-a") is None


def test_delete_removes_paper_and_categories(store: PaperStore) -> None:
    store.write([record(1)])
    assert store.delete("2503.11731") is True
    assert store.get("2503.11731") is None
    assert store.list_papers(date(2025, 1, 1), date(2025, 12, 31), category="cs.LG") == []
    assert store.delete("2503.11731") is False


def test_list_orders_by_upvotes_and_filters_archives(store: PaperStore) -> None:
    store.write(
        [
            record(1, id="2503.00001", categories=["cs.CV"], upvotes=3),
            record(1, id="2503.00002", categories=["math.CO", "cs.DM"], upvotes=9),
            record(
                1,
                id="2503.00003",
                categories=["hep-th"],
                published_at=datetime(2025, 3, 19, tzinfo=UTC),
            ),
        ]
    )
    day = store.list_papers(date(2025, 3, 18), date(2025, 3, 18))
    assert [p["id"] for p in day] == ["2503.00002", "2503.00001"]
    assert [
        p["id"] for p in store.list_papers(date(2025, 3, 1), date(2025, 3, 31), category="cs")
    ] == ["2503.00002", "2503.00001"]
    assert [
        p["id"] for p in store.list_papers(date(2025, 3, 1), date(2025, 3, 31), category="hep-th")
    ] == ["2503.00003"]
    assert store.latest_feed_date() == date(2025, 3, 19)
    assert store.latest_feed_date("cs.CV") == date(2025, 3, 18)
    stats = store.stats()
    assert stats["papers"] == 3 and stats["by_source"] == {"arxiv": 3}
    assert stats["by_primary_category"]["cs.CV"] == 1


def test_concurrent_writers_keep_one_record_per_paper(store: PaperStore, settings) -> None:
    others = [PaperStore.open(settings) for _ in range(3)]
    batch = [record(1, id=f"2503.{n:05d}") for n in range(1, 301)]
    errors: list[BaseException] = []

    def write(target: PaperStore) -> None:
        try:
            for start in range(0, 300, 50):
                target.write(batch[start : start + 50])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(s,)) for s in (store, *others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert errors == []
    assert store.count() == 300
    assert store.stats()["by_primary_category"] == {"cs.LG": 300}


@sqlite_only  # the plan checked is SQLite's; PostgreSQL reads the same pages by the same query
def test_each_page_of_changes_starts_where_the_last_ended_in_the_index(store: PaperStore) -> None:
    # Written as "changed_at > a OR (changed_at = a AND id > b)" alone, the page query made
    # SQLite walk its index from the first change for every page: quadratic over a big table.
    store.write([record(1, id=f"2503.{n:05d}") for n in range(1, 8)])
    queries: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "changed_at" in statement:
            queries.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        pages = list(store.changed_since(None, batch=3))
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert [len(page) for page in pages] == [3, 3, 1]
    later = [(statement, parameters) for statement, parameters in queries if parameters][1:]
    assert later, queries
    with store.engine.connect() as connection:
        for statement, parameters in later:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            details = " ".join(str(row[-1]) for row in plan)
            wanted = "SEARCH papers USING INDEX ix_papers_changed_at (changed_at>?)"
            assert wanted in details, details


def test_changed_since_pages_through_changes_and_deletions_leave_tombstones(
    store: PaperStore,
) -> None:
    store.write([record(1, id=f"2503.{n:05d}") for n in range(1, 8)])
    batches = list(store.changed_since(None, batch=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sorted(r["id"] for b in batches for r in b) == [f"2503.{n:05d}" for n in range(1, 8)]
    mark = max(r["changed_at"] for b in batches for r in b)
    assert list(store.changed_since(mark)) == []
    assert store.count_changed_since(None) == 7 and store.count_changed_since(mark) == 0
    store.write([record(2, id="2503.00002", title="Changed")])
    changed = [r for b in store.changed_since(mark) for r in b]
    assert [r["id"] for r in changed] == ["2503.00002"] and changed[0]["title"] == "Changed"
    assert store.count_changed_since(mark) == 1
    assert store.deleted_since(None) == []
    store.delete("2503.00003")
    assert store.deleted_since(mark) == ["2503.00003"]
    assert sorted(store.get_many(["2503.00001", "2503.00003", "2503.00009"])) == ["2503.00001"]
