"""What a person types into the search box, parsed into the parts the indexes act on.

The syntax, kept small and forgiving:

* ``graph neural networks``: words, OR-ed and ranked by BM25 (more matching words rank higher);
* ``"graph neural networks"``: a phrase;
* ``ti:attention``, ``abs:diffusion``, ``au:hinton``, ``cat:cs.LG`` (also ``title:``, ``abstract:``,
  ``author:``, ``category:``): a word or ``"quoted phrase"`` that the paper must have in that field;
  ``cat:cs`` (an archive) matches every ``cs.*`` category;
* ``-word``, ``-"a phrase"``, ``-au:name``: leave out papers that have it; ``+word``: require it;
* an arXiv id or URL alone (``2503.11731``, ``arXiv:2503.11731v2``, ``https://arxiv.org/pdf/...``)
  names one paper: :attr:`ParsedQuery.paper_id` is set and the caller looks it up.

A query that cannot mean anything (empty, too long, ``au:`` with no name, only punctuation, only
exclusions) raises :class:`QueryError` with a one-line message. Slips with an obvious reading are
forgiven and reported in :attr:`ParsedQuery.warnings`: an unclosed quote is dropped, an unknown
``foo:bar`` is searched as the words ``foo bar``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from paperboard.core.errors import InvalidIdError, PaperboardError
from paperboard.core.ids import parse_arxiv_id

#: Field names a person may type, and the index field each one means.
FIELD_ALIASES: dict[str, str] = {
    "ti": "title",
    "title": "title",
    "abs": "abstract",
    "abstract": "abstract",
    "au": "authors",
    "author": "authors",
    "authors": "authors",
    "cat": "category",
    "category": "category",
    "categories": "category",
}
#: At most this many words, phrases and field clauses are used; the rest are dropped (warning).
MAX_PARTS = 40

# Words too common to help ranking; dropped from the lexical terms when other words remain (phrases
# and the embedder's text keep them).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "not",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "which",
        "with",
        "we",
        "our",
    ]
)

_HELP = 'type words, "a phrase", au:name, ti:word, abs:word, cat:cs.LG or an arXiv id'
_FIELD_WORD = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_CATEGORY = re.compile(r"[a-z][a-z-]*(?:\.[a-z][a-z-]*)?", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019][sS]$")
_SPACE = re.compile(r"\s+")


class QueryError(PaperboardError, ValueError):
    """A search query that cannot be run; ``str(error)`` says why, in one line."""


@dataclass(frozen=True, slots=True)
class FieldClause:
    """``ti:word``, ``au:"first last"``, ``cat:cs.LG``: text the paper must have in one field.

    ``field`` is the index field (``title``, ``abstract``, ``authors``, ``category``); ``value`` the
    text as typed, without quotes; ``phrase`` whether it was quoted; ``negated`` for ``-au:name``.
    """

    field: str
    value: str
    phrase: bool = False
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed search query.

    ``terms`` are the free words (OR-ed, ranked), ``phrases`` the quoted phrases (OR-ed with the
    words), ``required`` the ``+words``, ``fields`` the field clauses, ``excluded`` the ``-words``
    and ``-"phrases"``. ``paper_id`` is the canonical arXiv id when the whole query is an id or URL
    (everything else is then empty). ``text`` is the free text, normalized, for the dense embedder:
    words, phrases and ``ti:``/``abs:`` values in the order typed, without syntax (empty when the
    query is only ``au:``/``cat:`` clauses). ``warnings`` are one-line notes on what was forgiven.
    """

    raw: str
    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    fields: tuple[FieldClause, ...] = ()
    excluded: tuple[str, ...] = ()
    paper_id: str | None = None
    text: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def ranked(self) -> bool:
        """True when something scores the papers (words, phrases, ``ti:``/``abs:``); a query of only
        ``au:``/``cat:`` clauses merely selects papers, which then come newest first."""
        return bool(
            self.terms
            or self.phrases
            or self.required
            or any(c.field in ("title", "abstract") and not c.negated for c in self.fields)
        )


def _shown(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return repr(text if len(text) <= 60 else text[:57] + "...")


_WORD_BREAKS = {"\u200b", "\u2060", "\ufeff"}  # zero-width space, word joiner, BOM


def _clean(text: str) -> str:
    """NFC; controls (NUL, newlines) and zero-width spaces to spaces, other invisible formatting
    characters (soft hyphens, joiners) dropped; one space between words."""
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():
        out = []
        for ch in text:
            kind = unicodedata.category(ch)
            if ch.isspace() or ch in _WORD_BREAKS or kind in ("Cc", "Co", "Cs", "Cn", "Zl", "Zp"):
                out.append(" ")
            elif kind != "Cf":
                out.append(ch)
        text = "".join(out)
    return _SPACE.sub(" ", text).strip()


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _as_paper_id(text: str) -> str | None:
    if " " in text:
        return None
    try:
        return parse_arxiv_id(text).id
    except InvalidIdError:
        return None


@dataclass(slots=True)
class _Builder:
    terms: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    fields: list[FieldClause] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    parts: int = 0
    dropped: int = 0

    def _new(self, kind: str, key: str, value: str) -> bool:
        marker = (kind, key, value.lower())
        if marker in self.seen:
            return False
        if self.parts >= MAX_PARTS:
            self.dropped += 1
            return False
        self.seen.add(marker)
        self.parts += 1
        return True

    def word(self, value: str, sign: str, phrase: bool) -> None:
        if not phrase:
            value = _POSSESSIVE.sub("", value)
        if not _has_word(value):
            return
        if sign == "-":
            if self._new("-", "", value):
                self.excluded.append(value)
            return
        if sign == "+":
            if self._new("+", "", value):
                self.required.append(value)
                self.text.append(value)
            return
        if phrase and " " in value:
            if self._new('"', "", value):
                self.phrases.append(value)
                self.text.append(value)
            return
        if self._new("w", "", value):
            self.terms.append(value)
        self.text.append(value)

    def clause(self, name: str, target: str, value: str, sign: str, phrase: bool) -> None:
        if target == "category":
            if phrase or not _CATEGORY.fullmatch(value):
                raise QueryError(
                    f"{name}: takes a category such as cs.LG or an archive such as cs, "
                    f"not {_shown(value)}"
                )
        elif not _has_word(value):
            raise QueryError(f'{name}: needs a word or "phrase" after it, not {_shown(value)}')
        if sign != "-" and target in ("title", "abstract"):
            self.text.append(value)
        if self._new(f"{sign}:", target, value):
            self.fields.append(FieldClause(target, value, phrase, sign == "-"))


def _read_quoted(text: str, start: int) -> tuple[str, int, bool]:
    """The text after the quote at ``start`` up to the closing quote; whether it was closed."""
    end = text.find('"', start + 1)
    if end < 0:
        return text[start + 1 :], len(text), False
    return text[start + 1 : end], end + 1, True


def _read_word(text: str, start: int) -> tuple[str, int]:
    end = text.find(" ", start)
    end = len(text) if end < 0 else end
    return text[start:end], end


def parse_query(text: str, *, max_length: int = 1000) -> ParsedQuery:
    """Parse what a person typed; raises :class:`QueryError` (one line) when it means nothing."""
    if not isinstance(text, str):
        raise QueryError("a search query must be text")
    if len(text) > max_length * 4:  # don't even normalize something far too long
        raise QueryError(f"query too long: {len(text):,} characters (at most {max_length:,})")
    cleaned = _clean(text)
    if not cleaned:
        raise QueryError(f"empty query: {_HELP}")
    if len(cleaned) > max_length:
        raise QueryError(f"query too long: {len(cleaned):,} characters (at most {max_length:,})")

    paper_id = _as_paper_id(cleaned)
    if paper_id is not None:
        return ParsedQuery(raw=text, paper_id=paper_id)

    out = _Builder()
    unclosed = False
    unknown: list[str] = []
    i, n = 0, len(cleaned)
    while i < n:
        if cleaned[i] == " ":
            i += 1
            continue
        sign = ""
        if cleaned[i] in "+-" and i + 1 < n and cleaned[i + 1] != " ":
            sign = cleaned[i]
            i += 1
        if cleaned[i] == '"':
            value, i, closed = _read_quoted(cleaned, i)
            unclosed |= not closed
            value = value.strip()
            if closed:
                out.word(value, sign, phrase=True)
            else:  # forgive: the words of an unclosed phrase count as plain words
                for word in value.split():
                    out.word(word.strip('"'), sign, phrase=False)
            continue
        word, end = _read_word(cleaned, i)
        match = _FIELD_WORD.fullmatch(word)
        if match is not None and match[1].lower() in FIELD_ALIASES:
            name, target = match[1].lower(), FIELD_ALIASES[match[1].lower()]
            rest_at = i + len(match[1]) + 1
            if rest_at < n and cleaned[rest_at] == '"':
                value, i, closed = _read_quoted(cleaned, rest_at)
                value = value.strip()
                if not closed:  # forgive: ti:"some words -> ti:some, the rest free words
                    unclosed = True
                    words = [w for w in (w.strip('"') for w in value.split()) if w]
                    if not words:
                        raise QueryError(f'{name}: needs a word or "phrase" after it')
                    out.clause(name, target, words[0], sign, phrase=False)
                    for word in words[1:]:
                        out.word(word, "", phrase=False)
                    continue
                if not value:
                    raise QueryError(f'{name}: needs a word or "phrase" after it, not ""')
                out.clause(name, target, value, sign, phrase=" " in value)
                continue
            value = match[2]
            if not value:
                raise QueryError(
                    f'{name}: needs a word or "phrase" right after the colon, '
                    f"e.g. {name}:{_example(target)}"
                )
            i = end
            out.clause(name, target, value.strip('"'), sign, phrase=False)
            continue
        i = end
        if match is not None and match[2] and not match[2].startswith("/"):
            unknown.append(match[1])
        if word.endswith(":") and word.count(":") == 1:
            word = word[:-1]  # "Attention: all you need" pasted from a title
        for part in word.replace(":", " ").split() if match is not None else [word]:
            out.word(part.strip('"'), sign, phrase=False)

    if out.dropped:
        out.warnings.append(f"only the first {MAX_PARTS} words and clauses were used")
    if unclosed:
        out.warnings.append("an unclosed quote was ignored")
    if unknown:
        names = ", ".join(f"{name}:" for name in dict.fromkeys(unknown))
        out.warnings.append(
            f"unknown field {names} searched as words (fields: ti:, abs:, au:, cat:)"
        )
    if not (out.terms or out.phrases or out.required or any(not c.negated for c in out.fields)):
        if out.excluded or out.fields:
            raise QueryError(f"only exclusions in {_shown(cleaned)}: add something to look for")
        raise QueryError(f"nothing to search for in {_shown(cleaned)}: {_HELP}")
    terms = out.terms
    content = [t for t in terms if t.lower() not in STOPWORDS]
    if content or out.phrases or out.required or out.fields:
        terms = content
    return ParsedQuery(
        raw=text,
        terms=tuple(terms),
        phrases=tuple(out.phrases),
        required=tuple(out.required),
        fields=tuple(out.fields),
        excluded=tuple(out.excluded),
        text=" ".join(out.text),
        warnings=tuple(out.warnings),
    )


def _example(target: str) -> str:
    return {"title": "attention", "abstract": "diffusion", "authors": "hinton"}.get(target, "cs.LG")
