"""Domain errors of the control plane and their one mapping to HTTP responses.

Services raise these; ``install_error_handlers`` turns them (and database or artifact-store outages) into
JSON answers ``{"detail": message, "code": CamelCaseCode}``. Nothing reaches the client as a 500 with a
traceback: an unexpected exception is logged and answered with a generic 500 body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and a stable code."""

    status_code = 500
    code = "InternalError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(ApiError):
    status_code = 400
    code = "InvalidRequest"


class Unauthenticated(ApiError):
    status_code = 401
    code = "Unauthenticated"


class Forbidden(ApiError):
    status_code = 403
    code = "Forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "NotFound"


class Conflict(ApiError):
    status_code = 409
    code = "Conflict"


class Unavailable(ApiError):
    """A dependency (database, artifact store) is down; the client should retry."""

    status_code = 503
    code = "Unavailable"


RETRY_AFTER_SECONDS = "1"
# Errors of the database driver or pool that mean "not now", not "never": connection refused or lost,
# pool exhausted, server shutting down.
RETRYABLE_DB_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    OSError,
)


def _body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": error.message, "code": error.code}
    if error.details:
        body["details"] = error.details
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Register the exception → response mapping on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
        if isinstance(error, Unavailable):
            headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return JSONResponse(_body(error), status_code=error.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(_request: Request, error: RequestValidationError) -> JSONResponse:
        # The default handler echoes the invalid input, which JSON cannot always carry (NaN, bytes):
        # answer with where and why only.
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in error.errors()
        ]
        return JSONResponse({"detail": details, "code": "InvalidBody"}, status_code=422)

    @app.exception_handler(sa_exc.DBAPIError)
    async def _database_error(request: Request, error: sa_exc.DBAPIError) -> JSONResponse:
        if error.connection_invalidated or isinstance(error, RETRYABLE_DB_ERRORS):
            log.warning("Database unavailable during %s %s: %s", request.method, request.url.path, error.orig)
            return _unavailable("the metadata database is unavailable; retry")
        log.exception("Database error during %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error", "code": "InternalError"}, status_code=500)

    @app.exception_handler(sa_exc.DataError)
    async def _data_error(request: Request, error: sa_exc.DataError) -> JSONResponse:
        log.info(
            "Rejected a value the database cannot store during %s %s: %s", request.method, request.url.path, error.orig
        )
        return JSONResponse(
            {"detail": "a value cannot be stored: it is out of range or not valid text", "code": InvalidRequest.code},
            status_code=400,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, _error: OverflowError) -> JSONResponse:
        return JSONResponse({"detail": "a number is out of range", "code": InvalidRequest.code}, status_code=400)

    @app.exception_handler(UnicodeError)
    async def _unicode_error(_request: Request, _error: UnicodeError) -> JSONResponse:
        return JSONResponse({"detail": "text must be valid Unicode", "code": InvalidRequest.code}, status_code=400)

    @app.exception_handler(sa_exc.TimeoutError)
    async def _pool_timeout(_request: Request, _error: sa_exc.TimeoutError) -> JSONResponse:
        return _unavailable("no database connection is free; retry")

    @app.exception_handler(ConnectionError)
    async def _connection_error(_request: Request, error: ConnectionError) -> JSONResponse:
        log.warning("A dependency is unreachable: %s", error)
        return _unavailable("a dependency of the control plane is unreachable; retry")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("Unexpected error during %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse({"detail": "internal error", "code": "InternalError"}, status_code=500)


def _unavailable(message: str) -> JSONResponse:
    return JSONResponse(
        {"detail": message, "code": Unavailable.code},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )
