"""A polite HTTP client for the network sources: a minimum pause between requests, retries with
exponential backoff on 429/5xx and connection errors (honouring ``Retry-After``), and one-line
:class:`~paperboard.core.errors.SourceError` messages, worded for people, when it gives up.

Retrying stops early when it cannot help: an unknown host or a TLS error is not retried, a refused
connection is retried once (a server restarting), and no retry starts once ``retry_limit`` seconds
have passed since the first attempt (nor a pause that would end after it).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from paperboard.core.config import Settings
from paperboard.core.errors import SourceError

RETRY_STATUSES = {429, 500, 502, 503, 504}


class TooLargeError(SourceError):
    """A body larger than the caller's ``max_bytes``."""


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


def service_name(settings: Settings, url: str) -> str:
    """What to call the service at ``url`` in messages: arXiv, Hugging Face, or its host."""
    host = httpx.URL(url).host or url
    if url in (settings.arxiv_api_url, settings.arxiv_oai_url) or host.endswith("arxiv.org"):
        return "arXiv"
    if url == settings.hf_api_url or host.endswith("huggingface.co"):
        return "Hugging Face"
    return host


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _connection_problem(error: httpx.TransportError, url: httpx.URL) -> tuple[str, str]:
    """What went wrong, in words, and what to do about it: "stop", "once" (retry a single time)
    or "retry"."""
    where = f"{url.host}:{url.port}" if url.port else url.host
    for cause in _chain(error):
        if isinstance(cause, socket.gaierror):
            return f"host {url.host} not found", "stop"
        if isinstance(cause, ssl.SSLError):
            detail = getattr(cause, "reason", None) or cause.__class__.__name__
            return f"secure connection to {where} failed: {detail}", "stop"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection to {where} refused", "once"
    innermost = list(_chain(error))[-1]
    detail = getattr(innermost, "strerror", None) or str(innermost) or error.__class__.__name__
    return f"connection to {where} failed: {detail}", "retry"


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
        retry_limit: float = 20.0,
        service: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self.retries = retries
        self.backoff = backoff
        self.retry_limit = retry_limit
        self.service = service
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
            retry_limit=settings.http_retry_limit,
            service=service_name(settings, url),
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

    def _send(
        self, url: str, params: Mapping[str, Any] | None, max_bytes: int | None
    ) -> httpx.Response:
        if max_bytes is None:
            return self._client.get(url, params=params)
        # Streamed, so that a body past the limit is never held whole (a PDF of gigabytes).
        with self._client.stream("GET", url, params=params) as streamed:
            declared = streamed.headers.get("Content-Length", "")
            too_large = declared.isdigit() and int(declared) > max_bytes
            chunks: list[bytes] = []
            size = 0
            if not too_large:
                for chunk in streamed.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        too_large = True
                        break
                    chunks.append(chunk)
            if too_large:
                raise TooLargeError(f"{streamed.url} is larger than {max_bytes / 1_000_000:.0f} MB")
            # The body is decoded already: the rebuilt response must not decode it again.
            headers = [
                (name, value)
                for name, value in streamed.headers.multi_items()
                if name.lower() not in ("content-encoding", "content-length")
            ]
            return httpx.Response(
                streamed.status_code,
                headers=headers,
                content=b"".join(chunks),
                request=streamed.request,
            )

    def get(
        self, url: str, params: Mapping[str, Any] | None = None, *, max_bytes: int | None = None
    ) -> httpx.Response:
        """The response to a GET, after retries; raises SourceError when it cannot get a 2xx/4xx.

        4xx answers other than 429 are returned, not raised: some APIs (arXiv's) explain errors
        in the body, and the caller knows best how to read it. With ``max_bytes``, a larger body
        raises :class:`TooLargeError` as soon as it is known to be larger (not retried).
        """
        target = httpx.URL(url)
        service = self.service or target.host or url
        started = time.monotonic()
        attempt = 0
        while True:
            self._wait_turn()
            delay: float | None = None
            response: httpx.Response | None = None
            unreachable = False
            retry = "retry"
            try:
                response = self._send(url, params, max_bytes)
            except httpx.TimeoutException:
                reason = "timed out"
            except httpx.TransportError as error:
                reason, retry = _connection_problem(error, target)
                unreachable = True
            finally:
                self._last_request = time.monotonic()
            if response is not None:
                if response.status_code not in RETRY_STATUSES:
                    return response
                reason = f"HTTP {response.status_code}"
                delay = _retry_after(response)
            pause = delay if delay is not None else self.backoff * (2**attempt)
            elapsed = time.monotonic() - started
            if (
                attempt >= self.retries
                or retry == "stop"
                or (retry == "once" and attempt >= 1)
                or elapsed + pause >= self.retry_limit
            ):
                tries = attempt + 1
                if tries > 1:
                    reason += f", gave up after {tries} attempts"
                elif delay is not None and delay > 0:
                    reason += f", which asks to wait {delay:.0f} s"
                state = "unreachable" if unreachable else "not answering"
                raise SourceError(f"{service} is {state} right now ({reason}): try again later")
            self._sleep(pause)
            attempt += 1
