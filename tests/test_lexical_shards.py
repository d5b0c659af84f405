"""A lexical index cut into shards: the same papers, matches and filters as one index, writes
routed to the shard that holds each paper, a layout kept on disk, and whole builds that choose
the shard count from the store's size."""

from __future__ import annotations

import dataclasses
import gzip
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from paperboard.core.config import Settings
from paperboard.core.records import PaperRecord
from paperboard.index import lexical, shards
from paperboard.index.indexer import SearchIndex, sync_lexical
from paperboard.index.lexical import Filters, IndexVersionError, LexicalIndex, LexicalIndexError
from paperboard.index.query import parse_query
from paperboard.index.shards import SHARDS_FILE, ShardedLexicalIndex, open_lexical, shards_for
from paperboard.rank.search import search
from paperboard.sources.normalize import prepare
from paperboard.sources.snapshot import parse_entry
from paperboard.store.papers import PaperStore

DEMO_PAPERS = Path(lexical.__file__).parent.parent / "data" / "demo_arxiv.jsonl.gz"
QUERIES = [
    "large language models",
    "diffusion image generation",
    "reinforcement learning from human feedback",
    "graph neural networks",
    "speech recognition",
    "protein structure",
    '"chain of thought"',
    "self-supervised",
    "au:zhang",
    "cat:cs.CV vision transformer",
    "+agents -robot",
]


@pytest.fixture(scope="module")
def records() -> list[PaperRecord]:
    with gzip.open(DEMO_PAPERS, "rb") as stream:
        return [prepare(parse_entry(orjson.loads(line))) for line in stream]


@pytest.fixture(scope="module")
def papers(records: list[PaperRecord]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        item = dataclasses.asdict(record)
        item["feed_date"] = record.published_at.date() if record.published_at else None
        out.append(item)
    return out


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, papers: list[dict[str, Any]]
) -> tuple[LexicalIndex, ShardedLexicalIndex]:
    folder = tmp_path_factory.mktemp("shards")
    whole = open_lexical(folder / "whole")
    split = open_lexical(folder / "split", rebuild=True, shards=2)
    assert isinstance(whole, LexicalIndex) and isinstance(split, ShardedLexicalIndex)
    for index in (whole, split):
        index.bulk()
        assert index.upsert(papers) == len({p["id"] for p in papers})
        index.commit()
    return whole, split


def test_each_shard_holds_part_of_the_papers(
    pair: tuple[LexicalIndex, ShardedLexicalIndex], papers: list[dict[str, Any]]
) -> None:
    whole, split = pair
    sizes = [shard.count() for shard in split.shards]
    assert split.count() == whole.count() == len({p["id"] for p in papers})
    assert min(sizes) > 0.4 * split.count()  # a hash of the id spreads them
    assert all(p["id"] in split for p in papers[:200])
    assert "9999.99999" not in split
    held = [sum(p["id"] in shard for p in papers[:200]) for shard in split.shards]
    assert sum(held) == 200  # each paper in exactly one shard


@pytest.mark.parametrize("text", QUERIES)
def test_shards_match_the_same_papers_as_one_index(
    pair: tuple[LexicalIndex, ShardedLexicalIndex], text: str
) -> None:
    whole, split = pair
    query = parse_query(text)
    total = whole.match_count(query)
    assert total > 0
    assert split.match_count(query) == total
    everything = {pid for pid, _ in whole.search_ids(query, k=total)}
    found = split.search_ids(query, k=total)
    assert {pid for pid, _ in found} == everything
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)


def test_the_merged_top_ten_is_nearly_one_indexs(
    pair: tuple[LexicalIndex, ShardedLexicalIndex],
) -> None:
    """Each shard scores with its own statistics, so the top ten may differ at the edges; on
    3,000 papers (a third of a shard's threshold) most of it is the same."""
    whole, split = pair
    overlaps = []
    for text in QUERIES:
        query = parse_query(text)
        mine = {pid for pid, _ in split.search_ids(query, k=10)}
        theirs = {pid for pid, _ in whole.search_ids(query, k=10)}
        overlaps.append(len(mine & theirs) / max(1, len(theirs)))
    assert sum(overlaps) / len(overlaps) >= 0.8


def test_highlighted_pages_follow_the_merged_order(
    pair: tuple[LexicalIndex, ShardedLexicalIndex],
) -> None:
    _, split = pair
    query = parse_query("language models reasoning")
    ranked = [pid for pid, _ in split.search_ids(query, k=30)]
    pages = [hit for offset in (0, 10, 20) for hit in split.search(query, k=10, offset=offset)]
    assert [hit.id for hit in pages] == ranked
    assert any("<mark>" in hit.title_html + hit.snippet_html for hit in pages)


@pytest.mark.parametrize("text", ["au:zhang", "cat:cs.CV", "cat:cs.LG au:wang"])
def test_a_query_with_nothing_to_rank_lists_every_shards_papers_newest_first(
    pair: tuple[LexicalIndex, ShardedLexicalIndex], papers: list[dict[str, Any]], text: str
) -> None:
    whole, split = pair
    day = {p["id"]: p["published_at"].date() if p["published_at"] else None for p in papers}
    query = parse_query(text)
    total = whole.match_count(query)
    assert total > 20
    listed = [pid for pid, _ in split.search_ids(query, k=total)]
    # the same days in the same order as one index (papers of one day may come in another order)
    assert [day[pid] for pid in listed] == [day[pid] for pid, _ in whole.search_ids(query, k=total)]
    first = [day[pid] for pid, _ in split.search_ids(query, k=10)]
    assert first == [day[pid] for pid in listed[:10]]
    pages = [hit.id for offset in (0, 10) for hit in split.search(query, k=10, offset=offset)]
    assert [day[pid] for pid in pages] == [day[pid] for pid in listed[:20]]


def test_filters_and_selections_cover_every_shard(
    pair: tuple[LexicalIndex, ShardedLexicalIndex], papers: list[dict[str, Any]]
) -> None:
    whole, split = pair
    days = sorted(p["published_at"].date() for p in papers if p["published_at"])
    last = days[-1]
    narrow = Filters(since=last, until=last)
    expected = whole.selection(narrow, limit=5_000)
    assert expected
    assert sorted(split.selection(narrow, limit=5_000) or []) == sorted(expected)
    assert split.selection(narrow, limit=len(expected) - 1) is None  # too many in all
    assert split.selection(None, limit=100) is None
    coded = Filters(has_code=True, categories=("cs.CL",))
    query = parse_query("language")
    assert split.match_count(query, filters=coded) == whole.match_count(query, filters=coded)


def test_more_like_merges_the_shards_and_leaves_the_paper_out(
    pair: tuple[LexicalIndex, ShardedLexicalIndex], papers: list[dict[str, Any]]
) -> None:
    whole, split = pair
    target = papers[42]
    found = split.more_like(target, k=20)
    assert len(found) == 20 and target["id"] not in {pid for pid, _ in found}
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)
    assert {pid for pid, _ in whole.more_like(target, k=5)} & {pid for pid, _ in found}
    homes = {next(n for n, s in enumerate(split.shards) if pid in s) for pid, _ in found}
    assert homes == {0, 1}


def test_writes_go_to_the_shard_that_holds_the_paper(
    tmp_path: Path, papers: list[dict[str, Any]]
) -> None:
    split = open_lexical(tmp_path / "lexical", rebuild=True, shards=2)
    batch = papers[:100]
    split.upsert(batch)
    split.commit()
    changed = {**batch[0], "title": "A wholly new title about zymurgy"}
    assert split.upsert([changed]) == 1
    split.commit()
    assert split.count() == 100
    assert [pid for pid, _ in split.search_ids(parse_query("zymurgy"))] == [batch[0]["id"]]
    assert split.delete([batch[1]["id"], batch[2]["id"], "0000.00000"]) == 2
    split.commit()
    assert split.count() == 98 and batch[1]["id"] not in split
    stamps = split.indexed_changes([p["id"] for p in batch[:10]])
    assert set(stamps) == {p["id"] for p in batch[:10]} - {batch[1]["id"], batch[2]["id"]}
    split.upsert(papers[100:110])
    split.rollback()
    assert split.count() == 98
    with pytest.raises(LexicalIndexError, match="has no id"):
        split.upsert([{"title": "no id"}])
    split.rollback()


def test_the_layout_is_kept_on_disk_and_changed_only_by_a_rebuild(
    tmp_path: Path, papers: list[dict[str, Any]]
) -> None:
    folder = tmp_path / "lexical"
    split = open_lexical(folder, rebuild=True, shards=3)
    split.upsert(papers[:50])
    split.commit()
    split.close()
    assert json.loads((folder / SHARDS_FILE).read_text()) == {"shards": 3}
    again = open_lexical(folder)
    assert isinstance(again, ShardedLexicalIndex) and len(again.shards) == 3
    assert again.count() == 50
    again.close()
    with pytest.raises(LexicalIndexError, match="has 3 shards, not 1") as error:
        open_lexical(folder, shards=1)
    assert "\n" not in str(error.value)
    whole = open_lexical(folder, rebuild=True, shards=1)
    assert isinstance(whole, LexicalIndex) and whole.count() == 0
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("shard-")) == []
    assert not (folder / SHARDS_FILE).exists()


def test_a_broken_layout_file_asks_for_a_rebuild(tmp_path: Path) -> None:
    folder = tmp_path / "lexical"
    open_lexical(folder, rebuild=True, shards=2).close()
    for text in ("not json", '{"shards": 1}', '{"shards": 99}', "{}"):
        (folder / SHARDS_FILE).write_text(text)
        with pytest.raises(IndexVersionError, match="index --rebuild") as error:
            open_lexical(folder)
        assert "\n" not in str(error.value)
    rebuilt = open_lexical(folder, rebuild=True, shards=2)
    assert isinstance(rebuilt, ShardedLexicalIndex) and rebuilt.count() == 0


def test_shard_count_follows_size_and_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert [shards_for(n) for n in (0, 999_999, 1_000_000, 1_999_999, 2_700_000)] == [1, 1, 1, 1, 2]
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert shards_for(2_700_000) == 2 and shards_for(50_000_000) == shards.MAX_SHARDS
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert shards_for(5_000_000) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_whole_build_splits_a_large_store_and_a_rebuild_joins_it_again(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    store: PaperStore,
    records: list[PaperRecord],
) -> None:
    store.write(records[:400])
    monkeypatch.setattr(shards, "SHARD_PAPERS", 150)  # a "large" store, for this test
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    index = SearchIndex(settings)
    assert sync_lexical(store, index) == (400, 0)
    assert isinstance(index.lexical, ShardedLexicalIndex) and len(index.lexical.shards) == 2
    found = search(index, store, "language models", mode="lexical", k=5, count=True)
    assert len(found.hits) == 5 and found.total == index.lexical.match_count(
        parse_query("language models")
    )
    store.write(records[400:450])  # a catch-up keeps the layout
    assert sync_lexical(store, index)[0] == 50
    assert SearchIndex(settings).lexical.count() == 450

    monkeypatch.setattr(shards, "SHARD_PAPERS", 1_000_000)
    assert sync_lexical(store, index, rebuild=True) == (450, 0)
    assert isinstance(index.lexical, LexicalIndex) and index.lexical.count() == 450
    reopened = SearchIndex(settings).lexical
    assert isinstance(reopened, LexicalIndex) and reopened.count() == 450
    assert not (settings.home / "index" / "lexical" / "shard-0").exists()


def _search_in_child(split: ShardedLexicalIndex, out: Any) -> None:
    out.put([pid for pid, _ in split.search_ids(parse_query("language models"), k=20)])


def test_a_forked_child_searches_the_shards_with_threads_of_its_own(
    pair: tuple[LexicalIndex, ShardedLexicalIndex],
) -> None:
    _, split = pair
    expected = [pid for pid, _ in split.search_ids(parse_query("language models"), k=20)]
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_search_in_child, args=(split, out))
    child.start()
    child.join(timeout=60)
    if child.is_alive():  # an inherited pool waits for threads that are not in the child
        child.kill()
    assert child.exitcode == 0
    assert out.get(timeout=5) == expected
