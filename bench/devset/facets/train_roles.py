"""Fit the sentence-role tagger of ``paperboard.index.facets`` and measure it.

Training sentences come from two places:

* weak labels: the structured abstracts of ``../shared/data/arxiv-2025.jsonl.gz`` (174 of them,
  1,756 sentences), whose headings say the role ("Background:", "Methods:", "Results:");
* ``sentences.tsv``: 287 sentences of 40 unstructured abstracts (drawn by ``random.Random(13)``
  from those of at least 80 words), labelled background / method / result / other by reading
  each abstract (``other``: availability notes, left out of training and scoring).

Prints the accuracy of a position-only rule, of the tagger fitted on the weak labels alone
(scored on the hand-labelled sentences, which it never saw), and leave-one-abstract-out over the
hand-labelled abstracts (weak labels always in training): the estimate for the shipped tagger,
which is then fitted on everything and written to ``src/paperboard/data/sentence_roles.json``.

    python bench/devset/facets/train_roles.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from paperboard.core.config import load_settings
from paperboard.index.embed import Embedder
from paperboard.index.facets import (
    FACETS,
    FEATURES,
    SENTENCE_TOKENS,
    RoleTagger,
    sentence_features,
)
from paperboard.index.sentences import heading, split_sentences

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CORPUS = ROOT.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
OUT = ROOT / "src" / "paperboard" / "data" / "sentence_roles.json"
GOLD_WEIGHT = 3.0  # a hand label counts as three weak ones: they are fewer and in the target domain
HEADINGS = {
    "background": "background objective objectives purpose introduction motivation aim aims "
    "context significance problem goal rationale",
    "method": "methods method approach methodology design experiments techniques participants "
    "setting",
    "result": "results result conclusion conclusions findings discussion interpretation "
    "outcomes impact",
}
ROLE_OF = {word: role for role, words in HEADINGS.items() for word in words.split()}
ROLE_OF.update(
    {
        "background and objective": "background",
        "materials and methods": "method",
        "methods and materials": "method",
        "study design": "method",
        "subjects and methods": "method",
        "results and conclusion": "result",
        "results and conclusions": "result",
        "main results": "result",
    }
)

Abstract = tuple[str, list[str], list[str]]  # paper id, sentences, their roles


def weak_abstracts() -> list[Abstract]:
    """Structured abstracts: each sentence takes the role of the last heading before it."""
    found = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        for line in handle:
            paper = json.loads(line)
            sentences = split_sentences(paper["abstract"])
            if not any(ROLE_OF.get(heading(s)[0] or "") for s in sentences):
                continue
            role, texts, roles = None, [], []
            for sentence in sentences:
                name, rest = heading(sentence)
                if name is not None:
                    role = ROLE_OF.get(name)
                if rest.strip():
                    texts.append(rest.strip())
                    roles.append(role or "")
            found.append((paper["id"], texts, roles))
    return found


def gold_abstracts() -> list[Abstract]:
    by_paper: dict[str, list[tuple[int, str, str]]] = {}
    with open(HERE / "sentences.tsv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            by_paper.setdefault(row["paper"], []).append(
                (int(row["n"]), row["sentence"], row["role"])
            )
    out = []
    for paper, rows in by_paper.items():
        rows.sort()
        out.append((paper, [s for _, s, _ in rows], [r for _, _, r in rows]))
    return out


def featurize(abstracts: list[Abstract], embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and role indexes of the sentences whose role is a facet (position is taken
    among all of the abstract's sentences, as the product sees them)."""
    flat = [s for _, sentences, _ in abstracts for s in sentences]
    vectors = embedder.embed(flat, max_length=SENTENCE_TOKENS)
    rows, labels, start = [], [], 0
    for _, sentences, roles in abstracts:
        features = sentence_features(sentences, vectors[start : start + len(sentences)])
        start += len(sentences)
        for row, role in zip(features, roles, strict=True):
            if role in FACETS:
                rows.append(row)
                labels.append(FACETS.index(role))
    return np.asarray(rows), np.asarray(labels)


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=3000).fit(x, y, sample_weight=weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    args = parser.parse_args()
    settings = load_settings()
    embedder = Embedder.load(settings.model_cache)
    weak, gold = weak_abstracts(), gold_abstracts()
    xw, yw = featurize(weak, embedder)
    print(f"weak labels: {len(weak)} structured abstracts, {len(yw)} sentences")
    gold_parts = [featurize([a], embedder) for a in gold]
    xg = np.vstack([x for x, _ in gold_parts])
    yg = np.concatenate([y for _, y in gold_parts])
    print(f"hand labels: {len(gold)} abstracts, {len(yg)} sentences with a facet role")

    position = xg[:, 0]
    rule = np.where(position < 0.25, 0, np.where(position > 0.7, 2, 1))
    print(f"position rule (first quarter background, last 30% result): {np.mean(rule == yg):.3f}")
    cues_only = slice(0, FEATURES)
    for name, columns in (("position + cues", cues_only), ("position + cues + embedding", None)):
        cols = columns if columns is not None else slice(None)
        weak_only = fit(xw[:, cols], yw).predict(xg[:, cols])
        correct = 0
        for held in range(len(gold)):
            train = [p for i, p in enumerate(gold_parts) if i != held]
            x = np.vstack([xw] + [p[0] for p in train])[:, cols]
            y = np.concatenate([yw] + [p[1] for p in train])
            w = np.concatenate([np.ones(len(yw)), np.full(len(y) - len(yw), GOLD_WEIGHT)])
            predicted = fit(x, y, w).predict(gold_parts[held][0][:, cols])
            correct += int(np.sum(predicted == gold_parts[held][1]))
        print(
            f"{name}: weak labels only {np.mean(weak_only == yg):.3f}; "
            f"leave one abstract out {correct / len(yg):.3f}"
        )
    if args.write:
        x, y = np.vstack([xw, xg]), np.concatenate([yw, yg])
        w = np.concatenate([np.ones(len(yw)), np.full(len(yg), GOLD_WEIGHT)])
        model = fit(x, y, w)
        tagger = RoleTagger(FACETS, model.coef_.astype(np.float32), model.intercept_)
        OUT.write_text(json.dumps(tagger.to_json(), separators=(",", ":")) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
