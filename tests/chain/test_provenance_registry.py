"""ProvenanceRegistry on the devnet: EIP-712 signatures made by proofmind.crypto are accepted
by OpenZeppelin's EIP712 on-chain; replays, expired deadlines and foreign keys are refused."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.crypto.eip712 import Eip712Domain, sign_typed_data, typed_data_hash
from proofmind.errors import ContractReverted

pytestmark = pytest.mark.devnet

REGISTER_TYPES = {
    "Register": [
        {"name": "kind", "type": "uint8"},
        {"name": "contentHash", "type": "bytes32"},
        {"name": "uri", "type": "string"},
        {"name": "parents", "type": "bytes32[]"},
        {"name": "supersedes", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
DATASET = 0


def setup(chain: Chain) -> tuple[Any, Eip712Domain]:
    registry, _ = deploy(chain, "ProvenanceRegistry")
    domain = Eip712Domain("proofmind ProvenanceRegistry", "1", chain.chain_id, registry.address)
    return registry, domain


def signed(
    domain: Eip712Domain, key: bytes, record: tuple[Any, ...], nonce: int, deadline: int
) -> bytes:
    kind, content_hash, uri, parents, supersedes = record
    message = {
        "kind": kind,
        "contentHash": content_hash,
        "uri": uri,
        "parents": parents,
        "supersedes": supersedes,
        "nonce": nonce,
        "deadline": deadline,
    }
    return sign_typed_data(key, domain, REGISTER_TYPES, "Register", message)


def test_offchain_digest_equals_onchain(chain: Chain) -> None:
    registry, domain = setup(chain)
    record = (DATASET, b"\x01" * 32, "ipfs://rows", [b"\x02" * 32], b"\x00" * 32)
    message = dict(
        zip(("kind", "contentHash", "uri", "parents", "supersedes"), record, strict=True)
    )
    ours = typed_data_hash(
        domain, REGISTER_TYPES, "Register", {**message, "nonce": 7, "deadline": 99}
    )
    assert registry.functions.registerDigest(record, 7, 99).call() == ours


def test_relayed_registration_replay_and_expiry(chain: Chain) -> None:
    registry, domain = setup(chain)
    creator = Account.create()
    record = (DATASET, b"\x03" * 32, "ipfs://signed", [], b"\x00" * 32)
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    signature = signed(domain, creator.key, record, 0, deadline)

    relayer = chain.sender(chain.accounts[1])  # the creator holds no ether: a relayer pays
    relayer.transact(registry.functions.registerFor(record, creator.address, deadline, signature))
    record_id = registry.functions.recordId(record, creator.address).call()
    assert registry.functions.recordOf(record_id).call()[0] == creator.address

    with pytest.raises(ContractReverted) as replay:
        relayer.transact(
            registry.functions.registerFor(record, creator.address, deadline, signature)
        )
    assert replay.value.error_name == "InvalidSignature"

    late = chain.w3.eth.get_block("latest")["timestamp"] - 1
    with pytest.raises(ContractReverted) as expired:
        stale = signed(domain, creator.key, record, 1, late)
        relayer.transact(registry.functions.registerFor(record, creator.address, late, stale))
    assert expired.value.error_name == "ExpiredSignature"

    mallory = Account.create()
    forged = signed(domain, mallory.key, record, 1, deadline)
    with pytest.raises(ContractReverted, match="InvalidSignature"):
        relayer.transact(registry.functions.registerFor(record, creator.address, deadline, forged))


def test_batch_of_50_gas_per_record(chain: Chain) -> None:
    registry, _ = setup(chain)
    sender = chain.sender()
    receipt = sender.transact(
        registry.functions.register((DATASET, b"\x09" * 32, "ipfs://d", [], b"\x00" * 32))
    )
    dataset = registry.functions.recordId(
        (DATASET, b"\x09" * 32, "ipfs://d", [], b"\x00" * 32), sender.address
    ).call()
    batch = [
        (1, i.to_bytes(32, "big"), f"ipfs://run/{i}", [dataset], b"\x00" * 32) for i in range(1, 51)
    ]
    receipt = sender.transact(registry.functions.registerBatch(batch))
    per_record = receipt["gasUsed"] / 50  # the whole transaction: calldata, events, storage
    assert registry.functions.recordCount().call() == 51
    assert per_record <= 60_000, per_record
