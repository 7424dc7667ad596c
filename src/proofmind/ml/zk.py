"""Zero-knowledge packaging of ONNX models with EZKL: pre-flight estimates, settings and
calibration, circuit, keys, the Solidity verifier (compiled with solc-js), proving, and the
circuit's own fixed-point forward pass (deterministic inference).

Values cross the chain boundary as fixed-point integers: v_int = round(v * 2^scale), at the
circuit's input and output scales. The circuit's public inputs are the model's input followed
by its output, each a field element (negative v as FIELD + v), which is what
`InferenceOracle.instancesOf` rebuilds on-chain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from proofmind.crypto.keccak import keccak256
from proofmind.errors import ConfigError, InputError, ProofmindError
from proofmind.ml.onnx_models import OnnxModel

FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617
PACKAGE_FORMAT = "proofmind-zk-package-v1"
# the files a package holds, by role
FILES = ("model", "settings", "circuit", "vk", "pk", "srs", "verifier_sol")
# |v| < 2^24 keeps every fixed-point value exact through EZKL's float32 inputs
VALUE_BITS = 24
DEV_SRS_WARNING = (
    "using a development SRS generated on this machine (ezkl.gen_srs): its toxic waste is "
    "known here, so proofs made with it are NOT secure; give --srs with a file from a public "
    "ceremony for production"
)
# measured on a 2-core machine (benchmarks/bench_oracle.py, one advice column): the reference
# MLP proves in 3.2 s at logrows 15, the fraud MLP in 32.5 s at logrows 18 — time grows as
# (2^logrows)^1.1 (FFTs and MSMs are n log n). Memory grows about linearly in 2^logrows from
# 394 MB peak at logrows 15, measured with two columns (which need more): an upper estimate.
_PROVE_SECONDS_AT_15 = 3.2
_PROVE_TIME_EXPONENT = 1.1
_PROVE_MB_AT_15 = 394.0
_BASE_MB = 90.0
DEFAULT_COLUMNS = 1
MAX_CODE_SIZE = 24_576  # EIP-170: the largest contract code Ethereum deploys


class ZkError(ProofmindError):
    """EZKL could not build, prove or verify."""


def _ezkl() -> Any:
    try:
        import ezkl
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("ezkl is not installed", hint="pip install 'proofmind'") from exc
    return ezkl


def felt_to_int(felt: str) -> int:
    """An EZKL field element (64 hex characters, little-endian) as a signed integer."""
    value = int.from_bytes(bytes.fromhex(felt.removeprefix("0x")), "little")
    return value - FIELD if value > FIELD // 2 else value


def int_to_felt(value: int) -> int:
    return value % FIELD


def quantize(values: npt.ArrayLike, scale: int) -> list[int]:
    """Fixed-point integers of ``values`` at ``scale`` (round half away from zero, as EZKL)."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1) * float(2**scale)
    rounded = np.sign(arr) * np.floor(np.abs(arr) + 0.5)
    return [int(v) for v in rounded]


def dequantize(values: Sequence[int], scale: int) -> list[float]:
    return [v / 2**scale for v in values]


@dataclass(frozen=True)
class Package:
    """A packaged model: paths of its files and the facts the oracle needs."""

    name: str
    paths: dict[str, Path]
    digests: dict[str, str]
    input_scale: int
    output_scale: int
    input_shape: list[int]
    output_shape: list[int]
    logrows: int
    dev_srs: bool
    verifier_abi: list[dict[str, Any]]
    verifier_bytecode: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> bytes:
        """The id the oracle knows the model by: the model, its circuit and verifying key."""
        parts = (self.digests["model"], self.digests["circuit"], self.digests["vk"])
        return keccak256(b"".join(bytes.fromhex(p.removeprefix("0x")) for p in parts))

    @property
    def input_size(self) -> int:
        return math.prod(self.input_shape)

    @property
    def output_size(self) -> int:
        return math.prod(self.output_shape)

    def manifest(self) -> dict[str, Any]:
        return {
            "format": PACKAGE_FORMAT,
            "name": self.name,
            "model_id": "0x" + self.model_id.hex(),
            "files": self.digests,
            "input_scale": self.input_scale,
            "output_scale": self.output_scale,
            "input_shape": self.input_shape,
            "output_shape": self.output_shape,
            "logrows": self.logrows,
            "dev_srs": self.dev_srs,
            "verifier": {"abi": self.verifier_abi, "bytecode": self.verifier_bytecode},
            "meta": self.meta,
        }

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], path_of: Callable[[str], Path]) -> Package:
        if manifest.get("format") != PACKAGE_FORMAT:
            raise InputError(
                f"not a proofmind zk package manifest (format {manifest.get('format')!r})"
            )
        digests = dict(manifest["files"])
        return cls(
            name=manifest["name"],
            paths={role: path_of(d) for role, d in digests.items()},
            digests=digests,
            input_scale=int(manifest["input_scale"]),
            output_scale=int(manifest["output_scale"]),
            input_shape=list(manifest["input_shape"]),
            output_shape=list(manifest["output_shape"]),
            logrows=int(manifest["logrows"]),
            dev_srs=bool(manifest["dev_srs"]),
            verifier_abi=manifest["verifier"]["abi"],
            verifier_bytecode=manifest["verifier"]["bytecode"],
            meta=dict(manifest.get("meta", {})),
        )


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


@dataclass(frozen=True)
class Proof:
    """An EZKL proof of ``model(input) = output``, ready for `InferenceOracle.fulfill`."""

    input: list[int]
    output: list[int]
    proof: bytes
    instances: list[int]


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


@contextmanager
def _workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="proofmind-zk-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check(ok: object, step: str) -> None:
    if ok is False:
        raise ZkError(f"EZKL {step} failed")


def _generate_settings(model: Path, work: Path, columns: int) -> dict[str, Any]:
    """EZKL's settings before calibration (seconds): the circuit's rows are known, its scales
    and lookup ranges are not."""
    if columns < 1:
        raise InputError(f"columns must be at least 1, not {columns}")
    ezkl = _ezkl()
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
        _check(ezkl.gen_settings(str(model), str(settings), py_run_args=args), "gen_settings")
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


def _calibrate(
    model: Path, samples: npt.NDArray[np.float64], work: Path, max_logrows: int | None
) -> dict[str, Any]:
    """Calibrate the settings in ``work`` on ``samples`` (slow for a big model)."""
    ezkl = _ezkl()
    settings = work / "settings.json"
    cal = work / "calibration.json"
    cal.write_text(json.dumps({"input_data": [samples.reshape(-1).tolist()]}))
    try:
        # EZKL splits the flat sample list into inputs of the model's shape and fits the
        # lookup ranges and scales to all of them
        with _without_fidelity_report():
            _check(
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


def _forward(compiled: Path, work: Path, x_int: Sequence[int], scale: int) -> dict[str, Any]:
    """The circuit's witness for the fixed-point input ``x_int``."""
    ezkl = _ezkl()
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


def _ints(rows: list[list[str]]) -> list[int]:
    return [felt_to_int(v) for row in rows for v in row]


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
    with _workdir() as work:
        first = _generate_settings(model_path, work, columns)
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
        settings = _calibrate(model_path, samples, work, max_logrows)
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
        _check(
            _ezkl().compile_circuit(str(model_path), str(compiled), str(work / "settings.json")),
            "compile_circuit",
        )
        errors = []
        for sample in samples:
            x_int = quantize(sample, in_scale)
            witness = _forward(compiled, work, x_int, in_scale)
            circuit = np.asarray(dequantize(_ints(witness["outputs"]), out_scale))
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


def find_solcjs() -> Path:
    from proofmind.chain.devnet import node_modules_dirs

    for modules in node_modules_dirs():
        if (modules / "solc" / "package.json").is_file():
            return modules / "solc"
    raise ConfigError(
        "solc-js (npm package `solc`) is not installed",
        hint="run `npm ci` in the proofmind checkout (make setup does it)",
    )


_SOLCJS = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => process.stdout.write(solc.compile(input)));
"""


def compile_verifier(source: Path) -> tuple[list[dict[str, Any]], str]:
    """ABI and creation bytecode of the verifier EZKL wrote, compiled with solc-js (EZKL's own
    compile step downloads a native solc, which does not work offline)."""
    solc = find_solcjs()
    request = {
        "language": "Solidity",
        "sources": {"Verifier.sol": {"content": source.read_text()}},
        "settings": {
            "optimizer": {"enabled": True, "runs": 1},
            "evmVersion": "cancun",
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node is not on PATH", hint="install Node.js 20 (solc-js runs on it)")
    done = subprocess.run(
        [node, "-e", _SOLCJS, str(solc)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ZkError(f"solc-js failed on {source}: {done.stderr.strip()[-500:]}")
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ZkError(f"the verifier EZKL wrote does not compile: {errors[0]['formattedMessage']}")
    (contract,) = output["contracts"]["Verifier.sol"].values()
    size = len(contract["evm"]["deployedBytecode"]["object"]) // 2
    if size > MAX_CODE_SIZE:
        raise ZkError(
            f"the verifier of this circuit is {size:,} bytes of code, over the {MAX_CODE_SIZE:,}"
            "-byte limit of EIP-170: Ethereum and its L2s refuse to deploy it",
            hint="spread the lookup tables over fewer columns: a higher --max-logrows "
            "(or none), or fewer --columns",
        )
    return contract["abi"], "0x" + contract["evm"]["bytecode"]["object"]


def _write_verifier(vk: Path, settings: Path, srs: Path, out: Path) -> None:
    """EZKL writes the Solidity file, then fails trying to download solc: keep the file."""
    ezkl = _ezkl()

    async def run() -> None:
        try:
            await ezkl.create_evm_verifier(
                str(vk), str(settings), str(out), str(out.with_suffix(".abi")), str(srs)
            )
        except RuntimeError as exc:
            if not out.is_file():
                raise ZkError(f"EZKL could not write the verifier: {exc}") from exc

    asyncio.run(run())


def package(
    model_path: Path,
    calibration: Path,
    *,
    store: Callable[[Path], str],
    path_of: Callable[[str], Path],
    name: str | None = None,
    srs: Path | None = None,
    max_logrows: int | None = None,
    columns: int = DEFAULT_COLUMNS,
    memory_mb: float | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> Package:
    """Build everything the oracle needs to prove and verify ``model_path``.

    ``store`` moves a finished file into the blob store and returns its digest; ``path_of``
    gives a digest's path. Refuses (before the expensive setup) when proving would not fit in
    memory.
    """
    ezkl = _ezkl()
    model = OnnxModel.load(model_path)
    samples = load_calibration(calibration, model)
    if srs is not None and not srs.is_file():
        raise InputError(f"SRS file {srs} does not exist", hint="give the ceremony's .srs file")
    available = memory_mb if memory_mb is not None else available_memory_mb()
    with _workdir() as work:
        progress("settings and calibration")
        first = _generate_settings(model_path, work, columns)
        least = least_logrows(first, max_logrows)
        least_mb = estimate(least)[1]
        if least_mb > available:
            raise ZkError(
                f"proving {model_path.name} needs at least {least_mb:,.0f} MB: its "
                f"circuit has {int(first.get('num_rows', 0)):,} rows, so logrows is at least "
                f"{least}, but only {available:,.0f} MB is available",
                hint="shrink the model or its input, or lower --max-logrows",
            )
        settings_doc = _calibrate(model_path, samples, work, max_logrows)
        logrows = int(settings_doc["run_args"]["logrows"])
        seconds, mb = estimate(logrows)
        if mb > available:
            raise ZkError(
                f"proving {model_path.name} needs about {mb:,.0f} MB at logrows {logrows}, but "
                f"only {available:,.0f} MB is available",
                hint="shrink the model or its input, or lower --max-logrows",
            )
        files = {
            "model": work / "model.onnx",
            "settings": work / "settings.json",
            "circuit": work / "model.compiled",
            "vk": work / "vk.key",
            "pk": work / "pk.key",
            "srs": work / "kzg.srs",
            "verifier_sol": work / "Verifier.sol",
        }
        shutil.copyfile(model_path, files["model"])
        progress("compile circuit")
        _check(
            ezkl.compile_circuit(
                str(files["model"]), str(files["circuit"]), str(files["settings"])
            ),
            "compile_circuit",
        )
        if srs is None:
            warnings.warn(DEV_SRS_WARNING, stacklevel=2)
            progress(f"generate development SRS (logrows {logrows})")
            _check(ezkl.gen_srs(str(files["srs"]), logrows), "gen_srs")
        else:
            shutil.copyfile(srs, files["srs"])
        progress(f"setup keys (about {seconds * 0.8:.0f} s)")
        try:
            _check(
                ezkl.setup(
                    str(files["circuit"]), str(files["vk"]), str(files["pk"]), str(files["srs"])
                ),
                "setup",
            )
        except RuntimeError as exc:
            raise ZkError(
                f"EZKL setup failed: {exc}",
                hint=f"a user SRS must have at least the circuit's logrows ({logrows})"
                if srs is not None
                else None,
            ) from exc
        progress("write and compile the Solidity verifier")
        _write_verifier(files["vk"], files["settings"], files["srs"], files["verifier_sol"])
        abi, bytecode = compile_verifier(files["verifier_sol"])
        digests = {role: store(path) for role, path in files.items()}
    return Package(
        name=name or model_path.stem,
        paths={role: path_of(d) for role, d in digests.items()},
        digests=digests,
        input_scale=int(settings_doc["model_input_scales"][0]),
        output_scale=int(settings_doc["model_output_scales"][0]),
        input_shape=list(settings_doc["model_instance_shapes"][0]),
        output_shape=list(settings_doc["model_instance_shapes"][1]),
        logrows=logrows,
        dev_srs=srs is None,
        verifier_abi=abi,
        verifier_bytecode=bytecode,
        meta={"prove_seconds_estimate": seconds, "prove_memory_mb_estimate": mb},
    )


def check_input(pkg: Package, x_int: Sequence[int]) -> list[int]:
    values = list(x_int)
    if len(values) != pkg.input_size:
        raise InputError(
            f"input has {len(values)} values; {pkg.name} takes shape {pkg.input_shape} "
            f"({pkg.input_size} values)"
        )
    for i, v in enumerate(values):
        if not isinstance(v, int | np.integer) or isinstance(v, bool):
            raise InputError(f"input value {i} is {v!r}: fixed-point inputs are integers")
        if abs(int(v)) >= 2**VALUE_BITS:
            raise InputError(f"input value {i} = {v} is outside ±2^{VALUE_BITS}")
    return [int(v) for v in values]


def circuit_output(pkg: Package, x_int: Sequence[int]) -> list[int]:
    """Deterministic inference: the circuit's fixed-point output for ``x_int``, bit for bit
    what a proof of this input would show (no proving)."""
    values = check_input(pkg, x_int)
    with _workdir() as work:
        witness = _forward(pkg.paths["circuit"], work, values, pkg.input_scale)
    got = _ints(witness["inputs"])
    if got != values:  # pragma: no cover - guards the fixed-point round trip
        raise ZkError(f"the circuit re-quantized the input differently: {got} != {values}")
    return _ints(witness["outputs"])


def prove(pkg: Package, x_int: Sequence[int]) -> Proof:
    """Prove ``model(x_int)`` and return the output, proof bytes and public inputs."""
    ezkl = _ezkl()
    values = check_input(pkg, x_int)
    with _workdir() as work:
        witness = _forward(pkg.paths["circuit"], work, values, pkg.input_scale)
        proof_path = work / "proof.json"
        try:
            _check(
                ezkl.prove(
                    witness["_path"],
                    str(pkg.paths["circuit"]),
                    str(pkg.paths["pk"]),
                    str(proof_path),
                    str(pkg.paths["srs"]),
                ),
                "prove",
            )
        except RuntimeError as exc:
            raise ZkError(f"EZKL could not prove {pkg.name}: {exc}") from exc
        doc = json.loads(proof_path.read_text())
    instances = [int_to_felt(felt_to_int(v)) for row in doc["instances"] for v in row]
    output = _ints(witness["outputs"])
    expected = [int_to_felt(v) for v in values + output]
    if instances != expected:  # pragma: no cover - guards the public-input layout
        raise ZkError("the proof's public inputs are not the input followed by the output")
    return Proof(values, output, bytes.fromhex(doc["hex_proof"].removeprefix("0x")), instances)
