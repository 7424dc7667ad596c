"""Decode revert data into a reason string or a named custom error with its arguments."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from proofmind.errors import ContractReverted

ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)

PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


@dataclass(frozen=True)
class DecodedRevert:
    name: str | None  # custom error name, "Error" or "Panic"; None when unknown
    args: tuple[Any, ...]
    reason: str  # a readable one-liner

    def __str__(self) -> str:
        return self.reason


class ErrorDecoder:
    """Knows the custom errors of a set of ABIs (by 4-byte selector)."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]] = ()) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            self.add_abi(abi)

    def add_abi(self, abi: list[dict[str, Any]]) -> None:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_canonical_type(i) for i in item.get("inputs", [])]
            names = [i.get("name") or f"arg{n}" for n, i in enumerate(item.get("inputs", []))]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            self._errors[selector] = (item["name"], types, names)

    def decode(self, data: bytes | str | None) -> DecodedRevert:
        raw = _to_bytes(data)
        if not raw:
            return DecodedRevert(None, (), "reverted without a reason")
        selector, body = raw[:4], raw[4:]
        try:
            if selector == ERROR_STRING:
                (text,) = abi_decode(["string"], body)
                return DecodedRevert("Error", (text,), str(text))
            if selector == PANIC:
                (code,) = abi_decode(["uint256"], body)
                meaning = PANIC_CODES.get(code, "unknown panic")
                return DecodedRevert("Panic", (code,), f"panic 0x{code:02x} ({meaning})")
            if selector in self._errors:
                name, types, names = self._errors[selector]
                values = tuple(
                    to_checksum_address(v) if t == "address" else v
                    for t, v in zip(types, abi_decode(types, body), strict=True)
                )
                shown = ", ".join(f"{n}={_show(v)}" for n, v in zip(names, values, strict=True))
                return DecodedRevert(name, values, f"{name}({shown})")
        except DecodingError:
            pass
        return DecodedRevert(None, (), f"unknown revert data 0x{raw.hex()}")


def _canonical_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


def _to_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    text = data.removeprefix("0x")
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def contract_revert(exc: BaseException) -> ContractReverted | None:
    """A call that reverted outside the transaction sender (a view call), as the
    ContractReverted it stands for: decoded against the custom errors of every contract
    proofmind ships. None when ``exc`` is not a revert."""
    if "web3" not in sys.modules:
        return None
    from web3.exceptions import ContractLogicError

    if not isinstance(exc, ContractLogicError):
        return None
    from proofmind.chain.sender import default_decoder

    data = exc.data if isinstance(exc.data, str | bytes) else None
    decoded = default_decoder().decode(data)
    reason = decoded.reason if decoded.name is not None or data else str(exc.message or exc)
    return ContractReverted(
        f"the contract refused the call: {reason}",
        hint="check the arguments (ids, amounts, addresses) and the contract's state",
        reason=reason,
        error_name=decoded.name,
        error_args=decoded.args,
    )
