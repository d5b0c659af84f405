"""``paperboard eval DIR --recommend``: "for you" scored on readers with their history, with the
baselines in the same run, on a small corpus written here in arXiv's snapshot layout; real model,
real SQLite store."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import CliResult

from paperboard.core.config import Settings
from paperboard.rank.evaluate import EvalError
from paperboard.rank.evaluate_recommend import evaluate_recommend, load_readers

TOPICS = {
    "proteins": "Protein structure prediction {n}: folding amino acid sequences into 3D "
    "structures with deep networks trained on the protein data bank",
    "speech": "Speech emotion recognition {n}: classifying anger and joy from the human voice "
    "with acoustic features and recurrent networks",
    "splat": "Gaussian splatting {n}: real-time radiance field rendering of 3D scenes with "
    "anisotropic Gaussians optimised from photographs",
}
SINCE = date(2025, 9, 1)


def entry(topic: str, n: int, day: date) -> dict[str, object]:
    text = TOPICS[topic].format(n=n)
    return {
        "id": f"2509.{list(TOPICS).index(topic)}{n:04d}",
        "authors": "Anonymous Author",
        "title": text.split(":")[0],
        "abstract": text + f". Study number {n} of its kind.",
        "categories": "cs.LG",
        "versions": [{"version": "v1", "created": f"{day:%a, %d %b %Y} 10:00:00 GMT"}],
        "update_date": day.isoformat(),
    }


@pytest.fixture
def judged(tmp_path: Path) -> Path:
    """Three topics, four papers each before SINCE and four after; reader r1 liked the protein
    papers before, r2 the speech ones; each wrote the after-papers of their topic."""
    folder = tmp_path / "readers"
    (folder / "qrels").mkdir(parents=True)
    lines = []
    for topic in TOPICS:
        for n in range(1, 9):
            day = SINCE + timedelta(days=n) if n > 4 else SINCE - timedelta(days=30 + n)
            lines.append(json.dumps(entry(topic, n, day)))
    (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    users = [
        {"_id": "r1", "history": [f"2509.0{n:04d}" for n in (4, 3, 2, 1)], "since": "2025-09-01"},
        {"_id": "r2", "history": [f"2509.1{n:04d}" for n in (4, 3, 2)], "since": "2025-09-01"},
    ]
    (folder / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in users))
    qrels = [("r1", f"2509.0{n:04d}") for n in range(5, 9)]
    qrels += [("r2", f"2509.1{n:04d}") for n in range(5, 9)]
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{r}\t{p}\t1\n" for r, p in qrels)
    )
    return folder


def test_every_ranking_finds_the_readers_next_papers(
    judged: Path, settings: Settings, model_cache: Path
) -> None:
    local = settings.model_copy(update={"models_dir": model_cache})
    scores = evaluate_recommend(judged, local)
    assert set(scores) == {"paperboard", "neighbours", "centroid", "tfidf"}
    for name, row in scores.items():
        assert set(row) == {"ndcg@20", "recall@20", "recall@100", "mrr"}
        # only the after-papers are candidates, and the reader's own topic is all relevant
        assert row["recall@20"] == 1.0 and row["mrr"] == 1.0, (name, row)
        assert row["ndcg@20"] > 0.99, (name, row)


def test_the_cli_prints_json_with_one_key_per_ranking(
    judged: Path, cli: Callable[..., CliResult], model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
    home = judged.parent / "kept"
    result = cli("eval", str(judged), "--recommend", "--home", str(home), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) == {"paperboard", "neighbours", "centroid", "tfidf"}
    assert scores["paperboard"]["recall@100"] == 1.0
    assert (home / "paperboard.db").exists()  # kept for the next run
    again = cli("eval", str(judged), "--recommend", "--home", str(home))
    assert again.exit_code == 0 and again.stdout.splitlines()[0].split()[0] == "ranking"


def test_a_broken_set_is_refused_in_one_line(judged: Path) -> None:
    (judged / "users.jsonl").write_text('{"_id": "r1", "history": "2509.00001"}\n')
    with pytest.raises(EvalError, match=r"users\.jsonl line 1"):
        load_readers(judged)
    (judged / "users.jsonl").unlink()
    with pytest.raises(EvalError, match="missing"):
        load_readers(judged)
