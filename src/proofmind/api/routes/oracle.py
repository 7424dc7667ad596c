"""The verifiable AI oracle: packaged models, queued requests, one request's state; creating a
request (an on-chain transaction) needs an API key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access, require_json, write_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.api.schemas import ModelPage, RequestCreate, RequestCreated
from proofmind.app.oracle import create_request, list_requests, model_view, models_page
from proofmind.app.oracle import request_status as status_of

router = APIRouter(prefix="/oracle", tags=["oracle"], responses=ERRORS)
UINT256_MAX = 2**256 - 1


@router.get("/models", response_model=ModelPage, dependencies=[Depends(read_access)])
def models(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The workspace's packaged models by name, a page at a time (`proofmind model list`)."""
    page = models_page(services(request).workspace, limit=limit, cursor=cursor)
    return page_response(request, page, model_view)


@router.get("/requests", dependencies=[Depends(read_access)])
def requests(
    request: Request,
    state: Annotated[str | None, Query(description="a queue state: new, proposed, done…")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Requests this workspace's oracle node has seen, newest first, with where each one is
    (requested → answered → proposed / proved → done; failed, expired)."""
    page = list_requests(services(request).workspace, state=state, limit=limit, cursor=cursor)
    return page_response(request, page, lambda row: row)


@router.get("/requests/{request_id}", dependencies=[Depends(read_access)])
def request_status(
    request: Request, request_id: Annotated[int, Path(ge=0, le=UINT256_MAX)]
) -> dict[str, Any]:
    """A request's on-chain state and answer (`proofmind oracle status`)."""
    svc = services(request)
    return status_of(svc.workspace, svc.chain(), request_id).to_json()


@router.post(
    "/requests",
    response_model=RequestCreated,
    status_code=201,
    dependencies=[Depends(write_access), Depends(require_json)],
    responses={415: ERRORS[400]},
)
async def create(request: Request, body: RequestCreate) -> dict[str, Any]:
    """Ask the oracle for an inference (`proofmind oracle request`); pays the model's fee
    from the workspace's signing account. Needs an API key."""
    svc = services(request)

    def send() -> dict[str, Any]:
        with svc.chain_writes:
            request_id, fixed, scale = create_request(
                svc.workspace, svc.chain(), body.model, body.mode, body.values, body.callback_gas
            )
        return {"request_id": request_id, "input": fixed, "input_scale": scale}

    return await run_in_threadpool(send)
