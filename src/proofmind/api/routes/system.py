"""Overview, health and metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from proofmind import __version__
from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.app.oracle import package_names
from proofmind.app.records import counts

router = APIRouter(tags=["system"])
STARTED = time.time()


@router.get("/api/v1/overview", dependencies=[Depends(read_access)], responses=ERRORS)
def overview(request: Request) -> dict[str, Any]:
    """Counts for a dashboard's first page: records by kind and state, alerts, models; and
    which chain the workspace is configured for. Reads no chain."""
    svc = services(request)
    ws = svc.workspace
    chain = ws.chain_settings()
    alerts: dict[str, Any] = {"total": 0, "active": 0, "last_id": 0}
    if svc.has_alert_store():
        store = svc.alerts()
        alerts = {
            "total": store.count(),
            "active": store.count(status="active"),
            "last_id": store.last_id(),
        }
    return {
        "version": __version__,
        "chain": {"backend": chain.backend, "chain_id": chain.chain_id},
        "records": counts(ws),
        "alerts": alerts,
        "models": len(package_names(ws)),
    }


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """``ok`` (200) when every task of the process runs; ``degraded`` (503) when one is
    failing or restarting. Each task's state, restarts and last error."""
    source = services(request).health_source
    doc: dict[str, Any] = {"status": "ok", "version": __version__, "uptime": time.time() - STARTED}
    if source is not None:
        doc |= source.health()
    return JSONResponse(doc, status_code=200 if doc["status"] == "ok" else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: API requests and latency, open streams, the process's tasks
    (state, restarts), and the monitor's outbox (deliveries by sink and status, the oldest
    pending) when the workspace has an alert store."""
    svc = services(request)
    body = svc.metrics.text()
    if svc.has_alert_store():
        from proofmind.monitor.metrics import metrics_text, outbox_families

        body += metrics_text(outbox_families(svc.alerts()))
    if svc.health_source is not None:
        body += svc.health_source.metrics_text().encode()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
