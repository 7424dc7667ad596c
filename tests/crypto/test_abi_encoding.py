"""Leaf encoding: the column-wise fast path gives exactly eth-abi's bytes, in every value form."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode as eth_abi_encode
from hypothesis import given
from hypothesis import strategies as st

from proofmind.crypto.keccak import keccak256
from proofmind.crypto.merkle import abi_encode, leaf_hash, leaf_hashes
from proofmind.errors import InputError

# (type, strategy of (value as eth-abi takes it, the same value in some other accepted form))
Pair = tuple[Any, Any]


def int_pairs(bits: int, signed: bool) -> st.SearchStrategy[Pair]:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return st.integers(low, high).flatmap(
        lambda n: st.sampled_from([(n, n), (n, str(n)), (n, hex(n) if n >= 0 else str(n))])
    )


def fixed_bytes_pairs(size: int) -> st.SearchStrategy[Pair]:
    return st.binary(min_size=size, max_size=size).flatmap(
        lambda b: (
            st.sampled_from([(b, b), (b, "0x" + b.hex()), (b, "0x" + b.hex().upper())])
            if b
            else st.just((b, b))
        )
    )


ADDRESS: st.SearchStrategy[Pair] = st.binary(min_size=20, max_size=20).flatmap(
    lambda b: st.sampled_from(
        [
            ("0x" + b.hex(), "0x" + b.hex()),
            ("0x" + b.hex(), "0x" + b.hex().upper()),
            ("0x" + b.hex(), "0X" + b.hex()),
            ("0x" + b.hex(), b),
        ]
    )
)
BOOL: st.SearchStrategy[Pair] = st.booleans().flatmap(
    lambda v: st.sampled_from([(v, v), (v, "true" if v else "false")])
)
STATIC: dict[str, st.SearchStrategy[Pair]] = {
    "address": ADDRESS,
    "bool": BOOL,
    "uint256": int_pairs(256, False),
    "uint8": int_pairs(8, False),
    "uint96": int_pairs(96, False),
    "int256": int_pairs(256, True),
    "int16": int_pairs(16, True),
    "bytes32": fixed_bytes_pairs(32),
    "bytes1": fixed_bytes_pairs(1),
    "bytes20": fixed_bytes_pairs(20),
}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[Any]], list[list[Any]]]:
    """Types, rows as eth-abi takes them, and the same rows in mixed accepted forms."""
    types = draw(st.lists(st.sampled_from(sorted(STATIC)), min_size=1, max_size=4))
    uniform = draw(st.booleans())  # one form per column hits the fast path; mixed forms don't
    canonical, given = [], []
    for _ in range(draw(st.integers(1, 12))):
        pairs = [draw(STATIC[t]) for t in types]
        canonical.append([p[0] for p in pairs])
        given.append([p[0] if uniform else p[1] for p in pairs])
    return types, canonical, given


@given(tables())
def test_static_rows_encode_exactly_as_eth_abi(
    table: tuple[list[str], list[list[Any]], list[list[Any]]],
) -> None:
    types, canonical, given_rows = table
    expected = [keccak256(keccak256(eth_abi_encode(types, row))) for row in canonical]
    assert leaf_hashes(types, given_rows) == expected
    assert [leaf_hash(types, row) for row in given_rows] == expected
    assert abi_encode(types, given_rows[0]) == eth_abi_encode(types, canonical[0])


@given(
    st.lists(
        st.tuples(st.text(max_size=40), st.binary(max_size=70), st.lists(st.integers(0, 255))),
        min_size=1,
        max_size=5,
    )
)
def test_dynamic_rows_go_through_eth_abi(rows: list[tuple[str, bytes, list[int]]]) -> None:
    types = ["string", "bytes", "uint8[]"]
    as_json = [[s, "0x" + b.hex(), [str(n) for n in ns]] for s, b, ns in rows]
    expected = [keccak256(keccak256(eth_abi_encode(types, list(row)))) for row in rows]
    assert leaf_hashes(types, as_json) == expected
    assert leaf_hashes(types, [list(row) for row in rows]) == expected


def test_short_bytes_are_right_padded_as_in_eth_abi_and_openzeppelin() -> None:
    assert abi_encode(["bytes4"], ["0x0102"]) == eth_abi_encode(["bytes4"], [b"\x01\x02"])
    assert abi_encode(["bytes32"], [b"\x01"]) == eth_abi_encode(["bytes32"], [b"\x01"])


def test_uint_alias_is_uint256() -> None:
    assert abi_encode(["uint", "int"], [5, -5]) == eth_abi_encode(["uint256", "int256"], [5, -5])


@pytest.mark.parametrize(
    ("kind", "value", "needle"),
    [
        ("uint8", 256, "256 does not fit uint8"),
        ("int8", -129, "-129 does not fit int8"),
        ("int8", "0x80", "does not fit int8"),
        ("uint256", "1_000", "is not an integer"),
        ("uint256", " 1", "is not an integer"),
        ("uint256", None, "is not an integer"),
        ("bool", 1, "is not a bool"),
        ("bool", "yes", "is not a bool"),
        ("bytes4", "0x0102030405", "does not fit bytes4"),
        ("bytes4", "0x010", "is not 0x-hex"),
        ("bytes4", "01020304", "is not 0x-hex"),
        ("bytes32", "0x" + "00 " * 32, "is not 0x-hex"),
        ("address", "0x" + "01" * 19, "is not an address"),
        ("address", b"\x01" * 19, "is not an address"),
        ("address", "0x" + "0 " * 20, "non-hex"),
        ("string", 5, "cannot be ABI-encoded"),
    ],
)
def test_values_that_do_not_fit_are_refused(kind: str, value: Any, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        abi_encode([kind], [value])
    with pytest.raises(InputError, match=f"row 1 cannot be ABI-encoded as \\['{kind}'\\]"):
        leaf_hashes([kind], [[_good(kind)], [value]])


def _good(kind: str) -> Any:
    return {"address": "0x" + "00" * 20, "bool": True, "string": "x"}.get(
        kind, b"\x00" if kind.startswith("bytes") else 0
    )
