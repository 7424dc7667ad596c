"""An MLflow run imported as a training run, anchored and verified."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.errors import InputError
from proofmind.provenance import Ledger
from proofmind.provenance.mlflow_bridge import import_mlflow_run
from proofmind.provenance.runs import read_log
from proofmind.provenance.verify import verify_path
from proofmind.workspace import Workspace

from .conftest import write_dataset

mlflow = pytest.importorskip("mlflow", reason="the MLflow bridge needs proofmind[mlflow]")
pytestmark = pytest.mark.devnet


def make_run(uri: str, workdir: Path) -> str:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("fraud")
    weights = workdir / "weights.txt"
    weights.write_text("w = [0.1, 0.2]\n")
    with mlflow.start_run(run_name="fraud lr") as run:
        mlflow.log_params({"lr": 0.1, "epochs": 3})
        for step in range(3):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
        mlflow.log_artifact(str(weights), artifact_path="model")
        run_id: str = run.info.run_id
    return run_id


def test_import_anchor_verify_and_tamper(
    ws: Workspace, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a local mlruns folder; SQLite stores need full mlflow (SQLAlchemy), not mlflow-skinny
    monkeypatch.chdir(tmp_path)
    location = str(tmp_path / "mlruns")
    run_id = make_run(Path(location).as_uri(), tmp_path)
    data = write_dataset(tmp_path / "data")

    run = import_mlflow_run(ws, location, run_id, datasets=[data])
    log = read_log(run.log_path)
    assert not log.problems
    kinds = [e["type"] for e in log.entries]
    assert kinds == ["start", "params", "metric", "metric", "metric", "artifact", "end"]
    assert log.entries[0]["data"]["mlflow"]["run_id"] == run_id
    assert log.entries[1]["data"] == {"epochs": "3", "lr": "0.1"}
    assert [e["data"]["step"] for e in log.entries[2:5]] == [0, 1, 2]
    assert log.entries[5]["data"]["name"] == "model/weights.txt"
    assert run.name == "fraud-lr" and len(run.datasets) == 1

    Ledger(ws).anchor(chain)
    assert verify_path(ws, run.directory, connect=lambda: chain, workers=1).ok
    # MLflow lets anyone rewrite an artifact afterwards; verify notices
    Path(log.entries[5]["data"]["path"]).write_text("w = [9.9, 0.2]\n")
    report = verify_path(ws, run.directory, connect=lambda: chain, workers=1)
    problems = [p for f in report.findings for p in f.problems]
    assert len(problems) == 1 and problems[0].startswith(
        "artifact model/weights.txt changed: byte 5 is 0x39, was 0x30; 2 bytes differ in all; "
        "the logged copy is kept at "
    )


def test_unknown_run_and_folder(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not an MLflow tracking folder"):
        import_mlflow_run(ws, tmp_path / "nowhere", "abc")
    (tmp_path / "mlruns").mkdir()
    with pytest.raises(InputError, match="no MLflow run 'abc'"):
        import_mlflow_run(ws, tmp_path / "mlruns", "abc")
