"""Fraud scores of addresses (`proofmind fraud score`): the service's trained model over the
workspace's ingested tables. An address without a transaction there is answered with the
status "no data" and no score."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access, require_json, write_access
from proofmind.api.routes.common import ERRORS, services
from proofmind.api.schemas import FraudBatch, FraudScoreOut, FraudScorePage
from proofmind.app.fraud import check_addresses, score_addresses, score_view, scoring_inputs

router = APIRouter(prefix="/fraud", tags=["fraud"], responses=ERRORS)
# one scoring at a time: each is a DuckDB pass over the tables plus the model, CPU-bound
_SCORING = threading.Lock()
Explain = Annotated[
    int, Query(ge=0, le=20, description="top feature contributions per address (0: none)")
]


def _score(request: Request, addresses: list[str], explain: int) -> list[dict[str, Any]]:
    svc = services(request)
    wanted = check_addresses(addresses)
    model, data = scoring_inputs(
        svc.workspace.root.parent, svc.settings.fraud_model, svc.settings.fraud_data
    )
    with _SCORING:
        found = score_addresses(data, model, wanted, explain_top=explain)
    return [score_view(f) for f in found]


@router.get("/scores/{address}", response_model=FraudScoreOut, dependencies=[Depends(read_access)])
async def score(
    request: Request, address: Annotated[str, Path(max_length=100)], explain: Explain = 0
) -> dict[str, Any]:
    """P(illicit) of one address; ``status`` is "no data" (and ``score`` null) when the
    address has no transaction in the ingested tables."""
    (found,) = await run_in_threadpool(_score, request, [address], explain)
    return found


@router.post(
    "/scores",
    response_model=FraudScorePage,
    dependencies=[Depends(write_access), Depends(require_json)],
    responses={415: ERRORS[400]},
)
async def scores(request: Request, body: FraudBatch) -> dict[str, Any]:
    """Scores of up to 1,000 addresses in one pass, in the order given (each once). Needs an
    API key: a batch costs a pass over the tables."""
    items = await run_in_threadpool(_score, request, body.addresses, body.explain)
    return {"items": items, "next_cursor": None}
