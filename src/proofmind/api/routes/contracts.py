"""The contracts recorded in the workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.app.contracts import list_contracts

router = APIRouter(dependencies=[Depends(read_access)], tags=["system"], responses=ERRORS)


@router.get("/contracts")
def contracts(request: Request) -> list[dict[str, Any]]:
    """Deployed or attached contracts of the workspace's chain (no chain is read)."""
    ws = services(request).workspace
    return list_contracts(ws, ws.chain_settings().chain_id)
