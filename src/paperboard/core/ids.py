"""Paper identifiers: arXiv ids in every form people paste, and namespaced ids for other sources.

The canonical id of an arXiv paper is its arXiv id without version: ``2503.11731`` or, for papers
from before April 2007, ``hep-th/9901001`` (a subject class such as ``math.GT/0309136`` is
dropped, as arXiv itself does). Papers that have no arXiv id get ``namespace:local``
(``demo:principles-of-dl-theory``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from paperboard.core.errors import InvalidIdError

_NEW = r"(?P<new>(?P<yymm>\d{4})\.(?P<num>\d{4,5}))"
_OLD = r"(?P<old>(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[A-Za-z]{2})?/(?P<oldnum>\d{7}))"
_VERSION = r"(?:v(?P<version>\d{1,3}))?"
_BARE = re.compile(rf"(?:{_NEW}|{_OLD}){_VERSION}")
_URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?"
    r"(?:arxiv\.org/(?:abs|pdf|html|format)/|huggingface\.co/papers/|hf\.co/papers/)",
    re.IGNORECASE,
)
_PLAIN_NEW = re.compile(r"\d{4}\.(?P<num>\d{4,5})")
_NAMESPACED = re.compile(
    r"^(?P<ns>[a-z][a-z0-9-]{1,15}):(?P<local>[A-Za-z0-9][A-Za-z0-9._/-]{0,200})$"
)
_RESERVED_NAMESPACES = {"arxiv", "oai", "http", "https"}


class ArxivId(NamedTuple):
    """An arXiv identifier split into its canonical form and the version, when one was given."""

    id: str
    version: int | None


def parse_arxiv_id(text: str) -> ArxivId:
    """Parse an arXiv id, ``arXiv:`` reference, OAI identifier or arXiv/HF URL.

    >>> parse_arxiv_id("https://arxiv.org/pdf/2104.12255v2.pdf")
    ArxivId(id='2104.12255', version=2)
    >>> parse_arxiv_id("math.GT/0309136")
    ArxivId(id='math/0309136', version=None)
    """
    plain = _PLAIN_NEW.fullmatch(text)  # fast path: bulk imports are mostly bare new-style ids
    if (
        plain is not None
        and "01" <= text[2:4] <= "12"
        and text[:4] >= "0704"
        and (len(plain["num"]) == 4 or text[:4] >= "1501")
    ):
        return ArxivId(text, None)
    raw = text
    text = text.strip()
    if not text or len(text) > 300:
        raise InvalidIdError(f"not an arXiv id: {raw[:60]!r}")
    text = _URL_PREFIX.sub("", text)
    lowered = text.lower()
    for prefix in ("oai:arxiv.org:", "arxiv:"):
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    text = text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if text.lower().endswith(".pdf"):
        text = text[:-4]
    match = _BARE.fullmatch(text)
    if match is None:
        raise InvalidIdError(f"not an arXiv id: {raw.strip()[:60]!r}")
    version = int(match["version"]) if match["version"] else None
    if version == 0:
        raise InvalidIdError(f"arXiv versions start at v1: {raw.strip()[:60]!r}")
    if match["new"]:
        yymm = match["yymm"]
        month = int(yymm[2:])
        if not 1 <= month <= 12 or yymm < "0704":
            raise InvalidIdError(f"not an arXiv id (no such month {yymm}): {raw.strip()[:60]!r}")
        if len(match["num"]) == 5 and yymm < "1501":
            raise InvalidIdError(f"five-digit arXiv numbers start in 2015: {raw.strip()[:60]!r}")
        return ArxivId(match["new"], version)
    oldnum = match["oldnum"]
    month = int(oldnum[2:4])
    if not 1 <= month <= 12:
        raise InvalidIdError(f"not an arXiv id (no such month {oldnum[:4]}): {raw.strip()[:60]!r}")
    return ArxivId(f"{match['archive']}/{oldnum}", version)


def is_arxiv_id(paper_id: str) -> bool:
    """True for a canonical arXiv id (no namespace)."""
    try:
        return parse_arxiv_id(paper_id).id == paper_id
    except InvalidIdError:
        return False


def canonical_id(text: str) -> str:
    """The canonical paper id for anything a person may type: arXiv forms or ``namespace:local``."""
    try:
        return parse_arxiv_id(text).id
    except InvalidIdError:
        match = _NAMESPACED.fullmatch(text.strip())
        if match and match["ns"] not in _RESERVED_NAMESPACES:
            return match.group(0)
        raise


def namespaced_id(namespace: str, local: str) -> str:
    """Build a namespaced id, e.g. ``namespaced_id("demo", "pointer-networks")``."""
    candidate = f"{namespace}:{local}"
    match = _NAMESPACED.fullmatch(candidate)
    if match is None or namespace in _RESERVED_NAMESPACES:
        raise InvalidIdError(f"not a valid namespaced id: {candidate[:80]!r}")
    return candidate


def slugify(text: str, max_length: int = 60) -> str:
    """A lowercase ASCII slug for building namespaced ids from titles."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"
