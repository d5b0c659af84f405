"""Evaluation metrics and the BEIR reader, on judged sets small enough to check by hand."""

import json
import math
from pathlib import Path

import pytest

from paperboard.rank.evaluate import EvalError, load_judged_set, mrr, ndcg, recall, score_run


def test_metrics_by_hand() -> None:
    judged = {"a": 2, "b": 1, "c": 0}
    assert ndcg(["a", "b", "x"], judged, 10) == pytest.approx(1.0)
    # b first then a: DCG = 1/log2(2) + 3/log2(3); ideal = 3 + 1/log2(3)
    assert ndcg(["b", "a"], judged, 10) == pytest.approx(
        (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    )
    assert ndcg(["x", "y"], judged, 10) == 0.0
    assert recall(["x", "a"], judged, 100) == 0.5
    assert mrr(["x", "c", "b"], judged, 10) == pytest.approx(1 / 3)
    assert mrr(["x"] * 10 + ["a"], judged, 10) == 0.0
    run = {"q1": ["a", "b"], "q2": ["x"], "q3": ["z"]}
    qrels = {"q1": judged, "q2": {"x": 1}, "q3": {"z": 0}}  # q3 has nothing relevant: not averaged
    scores = score_run(run, qrels)
    assert (
        scores["mrr@10"] == 1.0
        and scores["recall@100"] == 1.0
        and scores["ndcg@10"] == pytest.approx(1.0)
    )


def write_set(
    folder: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]]
) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    )
    return folder


def test_reader_and_its_errors(tmp_path: Path) -> None:
    folder = write_set(
        tmp_path / "set",
        [{"_id": "d1", "title": "T", "text": "x"}],
        [{"_id": "q1", "text": "t"}],
        [("q1", "d1", 2)],
    )
    judged = load_judged_set(folder)
    assert judged.qrels == {"q1": {"d1": 2}} and set(judged.corpus) == {"d1"}
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "t", "paper": "missing"}\n')
    with pytest.raises(EvalError, match="not in the corpus"):
        load_judged_set(folder)
    (folder / "queries.jsonl").write_text("{nope\n")
    with pytest.raises(EvalError, match=r"queries\.jsonl line 1"):
        load_judged_set(folder)
    (folder / "qrels" / "test.tsv").unlink()
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "t"}\n')
    with pytest.raises(EvalError, match="missing"):
        load_judged_set(folder)
