"""Deliveries of the monitor's alerts to its sinks: list them, queue dead letters again (as
`proofmind monitor deliveries` and `monitor redeliver`). Both need an API key: a sink's name
holds its webhook URL, which may carry a secret."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from proofmind.api.guards import require_json, write_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.app.alerts import list_deliveries, redeliver
from proofmind.monitor.store import OUTBOX_STATUSES

router = APIRouter(
    prefix="/deliveries", dependencies=[Depends(write_access)], tags=["alerts"], responses=ERRORS
)
SINK = (
    "a sink's name as listed, or a kind of sink: terminal, jsonl, webhook, slack, discord, telegram"
)


class RedeliverIn(BaseModel):
    model_config = {"extra": "forbid", "populate_by_name": True}
    ids: list[Annotated[int, Field(ge=1)]] = Field(
        default=[], max_length=1000, description="the dead letters to queue again"
    )
    every: bool = Field(default=False, alias="all", description="every dead letter instead")
    sink: str | None = Field(
        default=None, max_length=2000, description="with all: only this sink's (" + SINK + ")"
    )


@router.get("")
def deliveries(
    request: Request,
    status: Annotated[str | None, Query(description=", ".join(OUTBOX_STATUSES))] = None,
    sink: Annotated[str | None, Query(max_length=2000, description=SINK)] = None,
    alert: Annotated[int | None, Query(ge=1, description="only this alert's")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Deliveries of alerts and retractions to sinks, newest first, a page at a time: their
    status (pending, delivered, dead; muted, filtered, throttled, skipped: handled, not
    sent), tries and last error. Needs an API key."""
    store = services(request).existing_alerts()
    page = list_deliveries(
        store, status=status, sink=sink, alert_id=alert, limit=limit, cursor=cursor
    )
    return page_response(request, page, lambda d: d.to_dict())


@router.post("/redeliver", dependencies=[Depends(require_json)], responses={415: ERRORS[400]})
async def redeliver_dead(request: Request, body: RedeliverIn) -> dict[str, Any]:
    """Queue dead letters again (``ids``, or ``all``), first in their sink's order; the
    monitor sends them at its next delivery pass. An alert a reorg retracted since, and a
    retraction of an alert the sink never got, are left dead, each with the reason. Needs an
    API key."""
    store = services(request).existing_alerts()
    done = await run_in_threadpool(redeliver, store, body.ids, every=body.every, sink=body.sink)
    return {
        "queued": [d.to_dict() for d in done.queued],
        "skipped": [{**d.to_dict(), "reason": why} for d, why in done.skipped],
    }
