"""Pure ASGI middleware: ``.json`` twins, request size limit, control characters, errors,
security headers, page cache, request durations for ``/metrics``.

The page cache keeps anonymous GET responses (no session or ``pb_anon`` cookie, no API token, no
cookie set by the response, not ``Cache-Control: private``/``no-store``) for
``page_cache_seconds`` (at most a minute), per process. It sits outside the framework, so a hit
costs one dictionary lookup: that is what lets a 2-core machine serve the feed at tens of
thousands of requests per second (``python bench/http.py``). An expired page is made again once,
not once per client waiting for it. Members always get fresh pages.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperboard.present.metrics import observe_request

# Makes the one-line error answer (a page, or ``{"error": ...}``) for a request: app.py's.
ErrorAnswer = Callable[[Request, int, str], Response]

_PASSTHROUGH = ("/api/", "/static/", "/feeds/", "/docs", "/openapi", "/redoc")


class JsonSuffix:
    """``/papers/date/2025-05-20.json`` is the JSON twin of ``/papers/date/2025-05-20``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.endswith(".json") and not path.startswith(_PASSTHROUGH):
                scope = dict(scope)
                scope["path"] = path[: -len(".json")] or "/"
                scope["raw_path"] = scope["path"].encode()
                scope.setdefault("state", {})
                scope["state"] = {**scope["state"], "format": "json"}
            elif scope.get("query_string", b"").find(b"format=json") >= 0 and not path.startswith(
                _PASSTHROUGH
            ):
                scope = dict(scope)
                scope["state"] = {**scope.get("state", {}), "format": "json"}
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced or streamed; the
    paths in ``larger`` (file uploads; with or without ``.json``) have their own limit."""

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.larger.get(path.removesuffix(".json"), self.limit)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _plain(send, 413, f"request too large: at most {limit:,} bytes")
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _plain(send, 413, f"request too large: at most {limit:,} bytes")


class _TooLarge(Exception):
    pass


class AnswerErrors:
    """An exception no route handled becomes a logged, one-line 500 in the shape the request
    asked for (an error page, or JSON for ``.json`` twins and the API). It sits inside the other
    middleware, so that answer carries the security headers like any other; Starlette's own
    last-resort handler runs outside all of them and would give neither."""

    def __init__(self, app: ASGIApp, answer: ErrorAnswer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except _TooLarge:
            raise  # BodyLimit's own signal: it answers 413
        except Exception:
            logging.getLogger("paperboard.web").exception(
                "unexpected error on %s", scope.get("path")
            )
            if started:  # too late for another answer: let the server drop the connection
                raise
            message = "something went wrong on our side; it has been logged"
            response = self.answer(Request(scope), 500, message)
            await response(scope, receive, send)


# C0 control characters and DEL. None belongs in an address; in a form only tab, line feed and
# carriage return do (a comment's lines). PostgreSQL cannot store NUL at all, and the others
# can make a stored name or title look like something it is not.
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM = b"application/x-www-form-urlencoded"
_MULTIPART = b"multipart/form-data"
_JSON = b"application/json"


def _json_has_control(value: Any) -> bool:
    if isinstance(value, str):
        return _CONTROL_IN_TEXT.search(value.encode()) is not None
    if isinstance(value, dict):
        return any(_json_has_control(k) or _json_has_control(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_json_has_control(item) for item in value)
    return False


def _body_has_control(content_type: bytes, body: bytes) -> bool:
    kind = content_type.split(b";", 1)[0].strip().lower()
    if kind == _FORM:
        return _CONTROL_IN_TEXT.search(unquote_to_bytes(body.replace(b"+", b" "))) is not None
    if kind == _MULTIPART:  # every part is text, the uploaded files too (reference lists)
        return _CONTROL_IN_TEXT.search(body) is not None
    if kind == _JSON or kind.endswith(b"+json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False  # not JSON at all: the route's validation says so
        return _json_has_control(data)
    return False


class RefuseControlCharacters:
    """Answer a request with a control character in its path (404: it names no page), its query
    or its form or JSON fields (400; tab and line breaks are allowed there) before any of it
    reaches a route or the database. One check for every route, so none can forget it."""

    def __init__(self, app: ASGIApp, answer: ErrorAnswer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _CONTROL.search(scope["path"].encode("utf-8", "surrogateescape")):
            await self._refuse(scope, receive, send, 404, "no such page: control characters")
            return
        if _CONTROL.search(unquote_to_bytes(scope.get("query_string", b""))):
            await self._refuse(scope, receive, send, 400, "control characters in the query")
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if scope["method"] in ("GET", "HEAD") or not content_type:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if _body_has_control(content_type, body):
            await self._refuse(scope, receive, send, 400, "control characters in a form field")
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, what: str
    ) -> None:
        message = f"{what} (NUL and other C0 codes, DEL) are not allowed"
        response = self.answer(Request(scope), status, message)
        await response(scope, receive, send)


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self'; "
    b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


_HSTS = b"max-age=31536000"  # a year; no includeSubDomains: other hosts of the domain are not ours


class SecurityHeaders:
    """Headers that limit what a page may do, on every answer; and on HTTPS (``https(scope)``:
    the same rule as for Secure cookies) Strict-Transport-Security."""

    def __init__(self, app: ASGIApp, https: Callable[[Scope], bool] = lambda _scope: False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(
            ("/docs", "/redoc")
        )  # FastAPI's docs pages load their own assets

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not docs:
                    headers.append((b"content-security-policy", _CSP))
                if self.https(scope):
                    headers.append((b"strict-transport-security", _HSTS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _Flight:
    """A response being made for a cache key: requests for the same key wait for it."""

    __slots__ = ("done", "messages")

    def __init__(self) -> None:
        self.done = asyncio.Event()  # uvicorn runs on asyncio (or uvloop)
        self.messages: list[Message] | None = None  # None: not cacheable, ask the app yourself


class PageCache:
    """A short-lived per-process cache of anonymous GET responses.

    A page is made once per expiry, not once per waiting client: while one request makes a page,
    the others asking for it get the previous copy if it is younger than ``MAX_STALE`` seconds,
    or wait for the new one (so an expiry under load costs one render, not one per connection).
    An answer that may not be shared (a cookie set, not a 200, streamed) is remembered as such for
    the same time, so requests for it go straight to the app instead of queueing.
    """

    MAX_STALE = 60  # seconds: no page is served older than this

    def __init__(self, app: ASGIApp, seconds: int, entries: int = 2000) -> None:
        self.app = app
        self.seconds = seconds
        self.entries = entries
        # key -> (made at, expires at, messages); None: the answer was not shareable (ask the app)
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, float, list[Message] | None]] = (
            OrderedDict()
        )
        self._flights: dict[tuple[Any, ...], _Flight] = {}

    @staticmethod
    def _cacheable_request(scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        if scope["path"].startswith(("/static/", "/docs", "/openapi", "/metrics")):
            return False
        for name, value in scope["headers"]:
            # pb_anon: the page may hold a form token bound to this browser (sign in, sign up)
            if name == b"authorization" or (
                name == b"cookie" and (b"pb_session=" in value or b"pb_anon=" in value)
            ):
                return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.seconds or not self._cacheable_request(scope):
            await self.app(scope, receive, send)
            return
        accept = next((v for n, v in scope["headers"] if n == b"accept"), b"")
        twin = scope.get("state", {}).get("format")
        key = (
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            twin,
            b"json" in accept,
            b"markdown" in accept,  # the paper page answers Accept: text/markdown in Markdown
        )
        now = time.monotonic()
        hit = self._cache.get(key)
        flight = self._flights.get(key)
        if hit is not None and (
            hit[1] > now or (flight is not None and now - hit[0] < self.MAX_STALE)
        ):
            if hit[2] is None:  # this answer was not shareable a moment ago: do not queue for it
                await self.app(scope, receive, send)
                return
            for message in hit[2]:
                await send(message)
            return
        if flight is not None:
            await flight.done.wait()
            if flight.messages is not None:
                for message in flight.messages:
                    await send(message)
                return
            await self.app(scope, receive, send)
            return
        flight = self._flights[key] = _Flight()
        try:
            flight.messages = await self._fetch(key, scope, receive, send)
        finally:
            del self._flights[key]
            flight.done.set()

    async def _fetch(
        self, key: tuple[Any, ...], scope: Scope, receive: Receive, send: Send
    ) -> list[Message] | None:
        """Answer from the app, and keep the answer if it may be shared."""
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] != "http.response.debug":  # test clients' template info
                captured.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        start = captured[0] if captured else None
        if (
            start is None
            or start["type"] != "http.response.start"
            or start["status"] != 200
            or any(
                name == b"set-cookie"
                or (name == b"cache-control" and (b"private" in value or b"no-store" in value))
                for name, value in start.get("headers", [])
            )
            or not all(m["type"] == "http.response.body" for m in captured[1:])
            or captured[-1].get("more_body", False)
        ):
            messages = None
        else:
            body = b"".join(m.get("body", b"") for m in captured[1:])
            messages = [start, {"type": "http.response.body", "body": body}]
        now = time.monotonic()
        self._cache[key] = (now, now + self.seconds, messages)
        self._cache.move_to_end(key)
        while len(self._cache) > self.entries:
            self._cache.popitem(last=False)
        return messages


# -- request durations ----------------------------------------------------------------------------

_ROUTE = "paperboard.route"  # scope key: a one-item list NoteRoute fills with the route template
_TEMPLATES = 10_000  # paths whose template ObserveRequests remembers (cached pages skip routing)


class ObserveRequests:
    """Time every answer, from the first byte in to the last byte out, for
    ``paperboard_http_request_duration_seconds``: labelled by method, the matched route's
    template (``/papers/{paper_id}``, never the path itself, so the label's values are bounded;
    ``other`` when no route matched) and status class.

    Outermost, so refusals (413, control characters) and cached pages count too. The template is
    learnt inside, after routing, by :class:`NoteRoute` (``JsonSuffix`` copies the scope, so the
    router's own ``scope["route"]`` is not seen here); a page served from the cache never reaches
    the router, so the template its path had last time is used."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        noted: list[str] = []
        scope = {**scope, _ROUTE: noted}
        status = 500  # an exception before any answer is what the server turns into a 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            path: str = scope["path"]
            if noted:
                if len(self._templates) >= _TEMPLATES:
                    self._templates.clear()
                self._templates[path] = noted[0]
            route = noted[0] if noted else self._templates.get(path, "other")
            observe_request(scope["method"], route, status, time.perf_counter() - started)


class NoteRoute:
    """Innermost: after the router has answered, tell :class:`ObserveRequests` which route's
    template matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            noted = scope.get(_ROUTE)
            route = scope.get("route")
            template = getattr(route, "path", None)
            if noted is not None and not noted and isinstance(template, str):
                noted.append(template)
