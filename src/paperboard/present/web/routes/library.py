"""Portable interests on the site: import a reader's library (a BibTeX, CSL-JSON, RIS, ORCID or
id-list file) as upvotes, "more like this" signals or a collection, download one's whole
profile, and import a profile (from this site or another). The page ``/account/library`` for a
browser (plain forms posted as ``multipart/form-data``), ``/api/me/library`` and
``/api/me/profile`` for a personal token. The work is :mod:`paperboard.present.profile`'s.

Uploads may be larger than other forms: :data:`UPLOAD_PATHS` get :data:`UPLOAD_BODY_BYTES`
from ``BodyLimit`` (app.py), and a file over :data:`MAX_BYTES` is answered 413 here.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile as FormFile
from starlette.exceptions import HTTPException

from paperboard.core.errors import PaperboardError
from paperboard.present.profile import export_profile, import_library, import_profile
from paperboard.present.web.deps import CsrfDep, MemberDep, ServicesDep, ViewerDep
from paperboard.present.web.openapi import Responses, errors, html
from paperboard.present.web.rendering import page, wants_json
from paperboard.present.web.services import Services
from paperboard.sources.references import FORMATS, MAX_BYTES
from paperboard.store.interests import SIGNALS
from paperboard.store.rows import MemberRow

pages = APIRouter(tags=["members"])
api = APIRouter(prefix="/api", tags=["api"])

UPLOAD_PATHS = ("/account/library", "/account/profile", "/api/me/library", "/api/me/profile")
# The file and the form's few fields, with room for multipart's framing.
UPLOAD_BODY_BYTES = MAX_BYTES + 64_000
TOO_LARGE = f"the file is too large: at most {MAX_BYTES:,} bytes can be imported at once"
TREAT_AS = ("upvote", "more", "collection")

FileField = Annotated[UploadFile, File(description=f"The file, at most {MAX_BYTES:,} bytes")]
_FILE_SCHEMA = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary"}},
    "required": ["file"],
}
LIBRARY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The reference file: the raw body, or a multipart form's `file`",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": _FILE_SCHEMA},
        },
    }
}
PROFILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A profile as `GET /api/me/profile` gives it: the body, or a multipart "
        "form's `file`",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"paperboard_profile": {"type": "integer", "enum": [1]}},
                    "required": ["paperboard_profile"],
                }
            },
            "multipart/form-data": {"schema": _FILE_SCHEMA},
        },
    }
}
PROFILE_ANSWER: Responses = {
    200: {
        "description": "The profile as a JSON file (`Content-Disposition: attachment`)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


# -- shared -------------------------------------------------------------------------------------


def _read(upload: FormFile) -> bytes:
    data = upload.file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise HTTPException(413, TOO_LARGE)
    return data


async def _body(request: Request) -> tuple[bytes, str]:
    """The uploaded file of an API call, with its name: a multipart form's ``file``, or the
    raw body (no name)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, FormFile):
            raise PaperboardError('send the file as the form field "file"')
        data = await upload.read(MAX_BYTES + 1)
        name = upload.filename or ""
    else:
        data, name = await request.body(), ""
    if len(data) > MAX_BYTES:
        raise HTTPException(413, TOO_LARGE)
    return data, name


def _counts(services: Services, member: MemberRow) -> dict[str, int]:
    interests = services.interests
    signals = interests.signals_of(member["id"])
    return {
        "upvotes": len(services.community.upvotes_of(member["id"])),
        **{kind: len(signals.get(kind, [])) for kind in SIGNALS},
        "collections": len(interests.collections_of(member["id"])),
        "follows": len(interests.follows_of(member["id"])),
        "saved_searches": len(interests.saved_searches_of(member["id"])),
    }


def _library_page(
    request: Request,
    services: Services,
    member: MemberRow,
    *,
    error: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    data = {
        "formats": list(FORMATS),
        "max_bytes": MAX_BYTES,
        "treat_as": list(TREAT_AS),
        "collections": [c["name"] for c in services.interests.collections_of(member["id"])],
        "profile_url": "/account/profile.json",
        "counts": _counts(services, member),
        **extra,
    }
    return page(request, "library.html", data, html_only={"error": error}, status_code=status_code)


def _refused(
    request: Request, services: Services, member: MemberRow, error: PaperboardError
) -> Response:
    """A page's one-line refusal: the form again with the reason (JSON twins get the usual
    ``{"error": ...}``)."""
    if wants_json(request):
        raise error
    return _library_page(request, services, member, error=str(error), status_code=400)


# -- pages --------------------------------------------------------------------------------------


@pages.get(
    "/account/library",
    summary="Import a library, export and import one's profile",
    response_class=HTMLResponse,
    responses=html(),
)
def library_page(
    request: Request, services: ServicesDep, viewer: ViewerDep, member: MemberDep
) -> Response:
    return _library_page(request, services, member)


@pages.post(
    "/account/library",
    summary="Import a reference file as upvotes, 'more like this' or a collection",
    response_class=HTMLResponse,
    responses=html(
        e400="a file that cannot be read, an unknown format or choice, a bad collection name",
        e413="the file is over 5 MB",
        e429="the most collections, or papers in a collection, a member may have",
    ),
)
def library_import(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    _csrf: CsrfDep,
    file: FileField,
    treat: Annotated[str, Form(alias="as", max_length=20)] = "upvote",
    collection: Annotated[str, Form(max_length=500)] = "",
    format: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    data = _read(file)
    try:
        if treat not in TREAT_AS:
            raise PaperboardError(f"import as one of {', '.join(TREAT_AS)}, not {treat[:20]!r}")
        if treat == "collection" and not collection.strip():
            raise PaperboardError("name the collection to import into")
        report = import_library(
            services,
            member["id"],
            data,
            file.filename or "",
            fmt=format or None,
            as_=collection if treat == "collection" else treat,
        )
    except PaperboardError as error:
        return _refused(request, services, member, error)
    return _library_page(request, services, member, report=report.as_dict())


@pages.get(
    "/account/profile",
    summary="Download one's profile: upvotes, signals, settings, collections, follows, "
    "saved searches (JSON)",
    response_class=Response,
    responses=PROFILE_ANSWER,
)
def profile_download(services: ServicesDep, viewer: ViewerDep, member: MemberDep) -> Response:
    body = orjson.dumps(export_profile(services, member["id"]), option=orjson.OPT_INDENT_2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="paperboard-profile.json"',
            "cache-control": "private, no-store",
        },
    )


@pages.post(
    "/account/profile",
    summary="Import a profile (from this site or another) into one's account",
    response_class=HTMLResponse,
    responses=html(
        e400="not JSON, not a profile, or a version this site cannot read",
        e413="the file is over 5 MB",
    ),
)
def profile_import(
    request: Request,
    services: ServicesDep,
    viewer: ViewerDep,
    member: MemberDep,
    _csrf: CsrfDep,
    file: FileField,
) -> Response:
    data = _read(file)
    try:
        report = import_profile(services, member["id"], data)
    except PaperboardError as error:
        return _refused(request, services, member, error)
    return _library_page(request, services, member, profile_report=report.as_dict())


# -- API ----------------------------------------------------------------------------------------


@api.post(
    "/me/library",
    summary="Import a reference file as upvotes, 'more like this' or a collection",
    openapi_extra=LIBRARY_BODY,
    responses=errors(
        e400="a file that cannot be read, an unknown format, a bad collection name",
        e413="the file is over 5 MB",
        e429="the most collections, or papers in a collection, a member may have",
    ),
)
async def api_library(
    request: Request,
    services: ServicesDep,
    member: MemberDep,
    _csrf: CsrfDep,
    format: Annotated[
        str | None,
        Query(max_length=20, description=f"One of {', '.join(FORMATS)}; detected when left out"),
    ] = None,
    treat: Annotated[
        str,
        Query(
            alias="as",
            max_length=500,
            description="`upvote` (the default), `more`, or the name of a collection (made if "
            "need be)",
        ),
    ] = "upvote",
) -> dict[str, Any]:
    data, name = await _body(request)
    report = await run_in_threadpool(
        import_library, services, member["id"], data, name, fmt=format or None, as_=treat
    )
    return report.as_dict()


@api.get("/me/profile", summary="One's profile: what `POST /api/me/profile` imports")
def api_profile(services: ServicesDep, member: MemberDep) -> dict[str, Any]:
    return export_profile(services, member["id"])


@api.post(
    "/me/profile",
    summary="Import a profile (from this site or another) into one's account",
    openapi_extra=PROFILE_BODY,
    responses=errors(
        e400="not JSON, not a profile, or a version this site cannot read",
        e413="the file is over 5 MB",
    ),
)
async def api_profile_import(
    request: Request, services: ServicesDep, member: MemberDep, _csrf: CsrfDep
) -> dict[str, Any]:
    data, _ = await _body(request)
    report = await run_in_threadpool(import_profile, services, member["id"], data)
    return report.as_dict()


# One router for app.py, holding the routes themselves (each made with its router's prefix and
# tags): ``include_router`` would nest them, out of sight of ``openapi.describe``.
router = APIRouter()
router.routes.extend([*pages.routes, *api.routes])
