"""The fraud classifier as ONNX, for the oracle.

- ``export_lightgbm``: the LightGBM model as an ONNX tree ensemble (onnxmltools), scored by
  onnxruntime exactly like LightGBM. EZKL cannot build circuits of tree-ensemble operators, so
  this export serves optimistic mode with committee re-execution (or any ONNX runtime).
- ``train_mlp`` / ``export_mlp``: a small MLP on the same era-invariant features, with the
  feature transform (signed log, standardisation) folded into its first layer where it is
  linear; zk mode proves this one. Its cross-validated F1 is reported next to LightGBM's.
  Training is deterministic: a fixed seed, and BLAS on one thread (a threaded matrix product
  may split a sum over the rows differently, and so round differently, with the thread count).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from proofmind.ml.onnx_models import mlp_onnx


def export_lightgbm(model_file: Path, out: Path) -> Path:
    """Write the LightGBM text model at ``model_file`` as ONNX; returns ``out``.

    The graph takes ``x`` (1 × features, float32) and returns the illicit-class probability.
    """
    import onnx
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    from proofmind.intel.fraud import load_model

    booster = load_model(model_file)
    n = booster.num_feature()
    model = onnxmltools.convert_lightgbm(
        booster, initial_types=[("x", FloatTensorType([1, n]))], target_opset=15, zipmap=False
    )
    # outputs: label, probabilities (1 × 2); keep the illicit probability only
    graph = model.graph
    probabilities = graph.output[1].name
    index = onnx.helper.make_tensor("illicit_index", onnx.TensorProto.INT64, [1], [1])
    graph.initializer.append(index)
    graph.node.append(
        onnx.helper.make_node("Gather", [probabilities, "illicit_index"], ["y"], axis=1)
    )
    while len(graph.output):
        graph.output.pop()
    graph.output.append(onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1]))
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def signed_log(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """sign(x)·log1p(|x|): tames heavy-tailed counts and values, keeps zero at zero; a missing
    feature (NaN: e.g. no gap for a one-transaction account) becomes 0."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    return np.asarray(np.sign(x) * np.log1p(np.abs(x)), dtype=np.float64)


@dataclass(frozen=True)
class Mlp:
    """Weights of a one-hidden-layer MLP on standardised signed-log features."""

    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    w1: NDArray[np.float64]
    b1: NDArray[np.float64]
    w2: NDArray[np.float64]
    b2: NDArray[np.float64]

    def prepare(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The model's input: signed log of the raw features (the part that is not linear)."""
        return signed_log(np.asarray(x, dtype=np.float64))

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (self.prepare(x) - self.mean) / self.std
        h = np.maximum(z @ self.w1 + self.b1, 0)
        return np.asarray(1 / (1 + np.exp(-(h @ self.w2 + self.b2))), dtype=np.float64).reshape(-1)

    def layers(self) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """ONNX layers with the standardisation folded into the first one."""
        w1 = self.w1 / self.std[:, None]
        b1 = self.b1 - (self.mean / self.std) @ self.w1
        return [(w1, b1), (self.w2, self.b2)]


def train_mlp(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    *,
    hidden: int = 16,
    epochs: int = 400,
    lr: float = 0.01,
    l2: float = 1e-4,
    seed: int = 0,
) -> Mlp:
    """Full-batch Adam on the logistic loss, class-balanced; the same weights, bit for bit,
    for a seed whatever the number of cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _adam(x, y, hidden, epochs, lr, l2, seed)


def _adam(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    hidden: int,
    epochs: int,
    lr: float,
    l2: float,
    seed: int,
) -> Mlp:
    rng = np.random.default_rng(seed)
    z0 = signed_log(np.asarray(x, dtype=np.float64))
    mean, std = z0.mean(0), z0.std(0) + 1e-6
    z = (z0 - mean) / std
    t = np.asarray(y, dtype=np.float64)
    weight = np.where(t == 1, 0.5 / max(t.mean(), 1e-9), 0.5 / max(1 - t.mean(), 1e-9))
    params = [
        rng.normal(0, np.sqrt(2 / z.shape[1]), (z.shape[1], hidden)),
        np.zeros(hidden),
        rng.normal(0, np.sqrt(1 / hidden), (hidden, 1)),
        np.zeros(1),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for step in range(1, epochs + 1):
        w1, b1, w2, b2 = params
        a = z @ w1 + b1
        h = np.maximum(a, 0)
        p = 1 / (1 + np.exp(-(h @ w2 + b2).reshape(-1)))
        g = (weight * (p - t) / len(t)).reshape(-1, 1)
        gw2 = h.T @ g + l2 * w2
        gb2 = g.sum(0)
        gh = (g @ w2.T) * (a > 0)
        gw1 = z.T @ gh + l2 * w1
        gb1 = gh.sum(0)
        for i, grad in enumerate((gw1, gb1, gw2, gb2)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad**2
            params[i] = params[i] - lr * (m[i] / (1 - 0.9**step)) / (
                np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8
            )
    return Mlp(mean, std, *params)


def export_mlp(model: Mlp, out: Path) -> Path:
    return mlp_onnx(model.layers(), out, name="fraud-mlp")


def calibration_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".calibration.csv")


def write_mlp(x: NDArray[np.float64], y: NDArray[np.int64], out: Path, seed: int = 0) -> Path:
    """Train the MLP, write it as ONNX at ``out`` and, next to it, up to 64 of its (signed-log)
    inputs as the calibration samples `proofmind model package` takes; returns those."""
    model = train_mlp(x, y, seed=seed)
    export_mlp(model, out)
    calibration = calibration_path(out)
    inputs = model.prepare(x)
    np.savetxt(calibration, inputs[:: max(1, len(inputs) // 64)], delimiter=",")
    return calibration
