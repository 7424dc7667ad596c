"""Reward epochs on the RewardDistributor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.api.schemas import EpochOut
from proofmind.app.rewards import epoch_view, reward_epochs

router = APIRouter(
    prefix="/rewards", dependencies=[Depends(read_access)], tags=["rewards"], responses=ERRORS
)


@router.get("/epochs", response_model=list[EpochOut])
def epochs(request: Request) -> list[dict[str, Any]]:
    """Funded, claimed, deadline and sweep state of every epoch (`proofmind rewards status`)."""
    svc = services(request)
    return [epoch_view(s) for s in reward_epochs(svc.workspace, svc.chain())]


@router.get("/epochs/{epoch}", response_model=EpochOut)
def epoch(request: Request, epoch: Annotated[int, Path(ge=0, le=2**256 - 1)]) -> dict[str, Any]:
    """One epoch."""
    svc = services(request)
    return epoch_view(reward_epochs(svc.workspace, svc.chain(), epoch)[0])
