"""The one interface every paper source implements.

A source is an object with a ``name`` and a ``records()`` generator. The generator yields the
record types of :mod:`paperboard.core.records`:

* :class:`PaperRecord` for each paper it read (fields it does not know stay ``None``),
* :class:`Skip` for each line, entry or record it could not use (the import goes on),
* :class:`Checkpoint` after a unit of work whose records must be stored together with the state
  needed to resume after it (an OAI-PMH resumption token, say).

A source raises :class:`~paperboard.core.errors.SourceError` when it fails as a whole (network down,
server error after retries). ``progress()`` reports ``(done, total)`` in whatever unit suits it
(bytes, records); ``total`` may be ``None``. The importer (``store/importer.py``) drives a source
into the store; sources never touch storage themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from paperboard.core.records import Item


@runtime_checkable
class Source(Protocol):
    """A stream of papers from somewhere."""

    name: str

    def records(self) -> Iterator[Item]: ...

    def progress(self) -> tuple[float, float | None]: ...
