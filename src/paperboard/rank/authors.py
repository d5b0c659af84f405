"""An author's papers and co-authors, by folded name (:func:`paperboard.core.names.author_key`).

There is no table of authors: a paper's names are a JSON list in the store. On a big store the
lexical index narrows the candidates (``au:"First Last"``: the papers with those name words in
one author, namesakes and word orders included), and each candidate's names are then compared
folded, so only exact spellings of the name (up to case, accents and punctuation) count. Papers
changed since the index was last brought up to date are read from the store and checked too;
without a usable index, :meth:`PaperStore.papers_by_author` reads the store alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from paperboard.core.errors import PaperboardError
from paperboard.core.names import author_key
from paperboard.index.indexer import SearchIndex
from paperboard.index.query import FieldClause, ParsedQuery
from paperboard.store.papers import PaperStore
from paperboard.store.rows import CountedPaperRow, PaperRow

# More papers changed since the last ``paperboard index`` than this, and the index is too far
# behind to narrow with: the store is read alone.
MAX_UNINDEXED = 5_000
MAX_CANDIDATES = 100_000  # index candidates looked at, at most (a very common name's papers)
_OLDEST = datetime.min.replace(tzinfo=UTC)


def has_author(paper: PaperRow, key: str) -> bool:
    """Whether one of the paper's names folds to ``key``."""
    return any(author_key(str(name)) == key for name in paper.get("authors") or ())


def newest_first(rows: Iterable[CountedPaperRow]) -> list[CountedPaperRow]:
    """Newest first by first publication (undated last), then by id: the store's order."""
    ordered = sorted(rows, key=lambda row: row["id"])
    ordered.sort(key=lambda row: row.get("published_at") or _OLDEST, reverse=True)
    return ordered


def papers_by_author(
    index: SearchIndex | None, store: PaperStore, name: str, limit: int = 500
) -> list[CountedPaperRow]:
    """The papers with ``name`` among their authors, newest first, at most ``limit``."""
    key = author_key(name)
    if not key or limit <= 0:
        return []
    ids = _candidates(index, store, name, key, limit) if index is not None else None
    if ids is None:
        return store.papers_by_author(name, limit=limit)
    rows = store.get_many(ids)
    return newest_first(row for row in rows.values() if has_author(row, key))[:limit]


def _candidates(
    index: SearchIndex, store: PaperStore, name: str, key: str, limit: int
) -> list[str] | None:
    """Ids that may have the author: the index's ``au:`` matches and the papers it has not seen
    yet; None when the index cannot narrow them (not built, unreadable or far behind)."""
    mark = index.state().get("lexical")
    if not mark:
        return None
    since = datetime.fromisoformat(mark)
    if store.count_changed_since(since) > MAX_UNINDEXED:
        return None
    query = ParsedQuery(raw=name, fields=(FieldClause("authors", name, phrase=True),))
    k = max(limit * 2, 200)
    try:
        lexical = index.lexical
        while True:
            found = [pid for pid, _ in lexical.search_ids(query, k=k)]
            # Candidates come newest first: once enough of them are the author's, or there are
            # no more, the rest are older.
            if len(found) < k or k >= MAX_CANDIDATES:
                break
            rows = store.get_many(found)
            if sum(has_author(row, key) for row in rows.values()) >= limit:
                break
            k = min(k * 4, MAX_CANDIDATES)
    except PaperboardError:  # the lexical index cannot be opened or read: the store alone
        return None
    for batch in store.changed_since(since):
        found += [row["id"] for row in batch if has_author(row, key)]
    return found


def spelling(papers: Sequence[PaperRow], name: str) -> str:
    """How the papers most often spell the author's name (the first such spelling on a tie);
    ``name`` with its white space tidied when none has it."""
    key = author_key(name)
    counts: Counter[str] = Counter()
    for paper in papers:
        for other in paper.get("authors") or ():
            clean = " ".join(str(other).split())
            if author_key(clean) == key:
                counts[clean] += 1
    return counts.most_common(1)[0][0] if counts else " ".join(name.split())


def coauthors(papers: Sequence[PaperRow], name: str) -> list[tuple[str, int]]:
    """The people who wrote ``papers`` with ``name``, with how many of the papers each shares,
    most first (then by name); each spelled as most of the papers spell them. Namesakes show up
    as co-author circles that do not meet."""
    key = author_key(name)
    shared: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for paper in papers:
        seen: set[str] = set()
        for other in paper.get("authors") or ():
            clean = " ".join(str(other).split())
            other_key = author_key(clean)
            if not other_key or other_key == key or other_key in seen:
                continue
            seen.add(other_key)
            shared[other_key] += 1
            spellings.setdefault(other_key, Counter())[clean] += 1
    ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
    return [(spellings[k].most_common(1)[0][0], count) for k, count in ranked]
