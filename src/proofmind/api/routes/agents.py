"""Guarded agents: the decision log, and the Safes and guards the agents act through."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.app.decisions import STATUSES, decision_view, guarded_safes, list_decisions

router = APIRouter(
    prefix="/agents", dependencies=[Depends(read_access)], tags=["agents"], responses=ERRORS
)


@router.get("")
def agents(request: Request) -> dict[str, Any]:
    """The guarded Safes (Safe and AgentGuard addresses) and decisions per status."""
    return guarded_safes(services(request).workspace)


@router.get("/decisions")
def decisions(
    request: Request,
    policy: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(description=" or ".join(STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Decisions of the agents, newest first: the alert each saw, the action chosen and what
    the on-chain guard made of it (``status``; ``guard`` says it in words)."""
    page = list_decisions(
        services(request).workspace, policy=policy, status=status, limit=limit, cursor=cursor
    )
    return page_response(request, page, decision_view)
