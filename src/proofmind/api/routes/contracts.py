"""The chain the service talks to, and the contracts recorded in the workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.app.contracts import list_contracts

router = APIRouter(dependencies=[Depends(read_access)], tags=["system"], responses=ERRORS)


@router.get("/chain")
async def chain(request: Request) -> dict[str, Any]:
    """The chain the service is connected to (connecting on first use): id, head block and
    where it is (`proofmind chain status`)."""
    svc = services(request)

    def read() -> dict[str, Any]:
        connected = svc.chain()
        return {
            "chain_id": connected.chain_id,
            "block": int(connected.w3.eth.block_number),
            "where": connected.backend.describe(),
        }

    return await run_in_threadpool(read)


@router.get("/contracts")
def contracts(request: Request) -> list[dict[str, Any]]:
    """Deployed or attached contracts of the workspace's chain (no chain is read)."""
    ws = services(request).workspace
    return list_contracts(ws, ws.chain_settings().chain_id)
