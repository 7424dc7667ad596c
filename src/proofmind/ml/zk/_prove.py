"""Proving, and deterministic inference: the circuit's fixed-point output for an input, bit for
bit what a proof of that input would show."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from proofmind.errors import InputError
from proofmind.ml.zk._ezkl import ZkError, check_step, forward, load_ezkl, workdir
from proofmind.ml.zk._fixed_point import VALUE_BITS, felt_to_int, felts_to_ints, int_to_felt
from proofmind.ml.zk._package import Package


@dataclass(frozen=True)
class Proof:
    """An EZKL proof of ``model(input) = output``, ready for `InferenceOracle.fulfill`."""

    input: list[int]
    output: list[int]
    proof: bytes
    instances: list[int]


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
    with workdir() as work:
        witness = forward(pkg.paths["circuit"], work, values, pkg.input_scale)
    got = felts_to_ints(witness["inputs"])
    if got != values:  # pragma: no cover - guards the fixed-point round trip
        raise ZkError(f"the circuit re-quantized the input differently: {got} != {values}")
    return felts_to_ints(witness["outputs"])


def prove(pkg: Package, x_int: Sequence[int]) -> Proof:
    """Prove ``model(x_int)`` and return the output, proof bytes and public inputs."""
    ezkl = load_ezkl()
    values = check_input(pkg, x_int)
    with workdir() as work:
        witness = forward(pkg.paths["circuit"], work, values, pkg.input_scale)
        proof_path = work / "proof.json"
        try:
            check_step(
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
    output = felts_to_ints(witness["outputs"])
    expected = [int_to_felt(v) for v in values + output]
    if instances != expected:  # pragma: no cover - guards the public-input layout
        raise ZkError("the proof's public inputs are not the input followed by the output")
    return Proof(values, output, bytes.fromhex(doc["hex_proof"].removeprefix("0x")), instances)
