"""Command-line arguments to ABI values."""

from __future__ import annotations

import re

import pytest

from proofmind.cli.abi_args import parse_args, show
from proofmind.errors import InputError


def params(*types: str) -> list[dict[str, str]]:
    return [{"name": f"p{i}", "type": t} for i, t in enumerate(types)]


def test_scalars_and_arrays() -> None:
    values = parse_args(
        "f",
        params("address", "uint64", "int8", "bool", "bytes32", "string", "uint256[]", "bytes"),
        [
            "0x" + "ab" * 20,
            "0x10",
            "-128",
            "true",
            "0x" + "11" * 32,
            "hello",
            "[1, 2, 3]",
            "0xbeef",
        ],
    )
    assert values[0] == "0x" + "Ab" * 20 or values[0].lower() == "0x" + "ab" * 20
    assert values[1:4] == [16, -128, True]
    assert values[4] == b"\x11" * 32
    assert values[5:] == ["hello", [1, 2, 3], b"\xbe\xef"]


@pytest.mark.parametrize(
    ("kind", "text", "needle"),
    [
        ("uint8", "256", "must be uint8"),
        ("uint256", "-1", "must be uint256"),
        ("address", "0x1234", "must be address"),
        ("bytes32", "0x12", "must be bytes32"),
        ("bool", "maybe", "must be bool"),
        ("uint256[]", "[1,", "must be uint256[]"),
    ],
)
def test_bad_values_name_the_argument(kind: str, text: str, needle: str) -> None:
    with pytest.raises(InputError, match=re.escape(needle)) as info:
        parse_args("f", params(kind), [text])
    assert "p0" in str(info.value) and repr(text) in str(info.value)


def test_wrong_arity_lists_the_parameters() -> None:
    with pytest.raises(InputError, match=r"takes 2 argument\(s\) \(bytes32 p0, uint64 p1\), got 1"):
        parse_args("f", params("bytes32", "uint64"), ["0x00"])


def test_show_round_trips_bytes() -> None:
    assert show([b"\x01", (2, "x")]) == '["0x01", ["2", "x"]]'
