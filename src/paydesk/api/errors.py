"""Every failure becomes ``{"error": {"code", "message", "param"?}}``; never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paydesk.core.errors import PaydeskError

log = structlog.get_logger("paydesk.api")

_HTTP_CODES = {
    401: "authentication_failed",
    403: "permission_denied",
    404: "route_not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
}

_VALIDATION_CODES = {
    "json_invalid": "malformed_json",
    "extra_forbidden": "unknown_field",
    "missing": "missing_field",
}


def error_response(
    status: int, code: str, message: str, param: str | None = None, headers: Any = None
) -> JSONResponse:
    body: dict[str, str] = {"code": code, "message": message}
    if param:
        body["param"] = param
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _param(loc: Any) -> str | None:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or None


async def _paydesk_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PaydeskError)
    return error_response(exc.status, exc.code, exc.message, exc.param)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"type": "invalid", "msg": "invalid request", "loc": ()}
    code = _VALIDATION_CODES.get(str(first.get("type")), "invalid_request")
    param = _param(first.get("loc", ()))
    if code == "malformed_json":
        return error_response(400, code, "the request body is not valid JSON")
    message = str(first.get("msg", "invalid request"))
    if code == "unknown_field":
        message = f"unknown field {param!r}"
    elif param:
        message = f"{param}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    return error_response(400, code, message, param)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 404:
        message = "no such route"
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IntegrityError):
        # A uniqueness race the service did not foresee: the transaction rolled back.
        log.warning("integrity_conflict", path=request.url.path, error=type(exc.orig).__name__)
        return error_response(409, "conflict", "a concurrent request changed the same data; retry")
    log.error("database_error", path=request.url.path, exc_info=exc)
    return error_response(
        503, "database_unavailable", "the database is unavailable or busy; retry shortly"
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PaydeskError, _paydesk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _database_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
