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


def _sample(kind: str) -> object:
    """A value of the canonical ABI type ``kind`` (for encoding an error's arguments)."""
    if kind.endswith("]"):
        return []
    if kind.startswith("("):
        from eth_abi.grammar import parse

        return tuple(_sample(c.to_type_str()) for c in parse(kind).components)
    if kind == "address":
        return "0x" + "00" * 19 + "07"
    if kind == "bool":
        return True
    if kind == "string":
        return "why"
    if kind == "bytes":
        return b"\x01\x02"
    if kind.startswith("bytes"):
        return b"\x05" * int(kind[5:])
    return 7  # uintN / intN / enums


def test_every_custom_error_of_every_shipped_contract_is_decoded() -> None:
    """`oracle status 9999` once printed raw revert data: the decoder the CLI and the sender
    use must know each error of each artifact shipped in the package, by name and arguments."""
    from proofmind.chain.contracts import artifact_names, load_artifact
    from proofmind.chain.revert import _canonical_type
    from proofmind.chain.sender import default_decoder

    decoder = default_decoder()
    seen = 0
    for name in artifact_names():
        for item in load_artifact(name).abi:
            if item.get("type") != "error":
                continue
            types = [_canonical_type(i) for i in item.get("inputs", [])]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            data = selector + encode(types, [_sample(t) for t in types])
            decoded = decoder.decode("0x" + data.hex())
            assert decoded.name == item["name"], (name, item["name"], decoded.reason)
            assert decoded.reason.startswith(item["name"] + "(")
            seen += 1
    assert seen > 50  # every contract's own errors and the OpenZeppelin ones they inherit
