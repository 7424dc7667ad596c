"""The EZKL steps the package, the pre-flight check and the prover share: settings and
calibration, the circuit's witness, and a scratch folder for EZKL's files."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from proofmind.errors import ConfigError, InputError, ProofmindError

DEFAULT_COLUMNS = 1


class ZkError(ProofmindError):
    """EZKL could not build, prove or verify."""


def load_ezkl() -> Any:
    try:
        import ezkl
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("ezkl is not installed", hint="pip install 'proofmind'") from exc
    return ezkl


WORKDIR_PREFIX = "proofmind-zk-"
# a scratch folder left by a process that is gone is removed once it is this old: a process
# in another PID namespace sharing the temp folder may hold it, and no proof of ours lasts
# that long without writing a file into its folder
ORPHAN_AGE = 3600.0


@contextmanager
def workdir() -> Iterator[Path]:
    """A scratch folder named after this process, removed on exit. A process killed while
    proving (SIGKILL, the OOM killer) cannot remove its own: the next process to prove removes
    it, once, at its first scratch folder (not on every proof of a serving node)."""
    _sweep_once(tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def _sweep_once(parent: str) -> None:
    sweep_orphans(Path(parent))


def sweep_orphans(parent: Path, *, age: float = ORPHAN_AGE, now: float | None = None) -> int:
    """Remove the scratch folders in ``parent`` of processes that no longer run and that were
    last written ``age`` seconds ago or more; their number."""
    now = time.time() if now is None else now
    removed = 0
    for folder in parent.glob(f"{WORKDIR_PREFIX}*-*"):
        pid = folder.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        try:
            stale = now - folder.stat().st_mtime >= age and folder.is_dir()
        except OSError:
            continue  # removed meanwhile, or not ours to read
        if stale and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += not folder.exists()
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a PID: left alone
    return True


def check_step(ok: object, step: str) -> None:
    if ok is False:
        raise ZkError(f"EZKL {step} failed")


def generate_settings(model: Path, work: Path, columns: int) -> dict[str, Any]:
    """EZKL's settings before calibration (seconds): the circuit's rows are known, its scales
    and lookup ranges are not."""
    if columns < 1:
        raise InputError(f"columns must be at least 1, not {columns}")
    ezkl = load_ezkl()
    args = ezkl.PyRunArgs()
    args.input_visibility = "public"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    # one advice column per region: fewer polynomial commitments, so a smaller proof and a
    # cheaper verifier (reference MLP: 2,272 B and 468k gas against 3,648 B and 624k with
    # EZKL's default of 2) and faster proving; a big model may need more rows (logrows)
    args.num_inner_cols = columns
    settings = work / "settings.json"
    try:
        check_step(ezkl.gen_settings(str(model), str(settings), py_run_args=args), "gen_settings")
    except RuntimeError as exc:
        raise ZkError(f"EZKL cannot build a circuit for {model.name}: {exc}") from exc
    doc: dict[str, Any] = json.loads(settings.read_text())
    return doc


def least_logrows(settings: dict[str, Any], max_logrows: int | None) -> int:
    """A lower bound of the calibrated logrows: calibration fits every row of the circuit in
    one column (their number does not depend on the scales it picks), unless capped."""
    rows = max(int(settings.get("num_rows", 1)), 2)
    least = math.ceil(math.log2(rows))
    return least if max_logrows is None else min(least, max_logrows)


def calibrate(
    model: Path, samples: npt.NDArray[np.float64], work: Path, max_logrows: int | None
) -> dict[str, Any]:
    """Calibrate the settings in ``work`` on ``samples`` (slow for a big model)."""
    ezkl = load_ezkl()
    settings = work / "settings.json"
    cal = work / "calibration.json"
    cal.write_text(json.dumps({"input_data": [samples.reshape(-1).tolist()]}))
    try:
        # EZKL splits the flat sample list into inputs of the model's shape and fits the
        # lookup ranges and scales to all of them
        with _without_fidelity_report():
            check_step(
                ezkl.calibrate_settings(
                    str(cal), str(model), str(settings), "resources", max_logrows=max_logrows
                ),
                "calibrate_settings",
            )
    except RuntimeError as exc:
        raise ZkError(f"EZKL cannot build a circuit for {model.name}: {exc}") from exc
    doc: dict[str, Any] = json.loads(settings.read_text())
    return doc


class _DropFidelityReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Numerical Fidelity Report" not in record.getMessage()


@contextmanager
def _without_fidelity_report() -> Iterator[None]:
    """EZKL's calibration logs an ASCII "Numerical Fidelity Report" as a warning (through
    Python logging, printed on stderr when no handler is set up); proofmind measures and
    shows the quantization error itself, so that one record is dropped."""
    logger = logging.getLogger("ezkl.execute")
    drop = _DropFidelityReport()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def forward(compiled: Path, work: Path, x_int: Sequence[int], scale: int) -> dict[str, Any]:
    """The circuit's witness for the fixed-point input ``x_int``."""
    ezkl = load_ezkl()
    data = work / f"input-{os.getpid()}-{id(x_int)}.json"
    data.write_text(json.dumps({"input_data": [[v / 2**scale for v in x_int]]}))
    out = work / f"witness-{os.getpid()}-{id(x_int)}.json"
    try:
        witness: dict[str, Any] = ezkl.gen_witness(str(data), str(compiled), str(out))
    except RuntimeError as exc:
        raise ZkError(f"the circuit rejected the input: {exc}") from exc
    finally:
        data.unlink(missing_ok=True)
    witness["_path"] = str(out)
    return witness
