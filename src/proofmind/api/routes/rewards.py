"""Reward epochs on the RewardDistributor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.api.schemas import ClaimOut, ClaimPage, EpochOut, EpochPage
from proofmind.app.rewards import (
    claim_data,
    claim_view,
    claims_page,
    epoch_view,
    epochs_page,
    reward_epochs,
)

router = APIRouter(
    prefix="/rewards", dependencies=[Depends(read_access)], tags=["rewards"], responses=ERRORS
)


@router.get("/epochs", response_model=EpochPage)
def epochs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Funded, claimed, deadline and sweep state of the epochs, oldest first, a page at a
    time (`proofmind rewards status`)."""
    svc = services(request)
    page = epochs_page(svc.workspace, svc.chain(), limit=limit, cursor=cursor)
    return page_response(request, page, epoch_view)


@router.get("/epochs/{epoch}", response_model=EpochOut)
def epoch(request: Request, epoch: Annotated[int, Path(ge=0, le=2**256 - 1)]) -> dict[str, Any]:
    """One epoch."""
    svc = services(request)
    return epoch_view(reward_epochs(svc.workspace, svc.chain(), epoch)[0])


Epoch = Annotated[int, Path(ge=0, le=2**256 - 1)]


@router.get("/epochs/{epoch}/claims", response_model=ClaimPage)
def claims(
    request: Request,
    epoch: Epoch,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Every payout of the epoch in its Merkle tree's order, a page at a time: account,
    amount, proof, and whether it has been claimed. Needs the epoch's tree in this workspace
    (the one that published it)."""
    svc = services(request)
    page = claims_page(svc.workspace, svc.chain(), epoch, limit=limit, cursor=cursor)
    return page_response(request, page, claim_view)


@router.get("/epochs/{epoch}/claims/{account}", response_model=ClaimOut)
def claim(
    request: Request, epoch: Epoch, account: Annotated[str, Path(max_length=100)]
) -> dict[str, Any]:
    """What ``account`` passes to ``RewardDistributor.claim(epoch, account, amount, proof)``
    (`proofmind rewards claim` sends the same), and whether it has been paid already."""
    svc = services(request)
    return claim_view(claim_data(svc.workspace, svc.chain(), epoch, account))
