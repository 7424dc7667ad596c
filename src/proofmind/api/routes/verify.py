"""Verification of a file: uploaded, or named by its path in the project folder."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from proofmind.api.guards import read_access
from proofmind.api.problems import ApiProblem
from proofmind.api.routes.common import ERRORS, services
from proofmind.api.schemas import VerifyOut, VerifyPath
from proofmind.app.verify import report_view, verify_upload, verify_workspace_path
from proofmind.errors import InputError

router = APIRouter(dependencies=[Depends(read_access)], tags=["verify"], responses=ERRORS)

_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": VerifyPath.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "record"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "record": {
                            "type": "string",
                            "description": "the dataset or model record it claims to be",
                        },
                    },
                }
            },
        },
        "required": True,
    }
}


@router.post(
    "/verify",
    response_model=VerifyOut,
    openapi_extra=_BODY,
    responses={413: ERRORS[400], 415: ERRORS[400]},
)
async def verify(request: Request) -> dict[str, Any]:
    """The report of `proofmind verify`, as JSON: for an uploaded file (multipart: ``file``
    and the ``record`` — key or 0x id — of the dataset or model it claims to be), or for a
    path in the project folder (JSON: ``{"path": "data/train.csv"}``). ``ok`` is false when
    anything differs; ``problems`` say what (file, row, byte, card field)."""
    svc = services(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiProblem(
                400, f"the request body is not valid JSON: {exc}", slug="malformed-json"
            ) from exc
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise InputError('the JSON body must be {"path": "relative/path"}')
        report = await run_in_threadpool(
            verify_workspace_path, svc.workspace, body["path"], connect=svc.chain
        )
    elif kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload, ref = form.get("file"), form.get("record")
            if not isinstance(upload, UploadFile) or not isinstance(ref, str):
                raise InputError(
                    "a multipart verify request needs a `file` part and a `record` field",
                    hint="curl -F file=@train.csv -F record=1 …/api/v1/verify",
                )
            content = await upload.read()
            name = upload.filename or "upload"
        report = await run_in_threadpool(
            verify_upload, svc.workspace, ref, name, content, connect=svc.chain
        )
    else:
        raise ApiProblem(
            415,
            f"the request body is {kind or 'untyped'}; verify takes multipart/form-data "
            "(a file and its record) or application/json (a path)",
            slug="unsupported-media-type",
        )
    return report_view(svc.workspace, report)
