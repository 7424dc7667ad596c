"""keccak256 and the 32-byte hex helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils.crypto import keccak as eth_utils_keccak
from hypothesis import given
from hypothesis import strategies as st

from proofmind.crypto.keccak import hex32, keccak256, keccak256_file, keccak256_hex, to_bytes32
from proofmind.errors import InputError

EMPTY = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_known_vectors() -> None:
    assert keccak256_hex(b"") == EMPTY  # keccak256, not NIST sha3_256 (0xa7ffc6f8...)
    assert keccak256(b"transfer(address,uint256)")[:4].hex() == "a9059cbb"


@given(st.binary(max_size=600))
def test_same_as_eth_utils(data: bytes) -> None:
    assert keccak256(data) == eth_utils_keccak(data)
    assert keccak256(bytearray(data)) == keccak256(memoryview(data)) == keccak256(data)


@given(st.binary(max_size=3000), st.integers(1, 700))
def test_file_hash_equals_in_memory_hash(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk_size: int
) -> None:
    path = tmp_path_factory.mktemp("keccak") / "blob"
    path.write_bytes(data)
    assert keccak256_file(path, chunk_size=chunk_size) == keccak256(data)
    assert keccak256_file(str(path)) == keccak256(data)


def test_file_errors_say_which_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot hash .*missing\.bin"):
        keccak256_file(tmp_path / "missing.bin")
    with pytest.raises(InputError, match="chunk_size must be positive"):
        keccak256_file(tmp_path / "missing.bin", chunk_size=0)


@given(st.binary(min_size=32, max_size=32))
def test_bytes32_round_trip(value: bytes) -> None:
    text = hex32(value)
    assert text == "0x" + value.hex() and text == text.lower()
    assert to_bytes32(text) == to_bytes32(text[2:]) == to_bytes32(text.upper()[2:]) == value
    assert to_bytes32(value) == to_bytes32(bytearray(value)) == value


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("0x1234", "expected 64 hex digits, got 4"),
        ("0x" + "zz" * 32, "is not hex"),
        ("0x" + "0 " * 32, "is not hex"),
        (b"\x00" * 31, "expected 32 bytes, got 31"),
        (5, "expected a 32-byte hex string"),
    ],
)
def test_to_bytes32_refuses_bad_values(value: object, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        to_bytes32(value)  # type: ignore[arg-type]


def test_hex32_refuses_other_lengths() -> None:
    with pytest.raises(InputError, match="expected 32 bytes"):
        hex32(b"\x00" * 20)
