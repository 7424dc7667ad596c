"""The fraud models as ONNX score like the originals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proofmind.intel.fraud import stratified_folds, train
from proofmind.intel.fraud_onnx import export_lightgbm, export_mlp, signed_log, train_mlp
from proofmind.ml.onnx_models import OnnxModel


def _data(n: int = 400, d: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = np.abs(rng.normal(0, 1, (n, d))) * rng.choice([1, 10, 1000], d)
    y = ((np.log1p(x[:, 0]) - np.log1p(x[:, 3]) + rng.normal(0, 0.3, n)) > 0).astype(np.int64)
    x[::17, 5] = np.nan  # missing features happen (one-transaction accounts)
    return x, y


def test_lightgbm_onnx_matches_lightgbm(tmp_path: Path) -> None:
    x, y = _data()
    booster = train(x, y, [f"f{i}" for i in range(x.shape[1])])
    booster.save_model(str(tmp_path / "m.txt"))
    model = OnnxModel.load(export_lightgbm(tmp_path / "m.txt", tmp_path / "m.onnx"))
    expected = booster.predict(x[:50])
    got = np.array([model.run(row)[0] for row in x[:50]])
    assert np.max(np.abs(got - expected)) < 1e-4


def test_fraud_mlp_onnx_matches_and_learns(tmp_path: Path) -> None:
    x, y = _data()
    fold = stratified_folds(y, 4, 0)
    mlp = train_mlp(x[fold != 0], y[fold != 0])
    accuracy = np.mean((mlp.predict(x[fold == 0]) >= 0.5) == y[fold == 0])
    assert accuracy > 0.85
    model = OnnxModel.load(export_mlp(mlp, tmp_path / "mlp.onnx"))
    inputs = mlp.prepare(x[:40])
    assert np.isfinite(inputs).all() and np.allclose(inputs[1], signed_log(x[1]))
    got = np.array([model.run(row)[0] for row in inputs])
    assert np.max(np.abs(got - mlp.predict(x[:40]))) < 1e-5
