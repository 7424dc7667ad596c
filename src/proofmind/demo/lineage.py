"""The lineage half of `proofmind demo`: commit real data, train with track_run, register the
model, anchor, verify, then tamper with one row and watch verify pinpoint it."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from proofmind.app.provenance import track_run, verify_path
from proofmind.chain.base import Chain
from proofmind.provenance.api import Committed, register_model
from proofmind.provenance.ledger import AnchorReport, Ledger, LocalRecord
from proofmind.provenance.runs import Run
from proofmind.provenance.verify import VerifyReport
from proofmind.workspace import Workspace

TX_SAMPLE = "eth_fraud_tx_sample.csv"
LABEL_SAMPLE = "eth_fraud_labels_sample.csv"
FEATURES = [
    "log_tx_count",
    "log_mean_value_eth",
    "outgoing_share",
    "counterparty_ratio",
    "failure_rate",
    "log_median_gap_s",
    "call_share",
]


@dataclass
class LineageDemo:
    folder: Path
    transactions: Path
    labels: Path
    model: Path
    committed: Committed | None = None
    run: Run | None = None
    model_record: LocalRecord | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def prepare(workspace: Workspace) -> LineageDemo:
    """Copy the bundled samples into the project (``proofmind-demo/``), fresh each run."""
    folder = workspace.root.parent / "proofmind-demo"
    folder.mkdir(parents=True, exist_ok=True)
    for name in (TX_SAMPLE, LABEL_SAMPLE):
        raw = resources.files("proofmind.data").joinpath(name).read_bytes()
        target = folder / name
        if not target.exists() or target.read_bytes() != raw:
            target.write_bytes(raw)
    return LineageDemo(
        folder, folder / TX_SAMPLE, folder / LABEL_SAMPLE, folder / "fraud-model.npz"
    )


def features(
    transactions: Path, label_file: Path
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
    """Per-account features that do not depend on when the account was active."""
    with label_file.open() as f:
        labels = {r["address"]: int(r["flag"]) for r in csv.DictReader(f)}
    txs: dict[str, list[dict[str, str]]] = {}
    with transactions.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        txs.setdefault(row["account"], []).append(row)
    accounts = sorted(a for a in txs if a in labels)
    x = np.zeros((len(accounts), len(FEATURES)))
    for i, account in enumerate(accounts):
        rows = txs[account]
        values = np.array([float(r["value"]) / 1e18 for r in rows])
        times = np.sort(np.array([int(r["timeStamp"]) for r in rows]))
        gaps = np.diff(times) if len(times) > 1 else np.zeros(1)
        peers = {r["to"] if r["from"] == account else r["from"] for r in rows}
        x[i] = [
            np.log1p(len(rows)),
            np.log1p(values.mean()),
            np.mean([r["from"] == account for r in rows]),
            len(peers) / len(rows),
            np.mean([r["isError"] == "1" for r in rows]),
            np.log1p(np.median(gaps)),
            np.mean([r["methodId"] not in ("", "0x") for r in rows]),
        ]
    y = np.array([labels[a] for a in accounts], dtype=float)
    return x, y, accounts


def train(lineage: LineageDemo, workspace: Workspace, epochs: int = 300) -> LineageDemo:
    """Logistic regression on the features, logged step by step with track_run."""
    datasets = [lineage.transactions, lineage.labels]
    with track_run("fraud-demo", datasets=datasets, workspace=workspace, anchor=False) as run:
        x, y, accounts = features(lineage.transactions, lineage.labels)
        test = np.array([int(a[-1], 16) % 4 == 0 for a in accounts])  # address-disjoint split
        mean, std = x[~test].mean(0), x[~test].std(0) + 1e-9
        z = (x - mean) / std
        w, b, lr = np.zeros(z.shape[1]), 0.0, 0.5
        run.log_params(model="logistic-regression", features=FEATURES, epochs=epochs, lr=lr)
        for epoch in range(epochs):
            p = 1 / (1 + np.exp(-(z[~test] @ w + b)))
            grad = p - y[~test]
            w -= lr * z[~test].T @ grad / len(grad)
            b -= lr * float(grad.mean())
            if epoch % 50 == 49 or epoch == epochs - 1:
                loss = -np.mean(
                    y[~test] * np.log(p + 1e-12) + (1 - y[~test]) * np.log(1 - p + 1e-12)
                )
                run.log_metric(epoch, train_loss=float(loss))
        predicted = (1 / (1 + np.exp(-(z[test] @ w + b)))) >= 0.5
        tp = float(np.sum(predicted & (y[test] == 1)))
        precision = tp / max(float(predicted.sum()), 1.0)
        recall = tp / max(float(np.sum(y[test] == 1)), 1.0)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        lineage.metrics = {
            "test_accuracy": round(float(np.mean(predicted == (y[test] == 1))), 4),
            "test_precision": round(precision, 4),
            "test_recall": round(recall, 4),
            "test_f1": round(f1, 4),
            "test_accounts": int(test.sum()),
        }
        run.log_metric(epochs, **{k: float(v) for k, v in lineage.metrics.items()})
        buffer = io.BytesIO()
        np.savez(buffer, weights=w, bias=np.array([b]), mean=mean, std=std)
        lineage.model.write_bytes(buffer.getvalue())
        run.log_artifact(lineage.model)
    lineage.run = run
    return lineage


def register(lineage: LineageDemo, workspace: Workspace, chain: Chain) -> LocalRecord:
    assert lineage.run is not None and lineage.run.record is not None
    record = register_model(
        workspace,
        lineage.model,
        run=lineage.run,
        card={
            "intended_use": "demonstration of proofmind lineage; not for real fraud screening",
            "metrics": lineage.metrics,
            "training_data": [d.content_hash for d in lineage.run.datasets],
            "limitations": f"{len(FEATURES)} hand-made features, a few hundred accounts",
        },
        owner=chain.default_account,
    )
    lineage.model_record = record
    return record


def anchor(workspace: Workspace, chain: Chain) -> AnchorReport:
    return Ledger(workspace).anchor(chain)


def verify(workspace: Workspace, chain: Chain, path: Path) -> VerifyReport:
    return verify_path(workspace, path, connect=lambda: chain)


def tamper_and_verify(
    lineage: LineageDemo, workspace: Workspace, chain: Chain
) -> tuple[int, VerifyReport]:
    """Change one transaction's value, verify the dataset, then put the file back."""
    target = lineage.transactions
    backup = target.with_name(target.name + ".orig")
    shutil.copyfile(target, backup)
    try:
        lines = target.read_text().splitlines()
        row = len(lines) // 2
        cells = next(csv.reader([lines[row]]))
        cells[5] = str(int(cells[5]) + 10**18)  # one more ether
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(cells)
        lines[row] = out.getvalue()
        target.write_text("\n".join(lines) + "\n")
        report = verify_path(workspace, target, connect=lambda: chain)
    finally:
        backup.replace(target)
    return row - 1, report
