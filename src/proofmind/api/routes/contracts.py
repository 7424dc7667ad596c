"""The chain the service talks to, and the contracts recorded in the workspace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.api.schemas import ContractPage
from proofmind.app.contracts import contract_view, contracts_page

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


@router.get("/contracts", response_model=ContractPage)
def contracts(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Deployed or attached contracts of the workspace's chain by name, a page at a time (no
    chain is read)."""
    ws = services(request).workspace
    page = contracts_page(ws, ws.chain_settings().chain_id, limit=limit, cursor=cursor)
    return page_response(request, page, contract_view)
