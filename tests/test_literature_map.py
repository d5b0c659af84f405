"""The map of the literature (``paperboard.index.map_*``, drawn by ``paperboard.present.map_svg``)
on 3,000 real arXiv abstracts whose vectors are TF-IDF + truncated SVD (spread over 384
dimensions, L2-normalized): a stand-in for the sentence embeddings that keeps the test fast and
free of model weights."""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from conftest import SHARED_DATA

from paperboard.index.map_compute import compute_map
from paperboard.index.map_data import (
    LiteratureMap,
    MapCluster,
    MapPoint,
    from_json,
    highlight,
    to_json,
)
from paperboard.index.map_labels import BOILERPLATE
from paperboard.present.map_svg import render_svg

needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_file(), reason="../shared/data is absent")
SVG = "{http://www.w3.org/2000/svg}"
N = 3000


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """(ids, vectors, texts, primary categories) of 3,000 real papers."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids, texts, cats = [], [], []
    with gzip.open(SHARED_DATA, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number % 13:  # every 13th paper: all of 2025, all categories
                continue
            record = json.loads(line)
            ids.append(record["id"])
            texts.append(f"{record['title']}. {record['abstract']}")
            cats.append(record["categories"].split()[0])
            if len(ids) == N:
                break
    tfidf = TfidfVectorizer(stop_words="english", min_df=2, max_df=0.5, sublinear_tf=True)
    reduced = TruncatedSVD(128, n_iter=3, random_state=0).fit_transform(tfidf.fit_transform(texts))
    # spread over 384 dimensions like the sentence embeddings (an isometry: same geometry)
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(384, 128)))[0].T
    vectors = reduced @ rotation
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return ids, vectors, texts, cats


@pytest.fixture(scope="module")
def real_map(corpus) -> LiteratureMap:  # type: ignore[no-untyped-def]
    ids, vectors, texts, _ = corpus
    return compute_map(ids, vectors, texts, seed=0)


@pytest.fixture(scope="module")
def sampled_map(corpus) -> LiteratureMap:  # type: ignore[no-untyped-def]
    """The map with t-SNE fitted on 1,000 of the papers, the others placed by neighbours."""
    ids, vectors, texts, _ = corpus
    return compute_map(ids, vectors, texts, seed=0, sample=1000)


def xy(m: LiteratureMap) -> np.ndarray:
    return np.array([(p.x, p.y) for p in m.points])


def category_distances(points: np.ndarray, cats: list[str]) -> tuple[float, float]:
    """Mean map distance between papers of the same primary category, and of different ones."""
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, len(points), 400_000), rng.integers(0, len(points), 400_000)
    labels = np.array(cats)
    keep = i != j
    i, j = i[keep], j[keep]
    d = np.linalg.norm(points[i] - points[j], axis=1)
    same = labels[i] == labels[j]
    return float(d[same].mean()), float(d[~same].mean())


def neighbour_agreement(points: np.ndarray, cats: list[str], k: int = 10) -> float:
    """How often a paper's k nearest papers on the map share its primary category."""
    from scipy.spatial import cKDTree

    labels = np.array(cats)
    _, nb = cKDTree(points).query(points, k=k + 1)
    return float((labels[nb[:, 1:]] == labels[:, None]).mean())


def chance_agreement(cats: list[str]) -> float:
    counts = np.unique(cats, return_counts=True)[1] / len(cats)
    return float((counts**2).sum())


# -- the layout ------------------------------------------------------------------------------------


@needs_shared_data
def test_papers_of_a_category_lie_together(real_map, corpus) -> None:  # type: ignore[no-untyped-def]
    _, _, _, cats = corpus
    points = xy(real_map)
    assert len(points) == N
    assert points.min() >= 0.0 and points.max() <= 1.0
    within, across = category_distances(points, cats)
    assert within < 0.85 * across, (within, across)
    # and locally: a paper's neighbours on the map share its category far more than by chance
    assert neighbour_agreement(points, cats) > chance_agreement(cats) + 0.15


@needs_shared_data
def test_the_map_fills_its_square(real_map) -> None:  # type: ignore[no-untyped-def]
    points = xy(real_map)
    spans = points.max(axis=0) - points.min(axis=0)
    assert spans[0] == pytest.approx(1.0, abs=0.01)  # the long axis is horizontal, 0 to 1
    assert 0.3 < spans[1] <= spans[0]


@needs_shared_data
def test_same_seed_same_map(sampled_map, corpus) -> None:  # type: ignore[no-untyped-def]
    # on the sampled path, which draws the most random numbers (sample, SVD, t-SNE, search)
    ids, vectors, texts, _ = corpus
    again = compute_map(ids, vectors, texts, seed=0, sample=1000)
    assert to_json(again) == to_json(sampled_map)


# -- clusters and their labels ---------------------------------------------------------------------


@needs_shared_data
def test_clusters_partition_the_papers(real_map) -> None:  # type: ignore[no-untyped-def]
    k = len(real_map.clusters)
    assert 8 <= k <= 60
    assert [c.id for c in real_map.clusters] == list(range(k))
    sizes = np.bincount([p.cluster for p in real_map.points], minlength=k)
    assert [c.size for c in real_map.clusters] == sizes.tolist()
    assert sizes.min() > 0
    for c in real_map.clusters:
        assert 0.0 <= c.x <= 1.0 and 0.0 <= c.y <= 1.0


@needs_shared_data
def test_clusters_are_regions_of_the_map(real_map) -> None:  # type: ignore[no-untyped-def]
    from scipy.spatial import cKDTree

    points = xy(real_map)
    labels = np.array([p.cluster for p in real_map.points])
    _, nb = cKDTree(points).query(points, k=11)
    assert (labels[nb[:, 1:]] == labels[:, None]).mean() > 0.85
    # the label sits among its cluster's papers
    for c in real_map.clusters:
        nearest = np.linalg.norm(points - [c.x, c.y], axis=1).argsort()[:20]
        assert (labels[nearest] == c.id).mean() >= 0.5, c.label


@needs_shared_data
def test_cluster_labels_are_distinct_words_of_their_papers(real_map, corpus) -> None:  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    _, _, texts, _ = corpus
    labels = [c.label for c in real_map.clusters]
    assert all(label.strip() for label in labels)
    assert len({label.lower() for label in labels}) == len(labels)
    by_cluster: dict[int, str] = {}
    for p, text in zip(real_map.points, texts, strict=True):
        by_cluster[p.cluster] = by_cluster.get(p.cluster, "") + "\n" + text.lower()
    for c in real_map.clusters:
        terms = [t.strip() for t in c.label.split(",")]
        assert 2 <= len(terms) <= 4, c.label
        assert terms == c.terms[: len(terms)]
        for term in c.terms:
            words = term.lower().split()
            assert not set(words) & ENGLISH_STOP_WORDS, term
            if len(words) == 1:
                assert words[0] not in BOILERPLATE, term
            phrase = r"\s+".join(re.escape(w) for w in words)
            assert re.search(rf"(?<![\w-]){phrase}(?![\w-])", by_cluster[c.id]), (c.id, term)


# -- out-of-sample placement -----------------------------------------------------------------------


@needs_shared_data
def test_papers_beyond_the_sample_are_placed_among_their_neighbours(sampled_map, corpus) -> None:  # type: ignore[no-untyped-def]
    _ids, vectors, _texts, cats = corpus
    m = sampled_map
    assert m.params["fitted"] == 1000 and "knn" in m.method
    points = xy(m)
    within, across = category_distances(points, cats)
    assert within < 0.85 * across, (within, across)
    assert neighbour_agreement(points, cats) > chance_agreement(cats) + 0.15
    # a paper and its most similar paper end up close: much closer than two papers at random
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    twin = sims.argmax(axis=1)
    d_twin = np.linalg.norm(points - points[twin], axis=1)
    rng = np.random.default_rng(2)
    d_random = np.linalg.norm(points - points[rng.permutation(len(points))], axis=1).mean()
    assert np.median(d_twin) < 0.2 * d_random, (np.median(d_twin), d_random)
    assert d_twin.mean() < 0.35 * d_random, (d_twin.mean(), d_random)
    assert len(m.clusters) >= 8 and all(c.size > 0 for c in m.clusters)


# -- storing and highlighting ----------------------------------------------------------------------


@needs_shared_data
def test_json_round_trip(real_map) -> None:  # type: ignore[no-untyped-def]
    stored = to_json(real_map)
    assert set(stored) >= {"ids", "x", "y", "cluster", "clusters", "method", "params"}
    assert len(stored["ids"]) == len(stored["x"]) == len(stored["y"]) == len(stored["cluster"])
    text = json.dumps(stored, separators=(",", ":"))
    back = from_json(json.loads(text))
    assert to_json(back) == stored
    assert back.clusters == real_map.clusters
    assert [p.id for p in back.points] == [p.id for p in real_map.points]
    assert np.abs(xy(back) - xy(real_map)).max() <= 1e-4
    assert len(text) < 60 * len(real_map.points)  # compact: parallel arrays, short numbers


def test_from_json_refuses_other_formats() -> None:
    with pytest.raises(ValueError, match="version"):
        from_json({"version": 99})


@needs_shared_data
def test_highlight_returns_the_asked_papers(real_map, corpus) -> None:  # type: ignore[no-untyped-def]
    ids = corpus[0]
    asked = [ids[10], "no-such-paper", ids[2000], ids[10], ids[5]]
    found = highlight(real_map, asked)
    assert [p.id for p in found] == [ids[10], ids[2000], ids[5]]
    for p in found:
        assert p == real_map.points[ids.index(p.id)]
    assert highlight(real_map, []) == []
    assert highlight(real_map, iter(["nope"])) == []


# -- drawing ---------------------------------------------------------------------------------------


def circles(svg: str, group: str) -> list[ET.Element]:
    root = ET.fromstring(svg.encode())
    found = [g for g in root.iter(f"{SVG}g") if g.get("class") == group]
    return [c for g in found for c in g.iter(f"{SVG}circle")]


@needs_shared_data
def test_svg_draws_every_point_and_every_label(real_map) -> None:  # type: ignore[no-untyped-def]
    svg = render_svg(real_map)
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    assert len(circles(svg, "points")) == N
    assert circles(svg, "highlighted") == []
    assert "href" not in svg and "url(" not in svg  # no external resources
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for c in real_map.clusters:
        for term in c.label.split(", "):
            assert term in texts
    fills = {g.get("fill") for g in root.iter(f"{SVG}g") if g.get("fill")}
    assert len(fills) >= 8  # clusters in several colours


@needs_shared_data
def test_svg_caps_points_and_draws_highlights_on_top(real_map, corpus) -> None:  # type: ignore[no-untyped-def]
    ids = corpus[0]
    svg = render_svg(
        real_map, highlighted=[ids[1], ids[2], "unknown"], max_points=500, width=600, height=400
    )
    assert len(circles(svg, "points")) == 500
    marked = circles(svg, "highlighted")
    assert len(marked) == 2
    root = ET.fromstring(svg.encode())
    groups = [g.get("class") for g in root.iter(f"{SVG}g") if g.get("class")]
    assert groups.index("highlighted") > groups.index("points")  # drawn on top
    small = float(circles(svg, "points")[0].get("r"))
    assert all(float(c.get("r")) > small for c in marked)
    assert root.get("width") == "600" and root.get("height") == "400"


def test_svg_escapes_labels() -> None:
    m = LiteratureMap(
        points=[MapPoint("a", 0.1, 0.2, 0), MapPoint("b&<c>", 0.9, 0.8, 1)],
        clusters=[
            MapCluster(0, 'x<y & z>w, "quoted"', ["x<y & z>w", '"quoted"'], 1, 0.1, 0.2),
            MapCluster(1, "plain, words", ["plain", "words"], 1, 0.9, 0.8),
        ],
        method="test",
        params={},
    )
    svg = render_svg(m, highlighted=["b&<c>"])
    assert "x&lt;y &amp; z&gt;w" in svg and "<y &" not in svg
    root = ET.fromstring(svg.encode())  # well-formed
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert "x<y & z>w" in texts
    assert len(circles(svg, "highlighted")) == 1


def test_svg_dots_link_to_their_papers_when_asked() -> None:
    ids = ["a", "b&<c>", "2505.13308"]
    m = LiteratureMap(
        points=[MapPoint(i, 0.1 + 0.4 * n, 0.2 + 0.3 * n, n % 2) for n, i in enumerate(ids)],
        clusters=[
            MapCluster(0, "first, words", ["first", "words"], 2, 0.1, 0.2),
            MapCluster(1, "second, words", ["second", "words"], 1, 0.5, 0.5),
        ],
        method="test",
        params={},
    )
    titles = {"a": 'Tom & Jerry say "<hi>"', "b&<c>": "Less < more", "2505.13308": "Plain"}
    asked: list[list[str]] = []

    def look_up(wanted: Sequence[str]) -> dict[str, str]:
        asked.append(list(wanted))
        return {i: titles[i] for i in wanted if i != "2505.13308"}  # one without a title

    assert "href" not in render_svg(m, highlighted=["a"])  # the CLI's picture links nowhere
    svg = render_svg(m, highlighted=["a"], link="/papers/{id}", titles=look_up)
    assert sorted(set(asked[0])) == sorted(ids)
    root = ET.fromstring(svg.encode())
    links = {
        a.get("href"): a.find(f"{SVG}title").text  # type: ignore[union-attr]
        for a in root.iter(f"{SVG}a")
    }
    assert links == {
        "/papers/a": titles["a"],
        "/papers/b%26%3Cc%3E": titles["b&<c>"],
        "/papers/2505.13308": "2505.13308",  # no title known: its id
    }
    assert len(circles(svg, "highlighted")) == 1
    labels = [g for g in root.iter(f"{SVG}g") if "labels" in (g.get("class") or "")]
    assert [g.get("pointer-events") for g in labels] == ["none"]  # clicks reach the dots


def test_svg_label_sets_keep_a_least_size_and_leave_out_what_does_not_fit() -> None:
    m = LiteratureMap(
        points=[MapPoint(str(i), (i % 6) / 5, (i // 6) / 5, i % 6) for i in range(36)],
        clusters=[
            MapCluster(c, f"topic number {c}, more", [f"topic number {c}"], 6, c / 5, 0.5)
            for c in range(6)
        ],
        method="test",
        params={},
    )
    svg = render_svg(m, width=960, height=640, label_sets=[("wide", 12.0), ("narrow", 60.0)])
    root = ET.fromstring(svg.encode())
    sets = {
        g.get("class"): [float(t.get("font-size", 0)) for t in g.iter(f"{SVG}text")]
        for g in root.iter(f"{SVG}g")
        if "labels" in (g.get("class") or "")
    }
    assert set(sets) == {"labels wide", "labels narrow"}
    assert len(sets["labels wide"]) == 6 and min(sets["labels wide"]) >= 12.0
    assert 1 <= len(sets["labels narrow"]) < 6 and min(sets["labels narrow"]) >= 60.0
    plain = ET.fromstring(render_svg(m).encode())
    classes = [g.get("class") or "" for g in plain.iter(f"{SVG}g")]
    assert [c for c in classes if "labels" in c] == ["labels"]


# -- small corpora and bad input -------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 5, 30, 60])
def test_tiny_corpora(n: int) -> None:
    rng = np.random.default_rng(n)
    topics = ["graph neural networks", "protein folding", "speech recognition"]
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    vectors[:, :3] += 12 * np.eye(3)[np.arange(n) % 3]  # three topics
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    texts = [f"Paper {i} on {topics[i % 3]} with message passing and folding" for i in range(n)]
    ids = [f"p{i}" for i in range(n)]
    m = compute_map(ids, vectors, texts)
    assert [p.id for p in m.points] == ids
    assert all(0.0 <= p.x <= 1.0 and 0.0 <= p.y <= 1.0 for p in m.points)
    assert sum(c.size for c in m.clusters) == n
    assert len(m.clusters) <= max(n, 0) and (n == 0 or len(m.clusters) >= 1)
    assert all(c.label for c in m.clusters)
    assert len({c.label for c in m.clusters}) == len(m.clusters)
    assert from_json(json.loads(json.dumps(to_json(m)))).points == m.points
    ET.fromstring(render_svg(m, highlighted=ids[:1]).encode())
    if n >= 30:  # three topics, three places
        points = xy(m)
        topic = np.arange(n) % 3
        within, across = category_distances(points, [str(t) for t in topic])
        assert within < 0.5 * across


def test_empty_texts_and_identical_vectors() -> None:
    vectors = np.ones((50, 384), dtype=np.float32) / np.sqrt(384)
    m = compute_map([str(i) for i in range(50)], vectors, [""] * 50, n_clusters=3)
    assert len(m.points) == 50 and all(c.label for c in m.clusters)
    ET.fromstring(render_svg(m).encode())


@pytest.mark.parametrize(
    ("ids", "shape", "texts"),
    [(["a", "b"], (3, 8), ["x", "y"]), (["a", "b"], (2, 8), ["x"]), (["a"], (8,), ["x"])],
)
def test_mismatched_lengths_are_refused(
    ids: list[str], shape: tuple[int, ...], texts: list[str]
) -> None:
    with pytest.raises(ValueError) as raised:
        compute_map(ids, np.zeros(shape, dtype=np.float32), texts)
    assert "\n" not in str(raised.value)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        compute_map(["a", "a"], np.eye(2, dtype=np.float32), ["x", "y"])


def test_replace_keeps_a_map_usable() -> None:
    m = LiteratureMap(
        [MapPoint("a", 0.5, 0.5, 0)], [MapCluster(0, "t, u", ["t", "u"], 1, 0.5, 0.5)], "x", {}
    )
    moved = replace(m, points=[MapPoint("b", 0.2, 0.2, 0)])
    assert [p.id for p in highlight(moved, ["a", "b"])] == ["b"]


# -- label selection on hand-made clusters ---------------------------------------------------------


def _label_of(topics: list[list[str]], seed: int = 0) -> list[list[str]]:
    """The labels ``cluster_terms`` gives clusters of 30 texts each: cluster ``c`` writes about
    its own phrases in ``topics[c]``, all of them in the same generic research prose."""
    from paperboard.index.map_labels import cluster_terms

    rng = np.random.default_rng(seed)
    filler = ["sparse", "teachers", "orchard", "harbour", "violin", "glacier", "lantern", "quarry"]
    texts, labels = [], []
    for c, phrases in enumerate(topics):
        for i in range(30):
            extra = " ".join(rng.choice(filler, size=2, replace=False))
            texts.append(
                f"We propose a novel approach to {phrases[i % len(phrases)]}. The method is "
                f"compatible with earlier work; we optimize it and show results on {extra}. "
                f"Our {phrases[(i + 1) % len(phrases)]}, however, improves performance."
            )
            labels.append(c)
    found = cluster_terms(texts, np.array(labels), len(topics), np.random.default_rng(0))
    return [label for _terms, label in found]


def test_labels_leave_out_generic_research_words() -> None:
    labels = _label_of(
        [
            ["diffusion models", "image generation"],
            ["graph neural networks", "molecule property prediction"],
            ["speech recognition", "speaker diarization"],
        ]
    )
    generic = {"propose", "novel", "approach", "method", "compatible", "optimize", "results"}
    generic |= {"performance", "improves", "show", "prior", "work"}
    for label in labels:
        for term in label:
            words = term.lower().split()
            assert not set(words) & generic, label
            assert words[0] != "model", label  # "model" may only end a phrase
    assert "diffusion models" in labels[0] or "image generation" in labels[0], labels
    assert any("speech recognition" in t or "speaker diarization" in t for t in labels[2])


def test_a_phrase_cut_short_grows_into_the_phrase_the_papers_use() -> None:
    labels = _label_of(
        [
            ["visual question answering", "visual question answering benchmarks"],
            ["LiDAR point clouds", "LiDAR point clouds of streets"],
            ["protein folding", "protein structure"],
        ]
    )
    flat = [t.lower() for label in labels for t in label]
    assert "visual question answering" in flat, labels
    assert "lidar point clouds" in flat, labels
    assert "visual question" not in flat and "lidar point" not in flat


def test_a_noun_is_preferred_to_a_lone_adjective() -> None:
    from paperboard.index.map_labels import _modifier

    assert _modifier("clinical") and _modifier("anatomical") and _modifier("generative")
    assert not _modifier("radiology") and not _modifier("retrieval") and not _modifier("signal")
