"""The zk package of a model: every file the oracle needs to prove and verify it (model,
settings, circuit, keys, SRS, verifier), stored by digest, and its manifest."""

from __future__ import annotations

import math
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofmind.crypto.keccak import keccak256
from proofmind.errors import InputError
from proofmind.ml.onnx_models import OnnxModel
from proofmind.ml.zk._ezkl import (
    DEFAULT_COLUMNS,
    ZkError,
    calibrate,
    check_step,
    generate_settings,
    least_logrows,
    load_ezkl,
    workdir,
)
from proofmind.ml.zk._preflight import available_memory_mb, estimate, load_calibration
from proofmind.ml.zk._verifier import compile_verifier, write_verifier

PACKAGE_FORMAT = "proofmind-zk-package-v1"
# the files a package holds, by role
FILES = ("model", "settings", "circuit", "vk", "pk", "srs", "verifier_sol")
DEV_SRS_WARNING = (
    "using a development SRS generated on this machine (ezkl.gen_srs): its toxic waste is "
    "known here, so proofs made with it are NOT secure; give --srs with a file from a public "
    "ceremony for production"
)


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
    ezkl = load_ezkl()
    model = OnnxModel.load(model_path)
    samples = load_calibration(calibration, model)
    if srs is not None and not srs.is_file():
        raise InputError(f"SRS file {srs} does not exist", hint="give the ceremony's .srs file")
    available = memory_mb if memory_mb is not None else available_memory_mb()
    with workdir() as work:
        progress("settings and calibration")
        first = generate_settings(model_path, work, columns)
        least = least_logrows(first, max_logrows)
        least_mb = estimate(least)[1]
        if least_mb > available:
            raise ZkError(
                f"proving {model_path.name} needs at least {least_mb:,.0f} MB: its "
                f"circuit has {int(first.get('num_rows', 0)):,} rows, so logrows is at least "
                f"{least}, but only {available:,.0f} MB is available",
                hint="shrink the model or its input, or lower --max-logrows",
            )
        settings_doc = calibrate(model_path, samples, work, max_logrows)
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
        check_step(
            ezkl.compile_circuit(
                str(files["model"]), str(files["circuit"]), str(files["settings"])
            ),
            "compile_circuit",
        )
        if srs is None:
            warnings.warn(DEV_SRS_WARNING, stacklevel=2)
            progress(f"generate development SRS (logrows {logrows})")
            check_step(ezkl.gen_srs(str(files["srs"]), logrows), "gen_srs")
        else:
            shutil.copyfile(srs, files["srs"])
        progress(f"setup keys (about {seconds * 0.8:.0f} s)")
        try:
            check_step(
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
        write_verifier(files["vk"], files["settings"], files["srs"], files["verifier_sol"])
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
