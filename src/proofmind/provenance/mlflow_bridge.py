"""The MLflow bridge (extra ``proofmind[mlflow]``): a finished MLflow run → a proofmind
training run, its params, full metric histories and artifacts in a hash-chained log.

MLflow keeps runs editable (a param, a tag or an artifact can change after the fact); the
imported log freezes what the run held at import time, and anchoring puts that on-chain.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proofmind.errors import InputError, ProofmindError
from proofmind.provenance.runs import Run, open_run
from proofmind.store.stores import Stores

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def tracking_uri(location: str | Path) -> str:
    """A tracking URI from a local ``mlruns`` folder or any MLflow URI (sqlite:///mlflow.db)."""
    text = str(location)
    if "://" in text or text.startswith(("sqlite:", "postgresql:", "mysql:")):
        return text
    folder = Path(text).resolve()
    if not folder.is_dir():
        raise InputError(
            f"{folder} is not an MLflow tracking folder",
            hint="give the mlruns folder, or a tracking URI such as sqlite:///mlflow.db",
        )
    # MLflow 3 keeps its file store readable behind this opt-out; we only read from it.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return folder.as_uri()


def import_mlflow_run(
    workspace: Stores,
    location: str | Path,
    run_id: str,
    *,
    datasets: Sequence[str | Path] = (),
) -> Run:
    """Import MLflow run ``run_id`` from ``location``; returns the finished proofmind run
    (its record pending until `proofmind provenance anchor`)."""
    try:
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise InputError(
            "the MLflow bridge needs mlflow", hint="pip install 'proofmind[mlflow]'"
        ) from exc
    uri = tracking_uri(location)
    client = MlflowClient(tracking_uri=uri)
    try:
        mlrun = client.get_run(run_id)
    except MlflowException as exc:
        raise InputError(
            f"no MLflow run {run_id!r} at {location}: {exc.message}",
            hint="`mlflow runs list` shows the run ids of an experiment",
        ) from exc
    info, data = mlrun.info, mlrun.data
    if info.status not in ("FINISHED", "FAILED", "KILLED"):
        raise InputError(
            f"MLflow run {run_id} is {info.status}", hint="import a run once it has ended"
        )
    name = _SAFE.sub("-", info.run_name or run_id).strip("-")[:100] or run_id
    tags = dict(data.tags)
    start: dict[str, Any] = {
        "code": {
            "git_commit": tags.get("mlflow.source.git.commit"),
            "source": tags.get("mlflow.source.name"),
        },
        "environment": {"source": "mlflow"},
        "mlflow": {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "tracking_uri": uri,
            "user": info.user_id,
            "tags": {k: v for k, v in sorted(tags.items()) if not k.startswith("mlflow.log")},
        },
    }
    run = open_run(workspace, name, datasets, None, start, _seconds(info.start_time))
    if data.params:
        run.append("params", dict(sorted(data.params.items())), when=_seconds(info.start_time))
    history = []
    for key in sorted(data.metrics):
        history += [
            (m.timestamp, m.step, key, m.value) for m in client.get_metric_history(run_id, key)
        ]
    for timestamp, step, key, value in sorted(history):
        run.append(
            "metric", {"step": step, "values": {key: float(value)}}, when=_seconds(timestamp)
        )
    try:
        root = Path(download_artifacts(run_id=run_id, tracking_uri=uri))
    except (MlflowException, OSError) as exc:
        raise ProofmindError(f"cannot read the artifacts of MLflow run {run_id}: {exc}") from exc
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        run.log_artifact(file, name=file.relative_to(root).as_posix())
    run.finish(info.status.lower(), when=_seconds(info.end_time or info.start_time))
    return run


def _seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000
