"""ProvenanceRegistry on the devnet through proofmind.provenance: ids computed in Python equal
the contract's; EIP-712 signatures made in Python are accepted by OpenZeppelin's EIP712;
replays, expired deadlines and foreign keys are refused; batches stay under the gas target."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.crypto.eip712 import typed_data_hash
from proofmind.errors import ContractReverted, InputError
from proofmind.provenance import Kind, ProvenanceRegistryClient, RecordInput, sign_registration
from proofmind.provenance.records import REGISTER_TYPES

pytestmark = pytest.mark.devnet


@pytest.fixture
def client(chain: Chain) -> ProvenanceRegistryClient:
    contract, _ = deploy(chain, "ProvenanceRegistry")
    return ProvenanceRegistryClient(chain, contract)


@pytest.fixture(scope="module")
def shared_registry(devnet_chain: Chain) -> Any:
    contract, _ = deploy(devnet_chain, "ProvenanceRegistry")
    return contract


HASH = st.binary(min_size=32, max_size=32).filter(any)
RECORDS = st.builds(
    RecordInput,
    kind=st.sampled_from(Kind),
    content_hash=HASH,
    uri=st.text(max_size=40),
    parents=st.lists(HASH, max_size=3).map(tuple),
    supersedes=st.one_of(st.just(b"\x00" * 32), HASH),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(record=RECORDS, creator=st.binary(min_size=20, max_size=20))
def test_python_ids_and_digests_equal_the_contract(
    shared_registry: Any, devnet_chain: Chain, record: RecordInput, creator: bytes
) -> None:
    address = "0x" + creator.hex()
    assert shared_registry.functions.recordId(
        record.as_tuple(), devnet_chain.w3.to_checksum_address(address)
    ).call() == record.record_id(address)
    client = ProvenanceRegistryClient(devnet_chain, shared_registry)
    message = record.typed_message(address, 5, 77)
    ours = typed_data_hash(client.domain, REGISTER_TYPES, "Register", message)
    theirs = shared_registry.functions.registerDigest(
        record.as_tuple(), devnet_chain.w3.to_checksum_address(address), 5, 77
    ).call()
    assert theirs == ours


def test_lineage_registered_in_one_batch(client: ProvenanceRegistryClient, chain: Chain) -> None:
    creator = chain.default_account.address
    dataset = RecordInput(Kind.DATASET, b"\x01" * 32, "ipfs://rows")
    run = RecordInput(Kind.TRAINING_RUN, b"\x02" * 32, "file://run", (dataset.record_id(creator),))
    model = RecordInput(Kind.MODEL, b"\x03" * 32, "file://model.onnx", (run.record_id(creator),))
    outcome = client.register([dataset, run, model])
    assert len(outcome.tx_hashes) == 1
    found = client.lookup(outcome.ids[2])
    assert found is not None and found.kind is Kind.MODEL and found.creator == creator
    assert client.lookup(b"\x07" * 32) is None
    with pytest.raises(ContractReverted) as info:
        client.register([dataset])
    assert info.value.error_name == "RecordExists"


def test_relayed_registration_replay_and_expiry(
    client: ProvenanceRegistryClient, chain: Chain
) -> None:
    creator = Account.create()  # holds no ether: a relayer pays
    record = RecordInput(Kind.DATASET, b"\x03" * 32, "ipfs://signed")
    now = chain.w3.eth.get_block("latest")["timestamp"]
    signature = sign_registration(creator, client.domain, record, nonce=0, deadline=now + 3600)
    relayer = chain.accounts[1]
    record_id = client.register_for(record, creator.address, now + 3600, signature, relayer=relayer)
    found = client.lookup(record_id)
    assert found is not None and found.creator == creator.address
    assert client.nonce_of(creator.address) == 1

    with pytest.raises(ContractReverted, match="InvalidSignature"):
        client.register_for(record, creator.address, now + 3600, signature, relayer=relayer)
    stale = sign_registration(creator, client.domain, record, nonce=1, deadline=now - 1)
    with pytest.raises(ContractReverted, match="ExpiredSignature"):
        client.register_for(record, creator.address, now - 1, stale, relayer=relayer)
    forged = sign_registration(
        Account.create(),
        client.domain,
        record,
        nonce=1,
        deadline=now + 3600,
        creator=creator.address,
    )
    with pytest.raises(ContractReverted, match="InvalidSignature"):
        client.register_for(record, creator.address, now + 3600, forged, relayer=relayer)


def test_batch_of_50_stays_under_60k_gas_per_record(
    client: ProvenanceRegistryClient, chain: Chain
) -> None:
    creator = chain.default_account.address
    dataset = RecordInput(Kind.DATASET, b"\x09" * 32, "ipfs://d")
    client.register([dataset])
    runs = [
        RecordInput(
            Kind.TRAINING_RUN,
            i.to_bytes(32, "big"),
            f"ipfs://run/{i}",
            (dataset.record_id(creator),),
        )
        for i in range(1, 51)
    ]
    outcome = client.register(runs, batch_size=50)
    assert len(outcome.tx_hashes) == 1
    assert outcome.gas_per_record <= 60_000, outcome.gas_per_record


def test_bad_records_are_refused_before_sending() -> None:
    with pytest.raises(InputError, match="content_hash is empty"):
        RecordInput(Kind.DATASET, b"\x00" * 32)
    with pytest.raises(InputError, match="must be 32 bytes"):
        RecordInput(Kind.MODEL, b"\x01" * 31)
