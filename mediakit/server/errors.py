"""OpenAI-shaped errors: every failure is ``{"error": {"message", "type", "param", "code"}}``.

The status is chosen for what the official clients do with it: they retry 408, 409, 429 and every
5xx (twice, by default), so a bad file is a 400 (never a 5xx: the same upload would be processed
three times), and an unexpected server error carries ``x-should-retry: false``. A 429 or 503 carries
``Retry-After``.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, InputError, MediakitError, ModelNotFoundError, StageNotFoundError

log = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


class APIError(Exception):
    """An error answered to the client as it is: status, OpenAI's four fields, extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(message: str, type: str = INVALID_REQUEST, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def queue_full(waiting: int, retry_after: int) -> APIError:
    return APIError(
        429,
        f"the server is busy: {waiting} request(s) already wait for a worker; retry in {retry_after} s",
        type="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(retry_after)},
    )


def not_ready(retry_after: int, why: str = "the models are still loading") -> APIError:
    return APIError(503, f"not ready: {why}; retry in {retry_after} s", type=SERVER_ERROR, code="not_ready",
                    headers={"Retry-After": str(retry_after)})


def internal(message: str) -> APIError:
    """A bug or an environment failure: 500, and the client is told not to send the upload again."""
    return APIError(500, message, type=SERVER_ERROR, headers={"x-should-retry": "false"})


def from_mediakit(err: MediakitError, *, reading_input: bool = False) -> APIError:
    """The client-facing error for one of mediakit's own errors."""
    message = " ".join(str(err).split())
    if isinstance(err, ModelNotFoundError) or (isinstance(err, StageNotFoundError) and err.kind == "model"):
        return APIError(404, message, param="model", code="model_not_found")
    if isinstance(err, StageNotFoundError):
        param = "response_format" if err.kind == "output format" else None
        return bad_request(message, param=param, code="invalid_value")
    if isinstance(err, InputError) or reading_input:
        return bad_request(message, param="file", code="invalid_file")
    if isinstance(err, ConfigError):
        return bad_request(message, code="invalid_value")
    # a stage that failed on this input (StageError): the same upload would fail again
    return APIError(500, message, type=SERVER_ERROR, headers={"x-should-retry": "false"})


def install(app: FastAPI) -> None:
    """Answer every error, FastAPI's own included, with OpenAI's body."""
    from .uploads import drain

    @app.exception_handler(APIError)
    async def _api_error(request: Request, err: APIError) -> JSONResponse:
        await drain(request)
        return err.response()

    @app.exception_handler(MediakitError)
    async def _mediakit_error(request: Request, err: MediakitError) -> JSONResponse:
        return from_mediakit(err).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        await drain(request)
        message = err.detail if isinstance(err.detail, str) else str(err.detail)
        if err.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        elif err.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        kind = INVALID_REQUEST if err.status_code < 500 else SERVER_ERROR
        return JSONResponse(error_body(message, kind), status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        param = ".".join(location) or None
        message = f"{param}: {first.get('msg', 'invalid value')}" if param else str(first.get("msg", "invalid request"))
        return JSONResponse(error_body(message, INVALID_REQUEST, param, "invalid_value"), status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return internal(f"internal error: {type(err).__name__}: {err}").response()
