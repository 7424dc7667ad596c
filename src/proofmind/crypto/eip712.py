"""EIP-712 typed-data hashing, signing and recovery, built on eth-account's implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from proofmind.errors import CryptoError, InputError

Types = dict[str, list[dict[str, str]]]


@dataclass(frozen=True)
class Eip712Domain:
    """The signing domain: which application, version, chain and contract a signature is for."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str
    salt: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        domain: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }
        if self.salt is not None:
            domain["salt"] = self.salt
        return domain


def _message(
    domain: Eip712Domain | dict[str, Any], types: Types, primary_type: str, message: dict[str, Any]
) -> Any:
    domain_data = domain.as_dict() if isinstance(domain, Eip712Domain) else domain
    if primary_type not in types:
        raise InputError(
            f"primary type {primary_type!r} is not among the types {sorted(types)}",
            hint="add its definition to `types`",
        )
    full_message = {
        "types": {"EIP712Domain": _domain_type(domain_data), **types},
        "primaryType": primary_type,
        "domain": domain_data,
        "message": message,
    }
    try:
        return encode_typed_data(full_message=full_message)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"typed data for {primary_type} is invalid: {exc}") from None


def _domain_type(domain: dict[str, Any]) -> list[dict[str, str]]:
    fields = [
        ("name", "string"),
        ("version", "string"),
        ("chainId", "uint256"),
        ("verifyingContract", "address"),
        ("salt", "bytes32"),
    ]
    return [{"name": name, "type": kind} for name, kind in fields if name in domain]


def typed_data_hash(
    domain: Eip712Domain | dict[str, Any], types: Types, primary_type: str, message: dict[str, Any]
) -> bytes:
    """The 32-byte digest a wallet signs (what a contract's `_hashTypedDataV4` returns)."""
    return bytes(_hash_eip191_message(_message(domain, types, primary_type, message)))


def sign_typed_data(
    signer: LocalAccount | bytes | str,
    domain: Eip712Domain | dict[str, Any],
    types: Types,
    primary_type: str,
    message: dict[str, Any],
) -> bytes:
    """A 65-byte signature (r, s, v) over the typed data."""
    account = signer if isinstance(signer, LocalAccount) else Account.from_key(signer)
    signed = account.sign_message(_message(domain, types, primary_type, message))
    return bytes(signed.signature)


def recover_typed_data(
    signature: bytes | str,
    domain: Eip712Domain | dict[str, Any],
    types: Types,
    primary_type: str,
    message: dict[str, Any],
) -> str:
    """The checksum address that produced ``signature``; CryptoError if it is malformed."""
    raw = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) else signature
    if len(raw) != 65:
        raise CryptoError(
            f"an EIP-712 signature is 65 bytes, got {len(raw)}",
            hint="pass r || s || v as returned by the wallet",
        )
    try:
        return str(
            Account.recover_message(_message(domain, types, primary_type, message), signature=raw)
        )
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"malformed EIP-712 signature: {exc}") from None


def verify_typed_data(
    expected_signer: str,
    signature: bytes | str,
    domain: Eip712Domain | dict[str, Any],
    types: Types,
    primary_type: str,
    message: dict[str, Any],
) -> bool:
    """Whether ``expected_signer`` signed the typed data. A malformed signature is False."""
    try:
        recovered = recover_typed_data(signature, domain, types, primary_type, message)
    except CryptoError:
        return False
    return recovered.lower() == expected_signer.lower()
