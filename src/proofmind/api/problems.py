"""Every error is an RFC 9457 problem document (``application/problem+json``) whose ``detail``
is the message the CLI prints for the same error, hint included."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from proofmind.errors import (
    ChainError,
    ConfigError,
    ContractNotFound,
    ContractReverted,
    InputError,
    NotFound,
    ProofmindError,
    RecordMismatch,
)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://proofmind.dev/problems/"


class ApiProblem(ProofmindError):
    """An error only the HTTP face has (a missing key, a body too large, a wrong media type)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        hint: str | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.slug = slug
        self.headers = headers or {}


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    doc: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or phrase.lower().replace(" ", "-").replace("'", "")),
        "title": phrase,
        "status": status,
        "detail": " ".join(detail.split()),
    }
    if instance is not None:
        doc["instance"] = instance
    doc |= extra
    return JSONResponse(doc, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(exc: ProofmindError) -> int:
    if isinstance(exc, ApiProblem):
        return exc.status
    if isinstance(exc, NotFound | ContractNotFound):
        return 404
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, ContractReverted | RecordMismatch):
        return 409
    if isinstance(exc, ChainError | ConfigError):
        return 503  # the chain cannot be reached; the service lacks a setting or a file it needs
    return 500


def _proofmind_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProofmindError)
    headers = exc.headers if isinstance(exc, ApiProblem) else None
    slug = exc.slug if isinstance(exc, ApiProblem) else None
    return problem(
        status_of(exc),
        str(exc),
        slug=slug or re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower(),
        instance=request.url.path,
        headers=headers,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem(
        exc.status_code,
        detail,
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return problem(
            400,
            f"the request body is not valid JSON: {first.get('ctx', {}).get('error', '')}".strip(),
            slug="malformed-json",
            instance=request.url.path,
        )
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return problem(
        422,
        f"invalid {where}: {first.get('msg', 'invalid value')}",
        slug="invalid-request",
        instance=request.url.path,
        errors=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors[:20]],
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    import logging

    from proofmind.chain.retry import node_away
    from proofmind.chain.revert import contract_revert

    revert = contract_revert(exc)  # a view call the contract refused: the CLI's words
    if revert is not None:
        return problem(409, str(revert), slug="contract-reverted", instance=request.url.path)
    away = node_away(exc)  # the node stopped answering mid-request: no bug, try again later
    if away is not None:
        logging.getLogger("proofmind.api").warning("%s (%s)", away.message, request.url.path)
        return problem(
            503, str(away), slug="connection-failed", instance=request.url.path,
            headers={"Retry-After": "5"},
        )  # fmt: skip

    logging.getLogger("proofmind.api").exception("unexpected error on %s", request.url.path)
    return problem(
        500,
        f"internal error: {type(exc).__name__} — this is a bug in proofmind; "
        "the server log has the traceback",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProofmindError, _proofmind_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
