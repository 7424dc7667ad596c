"""Mutes of the monitor's alerts: list them, add one, end one (as `proofmind monitor mute`,
`mutes` and `unmute`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from proofmind.api.guards import read_access, require_json, write_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.app.alerts import MAX_REASON, add_mute, end_mute

router = APIRouter(prefix="/mutes", tags=["alerts"], responses=ERRORS)
READ = [Depends(read_access)]
WRITE = [Depends(write_access), Depends(require_json)]


class MuteIn(BaseModel):
    model_config = {"extra": "forbid", "populate_by_name": True}
    subject: str = Field(
        max_length=200,
        description="an address (any case), asset or tx hash; or a pattern: 0xab*, * (every one)",
    )
    span: str = Field(
        default="24h", alias="for", max_length=32, description="how long: 30m, 24h, 7d, 2w"
    )
    detector: str | None = Field(
        default=None, max_length=100, description="only this detector's alerts (null: all)"
    )
    reason: str = Field(default="", max_length=MAX_REASON, description="why, shown in the list")


@router.get("", dependencies=READ)
def mutes(
    request: Request,
    every: Annotated[bool, Query(alias="all", description="the ended mutes too")] = False,
) -> dict[str, Any]:
    """The mutes that hold now (``all=true``: every mute), oldest first. While one holds, the
    alerts it covers are stored and listed but not delivered to any sink (nor those raised
    before it that are still waiting for delivery)."""
    svc = services(request)
    if not svc.has_alert_store():
        return {"items": []}
    found = svc.alerts().mutes(active_at=None if every else time.time())
    return {"items": [mute.to_dict() for mute in found]}


@router.post("", status_code=201, dependencies=WRITE, responses={415: ERRORS[400]})
async def mute(request: Request, body: MuteIn) -> dict[str, Any]:
    """Silence a subject's alerts (from every detector, or one) for a span, from now
    (`proofmind monitor mute`). Needs an API key."""
    store = services(request).alerts()
    found = await run_in_threadpool(
        add_mute, store, body.subject, body.span, body.detector, body.reason
    )
    return found.to_dict()


@router.post("/{mute_id}/end", dependencies=[Depends(write_access)])
async def end(
    request: Request, mute_id: Annotated[int, Path(ge=1, description="the mute's id")]
) -> dict[str, Any]:
    """End a mute now (`proofmind monitor unmute`): alerts stored from now on are delivered.
    Needs an API key."""
    store = services(request).existing_alerts()
    return (await run_in_threadpool(end_mute, store, mute_id)).to_dict()
