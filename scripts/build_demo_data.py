#!/usr/bin/env python3
"""Build ``src/paperboard/data/demo_papers.json``, the papers ``paperboard demo`` loads, from the
two Daily Papers pages saved as text in ``../shared/seeds/*.txt`` (relative to the repository).

Run it from anywhere with the project's environment:
``.venv/bin/python scripts/build_demo_data.py``.
The output is deterministic; rerunning it on the same seeds rewrites the same bytes.

How the pages read
------------------
Each page opens with boilerplate (``new``, ``Get trending papers in your email inbox!``,
``Subscribe``, ``Daily Papers``, ``byAK and the research community``) and then a date line. After
that come the papers, one text line each for title and abstract, separated by blank lines. On page
000 each paper is followed by a metadata block::

    • 5 authors
    ·
    Jan 23            <- Mon D[, YYYY] [UPVOTES]; no year means 2025; no number means 0 upvotes

Page 001 shows titles and abstracts only.

* The date line right after the boilerplate (``Oct 31`` on page 000, ``Mar 12`` on page 001) is the
  page's header, not a paper's date: it comes before any paper, whereas every paper's date
  follows its abstract and its ``• N authors`` / ``·`` lines. The shared arXiv data confirms it:
  "Seek in the Dark" (arXiv 2505.13308, 11 authors, first listed 2025-05-20) is followed by
  ``• 11 authors · May 19 4``; under the other reading it would be dated Sep 30, 2022. Page 001,
  which has no metadata at all, would otherwise give its first paper (a 2021 book) the date Mar 12.
* A date line therefore belongs to the paper read last, provided that paper has its abstract and no
  date yet; any other date line is a header and is ignored (and reported).
* A paper with no metadata block (on page 000, "Approaching an unknown communication system by
  latent space exploration and causal inference") gets no date, no upvote count and no author count:
  nothing is invented. The same holds for every paper shown only on page 001.

Entries that are incomplete
---------------------------
* Missing or empty title: a line too long to be a title (over 300 characters) where a title is
  expected is an abstract whose title is missing. Such an entry cannot be named, matched across
  pages or given an id, so it is left out and reported on stderr, and the metadata lines after it
  are ignored (reported too). The current seeds have none.
* Truncated abstract: an abstract ending in ``...`` or ``…`` is kept as shown (the page shows
  it so, and the ellipsis tells the reader) and flagged ``abstract_truncated``. When the same paper
  appears with a complete abstract on the other page, the complete one is kept. (Current seeds:
  "Word and Document Embeddings based on Neural Network Approaches", abridged with ``...`` and
  shown only on page 001.)
* A title with no abstract after it keeps ``abstract: null``.

One paper, one record
---------------------
Papers shown on both pages are merged by normalized title (Unicode NFKC, case-folded, whitespace
collapsed, a trailing period dropped). Metadata comes from whichever page shows it; the abstract is
the complete (else the longer) one; ``pages`` lists the seed files it was seen on.

Ids
---
The seeds hold no arXiv ids and none is guessed. A title whose normalized form equals the
normalized title of exactly one paper in ``../shared/data/arxiv-2025.jsonl.gz`` takes that paper's
real arXiv id (nothing else from that data set is copied). Every other paper gets
``demo:<slug of its title>`` (``core.ids.namespaced_id`` + ``slugify``; a clash would get ``-2``,
``-3`` ...).

Links
-----
``code_urls`` and ``project_urls`` are those ``sources.normalize.find_links`` finds in the abstract
(trailing sentence punctuation dropped: ``https://github.com/SerezD/mi_ml_gen.`` gives
``https://github.com/SerezD/mi_ml_gen``); the importer finds the same again, so they stay in step.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
ARXIV_DATA = SHARED / "data" / "arxiv-2025.jsonl.gz"
OUTPUT = ROOT / "src" / "paperboard" / "data" / "demo_papers.json"

sys.path.insert(0, str(ROOT / "src"))

from paperboard.core.ids import namespaced_id, slugify  # noqa: E402
from paperboard.sources.normalize import find_links  # noqa: E402

DEFAULT_YEAR = 2025
MAX_TITLE = 300
BOILERPLATE = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
)}
AUTHORS = re.compile(r"^[•·*-]?\s*(\d+)\s+authors?$", re.IGNORECASE)
SEPARATOR = {"·", "•", "-"}
DATE = re.compile(
    r"^(?P<month>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2})"
    r"(?:,\s*(?P<year>\d{4}))?(?:\s+(?P<votes>\d+))?$"
)


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title)
    text = re.sub(r"\s+", " ", text).strip().casefold()
    return text[:-1] if text.endswith(".") else text


def is_truncated(abstract: str | None) -> bool:
    return bool(abstract) and abstract.rstrip().endswith(("...", "…"))  # type: ignore[union-attr]


def parse_date_line(line: str) -> tuple[date, int] | None:
    """``May 19 4`` -> (2025-05-19, 4); ``Mar 24, 2019`` -> (2019-03-24, 0); None if no date."""
    match = DATE.match(line)
    if not match or match["month"].lower() not in MONTHS:
        return None
    year = int(match["year"]) if match["year"] else DEFAULT_YEAR
    try:
        when = date(year, MONTHS[match["month"].lower()], int(match["day"]))
    except ValueError:
        return None
    return when, int(match["votes"]) if match["votes"] else 0


@dataclass
class Entry:
    title: str | None
    page: str
    line: int
    abstract: str | None = None
    author_count: int | None = None
    published: date | None = None
    upvotes: int | None = None
    pages: list[str] = field(default_factory=list)


@dataclass
class Page:
    name: str
    entries: list[Entry]
    headers: list[str]
    notes: list[str]


def parse_page(path: Path) -> Page:
    """The entries on one seed page, in order, with what was ignored and why."""
    entries: list[Entry] = []
    headers: list[str] = []
    notes: list[str] = []
    current: Entry | None = None
    page = path.stem.split("_")[0]
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line in SEPARATOR:
            continue
        if line.casefold() in BOILERPLATE:
            continue
        counted = AUTHORS.match(line)
        if counted:
            if current is None or current.author_count is not None:
                notes.append(f"{path.name}:{number}: author count with no paper before it")
            else:
                current.author_count = int(counted[1])
            continue
        dated = parse_date_line(line)
        if dated:
            if current is not None and current.abstract is not None and current.published is None:
                current.published, current.upvotes = dated
            else:
                headers.append(f"{path.name}:{number}: {line!r}")
            continue
        # a text line: a title, or the abstract of the paper read last
        expecting_abstract = current is not None and current.abstract is None
        if expecting_abstract and (len(line) > MAX_TITLE or line.endswith((".", "...", "…"))):
            current.abstract = line  # type: ignore[union-attr]
        elif len(line) > MAX_TITLE:
            notes.append(f"{path.name}:{number}: abstract with no title, left out: {line[:60]!r}")
            current = None
        else:
            current = Entry(title=line, page=page, line=number, pages=[page])
            entries.append(current)
    return Page(path.name, entries, headers, notes)


def merge_pages(pages: list[Page]) -> list[Entry]:
    """One entry per normalized title, in order of first appearance."""
    merged: dict[str, Entry] = {}
    for page in pages:
        for entry in page.entries:
            key = normalize_title(entry.title or "")
            seen = merged.get(key)
            if seen is None:
                merged[key] = entry
                continue
            seen.pages += [p for p in entry.pages if p not in seen.pages]
            if seen.author_count is None:
                seen.author_count = entry.author_count
            if seen.published is None and entry.published is not None:
                seen.published, seen.upvotes = entry.published, entry.upvotes
            if entry.abstract and (
                not seen.abstract
                or (is_truncated(seen.abstract) and not is_truncated(entry.abstract))
                or (is_truncated(seen.abstract) == is_truncated(entry.abstract)
                    and len(entry.abstract) > len(seen.abstract))
            ):
                seen.abstract = entry.abstract
    return list(merged.values())


def arxiv_matches(titles: set[str], data: Path) -> dict[str, str]:
    """Normalized title -> arXiv id, for titles that match exactly one paper in ``data``."""
    found: dict[str, set[str]] = {}
    with gzip.open(data, "rt", encoding="utf-8") as lines:
        for line in lines:
            paper = json.loads(line)
            title = paper.get("title")
            if isinstance(title, str) and normalize_title(title) in titles:
                found.setdefault(normalize_title(title), set()).add(paper["id"])
    return {title: next(iter(ids)) for title, ids in found.items() if len(ids) == 1}


def build(seeds: Path = SEEDS, data: Path = ARXIV_DATA) -> tuple[dict[str, Any], list[str]]:
    """The demo data and a list of remarks (headers ignored, entries left out, matches)."""
    files = sorted(seeds.glob("*.txt"))
    if not files:
        raise SystemExit(f"no seed pages in {seeds}")
    pages = [parse_page(path) for path in files]
    remarks = [f"page header, not a paper date: {h}" for p in pages for h in p.headers]
    remarks += [note for p in pages for note in p.notes]
    entries = merge_pages(pages)
    matches = arxiv_matches({normalize_title(e.title or "") for e in entries}, data)
    papers = []
    used: set[str] = set()
    for entry in entries:
        assert entry.title is not None
        arxiv_id = matches.get(normalize_title(entry.title))
        if arxiv_id:
            paper_id = arxiv_id
            remarks.append(f"arXiv title match: {arxiv_id} {entry.title}")
        else:
            slug = slugify(entry.title)
            paper_id, n = namespaced_id("demo", slug), 1
            while paper_id in used:
                n += 1
                paper_id = namespaced_id("demo", f"{slug}-{n}")
        used.add(paper_id)
        code, project = find_links(entry.abstract)
        papers.append({
            "id": paper_id,
            "title": entry.title,
            "abstract": entry.abstract,
            "abstract_truncated": is_truncated(entry.abstract),
            "author_count": entry.author_count,
            "published": entry.published.isoformat() if entry.published else None,
            "upvotes": entry.upvotes,
            "code_urls": code,
            "project_urls": [url for url in project if url not in code],
            "pages": entry.pages,
        })
    document = {
        "about": (
            "Papers shown on two saved Hugging Face Daily Papers pages, as shown there; built by "
            "scripts/build_demo_data.py. author_count, published and upvotes are null where the "
            "page does not show them."
        ),
        "pages": [path.name for path in files],
        "papers": papers,
    }
    return document, remarks


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def main() -> int:
    if not SEEDS.is_dir() or not ARXIV_DATA.is_file():
        print(f"build_demo_data: needs {SEEDS} and {ARXIV_DATA}", file=sys.stderr)
        return 1
    document, remarks = build()
    for remark in remarks:
        print(remark, file=sys.stderr)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(document), encoding="utf-8")
    papers = document["papers"]
    dated = sum(1 for p in papers if p["published"])
    arxiv = sum(1 for p in papers if not p["id"].startswith("demo:"))
    print(
        f"wrote {OUTPUT.relative_to(ROOT)}: {len(papers)} papers, {dated} dated, "
        f"{len(papers) - dated} undated, {arxiv} with an arXiv id"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
