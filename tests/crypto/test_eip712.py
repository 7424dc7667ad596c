"""EIP-712 hashing, signing and recovery."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from proofmind.crypto.eip712 import (
    Eip712Domain,
    recover_typed_data,
    sign_typed_data,
    typed_data_hash,
    verify_typed_data,
)
from proofmind.errors import CryptoError, InputError

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = Eip712Domain("proofmind", "1", 31337, CONTRACT)
TYPES = {
    "Contribution": [
        {"name": "datasetId", "type": "bytes32"},
        {"name": "root", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "licence", "type": "string"},
        {"name": "author", "type": "Person"},
    ],
    "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
}
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEYS = st.integers(1, N - 1).map(lambda k: k.to_bytes(32, "big"))


def message(nonce: int = 1, licence: str = "CC-BY-4.0") -> dict[str, Any]:
    return {
        "datasetId": b"\x01" * 32,
        "root": b"\x02" * 32,
        "nonce": nonce,
        "licence": licence,
        "author": {"name": "Ada", "wallet": "0x" + "ab" * 20},
    }


def sign(signer: LocalAccount | bytes, nonce: int = 1) -> bytes:
    return sign_typed_data(signer, DOMAIN, TYPES, "Contribution", message(nonce))


@settings(max_examples=25, deadline=None)
@given(KEYS, st.integers(0, 2**256 - 1), st.text(max_size=30))
def test_sign_recover_round_trip(key: bytes, nonce: int, licence: str) -> None:
    account = Account.from_key(key)
    data = message(nonce, licence)
    signature = sign_typed_data(key, DOMAIN, TYPES, "Contribution", data)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert recover_typed_data(signature, DOMAIN, TYPES, "Contribution", data) == account.address
    assert recover_typed_data("0x" + signature.hex(), DOMAIN, TYPES, "Contribution", data) == (
        account.address
    )
    assert verify_typed_data(account.address, signature, DOMAIN, TYPES, "Contribution", data)
    assert verify_typed_data(
        account.address.lower(), signature, DOMAIN.as_dict(), TYPES, "Contribution", data
    )


def test_wrong_key_fails() -> None:
    alice, bob = Account.create(), Account.create()
    signature = sign(alice)
    assert not verify_typed_data(bob.address, signature, DOMAIN, TYPES, "Contribution", message())
    assert recover_typed_data(signature, DOMAIN, TYPES, "Contribution", message()) != bob.address


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: {**m, "nonce": 2},
        lambda m: {**m, "licence": "CC0"},
        lambda m: {**m, "root": b"\x03" * 32},
        lambda m: {**m, "author": {**m["author"], "name": "Eve"}},
    ],
)
def test_tampered_message_fails(tamper: Any) -> None:
    alice = Account.create()
    signature = sign(alice)
    assert not verify_typed_data(
        alice.address, signature, DOMAIN, TYPES, "Contribution", tamper(message())
    )


@pytest.mark.parametrize(
    "domain",
    [
        Eip712Domain("proofmind", "1", 1, CONTRACT),
        Eip712Domain("proofmind", "2", 31337, CONTRACT),
        Eip712Domain("other", "1", 31337, CONTRACT),
        Eip712Domain("proofmind", "1", 31337, "0x" + "00" * 20),
        Eip712Domain("proofmind", "1", 31337, CONTRACT, salt=b"\x01" * 32),
    ],
)
def test_another_domain_fails(domain: Eip712Domain) -> None:
    alice = Account.create()
    signature = sign(alice)
    assert not verify_typed_data(alice.address, signature, domain, TYPES, "Contribution", message())


def eth_account_message(domain: Eip712Domain) -> Any:
    """The same typed data written out for eth-account directly."""
    domain_type = [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ] + ([{"name": "salt", "type": "bytes32"}] if domain.salt else [])
    full = {
        "types": {"EIP712Domain": domain_type, **TYPES},
        "primaryType": "Contribution",
        "domain": domain.as_dict(),
        "message": message(),
    }
    return encode_typed_data(full_message=full)


@pytest.mark.parametrize("salt", [None, b"\x07" * 32])
def test_hash_and_signature_equal_eth_account(salt: bytes | None) -> None:
    domain = Eip712Domain("proofmind", "1", 31337, CONTRACT.lower(), salt=salt)
    key = Account.create().key
    signed = Account.sign_message(eth_account_message(domain), key)
    assert typed_data_hash(domain, TYPES, "Contribution", message()) == bytes(signed.message_hash)
    assert sign_typed_data(key, domain, TYPES, "Contribution", message()) == bytes(signed.signature)
    assert domain.as_dict()["verifyingContract"] == CONTRACT  # checksummed


def good_signature() -> bytes:
    return sign(Account.create())


@pytest.mark.parametrize(
    ("signature", "needle"),
    [
        (b"\x00" * 10, "it is 10 bytes, not 65"),
        ("0x1234", "it is 2 bytes, not 65"),
        ("0x" + "zz" * 65, "not hex"),
        ("0x" + "0 " * 65, "not hex"),
        (b"\x00" * 65, "malformed EIP-712 signature"),
        (b"\x01" * 64 + bytes([5]), "v 5 is invalid"),
        (good_signature()[:32] + b"\xff" * 32 + b"\x1b", "upper half"),
        (12345, "expected bytes or hex"),
    ],
    # named: a random signature in a test id differs between pytest-xdist's workers
    ids=["short", "2-bytes", "zz", "spaces", "zeros", "bad-v", "high-s", "int"],
)
def test_malformed_signature_raises_crypto_error(signature: Any, needle: str) -> None:
    with pytest.raises(CryptoError, match=needle):
        recover_typed_data(signature, DOMAIN, TYPES, "Contribution", message())
    with pytest.raises(CryptoError, match=needle):
        verify_typed_data(CONTRACT, signature, DOMAIN, TYPES, "Contribution", message())


def test_high_s_twin_of_a_valid_signature_is_refused() -> None:
    """(r, n - s, 55 - v) recovers the same signer; OZ's ECDSA refuses it, and so do we."""
    alice = Account.create()
    signature = sign(alice)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    assert Account.recover_message(eth_account_message(DOMAIN), signature=twin) == alice.address
    with pytest.raises(CryptoError, match="upper half"):
        verify_typed_data(alice.address, twin, DOMAIN, TYPES, "Contribution", message())


def test_bad_inputs_raise_input_error() -> None:
    with pytest.raises(InputError, match="primary type 'Nope'"):
        typed_data_hash(DOMAIN, TYPES, "Nope", message())
    with pytest.raises(InputError, match="does not match its types"):
        typed_data_hash(DOMAIN, TYPES, "Contribution", {"nonce": 1})
    with pytest.raises(InputError, match="not a valid private key"):
        sign_typed_data(b"\x00" * 32, DOMAIN, TYPES, "Contribution", message())
    with pytest.raises(InputError, match="not a valid private key"):
        sign_typed_data("0xnothex", DOMAIN, TYPES, "Contribution", message())
    with pytest.raises(InputError, match="is not an address"):
        verify_typed_data("alice", good_signature(), DOMAIN, TYPES, "Contribution", message())
    with pytest.raises(InputError, match="verifying_contract '0x1234' is not an address"):
        Eip712Domain("proofmind", "1", 1, "0x1234")
    with pytest.raises(InputError, match="chain_id must be an int"):
        Eip712Domain("proofmind", "1", "1", CONTRACT)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="salt must be 32 bytes"):
        Eip712Domain("proofmind", "1", 1, CONTRACT, salt=b"\x01")
