"""Pre-flight: what proving a model would take (logrows, seconds, memory) and how far its
circuit's fixed-point outputs are from onnxruntime in float, before the slow setup."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from proofmind.errors import InputError
from proofmind.ml.onnx_models import OnnxModel
from proofmind.ml.zk._ezkl import (
    DEFAULT_COLUMNS,
    calibrate,
    check_step,
    forward,
    generate_settings,
    least_logrows,
    load_ezkl,
    workdir,
)
from proofmind.ml.zk._fixed_point import dequantize, felts_to_ints, quantize

# measured on a 2-core machine (benchmarks/bench_oracle.py, one advice column): the reference
# MLP proves in 3.2 s at logrows 15, the fraud MLP in 32.5 s at logrows 18 — time grows as
# (2^logrows)^1.1 (FFTs and MSMs are n log n). Memory grows about linearly in 2^logrows from
# 394 MB peak at logrows 15, measured with two columns (which need more): an upper estimate.
_PROVE_SECONDS_AT_15 = 3.2
_PROVE_TIME_EXPONENT = 1.1
_PROVE_MB_AT_15 = 394.0
_BASE_MB = 90.0


@dataclass(frozen=True)
class Preflight:
    """The estimates, and the quantization error when the model was calibrated and fits.

    ``calibrated`` is False when the circuit's rows alone (known in seconds, before the slow
    calibration) already need more memory than there is: logrows and the estimates are then
    lower bounds, and no scale or quantization error was measured."""

    logrows: int
    rows: int
    input_scale: int
    output_scale: int
    prove_seconds: float
    prove_memory_mb: float
    available_memory_mb: float
    quantization: dict[str, float]
    samples: int
    calibrated: bool = True

    @property
    def fits(self) -> bool:
        return self.prove_memory_mb <= self.available_memory_mb

    def refusal(self) -> str | None:
        if self.fits:
            return None
        if not self.calibrated:
            return (
                f"proving needs at least {self.prove_memory_mb:,.0f} MB: the circuit has "
                f"{self.rows:,} rows, so logrows is at least {self.logrows}, but only "
                f"{self.available_memory_mb:,.0f} MB is available"
            )
        return (
            f"proving needs about {self.prove_memory_mb:,.0f} MB at logrows {self.logrows}, "
            f"but only {self.available_memory_mb:,.0f} MB is available"
        )


def available_memory_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")) / 2**20


def estimate(logrows: int) -> tuple[float, float]:
    """(proving seconds, peak MB) at ``logrows``, scaled from the measured reference."""
    factor = 2.0 ** (logrows - 15)
    seconds = _PROVE_SECONDS_AT_15 * factor**_PROVE_TIME_EXPONENT
    return seconds, _BASE_MB + (_PROVE_MB_AT_15 - _BASE_MB) * factor


def load_calibration(path: Path, model: OnnxModel) -> npt.NDArray[np.float64]:
    """Calibration inputs from a CSV (one sample per row, a header row allowed), .npy or JSON
    (``{"input_data": [[...]]}`` as EZKL writes it, or a list of samples)."""
    if not path.is_file():
        raise InputError(f"calibration file {path} does not exist")
    try:
        if path.suffix == ".npy":
            data = np.load(path)
        elif path.suffix == ".json":
            doc = json.loads(path.read_text())
            rows = doc["input_data"] if isinstance(doc, dict) else doc
            data = np.asarray(rows, dtype=np.float64)
        else:
            text = path.read_text().splitlines()
            skip = 1 if text and any(c.isalpha() for c in text[0].replace("e", "")) else 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                data = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read calibration samples from {path}: {exc}") from exc
    data = np.asarray(data, dtype=np.float64)
    if data.size == 0:
        raise InputError(
            f"calibration file {path} holds no samples (a header only, or empty)",
            hint="give at least one row of input values per sample",
        )
    if data.ndim == 1:
        data = data.reshape(1, -1)
    data = data.reshape(data.shape[0], -1)
    if data.shape[1] != model.input_size:
        raise InputError(
            f"calibration samples in {path} have {data.shape[1]} values each; "
            f"{model.path.name} takes {model.input_size}"
        )
    if not np.isfinite(data).all():
        raise InputError(f"calibration samples in {path} contain NaN or infinity")
    return data


def preflight(
    model_path: Path,
    calibration: Path,
    *,
    max_logrows: int | None = None,
    columns: int = DEFAULT_COLUMNS,
    memory_mb: float | None = None,
) -> Preflight:
    """Settings, calibration and circuit for the model, then estimates of proving time and
    memory and the quantization error of the circuit against onnxruntime in float.

    Returns as soon as the estimates show that proving would not fit in memory, without the
    slow steps left: right after EZKL's first settings (seconds) when the circuit's rows alone
    are too many, or after calibration, before compiling and running the samples."""
    model = OnnxModel.load(model_path)
    samples = load_calibration(calibration, model)
    available = memory_mb if memory_mb is not None else available_memory_mb()
    with workdir() as work:
        first = generate_settings(model_path, work, columns)
        least = least_logrows(first, max_logrows)
        seconds, mb = estimate(least)
        if mb > available:
            return Preflight(
                logrows=least,
                rows=int(first.get("num_rows", 0)),
                input_scale=int(first["run_args"]["input_scale"]),
                output_scale=int(first["model_output_scales"][0]),
                prove_seconds=seconds,
                prove_memory_mb=mb,
                available_memory_mb=available,
                quantization={},
                samples=0,
                calibrated=False,
            )
        settings = calibrate(model_path, samples, work, max_logrows)
        run_args = settings["run_args"]
        in_scale = int(settings["model_input_scales"][0])
        out_scale = int(settings["model_output_scales"][0])
        logrows = int(run_args["logrows"])
        seconds, mb = estimate(logrows)
        report = Preflight(
            logrows=logrows,
            rows=int(settings.get("num_rows", 0)),
            input_scale=in_scale,
            output_scale=out_scale,
            prove_seconds=seconds,
            prove_memory_mb=mb,
            available_memory_mb=available,
            quantization={},
            samples=0,
        )
        if not report.fits:
            return report
        compiled = work / "model.compiled"
        check_step(
            load_ezkl().compile_circuit(
                str(model_path), str(compiled), str(work / "settings.json")
            ),
            "compile_circuit",
        )
        errors = []
        for sample in samples:
            x_int = quantize(sample, in_scale)
            witness = forward(compiled, work, x_int, in_scale)
            circuit = np.asarray(dequantize(felts_to_ints(witness["outputs"]), out_scale))
            errors.append(circuit - model.run(sample))
        err = np.abs(np.concatenate(errors))
    return replace(
        report,
        quantization={
            "mean_abs": float(err.mean()),
            "max_abs": float(err.max()),
            "p99_abs": float(np.quantile(err, 0.99)),
        },
        samples=len(samples),
    )
