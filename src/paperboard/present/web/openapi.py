"""What ``/openapi.json`` says each route answers, kept true to what the app really sends.

Routes declare what their own code answers: ``responses=html(404)`` for a page (HTML, or its JSON
twin), ``redirect(...)`` for a form that answers 303, ``errors(...)`` for API calls. ``describe``
then adds what every route of a kind answers through shared machinery (the control-character and
body-size middleware, validation, sign-in, CSRF) and gives each error its real body: app.py's
one-line ``{"error": ...}`` as JSON (the API, feeds and ``.json`` twins) or an error page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

Responses = dict[int | str, dict[str, Any]]

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "properties": {"error": {"type": "string", "description": "one line saying what is wrong"}},
    "required": ["error"],
    "additionalProperties": False,
}

DESCRIPTIONS = {
    301: "Moved Permanently: to the paper's canonical id",
    303: "See Other: where the action leads",
    400: "Bad Request",
    401: "Unauthorized: no member signed in, or the API token is not valid",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large: the body is over PAPERBOARD_MAX_FORM_BYTES",
    422: "Unprocessable Content: a parameter failed validation",
    429: "Too Many Requests",
}

_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "where to go next"}}


def errors(*codes: int, **described: str) -> Responses:
    """Error answers of a route, ``described`` as ``e404="no such paper"``."""
    out: Responses = {code: {"description": DESCRIPTIONS[code]} for code in codes}
    for key, text in described.items():
        out[int(key.removeprefix("e"))] = {"description": text}
    return out


def html(*codes: int, **described: str) -> Responses:
    """A page: HTML, or with a ``.json`` suffix (or ``?format=json``) the same data as JSON."""
    return {
        200: {
            "description": "The page; its JSON twin (the path with `.json`) gives its data",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **errors(*codes, **described),
    }


def redirect(*codes: int, to: str = "where the action leads", **described: str) -> Responses:
    """A form handler that answers 303 See Other on success."""
    return {
        303: {"description": f"See Other: {to}", "headers": _LOCATION},
        **errors(*codes, **described),
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _params(dependant: Dependant) -> bool:
    """Parameters whose validation can fail with 422 (a path parameter's failure is a 404)."""
    return bool(
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or any(_params(sub) for sub in dependant.dependencies)
    )


def _add(responses: Responses, code: int, text: str) -> None:
    found = responses.setdefault(code, {})
    old = found.get("description")
    if old and text.split(":", 1)[-1].strip() in old:
        return
    found["description"] = f"{old}; {text.split(': ', 1)[-1]}" if old else text


def describe(router: APIRouter) -> None:
    """Complete the ``responses`` of every route of ``router`` (before it is included)."""
    from paperboard.present.web.deps import (
        csrf_checked,
        get_viewer,
        require_member,
        require_session,
    )

    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        api = route.path.startswith(("/api/", "/feeds/"))
        responses: Responses = dict(route.responses)
        calls = set(_calls(route.dependant))
        _add(responses, 400, "Bad Request: control characters in the query")
        if route.dependant.path_params:
            _add(responses, 404, "Not Found: no such page (a path parameter of the wrong form)")
        if _params(route.dependant):
            _add(responses, 422, DESCRIPTIONS[422])
        if route.body_field is not None:
            _add(responses, 413, DESCRIPTIONS[413])
            _add(responses, 400, "Bad Request: control characters in a form field")
        if get_viewer in calls or require_member in calls:
            if api:
                _add(responses, 401, DESCRIPTIONS[401])
            else:
                _add(responses, 303, "See Other: to /signin (sign in first)")
                responses[303].setdefault("headers", _LOCATION)
        if csrf_checked in calls:
            _add(responses, 403, "Forbidden: the CSRF token is missing or wrong")
        if require_session in calls:
            _add(responses, 403, "Forbidden: an API token cannot do this; sign in on the site")
        for code, response in responses.items():
            if int(code) < 400 or "content" in response:
                continue
            if code == 413:
                response["content"] = {"text/plain": {"schema": {"type": "string"}}}
            elif api:
                response["content"] = {"application/json": {"schema": ERROR_BODY}}
            else:
                response["content"] = {
                    "text/html": {"schema": {"type": "string"}},
                    "application/json": {"schema": ERROR_BODY},
                }
        route.responses = dict(sorted(responses.items(), key=lambda item: str(item[0])))


def without_framework_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the 422s FastAPI adds on its own for routes whose only parameters are in the path:
    a path value that fails validation is answered 404 (app.py), and its body would not be
    FastAPI's ``HTTPValidationError`` anyway."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            content = answers.get("422", {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del answers["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema
