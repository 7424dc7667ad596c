"""The sybil report the service is configured to show (`proofmind sybil detect` output), and
keyed detection runs (`proofmind sybil detect` as a job)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from proofmind.api.guards import read_access, require_json, write_access
from proofmind.api.jobs import Jobs
from proofmind.api.routes.common import ERRORS, page_response, services
from proofmind.api.schemas import JobOut, SybilRunIn
from proofmind.app.records import shown_path
from proofmind.app.sybil_report import cluster_view, list_clusters, load_report, report_folder
from proofmind.app.sybil_run import SybilSettings, detect_to_folder
from proofmind.app.verify import project_path
from proofmind.errors import InputError

router = APIRouter(prefix="/sybil", tags=["sybil"], responses=ERRORS)
READ = [Depends(read_access)]


async def _report(request: Request) -> Any:
    svc = services(request)
    folder = report_folder(svc.workspace.root.parent, svc.settings.sybil_report)
    return await run_in_threadpool(load_report, folder)


@router.get("/report", dependencies=READ)
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


@router.get("/clusters", dependencies=READ)
async def clusters(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Flagged clusters, largest first, with their members (the first 200) and the evidence
    the report gives for them."""
    page = list_clusters(await _report(request), limit=limit, cursor=cursor)
    return page_response(request, page, cluster_view)


# -- detection runs ---------------------------------------------------------------------------


def _jobs(request: Request) -> Jobs:
    state = request.app.state
    if getattr(state, "jobs", None) is None:
        state.jobs = Jobs()
    jobs: Jobs = state.jobs
    return jobs


def _input_file(request: Request, relative: str, what: str, *, folder: bool = False) -> Any:
    path = project_path(services(request).workspace, relative)
    if not (path.is_file() or (folder and path.is_dir())):
        raise InputError(
            f"{what} {relative[:80]!r} is not a {'file or folder' if folder else 'file'} in "
            "the project folder",
            hint="name it relative to the folder that holds .proofmind/",
        )
    return path


@router.post(
    "/runs",
    status_code=202,
    response_model=JobOut,
    dependencies=[Depends(write_access), Depends(require_json)],
    responses={409: ERRORS[400], 415: ERRORS[400]},
)
async def start_run(request: Request, body: SybilRunIn) -> JSONResponse:
    """Start `proofmind sybil detect` on files of the project folder; 202 with the job's URL
    (``Location``), which answers ``running``, then ``done`` with the counts and the Merkle
    root of the flagged list, or ``failed`` with the CLI's error. Inputs are checked before
    anything starts; one run at a time. Needs an API key."""
    ws = services(request).workspace
    edges = [_input_file(request, e, "edges", folder=True) for e in body.edges]
    candidates = _input_file(request, body.candidates, "candidates file")
    hubs = None if body.hubs is None else _input_file(request, body.hubs, "hubs file")
    out = project_path(ws, body.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder {body.out!r} is a file", hint="give a folder")
    settings = SybilSettings(body.hub_degree, hubs, body.min_cluster, body.labels, body.max_fpr)
    shown = shown_path(ws, str(out)) or body.out

    def work() -> dict[str, Any]:
        return detect_to_folder(edges, candidates, out, settings).to_json(shown)

    job = _jobs(request).start("sybil-detect", work)
    url = str(request.url_for("sybil_run", job_id=job.id).path)
    return JSONResponse(job.to_json(url), status_code=202, headers={"Location": url})


@router.get("/runs/{job_id}", response_model=JobOut, dependencies=READ, name="sybil_run")
def run_status(
    request: Request, job_id: Annotated[str, Path(max_length=64, pattern="^[0-9a-f]+$")]
) -> dict[str, Any]:
    """A detection run: ``running``, ``done`` (``result``) or ``failed`` (``error``)."""
    url = str(request.url_for("sybil_run", job_id=job_id).path)
    return _jobs(request).get(job_id).to_json(url)
