"""Text clean-up shared by all sources: arXiv's hard-wrapped abstracts, titles, author names,
dates in the formats arXiv and Hugging Face use, and code/project links found in free text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

from paperboard.core.records import PaperRecord

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]|\n\s*\n")
_URL = re.compile(r"(?:https?://|www\.|(?:github|gitlab)\.com/)[^\s<>\"'{}\\|^`]+", re.IGNORECASE)
_URL_STARTS = ("http", "HTTP", "www.", "github.com/", "gitlab.com/")
_TRAILING = ".,;:!?'\"*"
_CODE_HOSTS = {
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "sourceforge.net",
    "git.sr.ht",
}
_NOT_PROJECT_HOSTS = {
    "arxiv.org",
    "export.arxiv.org",
    "doi.org",
    "dx.doi.org",
    "creativecommons.org",
    "orcid.org",
}
_GITHUB_RESERVED = {"orgs", "sponsors", "features", "topics", "collections", "about", "login"}


def clean_line(text: str | None) -> str | None:
    """Collapse all whitespace runs to one space (titles, comments, names)."""
    if text is None:
        return None
    return " ".join(text.split()) or None


def one_line(text: str | None, limit: int) -> str:
    """``text`` on one line and at most ``limit`` characters, ending in "..." when cut: how input
    is quoted in a skip reason or an error message."""
    line = clean_line(text) or ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def normalize_abstract(text: str | None) -> str | None:
    """Undo arXiv's hard line wrapping while keeping paragraph breaks.

    arXiv wraps abstracts at about 80 columns; a new paragraph is a line that starts indented or
    follows a blank line. Paragraphs come back separated by one blank line.
    """
    if text is None:
        return None
    stripped = text.strip()
    if not _PARAGRAPH_BREAK.search(stripped):  # one paragraph: the common case, made fast
        flat = stripped.replace("\n", " ")
        if "  " in flat or "\t" in flat or "\r" in flat:
            flat = " ".join(flat.split())
        return flat or None
    paragraphs: list[list[str]] = [[]]
    for index, line in enumerate(text.strip("\n").split("\n")):
        stripped = line.strip()
        if not stripped:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        if index > 0 and line[:1] in (" ", "\t") and paragraphs[-1]:
            paragraphs.append([])
        paragraphs[-1].append(stripped)
    joined = "\n\n".join(" ".join(" ".join(p).split()) for p in paragraphs if p)
    return joined or None


@lru_cache(maxsize=1)
def _latex_converter():  # type: ignore[no-untyped-def]
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)


def latex_to_unicode(text: str) -> str:
    """Turn LaTeX accents in names (``M\\"uller``) into Unicode; other text passes unchanged."""
    if "\\" not in text and "{" not in text:
        return text
    try:
        return clean_line(_latex_converter().latex_to_text(text)) or text
    except Exception:  # pylatexenc can choke on malformed input; the raw name is still useful
        return text


def author_name(last: str, first: str = "", suffix: str = "") -> str:
    """Join arXiv's parsed name parts into display order: ``First Last Suffix``."""
    if not (type(first) is str and type(last) is str and type(suffix) is str):
        raise TypeError("name parts must be strings")
    name = " ".join(f"{first} {last} {suffix}".split())
    return latex_to_unicode(name) if "\\" in name or "{" in name else name


_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")


def split_authors(text: str) -> list[str]:
    """Split arXiv's one-string author list (``A, B and C``), dropping affiliations in parens."""
    depth = 0
    flat = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            flat.append(char)
    names = (clean_line(part) for part in _AUTHOR_SPLIT.split("".join(flat)))
    return [latex_to_unicode(name) for name in names if name]


def parse_datetime(text: str | None) -> datetime | None:
    """Parse ISO 8601 (``2025-03-18T00:00:00Z``, ``2025-03-18``) or RFC 2822 dates into UTC.

    Returns ``None`` for empty input; raises ``ValueError`` for text that is no date.
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if text[:1].isdigit():
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, IndexError) as error:
            raise ValueError(f"not a date: {text[:40]!r}") from error
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str | None) -> date | None:
    """A calendar date from ISO or RFC 2822 text (time and zone ignored)."""
    value = parse_datetime(text)
    return value.date() if value else None


def _strip_trailing(url: str) -> str:
    while url:
        last = url[-1]
        if (
            last in _TRAILING
            or (last == ")" and url.count("(") < url.count(")"))
            or (last == "]" and url.count("[") < url.count("]"))
        ):
            url = url[:-1]
        else:
            break
    return url


def _normalize_code_url(host: str, path_parts: list[str]) -> str | None:
    if host == "github.com":
        if len(path_parts) < 2 or path_parts[0].lower() in _GITHUB_RESERVED:
            return None
        repo = path_parts[1]
        if repo.endswith(".git"):
            repo = repo[:-4]
        return f"https://github.com/{path_parts[0]}/{repo}" if repo else None
    if not path_parts:
        return None
    path = "/".join(path_parts)
    if path.endswith(".git"):
        path = path[:-4]
    return f"https://{host}/{path}"


def _url_matches(text: str) -> list[str]:
    """URL-looking substrings in order. The regex is only tried where ``str.find`` saw a URL
    start: scanning every position of a long abstract with it is several times slower."""
    spans: list[tuple[int, int]] = []
    for start in _URL_STARTS:
        position = text.find(start)
        while position != -1:
            match = _URL.match(text, position)
            if match is not None:
                before = text[position - 1 : position]
                glued = before and (before.isalnum() or before in "@/.")
                if not (glued and not match.group(0)[:5].lower().startswith("http")):
                    spans.append(match.span())
            position = text.find(start, position + 1)
    found: list[str] = []
    end = -1
    for first, last in sorted(spans):
        if first >= end:
            found.append(text[first:last])
            end = last
    return found


def find_links(*texts: str | None) -> tuple[list[str], list[str]]:
    """Code links and project links mentioned in free text, in order of appearance, deduplicated.

    GitHub links are reduced to the repository (``https://github.com/owner/repo``); trailing
    sentence punctuation and unbalanced closing brackets are dropped.
    """
    code: list[str] = []
    project: list[str] = []
    for text in texts:
        if not text:
            continue
        for match in _url_matches(text):
            url = _strip_trailing(match)
            if "://" not in url:
                url = "https://" + url
            scheme, _, rest = url.partition("://")
            host, _, path = rest.partition("/")
            host = host.lower().split(":")[0]
            if host.startswith("www."):
                host = host[4:]
            if not host or "." not in host:
                continue
            parts = [p for p in path.split("?")[0].split("#")[0].split("/") if p]
            if host in _CODE_HOSTS:
                normalized = _normalize_code_url(host, parts)
                if normalized and normalized not in code:
                    code.append(normalized)
            elif host not in _NOT_PROJECT_HOSTS and not host.endswith(".arxiv.org"):
                normalized = f"{scheme.lower()}://{host}/{path}".rstrip("/")
                if normalized not in project:
                    project.append(normalized)
    return code, project


_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,39}$")
_TEXT_FIELDS = (
    "title",
    "abstract",
    "comments",
    "journal_ref",
    "doi",
    "license",
    "report_no",
    "submitter",
    "submitted_by",
)


def _drop_nul(record: PaperRecord) -> None:
    # PostgreSQL refuses NUL characters in text; they carry no meaning in any of these fields.
    for name in _TEXT_FIELDS:
        value = getattr(record, name)
        if value is not None and "\x00" in value:
            setattr(record, name, value.replace("\x00", ""))
    for name in ("authors", "categories", "code_urls", "project_urls"):
        values = getattr(record, name)
        if values and any("\x00" in v for v in values):
            setattr(record, name, [v.replace("\x00", "") for v in values])


def prepare(record: PaperRecord) -> PaperRecord:
    """Normalize a source's record in place (idempotent) and return it.

    NUL characters go, titles and comments lose line breaks, abstracts lose arXiv's hard wrapping,
    categories are deduplicated with the primary kept first (anything that is no category name is
    dropped), and code/project links mentioned in the abstract or
    comments join those the source gave.
    """
    _drop_nul(record)
    record.title = clean_line(record.title)
    record.abstract = normalize_abstract(record.abstract)
    record.comments = clean_line(record.comments)
    record.journal_ref = clean_line(record.journal_ref)
    record.doi = clean_line(record.doi)
    record.license = clean_line(record.license)
    if record.authors is not None:
        record.authors = [name for name in (" ".join(a.split()) for a in record.authors) if name]
        if record.authors:
            record.author_count = len(record.authors)
    if record.categories is not None:
        record.categories = list(
            dict.fromkeys(c for c in (c.strip() for c in record.categories) if _CATEGORY.match(c))
        )
    code, project = find_links(record.abstract, record.comments)
    for url in code:
        if url not in record.code_urls:
            record.code_urls.append(url)
    for url in project:
        if url not in record.project_urls and url not in record.code_urls:
            record.project_urls.append(url)
    return record
