"""One deployment's parts, opened once: settings, the database engine, every store and the
search index.

The CLI (one per command), the site (one per app process, behind its ``Annotated``
dependencies) and the worker (one per pass) get what they work with from a :class:`Container`
instead of building stores by hand, so there is one place that knows how the parts are made
and one ``close()`` that releases them. Stores share the container's engine; the search index
opens its parts lazily (a feed page never loads the embedding model).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import Engine

from paperboard.core.config import Settings, load_settings, with_served_url
from paperboard.core.errors import ConfigError
from paperboard.store.community import CommunityStore
from paperboard.store.digests import DigestStore
from paperboard.store.interests import InterestStore
from paperboard.store.leases import LeaseStore
from paperboard.store.members import MemberStore
from paperboard.store.papers import PaperStore
from paperboard.store.submission_requests import SubmissionRequestStore

if TYPE_CHECKING:  # imported when first used: it brings numpy, which most commands never need
    from paperboard.index.indexer import SearchIndex


def _prepare_home(home: Path) -> None:
    """Make the home folder if need be; a ConfigError when it cannot be one."""
    if home.exists() and not home.is_dir():
        raise ConfigError(f"PAPERBOARD_HOME is {home}, which is not a directory")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"PAPERBOARD_HOME is {home}, which cannot be created: {error.strerror}"
        ) from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(f"PAPERBOARD_HOME is {home}, which is not writable")


class Container:
    """Settings, the engine, the stores and the search index of one paperboard home."""

    def __init__(self, settings: Settings, papers: PaperStore) -> None:
        self.settings = settings
        self.papers = papers

    @classmethod
    def open(cls, settings: Settings | None = None) -> Self:
        """Open the configured database (schema upgraded); ``settings`` default to the
        environment's."""
        settings = settings if settings is not None else with_served_url(load_settings())
        _prepare_home(settings.home)
        return cls(settings, PaperStore.open(settings))

    @property
    def engine(self) -> Engine:
        return self.papers.engine

    @cached_property
    def members(self) -> MemberStore:
        return MemberStore(self.engine)

    @cached_property
    def community(self) -> CommunityStore:
        return CommunityStore(self.engine)

    @cached_property
    def digests(self) -> DigestStore:
        return DigestStore(self.engine)

    @cached_property
    def interests(self) -> InterestStore:
        return InterestStore(self.engine)

    @cached_property
    def leases(self) -> LeaseStore:
        return LeaseStore(self.engine)

    @cached_property
    def submission_requests(self) -> SubmissionRequestStore:
        return SubmissionRequestStore(self.engine)

    @cached_property
    def index(self) -> SearchIndex:
        from paperboard.index.indexer import SearchIndex

        return SearchIndex(self.settings)

    def search_index(self) -> SearchIndex:
        """The search index, for writing what just changed into it."""
        return self.index

    def close(self) -> None:
        self.papers.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
