"""One place that turns exceptions into OpenAI's error envelope."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from causerie.errors import CauserieError
from causerie.protocol.openai import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)


def error_body(exc: CauserieError) -> ErrorResponse:
    return ErrorResponse(error=ErrorBody(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code))


def error_response(status: int, message: str, type_: str, *, param: str | None = None, code: str | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(message=message, type=type_, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=status)


def _validation_param(error: dict) -> str | None:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    return ".".join(loc) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CauserieError)
    async def _domain(_: Request, exc: CauserieError) -> JSONResponse:
        return JSONResponse(error_body(exc).model_dump(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        param = _validation_param(first)
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            message, param = "We could not parse the JSON body of your request.", None
        elif param:
            message = f"Invalid value for '{param}': {message}"
        return error_response(400, message, "invalid_request_error", param=param, code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error", code=code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "The server had an error while processing your request.", "server_error")
