"""Fraud scores of addresses (`proofmind fraud score`): the service's trained model (or, with
``?model=``, a model registered in the workspace's ledger, checked against its record) over
the workspace's ingested tables, kept in memory between calls. An address without a
transaction there is answered with the status "no data" and no score."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access, require_json, write_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.api.schemas import FraudBatch, FraudScoreOut, FraudScorePage
from proofmind.app.fraud import (
    RegisteredModel,
    check_addresses,
    registered_model,
    score_addresses,
    score_view,
    scoring_data,
    scoring_inputs,
)
from proofmind.errors import ConfigError

router = APIRouter(prefix="/fraud", tags=["fraud"], responses=ERRORS)
# one scoring at a time: each is a DuckDB pass over the tables plus the model, CPU-bound
_SCORING = threading.Lock()
Explain = Annotated[
    int, Query(ge=0, le=20, description="top feature contributions per address (0: none)")
]
Model = Annotated[
    str | None,
    Query(
        max_length=80,
        description="a model record of the workspace's ledger (local key or 0x id) to score "
        "with instead of the configured model file; its file must hash to the record's "
        "keccak-256 (else 409)",
    ),
]


def _score(
    request: Request, addresses: list[str], explain: int, model_ref: str | None
) -> list[dict[str, Any]]:
    svc = services(request)
    wanted = check_addresses(addresses)
    project = svc.workspace.root.parent
    model: Path | RegisteredModel
    if model_ref is None:
        model, data = scoring_inputs(project, svc.settings.fraud_model, svc.settings.fraud_data)
    else:
        model = registered_model(svc.workspace, model_ref)
        data = scoring_data(project, svc.settings.fraud_data)
    with _SCORING:
        found = score_addresses(data, model, wanted, explain_top=explain, cache=True)
    return [score_view(f) for f in found]


@router.get("/model", dependencies=[Depends(read_access)])
def model_status(request: Request) -> dict[str, Any]:
    """Whether the service has a fraud model to score with: ``configured`` is false, with
    ``problem`` saying what to do, when its model file is missing (the dashboard shows that
    instead of the lookup form). ``model`` is the file, relative to the project folder."""
    svc = services(request)
    project = svc.workspace.root.parent
    try:
        model, _ = scoring_inputs(project, svc.settings.fraud_model, svc.settings.fraud_data)
    except ConfigError as exc:
        return {"configured": False, "model": None, "problem": str(exc)}
    shown = model.relative_to(project) if model.is_relative_to(project) else model
    return {"configured": True, "model": str(shown), "problem": None}


@router.get("/scores/{address}", response_model=FraudScoreOut, dependencies=[Depends(read_access)])
async def score(
    request: Request,
    address: Annotated[str, PathParam(max_length=100)],
    explain: Explain = 0,
    model: Model = None,
) -> dict[str, Any]:
    """P(illicit) of one address; ``status`` is "no data" (and ``score`` null) when the
    address has no transaction in the ingested tables."""
    (found,) = await run_in_threadpool(_score, request, [address], explain, model)
    return found


@router.post(
    "/scores",
    response_model=FraudScorePage,
    dependencies=[Depends(write_access), Depends(require_json)],
    responses={415: ERRORS[400]},
)
async def scores(request: Request, body: FraudBatch, model: Model = None) -> dict[str, Any]:
    """Scores of up to 1,000 addresses in one pass, in the order given (each once). Needs an
    API key: a batch costs a pass over the tables."""
    items = await run_in_threadpool(_score, request, body.addresses, body.explain, model)
    return {"items": items, "next_cursor": None}
