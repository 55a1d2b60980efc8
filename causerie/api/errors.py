"""One place that turns exceptions into OpenAI's error envelope.

How a bad request is refused, everywhere: code raises an error, never builds a response.

- Request models (``causerie.protocol``) check what the body alone can tell: their validators raise
  ``PydanticCustomError`` (never ``InvalidRequest``, never a bare ``ValueError``), pydantic locates
  it, and ``validation_error`` below makes it a 400 naming that location as ``param``.
- Everything else (services checking the model's capabilities, the context window or a stored
  object; a route reading a raw body itself, like the ChatGPT import) raises
  ``InvalidRequest(message, param=...)`` or another ``CauserieError``.
- Nothing raises ``HTTPException``; Starlette's own (unknown path, wrong method) get the same
  envelope here, and so do the 401 and 413 of the middlewares (``auth.py``, ``body_limit.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from causerie.errors import CauserieError, InvalidRequest
from causerie.protocol.openai import ErrorResponse

log = logging.getLogger(__name__)


def error_json(exc: CauserieError, status: int | None = None) -> JSONResponse:
    """The HTTP response for a domain error: OpenAI's envelope, the error's own status unless given, and
    ``Retry-After`` when the error says when to come back."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(ErrorResponse.of(exc).model_dump(), status_code=status or exc.status_code, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a router: these statuses carry OpenAI's envelope, and so do the
    401 and 413 that authentication and the body limit may answer on any route."""
    return {status: {"model": ErrorResponse} for status in sorted({*statuses, 401, 413})}


def _validation_param(error: dict) -> str | None:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    return ".".join(loc) or None


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    """FastAPI's validation error as the 400 OpenAI clients expect, naming the offending parameter."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    param = _validation_param(first)
    message = first.get("msg", "invalid request")
    if first.get("type") == "json_invalid":
        message, param = "We could not parse the JSON body of your request.", None
    elif param:
        message = f"Invalid value for '{param}': {message}"
    return InvalidRequest(message, param=param, code="invalid_value")


def _without_422(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI documents a 422 on every route with parameters; validation errors are 400s here (above)."""

    def schema() -> dict[str, Any]:
        document = openapi()  # built once, then cached by FastAPI: removing again is a no-op
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            document.get("components", {}).get("schemas", {}).pop(name, None)
        return document

    return schema


def install_error_handlers(app: FastAPI) -> None:
    app.openapi = _without_422(app.openapi)  # type: ignore[method-assign]

    @app.exception_handler(CauserieError)
    async def _domain(_: Request, exc: CauserieError) -> JSONResponse:
        return error_json(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_json(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's routing errors: an unknown path (or file under /web) and a method a path lacks."""
        where = f"{request.method} {request.url.path}"
        message, code = {
            404: (f"Invalid URL ({where})", "not_found"),
            405: (f"Method not allowed ({where})", "method_not_allowed"),
        }.get(exc.status_code, (str(exc.detail), None))
        response = error_json(InvalidRequest(message, code=code), exc.status_code)
        response.headers.update(exc.headers or {})  # 405's Allow
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_json(CauserieError("The server had an error while processing your request."))
