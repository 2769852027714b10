"""Domain errors mapped to HTTP in one place: JSON `{"code": ..., "detail": ...}` always."""

from __future__ import annotations

import logging
import math
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from web3.exceptions import ContractCustomError, ContractLogicError

from ledger.errors import (
    ContractRuleBroken,
    DeploymentError,
    IndexInconsistent,
    InvalidMessage,
    LedgerError,
    NodeError,
    QueueFull,
    RelayError,
    UnknownReceipt,
)
from ledger.protocol.statuses import status_of
from ledger.tx import ErrorDecoder, revert_data

log = logging.getLogger("api")


class ErrorOut(BaseModel):
    """Every error response: a machine code (a contract's custom error name where there is
    one) and a human reason."""

    code: str
    detail: str


class ApiError(Exception):
    """Raised by routes for conditions that are not ledger errors (auth, not found...)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class QuotaExceeded(Exception):
    """A client (or everyone, for a global limit) asked for more than a quota allows."""

    def __init__(self, code: str, detail: str, retry_after_s: float) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after_s = retry_after_s

    @property
    def retry_after(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorOut(code=code, detail=detail).model_dump(), status_code=status, headers=headers
    )


def _decoder(request: Request) -> ErrorDecoder | None:
    services = getattr(request.app.state, "services", None)
    decoder: ErrorDecoder | None = getattr(services, "decoder", None)
    return decoder


def _detail(request: Request, exc: InvalidMessage) -> str:
    """A refusal that came from simulating a call is said again from the revert data itself,
    with argument names and hex bytes: the message carries web3's reprs (`b'\\xd6...'`,
    `('execution reverted', '0x')`), which mean nothing to a person."""
    cause = exc.__cause__
    decoder = _decoder(request)
    if decoder is None or not isinstance(cause, ContractCustomError | ContractLogicError):
        return exc.detail
    return decoder.describe_data(revert_data(cause))


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.detail)

    @app.exception_handler(QuotaExceeded)
    async def _quota(_: Request, exc: QuotaExceeded) -> JSONResponse:
        return error_response(429, exc.code, exc.detail, {"Retry-After": exc.retry_after})

    @app.exception_handler(InvalidMessage)
    async def _invalid(request: Request, exc: InvalidMessage) -> JSONResponse:
        return error_response(status_of(exc.code), exc.code, _detail(request, exc))

    @app.exception_handler(ContractRuleBroken)
    async def _rule(request: Request, exc: ContractRuleBroken) -> JSONResponse:
        decoder = _decoder(request)
        detail = str(exc) if decoder is None else decoder.describe(exc.error, exc.args_)
        return error_response(status_of(exc.error), exc.error, detail)

    @app.exception_handler(QueueFull)
    async def _full(_: Request, exc: QueueFull) -> JSONResponse:
        return error_response(429, "QueueFull", str(exc), {"Retry-After": "1"})

    @app.exception_handler(RelayError)
    async def _relay(_: Request, exc: RelayError) -> JSONResponse:
        # The outbox could not store the message (e.g. a full disk): nothing was acknowledged,
        # and the same signed message may simply be sent again. A 4xx would tell the client
        # its message was at fault, and a well-behaved client would give it up.
        return error_response(503, "RelayUnavailable", str(exc), {"Retry-After": "1"})

    @app.exception_handler(UnknownReceipt)
    async def _unknown(_: Request, exc: UnknownReceipt) -> JSONResponse:
        return error_response(404, "UnknownReceipt", str(exc))

    @app.exception_handler(NodeError)
    async def _node(_: Request, exc: NodeError) -> JSONResponse:
        return error_response(503, "ChainUnavailable", str(exc))

    @app.exception_handler(requests.exceptions.ConnectionError)
    @app.exception_handler(requests.exceptions.Timeout)
    @app.exception_handler(ConnectionError)
    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        # web3 surfaces a node that is down as the HTTP library's error, not as its own.
        return error_response(
            503, "ChainUnavailable", f"the chain node is unreachable: {type(exc).__name__}"
        )

    @app.exception_handler(IndexInconsistent)
    async def _index(_: Request, exc: IndexInconsistent) -> JSONResponse:
        # Serving what the chain does not say would be worse than not serving: the worker
        # rebuilds the index from the chain within seconds.
        return error_response(503, "IndexInconsistent", str(exc), {"Retry-After": "2"})

    @app.exception_handler(DeploymentError)
    async def _deployment(_: Request, exc: DeploymentError) -> JSONResponse:
        return error_response(503, "NotDeployed", str(exc))

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return error_response(400, type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(
            422, "InvalidRequest", f"{where}: {first.get('msg', 'invalid request')}"
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a user error: log it whole, answer without internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "InternalError", "internal error; it has been logged")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed", 413: "BodyTooLarge"}.get(
            exc.status_code, "HttpError"
        )
        return error_response(exc.status_code, code, str(exc.detail))


ERROR_TEXT = {
    400: "Bad request: the body could not be read (e.g. not UTF-8), or malformed HTTP",
    401: "Not signed in, or the token expired",
    403: "Signed in, but without the role this needs",
    404: "No such thing",
    409: "The thing is in a state that refuses this (a contract rule)",
    410: "It was here but has expired (code says what to do instead)",
    408: "The request did not arrive whole in time; the connection is closed",
    413: "Body too large, or the store it would go into is full",
    415: "The body is not declared as JSON (Content-Type: application/json)",
    422: "Invalid input, or a contract rule refused it (code names the rule)",
    429: "A quota or the outbox is full: retry after the Retry-After seconds (code says which)",
    431: "Request headers too large or too many",
    503: "The chain, the deployment or the relay's storage is unavailable: retry",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error body for each status."""
    return {s: {"model": ErrorOut, "description": ERROR_TEXT[s]} for s in statuses}


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the handlers above really answer: every error is an
    `ErrorOut` JSON body (also on routes whose success is CSV), every operation with
    parameters or a body can answer 422, and every one with a body 400 (unreadable), 413
    (BodyLimit) and 415 (RequireJson). FastAPI would otherwise document its own 422 shape,
    which is never sent. (408 and 431 come from the server itself, before any route: see
    api/server.py and docs/security.md.)"""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorOut"] = ErrorOut.model_json_schema()
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for operation in (op for ops in schema.get("paths", {}).values() for op in ops.values()):
            answers = operation.setdefault("responses", {})
            extra = [422] if operation.get("parameters") or "requestBody" in operation else []
            extra += [400, 413, 415] if "requestBody" in operation else []
            for status in extra:
                answers.setdefault(str(status), {"description": ERROR_TEXT[status]})
            for status, answer in answers.items():
                if status[0] in "45":
                    answer["content"] = body
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
