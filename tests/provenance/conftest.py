"""A fresh workspace per test, its lineage anchored on the session devnet (reverted after)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proofmind.app.provenance import track_run
from proofmind.chain.base import Chain
from proofmind.provenance import Ledger, register_model
from proofmind.provenance.verify import VerifyReport, verify_path
from proofmind.workspace import Workspace, init_workspace

ROWS = ["address,flag,value_wei"] + [f"0x{n:040x},{n % 2},{10**20 + n}" for n in range(1, 41)]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace, _ = init_workspace(tmp_path)
    yield workspace
    workspace.close()


@dataclass
class Lineage:
    ws: Workspace
    chain: Chain
    data: Path
    run_dir: Path
    model: Path
    artifact: Path

    def verify(self, path: Path | None = None) -> VerifyReport:
        return verify_path(self.ws, path or self.model, connect=lambda: self.chain, workers=1)


def write_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.csv").write_text("\n".join(ROWS[:21]) + "\n")
    (folder / "part-1.csv").write_text("\n".join([ROWS[0], *ROWS[21:]]) + "\n")
    return folder


@pytest.fixture
def lineage(ws: Workspace, chain: Chain, tmp_path: Path) -> Lineage:
    data = write_dataset(tmp_path / "data")
    model = tmp_path / "model.bin"
    notes = tmp_path / "notes.txt"
    with track_run("fraud-test", datasets=[data], workspace=ws, anchor=False) as run:
        run.log_params(lr=0.1, epochs=3)
        for step in range(3):
            run.log_metric(step, loss=1.0 / (step + 1))
        model.write_bytes(bytes(range(256)) * 4)
        notes.write_text("trained on two parts\n")
        run.log_artifact(model)
        run.log_artifact(notes)
    register_model(
        ws,
        model,
        run=run,
        card={"intended_use": "tests", "metrics": {"f1": 0.93}, "limitations": "toy"},
        owner=chain.default_account,
    )
    report = Ledger(ws).anchor(chain)
    assert len(report.anchored) == 3
    return Lineage(ws, chain, data, run.directory, model, notes)
