"""ONNX models: building small MLPs from weights, and running any model with onnxruntime
after checking the input's shape and type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from proofmind.errors import InputError

OPSET = 17
IR_VERSION = 8  # what EZKL's ONNX reader (tract) accepts


def mlp_onnx(
    layers: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
    out: Path,
    *,
    sigmoid: bool = True,
    name: str = "mlp",
) -> Path:
    """Write an MLP (Gemm + ReLU between layers, optional sigmoid at the end) as ONNX.

    ``layers`` are (W, b) pairs with W of shape (inputs, outputs); the graph takes ``x`` of
    shape (1, inputs) and returns ``y`` of shape (1, outputs).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    weights = []
    current = "x"
    for i, (w, b) in enumerate(layers):
        w_arr = np.asarray(w, dtype=np.float32)
        b_arr = np.asarray(b, dtype=np.float32).reshape(-1)
        if w_arr.ndim != 2 or b_arr.shape[0] != w_arr.shape[1]:
            raise InputError(f"layer {i}: W {w_arr.shape} and b {b_arr.shape} do not fit")
        weights += [
            numpy_helper.from_array(w_arr, f"W{i}"),
            numpy_helper.from_array(b_arr, f"b{i}"),
        ]
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"b{i}"], [f"z{i}"]))
        current = f"z{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"h{i}"]))
            current = f"h{i}"
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", [current], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", [current], ["y"]))
    n_in = int(np.asarray(layers[0][0]).shape[0])
    n_out = int(np.asarray(layers[-1][0]).shape[1])
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n_out])],
        weights,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="proofmind"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def reference_mlp(out: Path, *, seed: int = 0) -> Path:
    """The reference MLP 16-32-1 (ReLU, sigmoid output) with seeded random weights."""
    rng = np.random.default_rng(seed)
    layers = [
        (rng.normal(0, 0.3, (16, 32)), rng.normal(0, 0.1, 32)),
        (rng.normal(0, 0.3, (32, 1)), np.zeros(1)),
    ]
    return mlp_onnx(layers, out, name="reference-mlp-16-32-1")


@dataclass(frozen=True)
class OnnxModel:
    """A model loaded in onnxruntime with its single input's name, shape and element type."""

    path: Path
    input_name: str
    input_shape: tuple[int, ...]
    input_type: str
    session: Any

    @classmethod
    def load(cls, path: Path) -> OnnxModel:
        import onnxruntime as ort

        if not path.is_file():
            raise InputError(f"model {path} does not exist", hint="give an .onnx file")
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f"{path} is not a model onnxruntime can load: {exc}") from exc
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise InputError(f"{path} has {len(inputs)} inputs; proofmind serves one-input models")
        shape = tuple(d if isinstance(d, int) else 1 for d in inputs[0].shape)
        return cls(path, inputs[0].name, shape, inputs[0].type, session)

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    def run(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The model's first output for ``x`` (flat or shaped), as a flat float64 array."""
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiu":
            raise InputError(
                f"input has dtype {arr.dtype}; {self.path.name} takes numbers ({self.input_type})"
            )
        if arr.size != self.input_size:
            raise InputError(
                f"input has {arr.size} values; {self.path.name} takes shape "
                f"{list(self.input_shape)} ({self.input_size} values)"
            )
        feed = arr.astype(np.float32).reshape(self.input_shape)
        out = self.session.run(None, {self.input_name: feed})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)
