"""The sybil report the service is configured to show (`proofmind sybil detect` output)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.app.sybil_report import cluster_view, list_clusters, load_report, report_folder

router = APIRouter(
    prefix="/sybil", dependencies=[Depends(read_access)], tags=["sybil"], responses=ERRORS
)


async def _report(request: Request) -> Any:
    svc = services(request)
    folder = report_folder(svc.workspace.root.parent, svc.settings.sybil_report)
    return await run_in_threadpool(load_report, folder)


@router.get("/report")
async def report(request: Request) -> dict[str, Any]:
    """The report's summary lines, candidates and flagged clusters counted; ``configured``
    is false (and nothing else is said) when the service was given no report folder."""
    if services(request).settings.sybil_report is None:
        return {"configured": False}
    found = await _report(request)
    return {
        "configured": True,
        "folder": found.folder.name,
        "summary": list(found.summary),
        "candidates": found.candidates,
        "clusters": len(found.clusters),
        "flagged": sum(c.size for c in found.clusters),
    }


@router.get("/clusters")
async def clusters(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Flagged clusters, largest first, with their members (the first 200) and the evidence
    the report gives for them."""
    page = list_clusters(await _report(request), limit=limit, cursor=cursor)
    return page_response(request, page, cluster_view)
