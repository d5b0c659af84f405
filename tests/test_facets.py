"""Facets of an abstract: sentence splitting, the role tagger shipped with paperboard, facet
vectors kept in step with the store, and "similar in one facet" in the ranking, the API, the
paper page and the CLI. Real model, real databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import CliResult, Site

from paperboard.core.config import Settings
from paperboard.core.records import PaperRecord
from paperboard.index.facets import FACETS, facet_vectors, role_tagger
from paperboard.index.indexer import (
    SearchIndex,
    build_neighbours,
    sync_facets,
    sync_lexical,
    sync_vectors,
)
from paperboard.index.sentences import heading, split_sentences
from paperboard.rank.similar import FacetError, facet_ranking, similar, tagged_sentences
from paperboard.sources.normalize import prepare
from paperboard.store.papers import PaperStore

BACKGROUND = (
    "Early detection of diabetic retinopathy from retinal fundus photographs is vital to prevent "
    "blindness. However, expert graders are scarce in rural eye clinics."
)
GRAPH_METHOD = (
    "We propose a graph neural network that links the detected items into a graph and passes "
    "messages between neighbouring nodes before classifying the whole graph."
)
QUERY = (
    f"{BACKGROUND} {GRAPH_METHOD} On a public benchmark our model reaches an AUC of 0.94, "
    "better than convolutional baselines."
)
SAME_BACKGROUND = (
    f"{BACKGROUND} We train a random forest on hand-crafted vessel width and colour histogram "
    "features. The forest reaches 85% accuracy on a hospital cohort of 2,000 patients."
)
SAME_METHOD = (
    "Forecasting traffic congestion on city road networks is vital for planning. However, road "
    f"sensors are sparse and their readings noisy. {GRAPH_METHOD} On two city datasets our "
    "model lowers the forecasting error by 12% over recurrent baselines."
)
FILLER = [
    "Sorting algorithms order lists. We study merge sort on linked lists. It runs faster.",
    "Bird migration follows the seasons. We tag swallows with light loggers. They fly far.",
    "Coffee roasting changes flavour. We roast beans at three temperatures. Darker is bitter.",
    "Tides follow the moon. We model harbour water levels with harmonics. Errors stay small.",
]


def record(number: int, title: str, abstract: str) -> PaperRecord:
    return prepare(
        PaperRecord(
            id=f"2504.{number:05d}",
            source="test",
            title=title,
            abstract=abstract,
            authors=["A. Author"],
            categories=["cs.LG"],
            published_at=datetime(2025, 4, 1, tzinfo=UTC),
            version=1,
        )
    )


PAPERS = [
    record(1, "Graph networks for retinopathy screening", QUERY),
    record(2, "Random forests for retinopathy screening", SAME_BACKGROUND),
    record(3, "Graph networks for traffic forecasting", SAME_METHOD),
    *(record(10 + i, f"Filler {i}", text) for i, text in enumerate(FILLER)),
]


@pytest.fixture
def faceted(store: PaperStore, settings: Settings, model_cache: Path) -> SearchIndex:
    store.write(PAPERS)
    index = SearchIndex(settings, models=model_cache)
    sync_lexical(store, index)
    sync_vectors(store, index)
    assert sync_facets(store, index) == len(PAPERS)
    build_neighbours(index)
    return index


def test_sentences_end_at_full_stops_but_not_at_abbreviations() -> None:
    text = (
        "Models fail, e.g. on long inputs (see Smith et al. for details). We propose X, built "
        "by J. Doe at https://example.org/a. Results: it wins by 3.5%! Does it scale? Yes."
    )
    assert split_sentences(text) == [
        "Models fail, e.g. on long inputs (see Smith et al. for details).",
        "We propose X, built by J. Doe at https://example.org/a.",
        "Results: it wins by 3.5%!",
        "Does it scale?",
        "Yes.",
    ]
    assert heading("Results: it wins by 3.5%!") == ("results", "it wins by 3.5%!")
    assert heading("We propose X: a model.") == (None, "We propose X: a model.")
    assert split_sentences("   ") == []


def test_the_shipped_tagger_reads_the_roles_of_a_plain_abstract(model_cache: Path) -> None:
    from paperboard.index.embed import Embedder

    sentences = split_sentences(QUERY)
    embedder = Embedder.load(model_cache)
    roles = role_tagger().tag(sentences, embedder.embed(sentences, max_length=96))
    assert roles == ["background", "background", "method", "result"]


def test_facet_vectors_are_unit_vectors_and_an_empty_abstract_has_none(
    model_cache: Path,
) -> None:
    from paperboard.index.embed import Embedder

    embedder = Embedder.load(model_cache)
    full, empty, blank = facet_vectors(embedder, [QUERY, None, "  "])
    assert set(full) == set(FACETS)
    for vector in full.values():
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
    assert float(full["method"] @ full["background"]) < 0.9  # not one vector three times
    assert empty == {} and blank == {}


def test_similar_method_and_similar_background_rank_differently(
    faceted: SearchIndex, store: PaperStore
) -> None:
    by_method = [pid for pid, _, _ in facet_ranking(faceted, store, "2504.00001", "method")]
    by_background = [pid for pid, _, _ in facet_ranking(faceted, store, "2504.00001", "background")]
    assert by_method[0] == "2504.00003"  # the same graph method, on traffic
    assert by_background[0] == "2504.00002"  # the same problem, with a random forest
    assert "2504.00001" not in by_method + by_background
    hits = similar(faceted, store, "2504.00001", k=3, facet="method")
    assert hits[0].id == "2504.00003" and hits[0].facet_similarity is not None
    assert hits[0].facet_similarity > 0.8
    with pytest.raises(FacetError):
        facet_ranking(faceted, store, "2504.00001", "novelty")


def test_facet_vectors_follow_the_store(faceted: SearchIndex, store: PaperStore) -> None:
    assert sync_facets(store, faceted) == 0  # nothing changed: nothing redone
    changed = replace(PAPERS[2], abstract=FILLER[0], version=2)
    store.write([changed])
    assert sync_facets(store, faceted) == 1
    build_neighbours(faceted)
    by_method = [pid for pid, _, _ in facet_ranking(faceted, store, "2504.00001", "method")]
    assert by_method[0] != "2504.00003"  # its abstract no longer holds the graph method
    stored = faceted.facet_set()
    assert stored is not None and len(stored) == len(PAPERS)


def test_a_papers_sentences_come_with_their_roles(faceted: SearchIndex, store: PaperStore) -> None:
    row = store.get("2504.00001")
    assert row is not None
    roles = tagged_sentences(faceted, row)
    assert [role for _, role in roles] == ["background", "background", "method", "result"]


def test_the_api_page_and_cli_ask_for_one_facet(site: Site, cli: Callable[..., CliResult]) -> None:
    from paperboard.index.indexer import sync_facets as sync

    services = site.services
    services.papers.write(PAPERS)
    sync_lexical(services.papers, services.index)
    sync_vectors(services.papers, services.index)
    sync(services.papers, services.index)
    build_neighbours(services.index)
    with site.client() as client:
        answer = client.get("/api/papers/2504.00001/similar", params={"facet": "method"})
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found[0]["paper"]["id"] == "2504.00003"
        assert all("facet_similarity" in entry for entry in found)
        plain = client.get("/api/papers/2504.00001/similar").json()
        assert "facet_similarity" not in plain[0]
        bad = client.get("/api/papers/2504.00001/similar", params={"facet": "novelty"})
        assert bad.status_code == 400 and "unknown facet" in bad.json()["error"]
        page = client.get("/papers/2504.00001.json", params={"similar": "background"}).json()
        assert page["similar_facet"] == "background"
        assert page["similar"][0]["id"] == "2504.00002"
        assert [s["role"] for s in page["abstract_roles"]][:2] == ["background", "background"]
        html = client.get("/papers/2504.00001", params={"similar": "method"}).text
        assert "Similar papers: similar method" in html
        assert "Compared by the method sentences of this abstract" in html
        assert 'href="/papers/2504.00001?similar=background#similar"' in html
        assert client.get("/papers/2504.00001", params={"similar": "x"}).status_code == 400
        moved = client.get("/papers/2504.00001v1", params={"similar": "method"})
        assert moved.status_code == 301  # an old version's address keeps the facet
        assert moved.headers["location"] == "/papers/2504.00001?similar=method"
        bad = client.get("/papers/2504.00001v1", params={"similar": "x&y=1"})
        assert bad.status_code == 400 and "location" not in bad.headers
    shown = cli("similar", "2504.00001", "--facet", "method", "-k", "2")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0].startswith(" 1. Graph networks for traffic forecasting")
    refused = cli("similar", "2504.00001", "--facet", "novelty")
    assert refused.exit_code == 2 and "unknown facet" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_eval_scores_a_facet_ranking(tmp_path: Path, settings: Settings, model_cache: Path) -> None:
    from paperboard.rank.evaluate import evaluate

    folder = tmp_path / "method"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": p.id, "title": p.title, "text": p.abstract}) + "\n" for p in PAPERS
        )
    )
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "paper": "2504.00001"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(  # graded on the method alone
        "query-id\tcorpus-id\tscore\nq\t2504.00003\t2\nq\t2504.00002\t0\n"
    )
    local = settings.model_copy(update={"models_dir": model_cache})
    scores = evaluate(folder, local, modes=["method", "background"], similar=True)
    assert scores["method"]["mrr@10"] == 1.0  # the traffic paper with the same method first
    assert scores["background"]["mrr@10"] < 1.0  # the same problem first, its method differs
