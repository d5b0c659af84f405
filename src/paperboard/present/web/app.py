"""The FastAPI application: ``create_app(settings)`` wires services, middleware, routes and the
error pages. ``paperboard serve`` runs it under uvicorn (``app:factory`` for several workers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperboard import __version__
from paperboard.core.config import Settings, load_settings
from paperboard.core.errors import (
    ConflictError,
    ForbiddenError,
    InvalidIdError,
    LimitError,
    NotFoundError,
    PaperboardError,
)
from paperboard.core.threads import limit_blas_for_serving
from paperboard.present.log_format import configure_logging
from paperboard.present.web import openapi
from paperboard.present.web.deps import SignInRequired
from paperboard.present.web.middleware import (
    AnswerErrors,
    BodyLimit,
    JsonSuffix,
    NoteRoute,
    ObserveRequests,
    PageCache,
    RefuseControlCharacters,
    SecurityHeaders,
)
from paperboard.present.web.rendering import HERE, json_response, page, wants_json
from paperboard.present.web.security import CsrfError, secure_cookies
from paperboard.present.web.services import Services

_STATUS = [
    (SignInRequired, 401),
    (CsrfError, 403),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (LimitError, 429),
    (InvalidIdError, 400),
    (PaperboardError, 400),
]


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/feeds/")) or wants_json(request)


def _error(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if _is_api(request):
        response = json_response({"error": message}, status_code=status)
    else:
        response = page(
            request, "error.html", {"error": message, "status": status}, status_code=status
        )
    response.headers.update(headers or {})  # such as a 405's Allow
    return response


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    services = Services.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        configure_logging(services.settings)  # here: after uvicorn has set up its loggers
        limit_blas_for_serving()
        if services.refreshes_in_background:
            services.replica.start(services.settings.replica_refresh_seconds)
        yield
        services.close()

    # Swagger UI's files come from the fastapi-offline package, served here: /docs works offline
    # and loads nothing from another origin. No ReDoc page.
    app = FastAPIOffline(
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs/static",
        title="paperboard",
        version=__version__,
        description="A self-hosted Daily Papers. The `/api/daily_papers`, `/api/papers/{id}` and "
        "`/api/papers/search` calls answer in the shapes of Hugging Face's papers API.",
        lifespan=lifespan,
    )
    app.state.services = services
    framework_schema = app.openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.without_framework_errors(framework_schema())
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]

    from paperboard.present.web.routes import (
        about,
        account,
        api,
        auth,
        authors,
        collections,
        feed,
        feeds,
        for_you,
        library,
        metrics,
        outbox,
        papers,
        saved_searches,
        search,
        site,
        subscribe,
        thumbnails,
    )

    modules = (
        site,
        metrics,
        api,
        feeds,
        auth,
        account,
        subscribe,
        outbox,
        about,
        search,
        feed,
        collections,
        authors,
        saved_searches,
        for_you,
        library,
        papers,
    )
    for module in (*modules, thumbnails):
        openapi.describe(module.router)  # every route's error answers, as /openapi.json tells
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(PaperboardError)
    async def paperboard_error(request: Request, error: PaperboardError) -> Response:
        if isinstance(error, SignInRequired) and not _is_api(request):
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"/signin?next={target}", status_code=303)
        status = next(code for kind, code in _STATUS if isinstance(error, kind))
        return _error(request, status, str(error))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0]
        if first.get("loc", ("",))[0] == "path":  # /comments/abc/edit: no such page, not 422
            return _error(request, 404, "no such page")
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return _error(request, 422, f"bad {where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else "error"
        if error.status_code == 404 and message == "Not Found":
            message = "no such page"
        return _error(request, error.status_code, message, error.headers)

    app.add_middleware(NoteRoute)  # innermost: the route template, for ObserveRequests
    app.add_middleware(PageCache, seconds=settings.page_cache_seconds)
    app.add_middleware(RefuseControlCharacters, answer=_error)
    app.add_middleware(AnswerErrors, answer=_error)  # unexpected exceptions: a 500 in our shape
    app.add_middleware(JsonSuffix)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_form_bytes,
        larger=dict.fromkeys(library.UPLOAD_PATHS, library.UPLOAD_BODY_BYTES),
    )
    # Outermost, so on every answer (a 413 included); HSTS where cookies are Secure.
    app.add_middleware(
        SecurityHeaders, https=lambda scope: secure_cookies(Request(scope), services.settings)
    )
    app.add_middleware(ObserveRequests)  # outermost: every answer timed, refusals included
    return app


def factory() -> FastAPI:
    """For ``uvicorn --factory`` (each worker process builds its own app from the settings)."""
    return create_app()
