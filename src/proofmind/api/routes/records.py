"""Lineage records: datasets, training runs, models, inferences; and their PROV-JSON lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from proofmind.api.guards import read_access
from proofmind.api.routes.common import ERRORS, cached, page_response, services
from proofmind.api.schemas import RecordOut, RecordPage
from proofmind.app.records import (
    get_record,
    list_records,
    parse_direction,
    record_lineage,
    record_view,
)
from proofmind.errors import InputError

router = APIRouter(dependencies=[Depends(read_access)], tags=["records"], responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]
FORMATS = {"json": "application/json", "prov": "application/json", "dot": "text/vnd.graphviz"}


@router.get("/records", response_model=RecordPage)
async def records(
    request: Request,
    kind: Annotated[str | None, Query(description="dataset, run, model or inference")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every record of the workspace, oldest first, a page at a time."""
    # on the event loop: a keyset page is one indexed read and pure Python after it, which
    # the GIL would serialise on a worker thread anyway
    ws = services(request).workspace
    page = list_records(ws, kind=kind, limit=limit, cursor=cursor)
    return page_response(request, page, lambda r: record_view(ws, r))


@router.get("/records/{ref}", response_model=RecordOut)
async def record(request: Request, ref: str) -> Response:
    """One record by local key or 0x id (on-chain record id or content hash). Anchored
    records carry an ETag and may be cached; send If-None-Match to get 304."""
    # on the event loop: one primary-key read, cheaper than the hop to a worker thread
    ws = services(request).workspace
    found = get_record(ws, ref)
    return cached(request, record_view(ws, found), stable=found.anchored)


def _lineage(request: Request, ref: str | None, fmt: str, direction: str = "ancestors") -> Response:
    if fmt not in FORMATS:
        raise InputError(f"unknown lineage format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    parse_direction(direction)
    ws = services(request).workspace
    # an anchored record's ancestors never change; what is made from it later does
    stable = ref is not None and direction == "ancestors" and get_record(ws, ref).anchored
    _, text = record_lineage(ws, ref, fmt, direction=direction)
    return cached(request, text.encode(), stable=stable, media_type=FORMATS[fmt])


@router.get("/records/{ref}/lineage")
def lineage(
    request: Request,
    ref: str,
    format: Annotated[str, Query(description="prov (W3C PROV-JSON), json or dot")] = "prov",
    direction: Annotated[
        str,
        Query(
            description="ancestors (what it came from), descendants (what was made from it: "
            "runs, models, inferences) or both"
        ),
    ] = "ancestors",
) -> Response:
    """The record and everything it came from (``direction=ancestors``), everything made
    from it (``descendants``) or both, as W3C PROV-JSON (default), the JSON of `proofmind
    provenance lineage` or a Graphviz drawing."""
    return _lineage(request, ref, format, direction)


@router.get("/lineage")
def whole_lineage(
    request: Request,
    format: Annotated[str, Query(description="prov (W3C PROV-JSON), json or dot")] = "json",
) -> Response:
    """Every record of the workspace with its edges (for a lineage graph)."""
    return _lineage(request, None, format)


def _by_kind(kind: str, plural: str) -> None:
    def listing(request: Request, limit: Limit = 100, cursor: Cursor = None) -> Response:
        ws = services(request).workspace
        page = list_records(ws, kind=kind, limit=limit, cursor=cursor)
        return page_response(request, page, lambda r: record_view(ws, r))

    async def one(request: Request, ref: str) -> Response:
        ws = services(request).workspace
        found = get_record(ws, ref, kind=kind)
        return cached(request, record_view(ws, found), stable=found.anchored)

    listing.__doc__ = f"The workspace's {plural}, oldest first."
    one.__doc__ = f"One {kind} by local key or 0x id."
    router.add_api_route(
        f"/{plural}", listing, methods=["GET"], response_model=RecordPage, name=f"list_{plural}"
    )
    router.add_api_route(
        f"/{plural}/{{ref}}", one, methods=["GET"], response_model=RecordOut, name=f"get_{kind}"
    )


for _kind, _plural in (
    ("dataset", "datasets"),
    ("run", "runs"),
    ("model", "models"),
    ("inference", "inferences"),
):
    _by_kind(_kind, _plural)
