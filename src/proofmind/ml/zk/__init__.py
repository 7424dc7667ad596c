"""Zero-knowledge packaging of ONNX models with EZKL: pre-flight estimates, settings and
calibration, circuit, keys, the Solidity verifier (compiled with solc-js), proving, and the
circuit's own fixed-point forward pass (deterministic inference).

Values cross the chain boundary as fixed-point integers: v_int = round(v * 2^scale), at the
circuit's input and output scales. The circuit's public inputs are the model's input followed
by its output, each a field element (negative v as FIELD + v), which is what
`InferenceOracle.instancesOf` rebuilds on-chain.

The parts: ``_fixed_point`` (the encoding), ``_ezkl`` (the EZKL steps they share),
``_preflight`` (estimates before the slow setup), ``_verifier`` (the Solidity verifier),
``_package`` (building a package and its manifest), ``_prove`` (proofs and deterministic
inference).
"""

from proofmind.ml.zk._ezkl import DEFAULT_COLUMNS, ZkError, least_logrows
from proofmind.ml.zk._fixed_point import (
    FIELD,
    VALUE_BITS,
    dequantize,
    felt_to_int,
    int_to_felt,
    quantize,
)
from proofmind.ml.zk._package import DEV_SRS_WARNING, FILES, PACKAGE_FORMAT, Package, package
from proofmind.ml.zk._preflight import (
    Preflight,
    available_memory_mb,
    estimate,
    load_calibration,
    preflight,
)
from proofmind.ml.zk._prove import Proof, check_input, circuit_output, prove
from proofmind.ml.zk._verifier import MAX_CODE_SIZE, compile_verifier, find_solcjs

__all__ = [
    "DEFAULT_COLUMNS",
    "DEV_SRS_WARNING",
    "FIELD",
    "FILES",
    "MAX_CODE_SIZE",
    "PACKAGE_FORMAT",
    "VALUE_BITS",
    "Package",
    "Preflight",
    "Proof",
    "ZkError",
    "available_memory_mb",
    "check_input",
    "circuit_output",
    "compile_verifier",
    "dequantize",
    "estimate",
    "felt_to_int",
    "find_solcjs",
    "int_to_felt",
    "least_logrows",
    "load_calibration",
    "package",
    "preflight",
    "prove",
    "quantize",
]
