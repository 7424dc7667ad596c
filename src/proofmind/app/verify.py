"""Verification: a file named in the workspace's project folder, or a copy sent from elsewhere
checked against the record it claims to be."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from proofmind.app.records import get_record, shown_path
from proofmind.chain.base import Chain
from proofmind.errors import InputError
from proofmind.ownership.contributions import assembly_check
from proofmind.provenance.api import dataset_commitment
from proofmind.provenance.records import Kind
from proofmind.provenance.verify import VerifyReport, verify_path, verify_record
from proofmind.workspace import Workspace

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def project_path(workspace: Workspace, relative: str) -> Path:
    """``relative`` inside the workspace's project folder (the folder holding `.proofmind/`);
    absolute paths and paths that lead outside it are refused."""
    project = workspace.root.parent.resolve()
    if not relative or "\x00" in relative or Path(relative).is_absolute():
        raise InputError(
            f"{relative[:80]!r} is not a path relative to the project folder",
            hint="name a file below the folder that holds .proofmind/, e.g. data/train.csv",
        )
    target = (project / relative).resolve()
    if target != project and project not in target.parents:
        raise InputError(
            f"{relative[:80]!r} leads outside the project folder",
            hint="name a file below the folder that holds .proofmind/",
        )
    if target == workspace.root.resolve() or workspace.root.resolve() in target.parents:
        raise InputError(f"{relative[:80]!r} is inside .proofmind/, which is not verified")
    return target


def verify_workspace_path(
    workspace: Workspace, relative: str, *, connect: Callable[[], Chain] | None = None
) -> VerifyReport:
    """`proofmind verify PATH` for a path relative to the project folder."""
    return verify_path(
        workspace,
        project_path(workspace, relative),
        connect=connect or workspace.connect,
        assembly_check=assembly_check,
    )


def verify_upload(
    workspace: Workspace,
    ref: str,
    filename: str,
    content: bytes,
    *,
    connect: Callable[[], Chain] | None = None,
) -> VerifyReport:
    """Verify ``content`` (a one-file dataset or a model file) as the record ``ref`` says it
    is: the same report as `proofmind verify`, for bytes that are not in the workspace. The
    bytes live in a temporary folder for the check only."""
    record = get_record(workspace, ref)
    name = Path(filename).name
    if record.kind == Kind.DATASET:
        files = dataset_commitment(workspace, record).manifest.files
        if len(files) != 1:
            raise InputError(
                f"dataset {record.name!r} has {len(files)} files; an upload checks one",
                hint="verify the folder in the project by its path instead",
            )
        name = Path(files[0].path).name  # the committed name, whatever the upload was called
    elif record.kind == Kind.MODEL:
        name = Path(record.path or name).name
    else:
        raise InputError(
            f"record {ref!r} is a {record.kind_name}; uploads verify datasets and models",
            hint="verify a run folder by its path instead",
        )
    if not _SAFE_NAME.match(name):
        name = "upload.bin"
    with tempfile.TemporaryDirectory(prefix="proofmind-verify-") as tmp:
        target = Path(tmp) / name
        target.write_bytes(content)
        if record.kind == Kind.MODEL and record.path is not None:
            card = Path(record.path + ".card.json")
            if card.is_file():  # the card is checked with the model; it stays the workspace's
                (Path(tmp) / card.name).write_bytes(card.read_bytes())
        report = verify_record(
            workspace,
            record,
            target,
            connect=connect or workspace.connect,
            assembly_check=assembly_check,
        )
    report.target = filename
    for finding in report.findings:
        if finding.record.key == record.key:
            finding.record = replace(finding.record, path=None)
    return report


def report_view(workspace: Workspace, report: VerifyReport) -> dict[str, Any]:
    """The report as `proofmind verify --json` prints it, with paths relative to the project
    folder (an uploaded file has none)."""
    doc = report.to_json()
    for item, finding in zip(doc["records"], report.findings, strict=True):
        item["path"] = shown_path(workspace, finding.record.path)
    return doc
