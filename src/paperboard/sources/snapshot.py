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


def _parse_line(line: bytes) -> PaperRecord | str:
    """The record of one line, or why there is none."""
    try:
        return parse_entry(orjson.loads(line))
    except orjson.JSONDecodeError as error:
        return f"invalid JSON ({error})"
    except (ValueError, InvalidIdError) as error:
        return str(error)


class SnapshotSource:
    """Papers from a snapshot file; progress is measured in (compressed) bytes read."""

    name = NAME

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.target = str(self.path)
        self._raw: io.BufferedReader | None = None
        self._size: int | None = None
        self._share = (0, 1)
        self._span = (0, 0)  # the bytes of a plain file's share: (first, past the last)

    def shard(self, index: int, count: int) -> SnapshotSource:
        """The same file, yielding only share ``index`` of ``count``, for one of several processes
        importing it together: of a plain file, the lines that start in the ``index``-th of
        ``count`` equal byte ranges (each process reads only its own part); of a gzip file, which
        must be read from the start, runs of SHARD_LINES lines in turn."""
        part = SnapshotSource(self.path)
        part._share = (index, count)
        return part

    def progress(self) -> tuple[float, float | None]:
        if self._raw is None or self._raw.closed:
            return 0.0, self._size
        first, past = self._span
        if past:  # the last line may end beyond the range
            return float(min(self._raw.tell() - first, past - first)), float(past - first)
        return float(self._raw.tell()), self._size

    def records(self) -> Iterator[Item]:
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as error:
            raise SourceError(f"cannot open {self.path}: {error.strerror}") from None
        self._raw = raw
        self._size = self.path.stat().st_size
        try:
            gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
            if self._share[1] > 1 and not gzipped:
                yield from self._records_in_range(raw)
            else:
                yield from self._records_of_stream(raw, gzipped)
        finally:
            raw.close()

    def _records_of_stream(self, raw: io.BufferedReader, gzipped: bool) -> Iterator[Item]:
        stream: Any = gzip.GzipFile(fileobj=raw) if gzipped else raw
        label = self.path.name
        seen_any = False
        number = 0
        try:
            index, count = self._share
            for number, line in enumerate(stream, start=1):
                seen_any = True
                if count > 1 and (number - 1) // SHARD_LINES % count != index:
                    continue
                if line.isspace():
                    continue
                item = _parse_line(line)
                yield Skip(f"{label} line {number}", item) if isinstance(item, str) else item
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            where = f"past line {number}" if number else "from the start"
            raise SourceError(f"{label}: cannot read {where}: {error}") from None
        if not seen_any:
            raise SourceError(f"{label} is empty")

    def _records_in_range(self, raw: io.BufferedReader) -> Iterator[Item]:
        """The lines that start in this share's byte range of a plain file."""
        label = self.path.name
        index, count = self._share
        size = self._size or 0
        if size == 0:
            raise SourceError(f"{label} is empty")
        first, past = size * index // count, size * (index + 1) // count
        position = first
        read = 0  # lines of this share read so far
        base: int | None = 1 if first == 0 else None  # the number of its first line, once needed
        try:
            if first > 0:  # the line holding byte first - 1 is the previous share's
                raw.seek(first - 1)
                position = first - 1 + len(raw.readline())
            self._span = (position, max(position, past))
            for line in raw:
                if position >= past:
                    break
                position += len(line)
                read += 1
                if line.isspace():
                    continue
                item = _parse_line(line)
                if isinstance(item, str):
                    if base is None:
                        base = 1 + self._count_lines(self._span[0])
                    yield Skip(f"{label} line {base + read - 1}", item)
                else:
                    yield item
        except OSError as error:
            if base is None:
                base = 1 + self._count_lines(self._span[0])
            where = f"past line {base + read - 1}" if base + read > 1 else "from the start"
            raise SourceError(f"{label}: cannot read {where}: {error}") from None

    def _count_lines(self, end: int) -> int:
        """How many lines end before byte ``end`` (for line numbers in a later share)."""
        lines = 0
        with open(self.path, "rb") as stream:
            while end > 0:
                chunk = stream.read(min(end, 1 << 24))
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                end -= len(chunk)
        return lines
