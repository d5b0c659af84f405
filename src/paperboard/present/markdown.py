"""A paper as Markdown, for agents and other readers of text (``/papers/{id}.md``, as Hugging
Face's paper pages answer): the title as a heading, authors, dates, categories, upvotes, links,
the abstract and the similar papers as links.

Titles, names and abstracts come from outside, so what would turn them into markup (raw HTML,
link brackets) is escaped; LaTeX and the rest of the text stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from paperboard.present.serialize import paper_dict
from paperboard.store.rows import CountedPaperRow

MEDIA_TYPE = "text/markdown; charset=utf-8"

_SPACE = re.compile(r"\s+")
_SPECIAL = re.compile(r"([\\<>\[\]`*_])")


def _inline(text: str | None) -> str:
    """One line of untrusted text as literal Markdown: whitespace collapsed, markup escaped."""
    return _SPECIAL.sub(r"\\\1", _SPACE.sub(" ", text or "").strip())


def _block(text: str) -> str:
    """A paragraph of untrusted text (an abstract): raw HTML and link brackets escaped, so it
    stays text; blank lines keep it in paragraphs."""
    paragraphs = [_SPACE.sub(" ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(re.sub(r"([<\[\]])", r"\\\1", p) for p in paragraphs if p)


def _url(url: str) -> str:
    """A URL as a link destination: characters that would end or break it percent-encoded."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


def _day(value: datetime | date | None) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if value else None


def prefers_markdown(accept: str) -> bool:
    """Whether an ``Accept`` header asks for Markdown before HTML (``text/markdown`` with a
    quality above zero and at least that of ``text/html``). Browsers never name it."""
    quality: dict[str, float] = {}
    for item in accept.split(",")[:50]:
        kind, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[kind.lower()] = max(q, quality.get(kind.lower(), 0.0))
    wanted = quality.get("text/markdown", 0.0)
    return wanted > 0 and wanted >= quality.get("text/html", 0.0)


def paper_url(base_url: str, paper_id: str) -> str:
    return f"{base_url}/papers/{quote(paper_id, safe=':/')}"


def paper_markdown(
    row: CountedPaperRow, similar: Sequence[Mapping[str, Any]], *, base_url: str
) -> str:
    """The paper as a Markdown document. ``similar`` holds entries with ``id`` and ``title``
    (the site's cards), best first; ``base_url`` makes the links absolute."""
    data = paper_dict(row)
    lines = [f"# {_inline(row.get('title')) or '(untitled)'}", ""]
    facts: list[tuple[str, str | None]] = [
        ("Authors", ", ".join(_inline(name) for name in row.get("authors") or []) or None),
        ("Published", _day(row.get("published_at"))),
        ("Updated", _day(row.get("updated_at"))),
        ("Categories", ", ".join(_inline(c) for c in row.get("categories") or []) or None),
        ("Upvotes", str(int(row.get("total_upvotes") or 0))),
        ("Comments", str(int(row.get("comment_count") or 0))),
        ("arXiv id", row["id"] if data["arxiv_url"] else None),
    ]
    if facts[2][1] == facts[1][1]:
        facts.pop(2)  # updated the day it came out: one date says it
    lines += [f"- **{name}:** {value}" for name, value in facts if value]
    links = [("arXiv", data["arxiv_url"]), ("PDF", data["pdf_url"])]
    links += [("Code", url) for url in row.get("code_urls") or []]
    links += [("Project page", url) for url in row.get("project_urls") or []]
    if row.get("doi"):
        links.append(("DOI", f"https://doi.org/{row['doi']}"))
    links.append(("Paper page", paper_url(base_url, row["id"])))
    shown = [f"[{name}]({_url(url)})" for name, url in links if url]
    lines += ["", "**Links:** " + " · ".join(shown), "", "## Abstract", ""]
    lines.append(_block(row.get("abstract") or "") or "(no abstract)")
    if similar:
        lines += ["", "## Similar papers", ""]
        for entry in similar:
            title = _inline(entry.get("title")) or "(untitled)"
            lines.append(f"- [{title}]({_url(paper_url(base_url, entry['id']))}) ({entry['id']})")
    return "\n".join(lines) + "\n"


def error_markdown(status: int, message: str) -> str:
    """An error as a short Markdown document: a heading naming the status, then the message."""
    heading = {400: "Bad request", 404: "Not found"}.get(status, "Error")
    return f"# {heading}\n\n{_inline(message)}\n"
