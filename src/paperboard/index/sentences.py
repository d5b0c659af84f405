"""Split an abstract into sentences.

Abstracts are one paragraph of well-formed prose, so a rule does: a sentence ends at ``.``, ``!``
or ``?`` followed by white space and a capital letter, digit or opening bracket, unless the word
before the full stop is a known abbreviation (``e.g.``, ``et al.``, ``Fig.``) or a single
capital (an initial). Structured abstracts' headings ("Methods:") stay at the front of their
sentence; :func:`heading` reads them.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "et",
        "al",
        "vs",
        "cf",
        "etc",
        "fig",
        "figs",
        "eq",
        "eqs",
        "ref",
        "refs",
        "sec",
        "no",
        "approx",
        "resp",
        "incl",
        "esp",
        "viz",
        "dr",
        "prof",
        "mr",
        "ms",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "vol",
        "pp",
        "ca",
    ]
)
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9(\[\"'])")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")
_HEADING = re.compile(r"^\s*(?:\*\*)?([A-Z][A-Za-z &/-]{2,40}?)(?:\*\*)?\s*:\s+(?=\S)")
# The words structured abstracts' headings are made of ("Materials and Methods", "Main
# Findings"): "We propose X: ..." is a sentence, not a heading.
_HEADING_WORDS = frozenset(
    [
        "background",
        "objective",
        "objectives",
        "purpose",
        "aim",
        "aims",
        "introduction",
        "motivation",
        "context",
        "significance",
        "problem",
        "goal",
        "goals",
        "rationale",
        "method",
        "methods",
        "methodology",
        "approach",
        "design",
        "study",
        "materials",
        "and",
        "participants",
        "setting",
        "settings",
        "experiment",
        "experiments",
        "result",
        "results",
        "finding",
        "findings",
        "conclusion",
        "conclusions",
        "discussion",
        "interpretation",
        "outcome",
        "outcomes",
        "impact",
        "main",
        "key",
        "research",
        "availability",
        "implementation",
        "summary",
        "keywords",
        "limitations",
        "contribution",
        "contributions",
        "evaluation",
        "subjects",
    ]
)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, white space collapsed; none empty."""
    text = " ".join((text or "").split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.start()].rstrip()
        last = _LAST_WORD.search(candidate)
        if last is not None:
            word = last.group(1).rstrip(".")
            if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                continue  # "et al. Smith", "J. Doe": not an end
        if candidate:
            sentences.append(candidate)
        start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def heading(sentence: str) -> tuple[str | None, str]:
    """A structured abstract's heading at the start of ``sentence`` ("Results: ..."), lower-case,
    and the sentence without it; ``(None, sentence)`` when there is none."""
    match = _HEADING.match(sentence)
    if match is None:
        return None, sentence
    words = re.split(r"[\s&/-]+", match.group(1).strip().lower())
    if not all(word in _HEADING_WORDS for word in words if word):
        return None, sentence
    return match.group(1).strip().lower(), sentence[match.end() :]
