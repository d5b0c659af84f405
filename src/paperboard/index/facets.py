"""Facets of an abstract: which sentences give the background, the method and the result, and one
vector per facet, so "similar" can be asked about one of them.

Each sentence is embedded on its own (the same model as the papers) and tagged by a multinomial
logistic regression over its embedding, its position in the abstract and a few cue phrases ("we
propose", "results show", "however, existing"). The weights ship in
``paperboard/data/sentence_roles.json``; ``bench/devset/facets/train_roles.py`` fits them on the
sentences of structured abstracts ("Methods: ...") in the shared 2025 arXiv data and on 287
hand-labelled sentences of 40 unstructured ones, and reports leave-one-abstract-out accuracy.
A facet's vector is the normalized mean of its sentences' vectors; a paper whose abstract has no
sentence of a role has no vector for that facet.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from paperboard.index.sentences import heading, split_sentences

FACETS = ("background", "method", "result")
SENTENCE_TOKENS = 96  # word pieces per sentence: nearly every abstract sentence fits

# Cue phrases, matched on the lower-cased sentence (``opening_claim`` on the sentence as written).
_CUES: dict[str, re.Pattern[str]] = {
    "we_propose": re.compile(
        r"\b(we|this (paper|work|study)|our (approach|method|framework))\b.{0,40}\b(propose|"
        r"present|introduce|develop|design|build|construct|formulate|describe|leverage|use|"
        r"employ|adopt|train|collect|curate)"
    ),
    "results_show": re.compile(
        r"\b(results?|experiments?|evaluations?|analys[ie]s)\b.{0,40}\b(show|demonstrate|"
        r"indicate|reveal|confirm|suggest)"
    ),
    "outcome_words": re.compile(
        r"\b(outperform|surpass|achiev|improv|gain|reduc|increas|state-of-the-art|sota|accuracy|%)"
    ),
    "contrast_or_prior": re.compile(
        r"^(however|but|yet|despite|although|while|existing|current|prior|previous|recent|"
        r"traditional|conventional)\b"
    ),
    "we_find": re.compile(r"\bwe (find|found|show|observe|demonstrate|report|reveal|conclude)\b"),
    "opening_claim": re.compile(r"^[A-Z][^,]{0,80}\b(is|are|has|have|remain|remains)\b"),
    "availability": re.compile(r"(https?://|github|code|available|accepted)"),
    "aim": re.compile(
        r"^(to (address|tackle|overcome|this end|solve|fill|bridge)|in this (paper|work)|"
        r"here,? we)"
    ),
}
FEATURES = 4 + len(_CUES)  # position features and cues; the embedding follows


def sentence_features(sentences: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """One row per sentence: relative position, its square, first, last, the cues, then the
    sentence's embedding (``vectors``, one row per sentence)."""
    count = len(sentences)
    rows = []
    for number, sentence in enumerate(sentences):
        position = number / max(count - 1, 1)
        lower = sentence.lower()
        row = [position, position * position, float(number == 0), float(number == count - 1)]
        row += [
            float(bool(cue.search(sentence if name == "opening_claim" else lower)))
            for name, cue in _CUES.items()
        ]
        rows.append(row)
    cues = np.asarray(rows, dtype=np.float32).reshape(count, FEATURES)
    return np.hstack([cues, np.asarray(vectors, dtype=np.float32).reshape(count, -1)])


@dataclass(frozen=True)
class RoleTagger:
    """A fitted multinomial logistic regression: ``classes`` in the order of ``coef`` rows."""

    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)

    def tag(self, sentences: Sequence[str], vectors: np.ndarray) -> list[str]:
        if not sentences:
            return []
        logits = sentence_features(sentences, vectors) @ self.coef.T + self.intercept
        return [self.classes[i] for i in np.argmax(logits, axis=1)]

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "features": FEATURES,
            "coef": np.round(self.coef, 6).tolist(),
            "intercept": np.round(self.intercept, 6).tolist(),
        }


def _weights() -> str:
    return resources.files("paperboard").joinpath("data", "sentence_roles.json").read_text()


@cache
def tagger_digest() -> str:
    """A short hash of the shipped weights: facet vectors made with other weights are redone."""
    return hashlib.blake2b(_weights().encode(), digest_size=4).hexdigest()


@cache
def role_tagger() -> RoleTagger:
    """The tagger whose weights ship with paperboard."""
    data = json.loads(_weights())
    return RoleTagger(
        tuple(data["classes"]),
        np.asarray(data["coef"], dtype=np.float32),
        np.asarray(data["intercept"], dtype=np.float32),
    )


def abstract_sentences(abstract: str | None) -> list[str]:
    """The sentences of an abstract as the tagger sees them: structured abstracts' headings
    ("Methods:") taken off, empty ones dropped."""
    out = []
    for sentence in split_sentences(abstract or ""):
        text = heading(sentence)[1].strip()
        if text:
            out.append(text)
    return out


def facet_vectors(embedder: Any, abstracts: Sequence[str | None]) -> list[dict[str, np.ndarray]]:
    """For each abstract, its facets' unit vectors (a facet with no sentence is left out). All
    sentences of all abstracts are embedded in one call."""
    split = [abstract_sentences(a) for a in abstracts]
    flat = [s for sentences in split for s in sentences]
    if not flat:
        return [{} for _ in abstracts]
    vectors = np.asarray(embedder.embed(flat, max_length=SENTENCE_TOKENS), dtype=np.float32)
    tagger = role_tagger()
    out: list[dict[str, np.ndarray]] = []
    start = 0
    for sentences in split:
        own = vectors[start : start + len(sentences)]
        start += len(sentences)
        roles = tagger.tag(sentences, own)
        facets: dict[str, np.ndarray] = {}
        for facet in FACETS:
            chosen = [i for i, role in enumerate(roles) if role == facet]
            if chosen:
                mean = own[chosen].mean(axis=0)
                norm = float(np.linalg.norm(mean))
                if norm > 0:
                    facets[facet] = (mean / norm).astype(np.float32)
        out.append(facets)
    return out
