"""What stands in front of every endpoint: the body size limit, API keys, per-key rate limits
and request metrics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proofmind.api.problems import ApiProblem, problem
from proofmind.app.apikeys import ApiKey, check_key

if TYPE_CHECKING:
    from proofmind.api.services import Services


class BodyLimit:
    """Refuses a request body larger than ``limit`` bytes with 413: at once when its
    Content-Length says so, else as soon as the streamed body passes the limit (before the
    endpoint sees any of it)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0 or size > self.limit:
                await self._refuse(scope, receive, send, size)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiProblem(413, self._text(seen), slug="body-too-large")
            return message

        await self.app(scope, limited, send)

    def _text(self, size: int) -> str:
        shown = "of unknown size" if size < 0 else f"of {size:,} bytes"
        return f"the request body {shown} is larger than the {self.limit:,} bytes allowed"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = problem(
            413 if size >= 0 else 400,
            self._text(size) if size >= 0 else "the Content-Length header is not a number",
            slug="body-too-large" if size >= 0 else "bad-content-length",
            instance=scope.get("path"),
        )
        response.headers["connection"] = "close"
        await response(scope, receive, send)


# -- API keys and rate limits --------------------------------------------------------------


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per caller: ``rate`` requests per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, max_callers: int = 100_000) -> None:
        self.rate, self.burst, self.max_callers = rate, burst, max_callers
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                if len(self._buckets) >= self.max_callers:  # forget the idlest callers
                    for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].stamp)[
                        : self.max_callers // 10
                    ]:
                        del self._buckets[key]
                bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(
            401,
            "the Authorization header is not `Bearer KEY`",
            hint="send `Authorization: Bearer pmk_…` with a key from `proofmind api-key create`",
            slug="bad-credentials",
            headers={"WWW-Authenticate": 'Bearer realm="proofmind"'},
        )
    return token.strip()


def authorize(
    services: Services, authorization: str | None, host: str, *, required: bool
) -> ApiKey | None:
    """The caller's key (None: no key given and none ``required``), after the per-caller rate
    limit; :class:`ApiProblem` 401 / 429 otherwise. ``authorization``: the request's
    Authorization header; ``host``: the client's address."""
    token = _bearer(authorization)
    key = None
    if token is not None:
        key = check_key(services.workspace.state, token)
        if key is None:
            raise ApiProblem(
                401,
                "the API key is unknown or revoked",
                hint="create one with `proofmind api-key create NAME`",
                slug="bad-credentials",
                headers={"WWW-Authenticate": 'Bearer realm="proofmind", error="invalid_token"'},
            )
    elif required:
        raise ApiProblem(
            401,
            "this endpoint needs an API key",
            hint="send `Authorization: Bearer KEY` with a key from `proofmind api-key create NAME`",
            slug="missing-credentials",
            headers={"WWW-Authenticate": 'Bearer realm="proofmind"'},
        )
    who = f"key:{key.id}" if key is not None else f"ip:{host}"
    wait = services.limiter.take(who)
    if wait > 0:
        caller = f"API key {key.prefix}…" if key is not None else f"address {host}"
        raise ApiProblem(
            429,
            f"too many requests from {caller}",
            hint=f"retry in {wait:.1f} s",
            slug="rate-limited",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    return key


def _caller(request: Request, services: Services, *, required: bool) -> ApiKey | None:
    host = request.client.host if request.client else "-"
    key = authorize(services, request.headers.get("authorization"), host, required=required)
    request.state.api_key = key
    return key


async def read_access(request: Request) -> ApiKey | None:
    """Reads: public unless ``[api] public_reads = false``; a key given must be valid. (On the
    event loop: a key lookup is one indexed SQLite read, cheaper than a hop to a thread.)"""
    services: Services = request.app.state.services
    return _caller(request, services, required=not services.settings.public_reads)


async def write_access(request: Request) -> ApiKey | None:
    """Writes: always an API key."""
    return _caller(request, request.app.state.services, required=True)


async def require_json(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiProblem(
            415,
            f"the request body is {kind or 'untyped'}, not application/json",
            hint="send JSON with `Content-Type: application/json`",
            slug="unsupported-media-type",
        )


# -- metrics ----------------------------------------------------------------------------------


class RequestMetrics:
    """Counts requests and their latency per route template (not per URL: ids do not become
    metric labels)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            template = _template(scope)
            self.services.metrics.observe(
                scope.get("method", ""), template, status, time.perf_counter() - started
            )


def _template(scope: Scope) -> str:
    """The matched route with its parameters as ``{name}`` (ids never become label values)."""
    answered: str | None = scope.get("proofmind.route")  # answered before routing (a cache)
    if answered is not None:
        return answered
    if scope.get("route") is None:
        return "unmatched"
    params: dict[str, Any] = scope.get("path_params") or {}
    by_value = {str(v): k for k, v in params.items()}
    parts = str(scope.get("path", "")).split("/")
    return "/".join(f"{{{by_value[p]}}}" if p in by_value else p for p in parts)


__all__ = [
    "BodyLimit",
    "RateLimiter",
    "RequestMetrics",
    "authorize",
    "read_access",
    "require_json",
    "write_access",
]
