"""Lineage records and the ProvenanceRegistry contract, from Python.

A record's id commits to all of its fields and its creator; :meth:`RecordInput.record_id`
computes it exactly as the contract does, so a record can be checked on-chain from the files
alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract

from proofmind.chain.base import Chain
from proofmind.crypto.eip712 import Eip712Domain, sign_typed_data
from proofmind.crypto.keccak import keccak256
from proofmind.errors import InputError

ZERO32 = b"\x00" * 32
DOMAIN_NAME = "proofmind ProvenanceRegistry"
DOMAIN_VERSION = "1"
REGISTER_TYPES = {
    "Register": [
        {"name": "creator", "type": "address"},
        {"name": "kind", "type": "uint8"},
        {"name": "contentHash", "type": "bytes32"},
        {"name": "uri", "type": "string"},
        {"name": "parents", "type": "bytes32[]"},
        {"name": "supersedes", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


class Kind(IntEnum):
    DATASET = 0
    TRAINING_RUN = 1
    MODEL = 2
    INFERENCE = 3


@dataclass(frozen=True)
class RecordInput:
    """One lineage record as the registry takes it."""

    kind: Kind
    content_hash: bytes
    uri: str = ""
    parents: tuple[bytes, ...] = ()
    supersedes: bytes = ZERO32

    def __post_init__(self) -> None:
        for name, value in (("content_hash", self.content_hash), ("supersedes", self.supersedes)):
            if len(value) != 32:
                raise InputError(f"{name} must be 32 bytes, got {len(value)}")
        if self.content_hash == ZERO32:
            raise InputError("content_hash is empty (all zero)", hint="hash the content first")
        for parent in self.parents:
            if len(parent) != 32:
                raise InputError(f"a parent record id must be 32 bytes, got {len(parent)}")

    def as_tuple(self) -> tuple[int, bytes, str, list[bytes], bytes]:
        """The contract's RecordInput struct."""
        return (int(self.kind), self.content_hash, self.uri, list(self.parents), self.supersedes)

    def record_id(self, creator: str) -> bytes:
        return keccak256(
            encode(
                ["uint8", "bytes32", "address", "bytes32", "bytes32", "bytes32"],
                [
                    int(self.kind),
                    self.content_hash,
                    to_checksum_address(creator),
                    keccak256(self.uri.encode()),
                    keccak256(b"".join(self.parents)),
                    self.supersedes,
                ],
            )
        )

    def typed_message(self, creator: str, nonce: int, deadline: int) -> dict[str, Any]:
        """The ``Register`` struct ``creator`` signs; naming the creator keeps a signature for
        one ERC-1271 wallet from being accepted for another wallet of the same owner key."""
        return {
            "creator": to_checksum_address(creator),
            "kind": int(self.kind),
            "contentHash": self.content_hash,
            "uri": self.uri,
            "parents": list(self.parents),
            "supersedes": self.supersedes,
            "nonce": nonce,
            "deadline": deadline,
        }


@dataclass(frozen=True)
class OnChainRecord:
    id: bytes
    creator: str
    kind: Kind
    registered_at: int


@dataclass
class Registration:
    """The outcome of a batch: ids in input order, and what it cost."""

    ids: list[bytes] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    gas_used: int = 0

    @property
    def gas_per_record(self) -> float:
        return self.gas_used / len(self.ids) if self.ids else 0.0


def registry_domain(chain_id: int, registry_address: str) -> Eip712Domain:
    return Eip712Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry_address)


def sign_registration(
    signer: LocalAccount | bytes,
    domain: Eip712Domain,
    record: RecordInput,
    *,
    nonce: int,
    deadline: int,
    creator: str | None = None,
) -> bytes:
    """The creator's EIP-712 signature that lets anyone relay ``record`` (see registerFor).

    ``creator`` defaults to the signer's own address; for an ERC-1271 wallet pass the wallet's
    address (its owner key signs, the wallet is the creator)."""
    account = signer if isinstance(signer, LocalAccount) else Account.from_key(signer)
    message = record.typed_message(creator or account.address, nonce, deadline)
    return sign_typed_data(account, domain, REGISTER_TYPES, "Register", message)


class ProvenanceRegistryClient:
    """Register and look up records on a deployed ProvenanceRegistry."""

    def __init__(self, chain: Chain, contract: Contract) -> None:
        self.chain = chain
        self.contract = contract

    @property
    def domain(self) -> Eip712Domain:
        return registry_domain(self.chain.chain_id, self.contract.address)

    def register(
        self,
        records: Sequence[RecordInput],
        *,
        batch_size: int = 50,
        account: LocalAccount | None = None,
    ) -> Registration:
        """Register ``records`` created by ``account`` (default: the chain's default account),
        ``batch_size`` per transaction. Later records may name earlier ones as parents."""
        if not records:
            raise InputError("nothing to register", hint="pass at least one record")
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        sender = self.chain.sender(account)
        outcome = Registration()
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            call = self.contract.functions.registerBatch([r.as_tuple() for r in chunk])
            receipt = sender.transact(call)
            outcome.ids.extend(r.record_id(sender.address) for r in chunk)
            outcome.tx_hashes.append(receipt["transactionHash"].to_0x_hex())
            outcome.blocks.append(int(receipt["blockNumber"]))
            outcome.gas_used += int(receipt["gasUsed"])
        return outcome

    def register_for(
        self,
        record: RecordInput,
        creator: str,
        deadline: int,
        signature: bytes,
        *,
        relayer: LocalAccount | None = None,
    ) -> bytes:
        """Relay a record ``creator`` signed; the relayer pays the gas."""
        call = self.contract.functions.registerFor(
            record.as_tuple(), to_checksum_address(creator), deadline, signature
        )
        self.chain.sender(relayer).transact(call)
        return record.record_id(creator)

    def nonce_of(self, creator: str) -> int:
        return int(self.contract.functions.nonces(to_checksum_address(creator)).call())

    def lookup(self, record_id: bytes) -> OnChainRecord | None:
        """The on-chain record with this id, or None when there is none."""
        if not self.contract.functions.exists(record_id).call():
            return None
        creator, kind, registered_at = self.contract.functions.recordOf(record_id).call()
        return OnChainRecord(record_id, str(creator), Kind(kind), int(registered_at))
