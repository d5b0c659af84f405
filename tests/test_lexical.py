"""The lexical index (tantivy): ranking, stemming, phrases, fields, filters, highlighting, updates,
persistence, locking, "more like this", and queries that must never crash it."""

from __future__ import annotations

import dataclasses
import gzip
import html
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import SHARED_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tantivy import Query

from paperboard.index import lexical
from paperboard.index.lexical import (
    _TEXT,
    COUNTED_DAYS,
    VERSION_FILE,
    Filters,
    IndexVersionError,
    LexicalHit,
    LexicalIndex,
    LexicalIndexError,
    _id_key,
    _key_id,
    _terms,
)
from paperboard.index.query import QueryError, parse_query
from paperboard.sources.normalize import prepare
from paperboard.sources.snapshot import parse_entry


def paper(
    id: str,
    title: str,
    abstract: str = "",
    authors: tuple[str, ...] = (),
    categories: tuple[str, ...] = ("cs.LG",),
    published: str | None = "2025-03-01",
    feed: str | None = None,
    code: bool = False,
) -> dict[str, Any]:
    published_at = datetime.fromisoformat(published).replace(tzinfo=UTC) if published else None
    return {
        "id": id,
        "title": title,
        "abstract": abstract,
        "authors": list(authors),
        "categories": list(categories),
        "published_at": published_at,
        "feed_date": (
            date.fromisoformat(feed) if feed else published_at.date() if published_at else None
        ),
        "code_urls": ["https://github.com/example/repo"] if code else [],
        "upvotes": 0,
    }


SPEECH_A = (
    "We learn speech representations with a contrastive objective over masked frames of raw "
    "audio. Masked prediction of quantized latent units lets a wav2vec-style encoder learn from "
    "unlabeled speech, and fine-tuning on phoneme recognition shows large gains in low-resource "
    "settings."
)
SPEECH_B = (
    "A contrastive objective over masked audio frames learns speech representations: the encoder "
    "predicts quantized latent units of masked raw audio from unlabeled speech, and phoneme "
    "recognition after fine-tuning improves in low-resource settings."
)
LONG_ABSTRACT = (
    "Introductory sentences without the word we look for. " * 12
    + "Here the hippocampus finally appears in the middle of the text. "
    + "Closing sentences that also say nothing of interest. " * 12
)

PAPERS = [
    paper(
        "2501.00001",
        "Graph Neural Networks for Molecule Property Prediction",
        "We apply message passing to molecular graphs and predict properties of molecules.",
        ("Alice Zhang", "Bob Martin"),
        ("cs.LG", "q-bio.BM"),
        "2025-01-05",
        code=True,
    ),
    paper(
        "2501.00002",
        "A Survey of Sequence Architectures",
        "We review recurrent models, state space models and graph neural networks for sequences.",
        ("Carol Long",),
        ("cs.CL",),
        "2025-01-10",
    ),
    paper(
        "2502.00003",
        "Diffusion Models for Image Generation",
        "Denoising diffusion produces images from noise with a learned score function.",
        ("Dan Wu", "Eve Müller"),
        ("cs.CV",),
        "2025-02-01",
        code=True,
    ),
    paper(
        "2502.00004",
        "Network Pruning at Initialization",
        "Pruning a dense network before training keeps the lottery tickets.",
        ("Frank Hinton", "Grace Hopper"),
        ("cs.LG", "stat.ML"),
        "2025-02-10",
    ),
    paper(
        "2502.00005",
        "Efficient Transformer Inference",
        "Caching keys and values speeds up decoding on commodity hardware.",
        ("Hiro Tanaka",),
        ("cs.CL",),
        "2025-02-15",
        feed="2025-04-01",
    ),
    paper(
        "2502.00006",
        "Speeding Up Language Model Decoding",
        "We accelerate the transformer decoder with speculative drafts.",
        ("Ivan Petrov",),
        ("cs.CL",),
        "2025-02-20",
    ),
    paper(
        "2503.00007",
        "Spiking Neural Network Hardware",
        "A neural network accelerator for spiking models on neuromorphic chips.",
        ("Judy Neural",),
        ("cs.NE",),
        "2025-03-01",
        code=True,
    ),
    paper(
        "2503.00008",
        "Brain Tissue Imaging",
        "The network of glial cells supports neural activity in the cortex.",
        ("Karl Weber",),
        ("q-bio.NC",),
        "2025-03-05",
    ),
    paper(
        "2503.00009",
        "Escaping <script>alert('x')</script> in Titles & Abstracts",
        "Abstracts with <b>bold</b> tags & entities must show as text, script included.",
        ("Mallory Evil",),
        ("cs.CR",),
        "2025-03-07",
    ),
    paper(
        "2503.00010",
        "Schrödinger Bridges for Generative Modeling",
        "Entropic optimal transport between noise and data via the Schrödinger bridge problem.",
        ("Nina Schrödinger-Ruiz",),
        ("stat.ML", "math.OC"),
        "2025-03-10",
    ),
    paper(
        "2503.00011",
        "Contrastive Learning of Speech Representations with Masked Prediction",
        SPEECH_A,
        ("Oscar Vega", "Pia Lund"),
        ("cs.SD", "eess.AS"),
        "2025-03-12",
        code=True,
    ),
    paper(
        "2503.00012",
        "Masked Prediction for Contrastive Speech Representation Learning",
        SPEECH_B,
        ("Quinn Rao",),
        ("eess.AS",),
        "2025-03-14",
    ),
    paper(
        "2503.00013",
        "Hippocampal Replay in Rodents",
        LONG_ABSTRACT,
        ("Rita Costa",),
        ("q-bio.NC",),
        "2025-03-15",
    ),
    paper(
        "2503.00014",
        "Random Matrix Theory of Deep Learning",
        "Spectra of weight matrices follow heavy-tailed laws.",
        ("Sam Chen",),
        ("math.PR", "cs.LG"),
        "2025-03-16",
    ),
    paper(
        "2503.00015",
        "Lattice Gauge Theory on Quantum Computers",
        "We simulate gauge fields with qubits.",
        ("Tom Young",),
        ("hep-lat", "quant-ph"),
        "2025-03-17",
    ),
    paper(
        "2504.00016",
        "Phase Transitions in Spin Glasses",
        "Replica symmetry breaking in mean-field models.",
        ("Uma Singh",),
        ("cond-mat.stat-mech",),
        "2025-04-01",
    ),
    paper(
        "2504.00017",
        "Long Context Retrieval for Language Models",
        "Retrieval over long documents with sparse attention.",
        ("Vera Park",),
        ("cs.CL",),
        "2025-04-02",
        code=True,
    ),
    paper(
        "2504.00018",
        "Reinforcement Learning from Human Feedback",
        "Reward models trained on preferences align language models.",
        ("Wes Long", "Xia Li"),
        ("cs.LG", "cs.AI"),
        "2025-04-03",
    ),
    paper(
        "2504.00019",
        "Graph Attention for Traffic Forecasting",
        "Attention over road graphs forecasts traffic speed.",
        ("Yan Chen",),
        ("cs.LG",),
        "2025-04-04",
    ),
    paper(
        "2504.00020",
        "Vision Transformers Need Registers",
        "Extra tokens remove artifacts in the attention maps of vision transformers.",
        ("Zoe Darcet",),
        ("cs.CV",),
        "2025-04-05",
        code=True,
    ),
    paper(
        "2505.00021",
        "Federated Learning with Differential Privacy",
        "Clients add noise to updates; we bound the privacy loss.",
        ("Amy Ng",),
        ("cs.LG", "cs.CR"),
        "2025-05-01",
    ),
    paper(
        "2505.00022",
        "Protein Structure Prediction with Language Models",
        "A protein language model predicts folds from sequences.",
        ("Ben Cho",),
        ("q-bio.BM", "cs.LG"),
        "2025-05-02",
        code=True,
    ),
    paper(
        "2505.00023",
        "Sparse Mixture of Experts at Scale",
        "Routing tokens to experts scales language models cheaply.",
        ("Cleo Fox",),
        ("cs.LG",),
        "2025-05-03",
    ),
    paper(
        "2505.00024",
        "Optimal Transport for Domain Adaptation",
        "Transport plans align source and target distributions.",
        ("Dora Kim",),
        ("stat.ML",),
        "2025-05-04",
    ),
    paper(
        "2505.00025",
        "Neural Radiance Fields in the Wild",
        "We reconstruct scenes from photo collections with neural fields.",
        ("Eli Roth",),
        ("cs.CV", "cs.GR"),
        "2025-05-05",
    ),
    paper(
        "2506.00026",
        "Quantum Error Correction Thresholds",
        "Surface codes reach thresholds under circuit noise.",
        ("Finn Berg",),
        ("quant-ph",),
        "2025-06-01",
    ),
    paper(
        "2506.00027",
        "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
        "Selective state space models match transformers on language.",
        ("Gus Albert", "Tri Dao"),
        ("cs.LG",),
        "2025-06-02",
        code=True,
    ),
    paper(
        "hep-th/9901001",
        "String Dualities Revisited",
        "Dualities of string theories.",
        ("Ed Witten",),
        ("hep-th",),
        "1999-01-04",
    ),
    paper(
        "demo:pointer-networks",
        "Pointer Networks",
        "Networks whose outputs point at input positions.",
        ("Oriol Vinyals",),
        ("cs.LG",),
        None,
    ),
    {"id": "2506.00030", "title": "A Paper With Almost Nothing"},
    paper(
        "2506.00031",
        "Quantization of Large Networks for Mobile Phones",
        "Smaller weights run on the device.",
        ("Hugo Lin",),
        ("cs.LG",),
        "2025-06-03",
    ),
    paper(
        "2506.00032",
        "Running Models on Phones",
        "Quantization shrinks weights.",
        ("Ines Roy",),
        ("cs.LG",),
        "2025-06-04",
    ),
]
BY_ID = {p["id"]: p for p in PAPERS}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> LexicalIndex:
    built = LexicalIndex.open(tmp_path_factory.mktemp("lexical") / "index")
    assert built.upsert(PAPERS) == len(PAPERS)
    built.commit()
    return built


@pytest.fixture
def fresh(tmp_path: Path) -> LexicalIndex:
    built = LexicalIndex.open(tmp_path / "index")
    built.upsert(PAPERS)
    built.commit()
    return built


def ids(index: LexicalIndex, text: str, k: int = 50, **filters: Any) -> list[str]:
    hits = index.search(parse_query(text), k=k, filters=Filters(**filters), highlight=False)
    return [h.id for h in hits]


def plain(fragment: str) -> str:
    """Highlighted HTML back to the text it shows."""
    return html.unescape(re.sub(r"</?mark>", "", fragment))


# -- ranking, stemming, phrases -------------------------------------------------------------------


def test_a_word_in_the_title_counts_title_weight_times(tmp_path: Path) -> None:
    built = LexicalIndex.open(tmp_path / "index")
    built.upsert(
        [
            paper("2501.00001", "Quasar spectra", "We fit quasar spectra with a model."),
            paper("2501.00002", "Galaxy surveys", "Nothing about the word here."),
            paper("2501.00003", "Hyphen-ated words", "A quasar, and a self-supervised method."),
        ]
    )
    built.commit()

    def score(text: str) -> float:
        return dict(built.search_ids(parse_query(text), k=5))["2501.00001"]

    # free words: the title's score counted TITLE_WEIGHT times, plus the abstract's
    both = score("quasar")
    assert both == pytest.approx(2 * score("ti:quasar") + score("abs:quasar"), rel=1e-5)
    assert lexical.TITLE_WEIGHT == 2
    # a hyphenated word ranks by its pairs, weighted alike
    pairs = dict(built.search_ids(parse_query("quasar-spectra"), k=5))["2501.00001"]
    title_pair = Query.term_query(built._schema, "title_pairs", "quasar_spectra")
    abstract_pair = Query.term_query(built._schema, "abstract_pairs", "quasar_spectra")
    searcher = built._searcher()
    alone = [searcher.search(q, 1).hits[0][0] for q in (title_pair, abstract_pair)]
    assert pairs == pytest.approx(2 * alone[0] + alone[1], rel=1e-5)


def test_count(index: LexicalIndex) -> None:
    assert index.count() == len(PAPERS)
    assert "2501.00001" in index and "nope" not in index


def test_title_match_beats_abstract_only_match(index: LexicalIndex) -> None:
    found = ids(index, "transformer")
    assert found.index("2502.00005") < found.index("2502.00006")  # title vs abstract only
    # a short abstract beats a long title on BM25 alone: the title's weight turns it round
    assert ids(index, "quantization")[:2] == ["2506.00031", "2506.00032"]


def test_more_matching_words_rank_higher(index: LexicalIndex) -> None:
    found = ids(index, "pruning initialization graph")
    assert found[0] == "2502.00004"
    assert "2501.00001" in found  # one word is enough to be found (OR)


def test_stemming_finds_other_forms(index: LexicalIndex) -> None:
    assert "2502.00004" in ids(index, "networks")  # title says "Network"
    assert "2501.00001" in ids(index, "network")  # title says "Networks"
    assert "2502.00004" in ids(index, "pruned")


def test_case_and_accents_are_ignored(index: LexicalIndex) -> None:
    assert ids(index, "SCHRODINGER")[0] == "2503.00010"
    assert ids(index, "schrödinger")[0] == "2503.00010"


def test_phrase_requires_adjacent_words(index: LexicalIndex) -> None:
    loose = ids(index, "neural network")
    exact = ids(index, '"neural network"')
    assert "2503.00008" in loose  # "network of glial cells supports neural activity"
    assert "2503.00008" not in exact
    assert {"2501.00001", "2503.00007"} <= set(exact)
    assert set(exact) <= set(loose)


def test_hyphenated_word_is_matched_as_a_phrase(index: LexicalIndex) -> None:
    assert ids(index, "linear-time")[0] == "2506.00027"
    # "state space" is a pair in 2501.00002's abstract and 2506.00027's; "space-state" in none
    assert set(ids(index, "state-space")) == {"2501.00002", "2506.00027"}
    assert ids(index, "space-state") == []
    assert set(ids(index, '"state space"')) == {"2501.00002", "2506.00027"}


def test_phrases_are_ranked_by_pair_terms_only_where_that_is_exact(index: LexicalIndex) -> None:
    parsed = parse_query('self-supervised "neural network" "graph neural networks"')
    query, _ = index._build(parsed, None)
    described = repr(query)

    def term(field: str, value: str) -> str:
        return repr(Query.term_query(index._schema, field, value)).removeprefix("Query(")[:-1]

    for field in ("title_pairs", "abstract_pairs"):
        assert term(field, "self_supervis") in described
        assert term(field, "neural_network") in described
    # three quoted words must be adjacent in that order: a positional phrase query
    assert "PhraseQuery" in described
    # two stopwords make no pair in the index: their phrase is matched by position
    assert "PhraseQuery" in repr(index._build(parse_query('"of the"'), None)[0])


def test_long_quoted_phrase_is_exact(index: LexicalIndex) -> None:
    # 2501.00002 has "graph neural networks" in its abstract; "neural networks for" alone is not it
    assert ids(index, '"graph neural networks"') == ["2501.00001", "2501.00002"]
    assert ids(index, '"neural networks graph"') == []


def test_stopword_phrase_still_matches_by_position(index: LexicalIndex) -> None:
    assert "2505.00025" in ids(index, '"in the wild"')
    assert "2505.00025" in ids(index, '"in the"')


def test_authors_match_free_words_and_last_names(index: LexicalIndex) -> None:
    assert ids(index, "hopper") == ["2502.00004"]
    assert ids(index, "au:Hopper") == ["2502.00004"]
    assert ids(index, "au:MÜLLER") == ["2502.00003"]
    assert ids(index, "au:muller") == ["2502.00003"]  # folded accents


def test_author_full_names_in_either_order_and_initials(index: LexicalIndex) -> None:
    assert ids(index, 'au:"grace hopper"') == ["2502.00004"]
    assert ids(index, 'au:"Hopper, Grace"') == ["2502.00004"]
    assert ids(index, 'au:"G. Hopper"') == ["2502.00004"]
    assert ids(index, 'au:"Frank Hopper"') == []  # two co-authors are not one name


def test_author_names_are_not_stemmed(index: LexicalIndex) -> None:
    assert ids(index, "au:long") == ["2504.00018", "2501.00002"]  # newest first
    assert ids(index, "au:longs") == []


def test_title_and_abstract_fields(index: LexicalIndex) -> None:
    assert set(ids(index, "ti:transformer")) == {"2502.00005", "2504.00020"}
    assert set(ids(index, "abs:transformer")) == {"2502.00006", "2504.00020", "2506.00027"}
    assert ids(index, 'ti:"sequence modeling"') == ["2506.00027"]
    assert ids(index, "ti:retrieval long") == ["2504.00017"]  # ti: required, "long" adds


def test_category_field_and_archives(index: LexicalIndex) -> None:
    assert set(ids(index, "cat:cs.CV")) == {"2502.00003", "2504.00020", "2505.00025"}
    assert set(ids(index, "cat:cs.cv")) == {"2502.00003", "2504.00020", "2505.00025"}
    assert set(ids(index, "cat:math")) == {"2503.00010", "2503.00014"}
    assert ids(index, "cat:hep-th") == ["hep-th/9901001"]
    assert ids(index, "cat:cond-mat") == ["2504.00016"]
    assert ids(index, "cat:q-bio.NC attention") == []  # cat: selects, a free word must match
    assert set(ids(index, "cat:cs.LG graph")) == {"2501.00001", "2504.00019"}  # not 2501.00002


def test_fields_only_list_newest_first(index: LexicalIndex) -> None:
    hits = index.search(parse_query("cat:cs.CL"), k=10)
    assert [h.id for h in hits] == ["2504.00017", "2502.00006", "2502.00005", "2501.00002"]
    assert all(h.score == 0.0 for h in hits)


def test_exclusions(index: LexicalIndex) -> None:
    assert "2501.00001" in ids(index, "graph")
    assert "2501.00001" not in ids(index, "graph -molecule")
    assert "2501.00001" not in ids(index, 'graph -"message passing"')
    assert "2501.00001" not in ids(index, "graph -au:zhang")
    assert "2504.00019" not in ids(index, "graph -cat:cs.LG")


def test_required_words(index: LexicalIndex) -> None:
    assert ids(index, "graph +traffic") == ["2504.00019"]


def test_stopword_only_differences_do_not_matter(index: LexicalIndex) -> None:
    assert ids(index, "the graph of attention")[0] == ids(index, "graph attention")[0]


def test_words_that_index_nothing_find_nothing(index: LexicalIndex) -> None:
    assert ids(index, "x" * 60) == []  # longer than any indexed word
    assert ids(index, "zzzunknownword") == []


def test_paging_with_offset(index: LexicalIndex) -> None:
    query = parse_query("models")
    everything = [h.id for h in index.search(query, k=20, highlight=False)]
    assert len(everything) > 4
    page2 = [h.id for h in index.search(query, k=2, offset=2, highlight=False)]
    assert page2 == everything[2:4]
    assert index.search(query, k=0) == []


@pytest.mark.parametrize("paper_id", ["2503.11731", "0704.0001", "1501.00001", "2412.0001"])
def test_numeric_id_keys_round_trip(paper_id: str) -> None:
    assert _key_id(_id_key(paper_id)) == paper_id
    assert _id_key("hep-th/9901001") == _id_key("demo:x") == 0


def test_search_ids_matches_search(index: LexicalIndex) -> None:
    query = parse_query("language models")
    full = index.search(query, k=10)
    fast = index.search_ids(query, k=10)
    assert [h.id for h in full] == [i for i, _ in fast]
    assert [h.score for h in full] == pytest.approx([s for _, s in fast])
    assert all(isinstance(h, LexicalHit) for h in full)
    scores = [s for _, s in fast]
    assert scores == sorted(scores, reverse=True)
    # ids that have no numeric form come back too
    assert [i for i, _ in index.search_ids(parse_query("dualities"))] == ["hep-th/9901001"]
    assert [i for i, _ in index.search_ids(parse_query("pointer"))] == ["demo:pointer-networks"]


def test_paper_id_query_returns_that_paper(index: LexicalIndex) -> None:
    hits = index.search(parse_query("https://arxiv.org/abs/2503.00010v2"))
    assert [h.id for h in hits] == ["2503.00010"]
    assert hits[0].title_html.startswith("Schrödinger Bridges")
    assert index.search(parse_query("2509.99999")) == []


# -- filters --------------------------------------------------------------------------------------


def test_filter_categories_any_of_and_archives(index: LexicalIndex) -> None:
    assert set(ids(index, "models", categories=("cs.CV",))) == {"2502.00003"}
    both = set(ids(index, "models", categories=("cs.cv", "q-bio.BM")))
    assert both == {"2502.00003", "2505.00022"}
    in_cs = set(ids(index, "models", categories=("cs",)))
    assert in_cs and all(any(c.startswith("cs.") for c in BY_ID[i]["categories"]) for i in in_cs)
    assert set(ids(index, "transport", categories=("stat",))) == {"2503.00010", "2505.00024"}
    as_text = ids(index, "transport", categories="stat.ML")
    assert as_text == ids(index, "transport", categories=("stat.ML",))
    assert ids(index, "spin", categories=("cond-mat",)) == ["2504.00016"]
    assert ids(index, "spin", categories=("cs",)) == []


def test_filter_published_dates(index: LexicalIndex) -> None:
    found = ids(index, "language", since=date(2025, 4, 1))
    assert set(found) == {"2504.00017", "2504.00018", "2505.00022", "2505.00023", "2506.00027"}
    assert set(ids(index, "language", until=date(2025, 2, 20))) == {"2502.00006"}
    assert set(ids(index, "language", since=date(2025, 4, 2), until=date(2025, 4, 3))) == {
        "2504.00017",
        "2504.00018",
    }
    assert ids(index, "language", since=date(2025, 6, 1), until=date(2025, 1, 1)) == []
    assert ids(index, "pointer", since=date(1990, 1, 1)) == []  # no date: left out by a date filter


def test_filter_feed_dates(index: LexicalIndex) -> None:
    april = Filters(since=date(2025, 4, 1), until=date(2025, 4, 1), date_field="feed")
    assert [h.id for h in index.search(parse_query("caching"), filters=april)] == ["2502.00005"]
    published = Filters(since=date(2025, 4, 1), until=date(2025, 4, 1))
    assert index.search(parse_query("caching"), filters=published) == []


def test_a_narrow_selection_lists_every_paper_the_filters_keep(index: LexicalIndex) -> None:
    with_code = Filters(has_code=True)
    expected = {p["id"] for p in PAPERS if p.get("code_urls")}
    assert 0 < len(expected) < len(PAPERS)
    assert set(index.selection(with_code, limit=len(expected)) or []) == expected
    assert index.selection(with_code, limit=len(expected) - 1) is None  # more than asked for
    assert index.selection(None, limit=1000) is None and index.selection(Filters(), limit=9) is None
    nothing = Filters(since=date(1900, 1, 1), until=date(1900, 1, 2))
    assert index.selection(nothing, limit=5) == []


def test_a_selection_is_bounded_by_term_counts_before_it_is_run(fresh: LexicalIndex) -> None:
    days = {p["id"]: p["published_at"].date() for p in PAPERS if p.get("published_at")}
    last = max(days.values())
    start = last - timedelta(days=20)
    expected = {pid for pid, day in days.items() if day >= start}
    assert 0 < len(expected) < len(PAPERS)
    assert set(fresh.selection(Filters(since=start), limit=len(PAPERS)) or []) == expected
    long_ago = Filters(since=last - timedelta(days=COUNTED_DAYS + 5))
    assert fresh.selection(long_ago, limit=10_000) is None  # too many days to count: not run
    later = last + timedelta(days=30)
    fresh.upsert([paper("2601.00001", "A later paper", published=later.isoformat())])
    fresh.commit()  # the index's last day is looked up again after a commit
    assert fresh.selection(Filters(since=later), limit=5) == ["2601.00001"]


def test_filter_has_code(index: LexicalIndex) -> None:
    with_code = set(ids(index, "models", has_code=True))
    without = set(ids(index, "models", has_code=False))
    assert with_code and without and not with_code & without
    assert with_code | without == set(ids(index, "models"))
    assert all(BY_ID[i]["code_urls"] for i in with_code)
    assert not any(BY_ID[i].get("code_urls") for i in without)


def test_filters_combined(index: LexicalIndex) -> None:
    found = ids(index, "language models", categories=("cs",), since=date(2025, 4, 1), has_code=True)
    assert set(found) == {"2504.00017", "2505.00022", "2506.00027"}
    assert ids(index, "cat:cs.LG", has_code=True, until=date(2025, 3, 1)) == ["2501.00001"]


def test_filters_with_a_paper_id(index: LexicalIndex) -> None:
    assert ids(index, "2501.00001", has_code=True) == ["2501.00001"]
    assert ids(index, "2501.00001", has_code=False) == []


# -- highlighting ---------------------------------------------------------------------------------


def test_highlight_marks_matched_words_in_title_and_snippet(index: LexicalIndex) -> None:
    hit = index.search(parse_query("graph molecules"), k=1)[0]
    assert hit.id == "2501.00001"
    assert hit.title_html == (
        "<mark>Graph</mark> Neural Networks for <mark>Molecule</mark> Property Prediction"
    )
    assert "<mark>graphs</mark>" in hit.snippet_html
    assert "<mark>molecules</mark>" in hit.snippet_html
    assert plain(hit.snippet_html) == BY_ID["2501.00001"]["abstract"]


def test_highlight_only_marks_query_words(index: LexicalIndex) -> None:
    hit = index.search(parse_query("ti:pruning"), k=1)[0]
    assert hit.title_html == "Network <mark>Pruning</mark> at Initialization"
    assert "<mark>" not in hit.snippet_html  # ti: asked for the title only
    hit = index.search(parse_query("abs:pruning"), k=1)[0]
    assert hit.title_html == "Network Pruning at Initialization"
    assert re.findall(r"<mark>(.*?)</mark>", hit.snippet_html) == ["Pruning"]


def test_highlight_escapes_html(index: LexicalIndex) -> None:
    hit = index.search(parse_query("script bold"), k=1)[0]
    assert hit.id == "2503.00009"
    assert "<script" not in hit.title_html and "<b>" not in hit.snippet_html
    assert "&lt;<mark>script</mark>&gt;" in hit.title_html
    assert "&lt;b&gt;<mark>bold</mark>&lt;/b&gt;" in hit.snippet_html
    assert "&amp;" in hit.title_html and "&#x27;x&#x27;" in hit.title_html
    assert plain(hit.title_html) == BY_ID["2503.00009"]["title"]
    assert plain(hit.snippet_html) == BY_ID["2503.00009"]["abstract"]
    # the only tags are <mark> and </mark>
    assert set(re.findall(r"<[^>]*>", hit.title_html + hit.snippet_html)) == {"<mark>", "</mark>"}


def test_highlight_escapes_without_matches(index: LexicalIndex) -> None:
    hit = index.search(parse_query("au:evil"), k=1)[0]
    assert "<script" not in hit.title_html and "&lt;script&gt;" in hit.title_html
    assert "<mark>" not in hit.title_html and "<b>" not in hit.snippet_html


def test_highlight_non_ascii(index: LexicalIndex) -> None:
    hit = index.search(parse_query("schrodinger transport"), k=1)[0]
    assert hit.title_html == "<mark>Schrödinger</mark> Bridges for Generative Modeling"
    assert "<mark>Schrödinger</mark>" in hit.snippet_html
    assert "<mark>transport</mark>" in hit.snippet_html


def test_snippet_is_a_window_around_the_match(index: LexicalIndex) -> None:
    hit = index.search(parse_query("hippocampus"), k=1)[0]
    assert hit.id == "2503.00013"
    assert "<mark>hippocampus</mark>" in hit.snippet_html
    text = plain(hit.snippet_html)
    assert text.startswith("… ") and text.endswith(" …")
    assert 100 <= len(text) <= 230
    assert text.strip("… ") in LONG_ABSTRACT


def test_snippet_without_abstract_match_is_the_start(index: LexicalIndex) -> None:
    hit = index.search(parse_query("ti:hippocampal"), k=1)[0]
    assert "<mark>" not in hit.snippet_html
    assert plain(hit.snippet_html).startswith("Introductory sentences")
    assert plain(hit.snippet_html).endswith(" …") and len(plain(hit.snippet_html)) <= 205


def test_no_highlight_still_escapes(index: LexicalIndex) -> None:
    hit = index.search(parse_query("script"), k=1, highlight=False)[0]
    assert "<mark>" not in hit.title_html and "&lt;script&gt;" in hit.title_html


def test_paper_with_missing_fields(index: LexicalIndex) -> None:
    hit = index.search(parse_query("almost nothing"), k=1)[0]
    assert hit.id == "2506.00030" and hit.snippet_html == ""
    assert "<mark>Nothing</mark>" in hit.title_html


# -- updates, deletes, persistence ----------------------------------------------------------------


def test_upsert_replaces_a_paper(fresh: LexicalIndex) -> None:
    assert "2502.00003" in ids(fresh, "diffusion")
    changed = dict(BY_ID["2502.00003"], title="Flow Matching for Audio", abstract="Sound flows.")
    assert fresh.upsert([changed]) == 1
    assert "2502.00003" in ids(fresh, "diffusion")  # not visible before commit
    fresh.commit()
    assert "2502.00003" not in ids(fresh, "diffusion")
    assert ids(fresh, "ti:flow") == ["2502.00003"]
    assert fresh.count() == len(PAPERS)


def test_upsert_same_id_twice_in_a_batch_keeps_the_last(fresh: LexicalIndex) -> None:
    first = dict(BY_ID["2501.00001"], title="Version One Title")
    second = dict(BY_ID["2501.00001"], title="Version Two Title")
    assert fresh.upsert([first, second]) == 1
    fresh.commit()
    assert ids(fresh, "ti:one") == [] and ids(fresh, "ti:two") == ["2501.00001"]
    assert fresh.count() == len(PAPERS)


def test_upsert_needs_ids(fresh: LexicalIndex) -> None:
    with pytest.raises(LexicalIndexError, match="no id"):
        fresh.upsert([{"title": "Orphan"}])
    fresh.rollback()


def test_delete(fresh: LexicalIndex) -> None:
    assert fresh.delete(["2501.00001", "2501.00001", "9999.99999"]) == 1
    assert "2501.00001" in ids(fresh, "molecule")  # until commit
    fresh.commit()
    assert ids(fresh, "molecule") == []
    assert fresh.count() == len(PAPERS) - 1
    assert fresh.delete([]) == 0


def test_rollback_drops_uncommitted_writes(fresh: LexicalIndex) -> None:
    fresh.upsert([paper("2507.00001", "Uncommitted Zebra Paper")])
    fresh.rollback()
    fresh.commit()  # nothing to commit
    assert ids(fresh, "zebra") == []


def test_clear(fresh: LexicalIndex) -> None:
    fresh.clear()
    assert fresh.count() == 0
    assert ids(fresh, "graph") == []
    fresh.upsert(PAPERS[:3])
    fresh.commit()
    assert fresh.count() == 3


def test_reopen_from_disk(tmp_path: Path) -> None:
    first = LexicalIndex.open(tmp_path / "deep" / "folder")
    first.upsert(PAPERS)
    first.commit()
    del first
    again = LexicalIndex.open(tmp_path / "deep" / "folder")
    assert again.count() == len(PAPERS)
    assert ids(again, "networks")[:1] and "2502.00004" in ids(again, "networks")
    hit = again.search(parse_query("schrodinger"), k=1)[0]
    assert hit.title_html.startswith("<mark>Schrödinger</mark>")


def test_a_reader_sees_another_writers_commits(tmp_path: Path) -> None:
    reader = LexicalIndex.open(tmp_path / "index")
    assert reader.count() == 0
    writer = LexicalIndex.open(tmp_path / "index")
    writer.upsert(PAPERS[:5])
    writer.commit()
    assert reader.count() == 5
    assert ids(reader, "diffusion") == ["2502.00003"]
    writer.delete(["2502.00003"])
    writer.commit()
    assert ids(reader, "diffusion") == []


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    first = LexicalIndex.open(tmp_path / "index")
    second = LexicalIndex.open(tmp_path / "index", lock_timeout=0.2)
    first.upsert(PAPERS[:2])  # holds the writer lock until commit
    with pytest.raises(LexicalIndexError, match="being written by another process") as caught:
        second.upsert(PAPERS[2:4])
    assert "\n" not in str(caught.value)
    first.commit()
    assert second.upsert(PAPERS[2:4]) == 2
    second.commit()
    assert first.count() == 4
    second.upsert(PAPERS[4:5])
    second.close()  # drops the uncommitted write and lets others in
    first.upsert(PAPERS[5:6])
    first.commit()
    assert first.count() == 5


def test_layout_version_mismatch_needs_rebuild(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    built = LexicalIndex.open(folder)
    built.upsert(PAPERS[:3])
    built.commit()
    del built
    (folder / VERSION_FILE).write_text(json.dumps({"schema_version": 0}))
    with pytest.raises(IndexVersionError, match="rebuild") as caught:
        LexicalIndex.open(folder)
    assert "\n" not in str(caught.value)
    (folder / VERSION_FILE).unlink()
    with pytest.raises(IndexVersionError, match="unknown layout"):
        LexicalIndex.open(folder)
    rebuilt = LexicalIndex.open(folder, rebuild=True)
    assert rebuilt.count() == 0
    rebuilt.upsert(PAPERS[:2])
    rebuilt.commit()
    assert LexicalIndex.open(folder).count() == 2


def test_rebuild_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(LexicalIndexError, match="not deleting"):
        LexicalIndex.open(tmp_path, rebuild=True)
    assert (tmp_path / "mine.txt").exists()


def test_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("not a folder")
    with pytest.raises(LexicalIndexError):
        LexicalIndex.open(tmp_path / "index")


# -- more like this -------------------------------------------------------------------------------


def test_more_like_finds_the_near_duplicate_and_leaves_itself_out(index: LexicalIndex) -> None:
    similar = index.more_like(BY_ID["2503.00011"], k=5)
    assert similar[0][0] == "2503.00012"
    assert "2503.00011" not in [i for i, _ in similar]
    scores = [s for _, s in similar]
    assert scores == sorted(scores, reverse=True)


def test_more_like_works_for_a_paper_not_in_the_index(index: LexicalIndex) -> None:
    outsider = paper(
        "2512.00001",
        "Masked Contrastive Speech Representations",
        "Speech representations from masked audio with a contrastive loss.",
    )
    assert {i for i, _ in index.more_like(outsider, k=2)} == {"2503.00011", "2503.00012"}
    assert index.more_like({"id": "x", "title": "", "abstract": None}) == []
    assert index.more_like(BY_ID["2503.00011"], k=0) == []


# -- queries that must never crash ----------------------------------------------------------------


BAD = [
    "",
    "x" * 10_240,
    '"',
    'ti:"unclosed',
    "au:",
    "foo:bar",
    "cat:",
    "!!! ...",
    "-",
    "cat:*",
    "au:\u200b",
    '"" "" ""',
    "ti:" + "z" * 500,
]


@pytest.mark.parametrize("text", BAD)
def test_bad_queries_give_query_error_or_a_search(index: LexicalIndex, text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(index.search(query), list)
    assert isinstance(index.search_ids(query), list)


SYNTAX = st.sampled_from(
    [
        *'ab xyz"-+:.*?()[]{}^~\\/!é\u0308\x00\u200b',
        "au:",
        "ti:",
        "abs:",
        "cat:",
        "foo:",
        "cs.LG",
        "graph",
        "network",
        "2501.00001",
        " OR ",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(max_size=60), st.lists(SYNTAX, max_size=25).map("".join)))
def test_arbitrary_queries_never_raise_anything_but_query_error(
    index: LexicalIndex, text: str
) -> None:
    try:
        query = parse_query(text)
    except QueryError:
        return
    for hit in index.search(query, k=3, filters=Filters(categories=("cs",), has_code=True)):
        assert "<script" not in hit.title_html
    index.search_ids(query, k=3)


# -- terms computed once per word ------------------------------------------------------------------

DEMO_PAPERS = Path(lexical.__file__).parent.parent / "data" / "demo_arxiv.jsonl.gz"


def test_terms_of_every_demo_title_and_abstract_are_the_analyzers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lexical, "TERM_CACHE_WORDS", 5_000)  # the cache also empties on the way
    with gzip.open(DEMO_PAPERS, "rb") as stream:
        records = [orjson.loads(line) for line in stream]
    texts = [str(r.get(field) or "") for r in records for field in ("title", "abstract")]
    assert len(texts) > 5_000
    assert sum(not text.isascii() for text in texts) > 0
    for text in texts:
        assert _terms(text) == _TEXT.analyze(text), text[:80]
    assert 0 < len(lexical._TERM_OF) <= 5_001


WORDISH = st.text(
    alphabet=st.sampled_from("aAbeiZz0179 _-.,'()/\u00e9\u00df\u0130\u212a\u0301"),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(WORDISH, st.text(max_size=80), st.text(alphabet="ab", min_size=38, max_size=42)))
def test_terms_of_any_text_are_the_analyzers(text: str) -> None:
    assert _terms(text) == _TEXT.analyze(text)


# -- real records ---------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")
def test_real_records(tmp_path: Path) -> None:
    papers = []
    with gzip.open(SHARED_DATA, "rb") as stream:
        for line in stream:
            record = prepare(parse_entry(orjson.loads(line)))
            item = dataclasses.asdict(record)
            item["feed_date"] = record.published_at.date() if record.published_at else None
            papers.append(item)
            if len(papers) == 2000:
                break
    index = LexicalIndex.open(tmp_path / "index")
    assert index.upsert(papers) == len({p["id"] for p in papers})
    index.commit()
    assert index.count() == len({p["id"] for p in papers})

    hits = index.search(parse_query("large language models"), k=10)
    assert len(hits) == 10
    assert all("<mark>" in h.title_html + h.snippet_html for h in hits)

    target = papers[123]
    title_hits = index.search_ids(parse_query(f'"{target["title"]}"'), k=3)
    assert title_hits[0][0] == target["id"]
    last_name = target["authors"][0].split()[-1]
    by_author = index.search_ids(parse_query(f'au:"{last_name}"'), k=2000)
    assert target["id"] in [i for i, _ in by_author]
    primary = target["categories"][0]
    in_cat = index.search_ids(parse_query(f"cat:{primary}"), k=2000)
    assert target["id"] in [i for i, _ in in_cat]
    by_id = {p["id"]: p for p in papers}
    assert all(primary in by_id[i]["categories"] for i, _ in in_cat)
    assert index.more_like(target, k=5)
    assert target["id"] not in [i for i, _ in index.more_like(target, k=50)]
