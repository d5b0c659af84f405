"""A polite HTTP client for the network sources: a minimum pause between requests, retries with
exponential backoff on 429/5xx and connection errors (honouring ``Retry-After``), and one-line
:class:`~paperboard.core.errors.SourceError` messages when it gives up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from paperboard.core.config import Settings
from paperboard.core.errors import SourceError

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 300.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(float(value), MAX_RETRY_AFTER)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER)


class PoliteClient:
    """GET with a minimum interval between requests and bounded retries."""

    def __init__(
        self,
        *,
        min_interval: float,
        retries: int,
        backoff: float,
        timeout: float,
        user_agent: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._last_request: float | None = None
        self._client = httpx.Client(
            timeout=timeout, headers={"User-Agent": user_agent}, follow_redirects=True
        )

    @classmethod
    def for_url(
        cls, settings: Settings, url: str, *, min_interval: float | None = None
    ) -> PoliteClient:
        """A client with the pause arXiv asks for when ``url`` is on arXiv (and the configured one
        otherwise)."""
        return cls(
            min_interval=settings.arxiv_delay_for(url) if min_interval is None else min_interval,
            retries=settings.http_retries,
            backoff=settings.http_backoff,
            timeout=settings.http_timeout,
            user_agent=settings.user_agent,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_turn(self) -> None:
        # Measured from the end of the previous request, so the server never sees a shorter gap.
        if self._last_request is not None:
            remaining = self.min_interval - (time.monotonic() - self._last_request)
            if remaining > 0:
                self._sleep(remaining)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """The response to a GET, after retries; raises SourceError when it cannot get a 2xx/4xx.

        4xx answers other than 429 are returned, not raised: some APIs (arXiv's) explain errors
        in the body, and the caller knows best how to read it.
        """
        attempt = 0
        while True:
            self._wait_turn()
            delay: float | None = None
            response: httpx.Response | None = None
            try:
                response = self._client.get(url, params=params)
            except httpx.TimeoutException:
                reason = "timed out"
            except httpx.TransportError as error:
                reason = f"connection failed ({error.__class__.__name__}: {error})"
            finally:
                self._last_request = time.monotonic()
            if response is not None:
                if response.status_code not in RETRY_STATUSES:
                    return response
                reason = f"HTTP {response.status_code}"
                delay = _retry_after(response)
            if attempt >= self.retries:
                where = httpx.URL(url).host or url
                tries = attempt + 1
                raise SourceError(
                    f"{where}: {reason}, gave up after {tries} attempt{'s' * (tries > 1)}"
                )
            self._sleep(delay if delay is not None else self.backoff * (2**attempt))
            attempt += 1
