"""Training that joins intelligence and lineage: fit a model (fraud or sybil), log the run and
register the model with its card in the workspace's ledger (`--register` of the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from proofmind.intel import fraud, sybil_model
from proofmind.intel.etherscan import connect
from proofmind.intel.sybil_features import FEATURES
from proofmind.provenance.api import register_model
from proofmind.provenance.ledger import LocalRecord
from proofmind.provenance.runs import logged_run
from proofmind.store.stores import Stores


def train_fraud_registered(
    workspace: Stores, data: Path, labels_path: Path, output: Path, mlp_output: Path | None = None
) -> tuple[LocalRecord, fraud.Evaluation]:
    """Cross-validate, train and register the model in the lineage ledger: the table folders
    and the labels are committed as datasets, the run logs the metrics and everything needed
    to train again (`proofmind verify --reproduce`), the model gets a card with the metrics.
    With ``mlp_output`` the circuit-friendly MLP is trained in the same run and logged too."""
    fraud.require_data(data)
    fraud.check_labels(connect(data), fraud.read_labels(labels_path), labels_path, data)
    datasets = [*fraud.data_tables(data), labels_path]
    with logged_run(workspace, fraud.TRAINER, datasets) as run:
        params = fraud.run_params(data, labels_path, output, mlp_output)
        fitted = fraud.fit_params(params, output.parent, mlp_output)
        run.log_params(params, features=fitted.names)
        report = fitted.report
        run.log_metric(0, **{k: m.value for k, m in report.metrics.items()})
        for path in fitted.written:
            run.log_artifact(path)
    card = {
        "intended_use": "ranking Ethereum accounts for phishing / fraud review",
        "metrics": {
            k: {"value": round(m.value, 4), "ci95": [round(m.low, 4), round(m.high, 4)]}
            for k, m in report.metrics.items()
        },
        "training_data": [d.content_hash for d in run.datasets],
        "limitations": (
            f"trained on {fitted.rows} labelled accounts ({fitted.illicit} illicit); features "
            "use no absolute time, but labels come from public scam lists and may not cover "
            "new schemes"
        ),
    }
    record = register_model(workspace, output, run=run, card=card)
    return record, report


def train_sybil_registered(
    workspace: Stores,
    edges: Sequence[Path],
    candidates_path: Path,
    folder: Path,
    settings: sybil_model.GraphSettings,
    max_fpr: float = sybil_model.FPR_TARGET,
) -> tuple[LocalRecord, sybil_model.Training]:
    """Train and register the model in the lineage ledger, as `fraud train --register` does:
    the edge files and the candidates are committed as datasets, the run logs the settings,
    the feature schema, everything training again needs and the cross-validated metrics, and
    the model gets a card with those metrics and their intervals."""
    datasets = [*edges, candidates_path]
    with logged_run(workspace, sybil_model.TRAINER, datasets) as run:
        params = sybil_model.run_params(edges, candidates_path, settings, max_fpr)
        training, written = sybil_model.fit_params(params, folder)
        run.log_params(params, features=FEATURES)
        run.log_metric(0, **sybil_model.flat_metrics(training.model))
        for path in written:
            run.log_artifact(path)
    model = training.model
    card = {
        "intended_use": "ranking airdrop candidates for sybil review (not automatic exclusion)",
        "metrics": {
            k: {"value": round(v, 4), "ci95": [round(low, 4), round(high, 4)]}
            for k, (v, low, high) in model.metrics.items()
            if np.isfinite(v)
        },
        "description": (
            f"LightGBM on {len(FEATURES)} graph and behaviour features, "
            "Platt-calibrated; "
            f"flags P(sybil) ≥ {model.threshold:.6g}, the threshold chosen for at most "
            f"{model.max_fpr:.1%} false positives among eligible candidates (grouped CV)"
        ),
        "training_data": [d.content_hash for d in run.datasets],
        "limitations": (
            f"trained on {model.labelled} labelled candidates ({model.sybils} sybil) whose "
            "labels came from one review process; validated by cross-validation grouped by "
            "community and funder, but sybils found another way may score lower "
            "(see docs/analytics.md)"
        ),
    }
    record = register_model(workspace, folder / "model.txt", run=run, card=card)
    return record, training
