"""EIP-712 typed-data hashing, signing and recovery.

The encoding is eth-account's (``encode_typed_data``), not a re-implementation; this module adds
a typed domain, one error type, and the checks OpenZeppelin's ``ECDSA.recover`` makes, so a
signature accepted here is accepted by a contract using ``_hashTypedDataV4`` + ``ECDSA``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_address, to_checksum_address
from eth_utils.exceptions import ValidationError as KeyValidationError

from proofmind.crypto.keccak import keccak256
from proofmind.errors import CryptoError, InputError

Types = dict[str, list[dict[str, str]]]

# secp256k1 group order; OZ's ECDSA.recover refuses s > n / 2 (malleable signatures)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIGNATURE_HINT = "pass the 65-byte r || s || v signature (0x + 130 hex digits) the signer returned"


@dataclass(frozen=True)
class Eip712Domain:
    """The signing domain: which application, version, chain and contract a signature is for.

    It must match the contract's ``EIP712(name, version)`` constructor arguments, the chain id
    and the contract's address, or the contract recovers another signer.
    """

    name: str
    version: str
    chain_id: int
    verifying_contract: str
    salt: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise InputError(f"EIP-712 chain_id must be an int, got {self.chain_id!r}")
        if self.chain_id < 0:
            raise InputError(f"EIP-712 chain_id must not be negative, got {self.chain_id}")
        if not isinstance(self.verifying_contract, str) or not is_address(self.verifying_contract):
            raise InputError(
                f"EIP-712 verifying_contract {self.verifying_contract!r} is not an address",
                hint="pass the contract's 0x address (checksummed or all lower-case)",
            )
        if self.salt is not None and (not isinstance(self.salt, bytes) or len(self.salt) != 32):
            raise InputError(f"EIP-712 salt must be 32 bytes, got {self.salt!r}")

    def as_dict(self) -> dict[str, Any]:
        """The domain as EIP-712 JSON names it (``chainId``, ``verifyingContract``, ...)."""
        domain: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }
        if self.salt is not None:
            domain["salt"] = self.salt
        return domain


DomainLike = Eip712Domain | dict[str, Any]


def typed_data_hash(
    domain: DomainLike, types: Types, primary_type: str, message: dict[str, Any]
) -> bytes:
    """The 32-byte digest a wallet signs: what a contract's ``_hashTypedDataV4`` returns."""
    signable = _signable(domain, types, primary_type, message)
    return keccak256(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed_data(
    signer: LocalAccount | bytes | str,
    domain: DomainLike,
    types: Types,
    primary_type: str,
    message: dict[str, Any],
) -> bytes:
    """A 65-byte signature (r || s || v, v = 27 or 28) by ``signer`` (account or private key)."""
    if isinstance(signer, LocalAccount):
        account = signer
    else:
        try:
            account = Account.from_key(signer)
        except (ValueError, TypeError, KeyValidationError):
            raise InputError(
                "the signer is not a valid private key",
                hint="pass a LocalAccount, 32 key bytes, or 0x + 64 hex digits",
            ) from None
    signed = account.sign_message(_signable(domain, types, primary_type, message))
    return bytes(signed.signature)


def recover_typed_data(
    signature: bytes | str,
    domain: DomainLike,
    types: Types,
    primary_type: str,
    message: dict[str, Any],
) -> str:
    """The checksum address that signed the typed data; CryptoError if the signature is malformed.

    A well-formed signature over other data (or by someone else) recovers some other address:
    compare the result, or use ``verify_typed_data``.
    """
    raw = _signature_bytes(signature)
    signable = _signable(domain, types, primary_type, message)
    try:
        return str(Account.recover_message(signable, signature=raw))
    except (ValueError, BadSignature, KeyValidationError) as exc:
        raise CryptoError(
            f"malformed EIP-712 signature 0x{raw.hex()}: {exc}", hint=_SIGNATURE_HINT
        ) from None


def verify_typed_data(
    expected_signer: str,
    signature: bytes | str,
    domain: DomainLike,
    types: Types,
    primary_type: str,
    message: dict[str, Any],
) -> bool:
    """Whether ``expected_signer`` signed exactly this typed data.

    False for a signature by anyone else or over other data; CryptoError if the signature is
    malformed (wrong length, not hex, invalid v/r/s), InputError if the address is not one.
    """
    if not isinstance(expected_signer, str) or not is_address(expected_signer):
        raise InputError(f"expected signer {expected_signer!r} is not an address")
    recovered = recover_typed_data(signature, domain, types, primary_type, message)
    return recovered.lower() == expected_signer.lower()


def _signable(
    domain: DomainLike, types: Types, primary_type: str, message: dict[str, Any]
) -> SignableMessage:
    domain_data = domain.as_dict() if isinstance(domain, Eip712Domain) else dict(domain)
    if primary_type not in types:
        raise InputError(
            f"primary type {primary_type!r} is not among the types {sorted(types)}",
            hint="add its definition to `types`",
        )
    full_message = {
        "types": {"EIP712Domain": _domain_fields(domain_data), **types},
        "primaryType": primary_type,
        "domain": domain_data,
        "message": message,
    }
    try:
        return encode_typed_data(full_message=full_message)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(
            f"typed data for {primary_type!r} does not match its types: {exc!r}",
            hint="every field of every struct needs a value of its declared type",
        ) from None


def _domain_fields(domain: dict[str, Any]) -> list[dict[str, str]]:
    # the order is fixed by EIP-712; only the fields present are part of the type
    fields = [
        ("name", "string"),
        ("version", "string"),
        ("chainId", "uint256"),
        ("verifyingContract", "address"),
        ("salt", "bytes32"),
    ]
    return [{"name": name, "type": kind} for name, kind in fields if name in domain]


def _signature_bytes(signature: bytes | str) -> bytes:
    if isinstance(signature, str):
        digits = signature[2:] if signature[:2] in ("0x", "0X") else signature
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raise CryptoError(
                f"malformed EIP-712 signature {signature!r:.140}: not hex", hint=_SIGNATURE_HINT
            ) from None
        if len(digits) != 2 * len(raw):
            raise CryptoError(
                f"malformed EIP-712 signature {signature!r:.140}: not hex", hint=_SIGNATURE_HINT
            )
    elif isinstance(signature, bytes | bytearray | memoryview):
        raw = bytes(signature)
    else:
        raise CryptoError(
            f"malformed EIP-712 signature: expected bytes or hex, got {type(signature).__name__}",
            hint=_SIGNATURE_HINT,
        )
    if len(raw) != 65:
        raise CryptoError(
            f"malformed EIP-712 signature: it is {len(raw)} bytes, not 65", hint=_SIGNATURE_HINT
        )
    if int.from_bytes(raw[32:64], "big") > _SECP256K1_N // 2:
        raise CryptoError(
            "malformed EIP-712 signature: s is in the upper half of the curve order "
            "(a malleable signature, which OpenZeppelin's ECDSA.recover rejects)",
            hint="re-sign with a standard signer; they all produce the lower-s form",
        )
    return raw
