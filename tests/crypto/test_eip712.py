"""EIP-712 signing and recovery."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
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

DOMAIN = Eip712Domain("proofmind", "1", 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
TYPES = {
    "Contribution": [
        {"name": "datasetId", "type": "bytes32"},
        {"name": "root", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "licence", "type": "string"},
    ]
}


def message(nonce: int = 1) -> dict[str, object]:
    return {"datasetId": b"\x01" * 32, "root": b"\x02" * 32, "nonce": nonce, "licence": "CC-BY-4.0"}


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**256 - 1), st.binary(min_size=32, max_size=32))
def test_sign_recover_round_trip(nonce: int, seed: bytes) -> None:
    try:
        account = Account.from_key(seed)
    except ValueError:
        return  # not a valid secp256k1 scalar
    signature = sign_typed_data(account, DOMAIN, TYPES, "Contribution", message(nonce))
    assert len(signature) == 65
    assert (
        recover_typed_data(signature, DOMAIN, TYPES, "Contribution", message(nonce))
        == account.address
    )
    assert verify_typed_data(
        account.address, signature, DOMAIN, TYPES, "Contribution", message(nonce)
    )


def test_tampering_and_wrong_key_fail() -> None:
    alice, bob = Account.create(), Account.create()
    signature = sign_typed_data(alice.key, DOMAIN, TYPES, "Contribution", message())
    assert not verify_typed_data(bob.address, signature, DOMAIN, TYPES, "Contribution", message())
    assert not verify_typed_data(
        alice.address, signature, DOMAIN, TYPES, "Contribution", message(2)
    )
    other_chain = Eip712Domain("proofmind", "1", 1, DOMAIN.verifying_contract)
    assert not verify_typed_data(
        alice.address, signature, other_chain, TYPES, "Contribution", message()
    )


def test_hash_equals_eth_account() -> None:
    full = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **TYPES,
        },
        "primaryType": "Contribution",
        "domain": DOMAIN.as_dict(),
        "message": message(),
    }
    signable = encode_typed_data(full_message=full)
    expected = Account.sign_message(signable, Account.create().key).message_hash
    assert typed_data_hash(DOMAIN, TYPES, "Contribution", message()) == bytes(expected)


def test_malformed_inputs() -> None:
    with pytest.raises(CryptoError, match="65 bytes"):
        recover_typed_data(b"\x00" * 10, DOMAIN, TYPES, "Contribution", message())
    assert not verify_typed_data(
        Account.create().address, "0x1234", DOMAIN, TYPES, "Contribution", message()
    )
    with pytest.raises(InputError, match="primary type 'Nope'"):
        typed_data_hash(DOMAIN, TYPES, "Nope", message())
