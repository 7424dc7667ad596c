"""Monitor alerts: filtered pages, one alert, and a live Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, cached, page_response, services
from proofmind.api.schemas import AlertOut, AlertPage
from proofmind.app.alerts import AlertFilter, alerts_after, get_alert, list_alerts
from proofmind.app.paging import Page
from proofmind.errors import NotFound
from proofmind.monitor.store import STATUSES, StoredAlert

router = APIRouter(
    prefix="/alerts", dependencies=[Depends(read_access)], tags=["alerts"], responses=ERRORS
)
KEEPALIVE_SECONDS = 15.0
Text = Annotated[str | None, Query(max_length=200)]
MOMENT = (
    "alerts whose own time (their block's or price's) is from (since) or before (until) this: "
    "an ISO 8601 date or time, UTC unless zoned (2022-06-22T04:00), unix seconds, or a span "
    "before now (30m, 24h, 7d)"
)


async def _filters(
    detector: Text = None,
    subject: Text = None,
    severity: Annotated[
        str | None, Query(description="info, low, medium, high or critical")
    ] = None,
    status: Annotated[str | None, Query(description=" or ".join(STATUSES))] = None,
    since: Annotated[str | None, Query(max_length=64, description=MOMENT)] = None,
    until: Annotated[str | None, Query(max_length=64, description=MOMENT)] = None,
) -> AlertFilter:
    return AlertFilter.given(detector, subject, severity, status, since, until)


Filters = Annotated[AlertFilter, Depends(_filters)]


@router.get("", response_model=AlertPage)
async def alerts(
    request: Request,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Alerts matching every filter given, newest first, a page at a time (keyset pagination:
    as fast on page 1,000 as on page 1)."""
    # on the event loop, like record pages: indexed reads, then pure Python
    svc = services(request)
    if not svc.has_alert_store():
        return page_response(request, Page(()), lambda a: a)
    page = list_alerts(svc.alerts(), filters, limit=limit, cursor=cursor)
    # the total is counted for the first page only: later pages of the same list need not
    extra = [] if cursor else [("total", svc.alerts().count(**filters.__dict__))]
    return page_response(request, page, lambda a: a.to_dict(), extra)


def _event(alert: StoredAlert) -> str:
    data = json.dumps(alert.to_dict(), separators=(",", ":"), default=str)
    return f"id: {alert.id}\nevent: alert\ndata: {data}\n\n"


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "alert events"}},
)
async def stream(
    request: Request,
    filters: Filters,
    after: Annotated[
        int | None, Query(ge=0, description="also send what was stored after this alert id")
    ] = None,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> StreamingResponse:
    """Server-Sent Events: every alert stored from now on (``event: alert``, the alert as
    JSON in ``data``, its id in ``id``), within a poll interval (0.2 s by default) of being
    stored. A reconnecting EventSource sends Last-Event-ID and gets what it missed."""
    svc = services(request)
    store = svc.alerts()
    resume = last_event_id if last_event_id is not None else after
    hub = svc.hub

    async def events() -> AsyncIterator[str]:
        svc.metrics.streams.inc()
        try:
            async with hub.subscribe() as queue:
                yield "retry: 1000\n: connected\n\n"
                last = hub.position if resume is None else resume
                while resume is not None and last < hub.position:  # what was missed, in pages
                    missed = await run_in_threadpool(alerts_after, store, last, filters)
                    for alert in missed:
                        last = alert.id
                        svc.metrics.streamed.inc()
                        yield _event(alert)
                    if len(missed) < 500:
                        break
                quiet_since = time.monotonic()
                while not hub.closing.is_set():
                    get = asyncio.ensure_future(queue.get())
                    closing = asyncio.ensure_future(hub.closing.wait())
                    try:
                        done, _ = await asyncio.wait(
                            {get, closing},
                            timeout=KEEPALIVE_SECONDS,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:  # also when the client went away while we waited
                        for task in (get, closing):
                            if not task.done():
                                task.cancel()
                                with contextlib.suppress(asyncio.CancelledError):
                                    await task
                    if get in done:
                        alert = get.result()
                        if alert.id > last and filters.matches(alert):
                            last = alert.id
                            svc.metrics.streamed.inc()
                            quiet_since = time.monotonic()
                            yield _event(alert)
                    elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                        quiet_since = time.monotonic()
                        yield ": keep-alive\n\n"
        finally:
            svc.metrics.streams.dec()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{alert_id}", response_model=AlertOut)
def alert(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    """One alert (its status changes to retracted when a reorg drops its block)."""
    svc = services(request)
    if not svc.has_alert_store():
        raise NotFound(f"no alert {alert_id} in this workspace's alert store")
    return cached(request, get_alert(svc.alerts(), alert_id).to_dict(), stable=False)
