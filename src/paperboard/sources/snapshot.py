"""arXiv's bulk metadata snapshot: JSON lines in the layout of ``arxiv-metadata-oai-snapshot.json``
(plain or gzip), read as a stream in constant memory.

Each line holds ``id``, ``submitter``, ``authors`` (one string), ``authors_parsed`` (``[last, first,
suffix]`` triples), ``title``, ``comments``, ``journal-ref``, ``doi``, ``report-no``, ``categories``
(space separated, primary first), ``license``, ``abstract`` and ``versions``
(``[{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]``).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from paperboard.core.errors import InvalidIdError, SourceError
from paperboard.core.records import Item, PaperRecord, Skip
from paperboard.sources.arxiv_record import ArxivFormat, build_record
from paperboard.sources.normalize import author_name

NAME = "snapshot"
SHARD_LINES = 500


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} is not a string")
    return value


def _authors(entry: dict[str, Any]) -> list[str] | None:
    parsed = entry.get("authors_parsed")
    if not (isinstance(parsed, list) and parsed):
        return None
    try:
        names = [author_name(*parts[:3]) for parts in parsed if type(parts) is list]
    except TypeError:  # a part that is no string
        names = []
    if len(names) != len(parsed):
        raise ValueError("authors_parsed holds something other than lists of strings")
    return [name for name in names if name]


def _versions(entry: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    # A generator: the builder checks each version before this reads the next, as arXiv's order.
    raw = entry.get("versions")
    if not raw:
        return
    if not isinstance(raw, list):
        raise ValueError("versions is not a list")
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("a version is not an object")
        created = item.get("created")
        yield str(item.get("version", "")), created if isinstance(created, str) else None


SNAPSHOT: ArxivFormat[dict[str, Any]] = ArxivFormat(
    text=_text, versions=_versions, authors=_authors
)


def parse_entry(entry: Any, source: str = NAME) -> PaperRecord:
    """Turn one snapshot object into a record; raises ValueError/InvalidIdError when unusable."""
    if not isinstance(entry, dict):
        raise ValueError("line is not a JSON object")
    raw_id = entry.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("no id")
    return build_record(entry, raw_id, SNAPSHOT, source)


class SnapshotSource:
    """Papers from a snapshot file; progress is measured in (compressed) bytes read."""

    name = NAME

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.target = str(self.path)
        self._raw: io.BufferedReader | None = None
        self._size: int | None = None
        self._share = (0, 1)

    def shard(self, index: int, count: int) -> SnapshotSource:
        """The same file, yielding only share ``index`` of ``count`` (runs of SHARD_LINES lines),
        for one of several processes importing it together."""
        part = SnapshotSource(self.path)
        part._share = (index, count)
        return part

    def progress(self) -> tuple[float, float | None]:
        if self._raw is None or self._raw.closed:
            return 0.0, self._size
        return float(self._raw.tell()), self._size

    def records(self) -> Iterator[Item]:
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as error:
            raise SourceError(f"cannot open {self.path}: {error.strerror}") from None
        self._raw = raw
        self._size = self.path.stat().st_size
        try:
            magic = raw.peek(2)[:2]
            stream: Any = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
            label = self.path.name
            seen_any = False
            number = 0
            try:
                index, count = self._share
                for number, line in enumerate(stream, start=1):
                    seen_any = True
                    if count > 1 and (number - 1) // SHARD_LINES % count != index:
                        continue
                    if not line.strip():
                        continue
                    try:
                        yield parse_entry(orjson.loads(line))
                    except orjson.JSONDecodeError as error:
                        yield Skip(f"{label} line {number}", f"invalid JSON ({error})")
                    except (ValueError, InvalidIdError) as error:
                        yield Skip(f"{label} line {number}", str(error))
            except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
                where = f"past line {number}" if number else "from the start"
                raise SourceError(f"{label}: cannot read {where}: {error}") from None
            if not seen_any:
                raise SourceError(f"{label} is empty")
        finally:
            raw.close()
