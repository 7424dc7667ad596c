"""Revert decoding without a node: Error(string), Panic(uint256), custom errors, garbage."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector
from hypothesis import given
from hypothesis import strategies as st

from proofmind.chain.revert import ERROR_STRING, PANIC, ErrorDecoder

ABI = [
    {
        "type": "error",
        "name": "InvalidProof",
        "inputs": [{"name": "root", "type": "bytes32"}, {"name": "leaf", "type": "bytes32"}],
    },
    {
        "type": "error",
        "name": "Capped",
        "inputs": [
            {
                "name": "limit",
                "type": "tuple",
                "components": [{"name": "a", "type": "uint64"}, {"name": "b", "type": "address"}],
            }
        ],
    },
]


def test_error_string() -> None:
    data = ERROR_STRING + encode(["string"], ["not allowed"])
    decoded = ErrorDecoder().decode("0x" + data.hex())
    assert (decoded.name, decoded.reason) == ("Error", "not allowed")


def test_panic_code_is_explained() -> None:
    decoded = ErrorDecoder().decode(PANIC + encode(["uint256"], [0x11]))
    assert decoded.name == "Panic" and "overflow" in decoded.reason


def test_custom_error_with_named_args() -> None:
    selector = function_signature_to_4byte_selector("InvalidProof(bytes32,bytes32)")
    decoder = ErrorDecoder([ABI])
    data = selector + encode(["bytes32", "bytes32"], [b"\x01" * 32, b"\x02" * 32])
    decoded = decoder.decode(data)
    assert decoded.name == "InvalidProof"
    assert decoded.args == (b"\x01" * 32, b"\x02" * 32)
    assert decoded.reason == f"InvalidProof(root=0x{'01' * 32}, leaf=0x{'02' * 32})"


def test_tuple_error_selector_uses_canonical_signature() -> None:
    selector = function_signature_to_4byte_selector("Capped((uint64,address))")
    data = selector + encode(["(uint64,address)"], [(5, "0x" + "00" * 19 + "01")])
    assert ErrorDecoder([ABI]).decode(data).name == "Capped"


def test_empty_and_unknown_data() -> None:
    decoder = ErrorDecoder([ABI])
    assert decoder.decode(None).reason == "reverted without a reason"
    assert decoder.decode("0x").name is None
    assert decoder.decode("0xdeadbeef00").reason == "unknown revert data 0xdeadbeef00"


@given(st.binary(max_size=200))
def test_any_bytes_decode_without_raising(data: bytes) -> None:
    decoded = ErrorDecoder([ABI]).decode(data)
    assert isinstance(decoded.reason, str)
