"""Fixed-point values as they cross the chain boundary: v_int = round(v * 2^scale), at the
circuit's input and output scales, and the field elements that carry them (negative v as
FIELD + v), which is what `InferenceOracle.instancesOf` rebuilds on-chain."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617
# |v| < 2^24 keeps every fixed-point value exact through EZKL's float32 inputs
VALUE_BITS = 24


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


def felts_to_ints(rows: list[list[str]]) -> list[int]:
    """EZKL's rows of field elements (a witness's inputs or outputs) as one flat list."""
    return [felt_to_int(v) for row in rows for v in row]
