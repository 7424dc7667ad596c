"""The FastAPI application: /api/v1 endpoints, /health, /metrics, OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from proofmind import __version__
from proofmind.api import dashboard, problems
from proofmind.api.cache import RecordCache
from proofmind.api.guards import BodyLimit, RequestMetrics
from proofmind.api.routes import (
    agents,
    alerts,
    contracts,
    deliveries,
    fraud,
    mutes,
    oracle,
    records,
    rewards,
    sybil,
    system,
    verify,
)
from proofmind.api.services import HealthSource, Services
from proofmind.chain.base import Chain
from proofmind.settings import ApiSettings
from proofmind.workspace import Workspace

API_PREFIX = "/api/v1"


def create_app(
    workspace: Workspace,
    settings: ApiSettings | None = None,
    *,
    connect: Callable[[], Chain] | None = None,
    health: HealthSource | None = None,
) -> FastAPI:
    """The HTTP API over ``workspace``. ``connect`` makes the chain connection (default: the
    workspace's chain, connected on first use); ``health`` reports the tasks of the process."""
    settings = settings or ApiSettings.load(workspace.config_path)
    services = Services(workspace, settings, connect=connect, health=health)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.close()

    # /docs (Swagger UI) and /redoc from assets shipped in a Python package, not a CDN
    app = FastAPIOffline(
        title="proofmind",
        version=__version__,
        summary="Lineage records, verification, the verifiable AI oracle, alerts and rewards "
        "of a proofmind workspace.",
        docs_url="/docs",
        redoc_url="/redoc",
        static_url="/docs-assets",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.services = services
    problems.install(app)
    v1 = APIRouter(prefix=API_PREFIX)
    for module in (
        records,
        verify,
        oracle,
        alerts,
        mutes,
        deliveries,
        rewards,
        agents,
        sybil,
        fraud,
        contracts,
    ):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(system.router)
    dashboard.install(app)
    # outermost last: metrics see every answer, the body limit runs before anything reads,
    # CORS headers go on cached answers too; every middleware is plain ASGI (no
    # BaseHTTPMiddleware: no task or memory stream per request)
    app.add_middleware(
        RecordCache, services=services, max_bytes=int(settings.record_cache_mb * 2**20)
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "Last-Event-ID"],
            expose_headers=["ETag", "Link", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, services=services)
    return app
