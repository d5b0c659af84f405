"""Search end to end: indexing from the store (incremental, resumable), hybrid/lexical/dense
ranking, filters, id queries, bad queries, similar papers, recommendations and evaluation.

Uses the real model (built once per session into a shared folder) and real databases."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS, CliResult, new_database
from killpoint import Killer, run_killed
from sqlalchemy import update

from paperboard.core.config import Settings, load_settings
from paperboard.core.errors import PaperboardError
from paperboard.core.records import PaperRecord
from paperboard.index import indexer
from paperboard.index import vectors as vectors_module
from paperboard.index.indexer import SearchIndex, build_neighbours, sync_lexical, sync_vectors
from paperboard.index.lexical import VERSION_FILE, Filters, IndexVersionError
from paperboard.index.query import QueryError
from paperboard.index.vectors import VectorStore
from paperboard.rank.evaluate import evaluate
from paperboard.rank.recommend import recommend
from paperboard.rank.search import search
from paperboard.rank.similar import similar
from paperboard.sources.normalize import prepare
from paperboard.store.papers import PaperStore
from paperboard.store.papers import papers as papers_table

TOPICS = {
    "spec": (
        "cs.CL",
        (
            "Speculative decoding {n}: a draft model proposes tokens that a large language model "
            "verifies in parallel to accelerate inference"
        ),
    ),
    "splat": (
        "cs.CV",
        (
            "Gaussian splatting {n}: real-time radiance field rendering of 3D scenes "
            "with anisotropic Gaussians"
        ),
    ),
    "crowd": (
        "cs.CV",
        (
            "Crowd counting {n}: estimating the number of people in dense crowd images "
            "with density maps"
        ),
    ),
    "proteins": (
        "q-bio.BM",
        (
            "Protein structure prediction {n}: folding amino acid sequences into 3D structures "
            "with deep networks"
        ),
    ),
    "speech": (
        "eess.AS",
        (
            "Speech emotion recognition {n}: classifying emotions such as anger and joy "
            "from the human voice"
        ),
    ),
}


def paper(topic: str, n: int, **fields: object) -> PaperRecord:
    category, text = TOPICS[topic]
    title = text.split(":")[0].format(n=n)
    values: dict[str, object] = {
        "title": f"{title} ({topic} study)",
        "abstract": text.format(n=n) + f". We report experiments number {n}.",
        "authors": [f"Author {topic.title()}", "Shared Person"],
        "categories": [category],
        "published_at": datetime(2025, 3, 1 + n, tzinfo=UTC),
        "version": 1,
    }
    values.update(fields)
    return prepare(
        PaperRecord(id=f"2503.{list(TOPICS).index(topic)}{n:04d}", source="test", **values)
    )  # type: ignore[arg-type]


CORPUS = [paper(topic, n) for topic in TOPICS for n in range(1, 7)]


def index_corpus(store: PaperStore, settings: Settings, model_cache: Path) -> SearchIndex:
    """CORPUS written to ``store``, indexed lexically and by vectors, neighbours built."""
    store.write(CORPUS)
    index = SearchIndex(settings, models=model_cache)
    sync_lexical(store, index)
    sync_vectors(store, index)
    build_neighbours(index)
    return index


@pytest.fixture
def indexed(
    store: PaperStore, settings: Settings, model_cache: Path
) -> tuple[PaperStore, SearchIndex]:
    return store, index_corpus(store, settings, model_cache)


@pytest.fixture(scope="module", params=BACKENDS)
def searchable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Iterator[tuple[PaperStore, SearchIndex]]:
    """What ``indexed`` makes, made once per database engine for the tests that only search it
    (none of them writes to the store or the indexes)."""
    home = tmp_path_factory.mktemp("searchable")
    with new_database(request.param, home, request) as url:
        settings = load_settings(home=home, database_url=url, models_dir=model_cache)
        store = PaperStore.open(settings)
        index = index_corpus(store, settings, model_cache)
        yield store, index
        index.lexical.close()
        store.close()


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
def test_each_mode_finds_the_topic(searchable, mode: str) -> None:
    store, index = searchable
    result = search(
        index, store, "speculative decoding to accelerate LLM inference", mode=mode, k=6
    )
    assert [hit.id[:6] for hit in result.hits] == ["2503.0"] * 6
    assert "<mark>" in result.hits[0].title_html or mode == "dense"


def test_dense_finds_meaning_without_shared_words(searchable) -> None:
    store, index = searchable
    hits = search(index, store, "how biomolecules adopt their shape", mode="dense", k=3).hits
    assert all(hit.id.startswith("2503.3") for hit in hits)
    lexical = search(index, store, "how biomolecules adopt their shape", mode="lexical", k=3).hits
    assert not any(hit.id.startswith("2503.3") for hit in lexical)


def test_hybrid_marks_terms_and_escapes_html(indexed) -> None:
    store, index = indexed
    store.write([paper("crowd", 9, title="Counting <script>alert(1)</script> crowds")])
    sync_lexical(store, index)
    hit = next(h for h in search(index, store, "crowd counting", k=10).hits if h.id == "2503.20009")
    assert "&lt;script&gt;" in hit.title_html and "<script>" not in hit.title_html
    assert "<mark>Counting</mark>" in hit.title_html


def test_filters_apply_in_every_mode(searchable) -> None:
    store, index = searchable
    for mode in ("hybrid", "lexical", "dense"):
        hits = search(
            index, store, "deep networks", mode=mode, k=20, filters=Filters(categories=("q-bio",))
        ).hits
        assert hits and all(h.paper["categories"] == ["q-bio.BM"] for h in hits)
        recent = search(
            index,
            store,
            "crowd",
            mode=mode,
            k=20,
            filters=Filters(since=datetime(2025, 3, 5).date()),
        ).hits
        assert recent and all(h.paper["published_at"].day >= 5 for h in recent)
        assert (
            search(index, store, "crowd", mode=mode, k=20, filters=Filters(has_code=True)).hits
            == []
        )


def test_a_narrow_filter_ranks_all_it_selects_by_meaning(
    searchable, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperboard.rank.search as searching

    store, index = searchable
    monkeypatch.setattr(searching, "DENSE_POOL", 1)  # few neighbours of the whole index
    only = Filters(categories=("q-bio",))
    selected = index.lexical.selection(only, limit=1000)
    assert selected and 3 * len(selected) < index.lexical.count()
    text = "speculative decoding to accelerate LLM inference"  # far from every q-bio paper
    hits = search(index, store, text, mode="dense", k=2, filters=only, highlight=False).hits
    nearest = index.vectors_rank(index.embedder.embed_query(text), selected)
    assert [h.id for h in hits] == nearest[:2]  # the six nearest of all are about LLMs
    assert all(h.title_html == "" == h.snippet_html for h in hits)  # nothing highlighted


def test_field_clauses_constrain_hybrid_results(searchable) -> None:
    store, index = searchable
    hits = search(index, store, "cat:cs.CV rendering of scenes", k=20).hits
    assert hits and all(h.paper["primary_category"] == "cs.CV" for h in hits)
    assert hits[0].id.startswith("2503.1")  # splatting papers, ranked by meaning within cs.CV


@pytest.mark.parametrize(
    "query", ["2503.10002", "arXiv:2503.10002v1", "https://arxiv.org/pdf/2503.10002v1"]
)
def test_an_id_or_url_goes_straight_to_the_paper(searchable, query: str) -> None:
    store, index = searchable
    result = search(index, store, query)
    assert result.paper_id == "2503.10002" and [h.id for h in result.hits] == ["2503.10002"]


@pytest.mark.parametrize(
    "bad", ["", "   ", "x" * 10_000, '"', "au:", "cat:", "!!! ???", "-only -exclusions"]
)
# On SQLite only: refused by the query parser, before the store or an index is read.
@pytest.mark.parametrize("searchable", ["sqlite"], indirect=True)
def test_bad_queries_get_one_line(searchable, bad: str) -> None:
    store, index = searchable
    with pytest.raises(QueryError) as error:
        search(index, store, bad)
    assert "\n" not in str(error.value)


def test_the_total_counts_every_match_however_many_a_page_shows(searchable) -> None:
    store, index = searchable
    every = {h.id for h in search(index, store, "crowd density", mode="lexical", k=100).hits}
    assert 2 < len(every) < len(CORPUS)
    for mode in ("lexical", "hybrid", "dense"):
        page = search(index, store, "crowd density", mode=mode, k=2, offset=2, count=True)
        assert len(page.hits) == 2 and page.total == len(every), mode  # the lexical matches
    since = Filters(since=datetime(2025, 3, 5).date())
    recent = search(index, store, "crowd density", k=2, filters=since, count=True)
    wanted = search(index, store, "crowd density", mode="lexical", k=100, filters=since).hits
    assert recent.total == len(wanted) < len(every)
    assert search(index, store, "au:nobody", count=True).total == 0
    assert search(index, store, "2503.10002", count=True).total == 1
    assert search(index, store, "crowd density").total is None  # counted only when asked


def test_forgiven_queries_still_search(searchable) -> None:
    store, index = searchable
    result = search(index, store, '"gaussian splatting')  # unclosed quote
    assert result.hits and result.notes


def test_updates_and_deletions_reach_the_indexes(indexed) -> None:
    store, index = indexed
    store.write(
        [
            paper(
                "spec",
                1,
                version=2,
                title="Quantum chromodynamics on a lattice",
                abstract="Gluons and quarks.",
            )
        ]
    )
    store.delete("2503.10003")
    assert sync_lexical(store, index) >= (1, 1)
    assert sync_vectors(store, index) == 1  # only the changed text is embedded again
    build_neighbours(index)
    assert [h.id for h in search(index, store, "quarks gluons lattice", mode="lexical").hits] == [
        "2503.00001"
    ]
    assert (
        search(index, store, "quarks gluons lattice", mode="dense", k=1).hits[0].id == "2503.00001"
    )
    assert "2503.10003" not in [h.id for h in search(index, store, "gaussian splatting", k=30).hits]
    assert index.vectors.vector("2503.10003") is None


def test_a_catch_up_skips_what_is_indexed_and_finds_what_was_missed(indexed) -> None:
    store, index = indexed
    # every paper changed within the last minutes, the overlap a catch-up re-reads: none is redone
    assert sync_lexical(store, index) == (0, 0)
    # a write that committed after the last catch-up read past its time is still picked up
    index.lexical.delete(["2503.10002"])
    index.lexical.commit()
    assert "2503.10002" not in index.lexical
    assert sync_lexical(store, index) == (1, 0)
    assert "2503.10002" in index.lexical
    store.write([paper("spec", 1, version=2, title="Quantum chromodynamics on a lattice")])
    assert sync_lexical(store, index) == (1, 0)
    assert [h.id for h in search(index, store, "chromodynamics", mode="lexical").hits] == [
        "2503.00001"
    ]


def test_an_index_of_an_older_layout_is_rebuilt_from_the_store(
    indexed, settings: Settings, model_cache: Path
) -> None:
    store, index = indexed
    folder = index.folder / "lexical"
    index.lexical.close()
    (folder / VERSION_FILE).write_text('{"schema_version": 1}\n', encoding="utf-8")
    stale = SearchIndex(settings, models=model_cache)
    for mode in ("lexical", "hybrid"):  # hybrid's lexical half runs on another thread
        with pytest.raises(IndexVersionError, match="rebuild"):
            search(stale, store, "gaussian splatting", mode=mode)
    with pytest.raises(IndexVersionError):  # what a web request does: no rebuild there
        sync_lexical(store, SearchIndex(settings, models=model_cache), upgrade=False)
    upgraded = SearchIndex(settings, models=model_cache)
    assert sync_lexical(store, upgraded) == (len(CORPUS), 0)
    assert upgraded.lexical.count() == len(CORPUS)
    assert search(upgraded, store, "gaussian splatting", mode="lexical").hits


def test_embedding_is_incremental_and_resumable(
    store: PaperStore, settings: Settings, model_cache: Path, monkeypatch
) -> None:
    from paperboard.index import indexer

    store.write(CORPUS)
    index = SearchIndex(settings, models=model_cache)
    monkeypatch.setattr(indexer, "EMBED_CHUNK", 7)

    def interrupt(done: int, total: int) -> None:
        if done >= 14:
            raise KeyboardInterrupt  # killed after two chunks were stored

    with pytest.raises(KeyboardInterrupt):
        sync_vectors(store, index, progress=interrupt)
    assert len(index.vector_store.known_hashes()) == 14
    assert sync_vectors(store, index) == len(CORPUS) - 14  # nothing stored is redone
    assert sync_vectors(store, index) == 0
    store.write([paper("speech", 9)])
    assert sync_vectors(store, index) == 1


@pytest.mark.slow
# On SQLite only: the vectors are files whatever the database, and each of the ~50 kill points
# restarts the command, so a second backend would double two minutes for nothing new.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_index_killed_anywhere_in_compaction_keeps_every_vector(
    env: dict[str, str],
    store: PaperStore,
    settings: Settings,
    model_cache: Path,
    home: Path,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch,
) -> None:
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    index = SearchIndex(settings, models=model_cache)
    for part in (CORPUS[:10], CORPUS[10:20], CORPUS[20:]):  # three chunks
        store.write(part)
        sync_vectors(store, index)
    store.write(
        [paper("speech", 3, version=2, abstract="Emotion in the voice, told by pitch alone.")]
    )
    sync_vectors(store, index)  # a fourth chunk, replacing a row of the third
    store.delete(CORPUS[0].id)
    sync_lexical(store, index)
    sync_vectors(store, index)  # and removed.json
    index.lexical.close()
    with store.engine.begin() as connection:  # the first two chunks' papers came in a day ago:
        # a rerun's look back (OVERLAP) at recent changes does not see them again
        connection.execute(
            update(papers_table)
            .where(papers_table.c.id.in_([p.id for p in CORPUS[:20]]))
            .values(changed_at=datetime.now(UTC) - timedelta(days=1))
        )
    folder = home / "index" / "vectors"
    expected = index.vector_store.load().hashes
    assert len(expected) == len(CORPUS) - 1 and len(list(folder.glob("chunk-*.json"))) == 4
    saved = tmp_path / "saved-index"
    shutil.copytree(home / "index", saved)

    def vectors_now() -> dict[str, str]:
        return VectorStore(folder, index.vector_model, index.embedder.dim).load().hashes

    found: dict[int, tuple[int, int]] = {}  # kill point: (vectors after the kill, after a rerun)
    lost: dict[int, tuple[int, int]] = {}  # the same, where either is not the full set
    untidy: dict[int, list[str]] = {}  # the files a rerun left, where they are not one chunk
    with Killer() as killer:  # one import of paperboard, a forked child per kill point
        for at in range(1, 60):  # before the 1st, 2nd... file change in the vectors folder
            shutil.rmtree(home / "index")
            shutil.copytree(saved, home / "index")
            killed = killer.run_killed(
                ["index", "--quiet"], folder=folder, at=at, env=dict(os.environ), cwd=home
            )
            if killed.returncode == 0:
                break
            assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
            after_kill = vectors_now()
            assert cli("index", "--quiet").exit_code == 0
            after_rerun = vectors_now()
            found[at] = (len(after_kill), len(after_rerun))
            if after_kill != expected or after_rerun != expected:
                lost[at] = (len(after_kill), len(after_rerun))
            names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
            chunks = [n for n in names if n.startswith("chunk-")]
            if len(chunks) != 2 or names != [*chunks, "model.json"]:  # not one chunk again
                untidy[at] = names
        else:
            pytest.fail(f"paperboard index never ran to its end: {killed.stderr}")
    assert len(found) >= 8, found  # every file change of the compaction was a kill point
    assert not lost, f"of {len(expected)} vectors, (after the kill, after a rerun): {lost}"
    assert not untidy, untidy
    assert vectors_now() == expected


def wait_until(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Whether ``condition`` comes true within ``seconds`` (dense_ready looks every 2 s)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_dense_ready_follows_the_vectors_another_index_writes(
    store: PaperStore, settings: Settings, model_cache: Path
) -> None:
    store.write(CORPUS[:12])
    reader = SearchIndex(settings, models=model_cache)  # a server's, say
    sync_lexical(store, reader)
    assert not reader.dense_ready()
    words = search(reader, store, "gaussian splatting")
    assert words.hits and "words only" in words.notes[-1]
    assert "embedder" not in reader.__dict__  # no vectors on disk: the model was not loaded
    writer = SearchIndex(settings, models=model_cache)  # a paperboard index run's
    assert sync_vectors(store, writer) == 12
    assert wait_until(reader.dense_ready)
    assert len(reader.vectors) == len(reader.neighbours.vectors) == 12
    store.write(CORPUS[12:])
    assert sync_vectors(store, writer) == len(CORPUS) - 12  # a second chunk
    assert wait_until(lambda: reader.dense_ready() and len(reader.vectors) == len(CORPUS))
    assert len(reader.neighbours.vectors) == len(CORPUS)
    build_neighbours(writer)  # compacted into one file, which a reload memory-maps
    assert wait_until(lambda: reader.dense_ready() and isinstance(reader.vectors.matrix, np.memmap))
    assert len(reader.vectors) == len(CORPUS)


def test_concurrent_first_calls_load_the_dense_parts_once(
    indexed, settings: Settings, model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="paperboard.index.indexer")
    fresh = SearchIndex(settings, models=model_cache)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: fresh.dense_ready(), range(8)))
    assert answers == [True] * 8
    assert [r.getMessage() for r in caplog.records if "loaded" in r.getMessage()] == [
        f"dense search: {len(CORPUS)} vectors loaded"
    ]


def test_broken_vectors_mean_no_dense_search_and_one_warning(
    indexed, settings: Settings, model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chunk = settings.home / "index" / "vectors" / "chunk-000001.npy"
    np.save(chunk, np.zeros((2, 384), dtype=np.float16))  # no longer the rows its list names
    broken = SearchIndex(settings, models=model_cache)
    assert not broken.dense_ready()
    broken.refresh()  # look again now: the files are as they were, so no second warning
    assert not broken.dense_ready()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "chunk-000001" in warnings[0]
    store = indexed[0]
    words = search(broken, store, "gaussian splatting")  # ranked by words, no error
    assert words.hits and words.hits[0].dense_rank is None and "words only" in words.notes[-1]
    with pytest.raises(PaperboardError, match="no embeddings"):
        search(broken, store, "gaussian splatting", mode="dense")
    alike = similar(broken, store, "2503.10002", k=3)
    assert alike and all(h.id.startswith("2503.1") and h.similarity is None for h in alike)
    picks = recommend(broken, store, upvoted=["2503.40001"], k=2)  # words need no embeddings
    assert picks and all(p.id.startswith("2503.4") for p in picks)
    assert all(p.because == "2503.40001" and p.reason.endswith("which you upvoted") for p in picks)


def test_large_vectors_are_switched_to_once_their_faiss_index_is_stored(
    store: PaperStore, settings: Settings, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors_module, "ANN_THRESHOLD", 10)  # faiss IVF from 10 vectors
    monkeypatch.setattr(indexer, "DENSE_CHECK_SECONDS", 0.0)  # look at the files on every call
    store.write(CORPUS[:20])
    writer = SearchIndex(settings, models=model_cache)
    sync_vectors(store, writer)
    build_neighbours(writer)
    reader = SearchIndex(settings, models=model_cache)
    assert reader.dense_ready() and not reader.neighbours.exact
    store.write(CORPUS[20:])
    sync_vectors(store, writer)  # embedded, but their faiss index is not stored yet
    ann = settings.home / "index" / "vectors" / "ann.faiss"
    written = ann.stat().st_mtime_ns
    assert reader.dense_ready() and len(reader.vectors) == 20  # the loaded ones meanwhile
    assert ann.stat().st_mtime_ns == written  # the reader trained and wrote nothing
    build_neighbours(writer)
    assert reader.dense_ready() and len(reader.vectors) == len(reader.neighbours.vectors) == 30


def test_similar_papers_exclude_the_paper_itself(searchable) -> None:
    store, index = searchable
    hits = similar(index, store, "2503.10002", k=5)
    assert "2503.10002" not in [h.id for h in hits]
    assert all(h.id.startswith("2503.1") for h in hits)
    assert hits[0].similarity is not None and hits[0].similarity > 0.5


def test_recommendations_explain_themselves(searchable) -> None:
    store, index = searchable
    picks = recommend(index, store, upvoted=["2503.40001", "2503.40002"], k=3)
    assert picks and all(p.id.startswith("2503.4") for p in picks)
    assert {p.id for p in picks}.isdisjoint({"2503.40001", "2503.40002"})
    assert picks[0].because in {"2503.40001", "2503.40002"} and picks[0].reason.endswith(
        "which you upvoted"
    )
    cold = recommend(index, store, keywords=["protein folding"], k=3)
    assert cold and cold[0].id.startswith("2503.3") and "keywords" in cold[0].reason
    by_category = recommend(index, store, categories=["eess.AS"], k=2)
    assert by_category and all(p.paper["primary_category"] == "eess.AS" for p in by_category)


def snapshot_file(folder: Path) -> Path:
    """The corpus as an arXiv snapshot file, for ``paperboard ingest snapshot``."""
    lines = [
        json.dumps(
            {
                "id": p.id,
                "title": p.title,
                "abstract": p.abstract,
                "categories": " ".join(p.categories or []),
                "authors": ", ".join(p.authors or []),
                "versions": [{"version": "v1", "created": "Mon, 3 Mar 2025 10:00:00 GMT"}],
            }
        )
        for p in CORPUS
    ]
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_ingest_killed_before_the_lexical_commit_is_caught_up_by_the_rerun(
    env: dict[str, str],
    store: PaperStore,
    home: Path,
    tmp_path: Path,
    cli: Callable[..., CliResult],
) -> None:
    path = snapshot_file(tmp_path)
    killed = run_killed(  # before its first file change in the index: the papers are committed
        ["ingest", "snapshot", str(path)], folder=home / "index", at=1, env=env, cwd=home
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert store.count() == len(CORPUS)
    again = cli("ingest", "snapshot", str(path))  # nothing new to import
    assert again.exit_code == 0 and f"{len(CORPUS)} unchanged" in again.stdout, again.output
    found = json.loads(cli("search", "crowd counting", "--mode", "lexical", "--json").stdout)
    assert [r["id"][:6] for r in found["results"]] == ["2503.2"] * 6


def test_cli_search_and_index(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch, model_cache: Path
) -> None:
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    path = snapshot_file(tmp_path)
    assert "search index: 30 papers updated" in cli("ingest", "snapshot", str(path)).stdout
    lexical = json.loads(cli("search", "crowd counting", "--mode", "lexical", "--json").stdout)
    assert lexical["results"][0]["id"].startswith("2503.2")
    assert cli("search", "crowd", "--mode", "dense").exit_code == 1  # nothing embedded yet
    assert "30 embedded" in cli("index").stdout
    assert "0 embedded" in cli("index").stdout
    hybrid = json.loads(cli("search", "people in dense crowds", "--json", "-k", "3").stdout)
    assert [r["id"][:6] for r in hybrid["results"]] == ["2503.2"] * 3
    bad = cli("search", "au:")
    assert (
        bad.exit_code == 1
        and bad.stderr.startswith("paperboard: error:")
        and bad.stderr.count("\n") == 1
    )
    similar_ids = [
        r["id"] for r in json.loads(cli("similar", "2503.10002", "--json", "-k", "3").stdout)
    ]
    assert len(similar_ids) == 3 and "2503.10002" not in similar_ids
    assert cli("similar", "2503.99999").exit_code == 1


def test_eval_on_a_tiny_judged_set(tmp_path: Path, settings: Settings, model_cache: Path) -> None:
    folder = tmp_path / "judged"
    (folder / "qrels").mkdir(parents=True)
    docs = {p.id: p for p in CORPUS}
    (folder / "corpus.jsonl").write_text(
        "\n".join(
            json.dumps({"_id": i, "title": p.title, "text": p.abstract}) for i, p in docs.items()
        )
        + "\n"
    )
    queries = [
        {"_id": "q1", "text": "speculative decoding"},
        {"_id": "q2", "text": "counting people in crowds"},
        {"_id": "q3", "text": "", "paper": "2503.30001"},
    ]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    qrels = [("q1", f"2503.0{n:04d}", 2) for n in range(1, 7)] + [
        ("q2", f"2503.2{n:04d}", 1) for n in range(1, 7)
    ]
    qrels += [("q3", f"2503.3{n:04d}", 1) for n in range(2, 7)]
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    )
    local = settings.model_copy(update={"models_dir": model_cache})
    scores = evaluate(folder, local, modes=["lexical", "dense", "hybrid"], similar=True)
    for mode in ("lexical", "dense", "hybrid"):
        assert scores[mode]["ndcg@10"] > 0.95, (mode, scores[mode])
        assert scores[mode]["recall@100"] == 1.0 and scores[mode]["mrr@10"] == 1.0
    # q3 without --similar has no text: nothing relevant is found for it
    plain = evaluate(folder, local, modes=["lexical"], similar=False)
    assert plain["lexical"]["ndcg@10"] < scores["lexical"]["ndcg@10"]
