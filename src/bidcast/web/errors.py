"""Every error leaves as {"error": {"code", "message", ...}} with a fitting status."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AppError

_HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


log = logging.getLogger("bidcast.web")
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def _error(status: int, code: str, message: str, **extra) -> JSONResponse:  # noqa: ANN003
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=e)
        return _error(500, "internal_error", "Something went wrong on our side; it has been logged.")

    @app.exception_handler(AppError)
    async def _app_error(_: Request, e: AppError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return _error(400, "malformed_json", "The request body is not valid JSON.")
        if any(tuple(err.get("loc", ())) == ("body",) and err.get("type") in _NOT_AN_OBJECT
               for err in errors):
            return _error(400, "malformed_json", "The request body must be a JSON object.")
        fields = [{"field": ".".join(str(p) for p in err.get("loc", ())[1:]) or "body",
                   "problem": err.get("msg", "invalid")} for err in errors]
        first = fields[0] if fields else {"field": "body", "problem": "invalid"}
        return _error(422, "validation_failed", f"{first['field']}: {first['problem']}", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 400 and "parsing the body" in str(e.detail):
            return _error(400, "malformed_json", "The request body is not valid JSON.")
        code = _HTTP_CODES.get(e.status_code, "http_error")
        message = e.detail if isinstance(e.detail, str) else "Request failed."
        return _error(e.status_code, code, message)
