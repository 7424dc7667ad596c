"""Artifacts, deploy/attach, the deployment registry, revert decoding, and OpenZeppelin
MerkleProof accepting proofs from proofmind's Merkle tree on a real devnet."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach, deploy, load_artifact
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import ContractNotFound, ContractReverted
from proofmind.store.state import StateDB

pytestmark = pytest.mark.devnet


@pytest.fixture
def registry(tmp_path: Path) -> DeploymentRegistry:
    return DeploymentRegistry(StateDB(tmp_path / "state.sqlite"))


def test_unknown_contract_lists_known_names() -> None:
    with pytest.raises(
        ContractNotFound, match=r"no compiled contract named 'Nope'.*MerkleCommitments"
    ):
        load_artifact("Nope")


def test_deploy_records_and_attach_finds_it(chain: Chain, registry: DeploymentRegistry) -> None:
    contract, deployment = deploy(chain, "MerkleCommitments", registry=registry)
    assert registry.get(chain.chain_id, "MerkleCommitments") == deployment
    attached = attach(chain, "MerkleCommitments", registry)
    assert attached.address == contract.address
    assert attached.functions.commitmentCount().call() == 0


def test_attach_after_chain_reset_says_redeploy(
    devnet_chain: Chain, registry: DeploymentRegistry
) -> None:
    snapshot = devnet_chain.snapshot()
    deploy(devnet_chain, "MerkleCommitments", registry=registry)
    devnet_chain.revert(snapshot)  # the chain forgets the contract, the registry does not
    with pytest.raises(ContractNotFound, match=r"no code there.*contracts deploy"):
        attach(devnet_chain, "MerkleCommitments", registry)


def test_attach_undeployed_says_deploy(chain: Chain, registry: DeploymentRegistry) -> None:
    with pytest.raises(ContractNotFound, match="not deployed on chain 31337"):
        attach(chain, "MerkleCommitments", registry)


def test_custom_error_is_decoded_with_arguments(chain: Chain) -> None:
    contract, _ = deploy(chain, "MerkleCommitments")
    root = b"\x11" * 32
    chain.sender().transact(contract.functions.commit(root, 3, "uri"))
    with pytest.raises(ContractReverted) as info:
        chain.sender().transact(contract.functions.commit(root, 3, "again"))
    error = info.value
    assert error.error_name == "RootAlreadyCommitted"
    assert error.error_args == (root, chain.default_account.address)
    assert "commit() reverted: RootAlreadyCommitted(root=0x1111" in str(error)


def test_mined_revert_is_replayed_and_decoded(chain: Chain) -> None:
    contract, _ = deploy(chain, "MerkleCommitments")
    with pytest.raises(ContractReverted) as info:
        # an explicit gas limit skips estimation, so the failing transaction is mined
        chain.sender().transact(contract.functions.commit(b"\x00" * 32, 1, ""), gas=200_000)
    assert info.value.error_name == "EmptyRoot"
    receipt_block = chain.w3.eth.get_block("latest")
    assert len(receipt_block["transactions"]) == 1


def test_concurrent_senders_never_reuse_a_nonce(chain: Chain) -> None:
    sender = chain.sender()
    start_nonce = chain.w3.eth.get_transaction_count(sender.address)
    receivers = [Account.create().address for _ in range(4)]
    errors: list[BaseException] = []

    def send_many(receiver: str) -> None:
        try:
            for _ in range(10):
                sender.send({"to": receiver, "value": 1})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send_many, args=(r,)) for r in receivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert chain.w3.eth.get_transaction_count(sender.address) == start_nonce + 40
    assert all(chain.w3.eth.get_balance(r) == 10 for r in receivers)


ROWS = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.integers(0, 2**256 - 1)),
    min_size=1,
    max_size=40,
    unique_by=lambda row: row[0],
)


@pytest.fixture(scope="module")
def commitments(devnet_chain: Chain):  # type: ignore[no-untyped-def]
    contract, _ = deploy(devnet_chain, "MerkleCommitments")
    return contract


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, data=st.data())
def test_oz_merkleproof_accepts_our_proofs(
    devnet_chain: Chain,
    commitments,
    rows,
    data,  # type: ignore[no-untyped-def]
) -> None:
    values = [["0x" + address.hex(), amount] for address, amount in rows]
    tree = StandardMerkleTree.of(values, ["address", "uint256"])
    if not commitments.functions.isCommitted(tree.root).call():
        devnet_chain.sender().transact(commitments.functions.commit(tree.root, len(values), ""))
    index = data.draw(st.integers(0, len(values) - 1))
    encoded = tree.encode(tree.values[index])
    proof = tree.get_proof(index)
    assert commitments.functions.verifyRow(tree.root, encoded, proof).call()
    picks = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=1, unique=True))
    multi = tree.get_multiproof(picks)
    leaves = [tree.encode(v) for v in multi.leaves]
    assert commitments.functions.verifyRows(
        tree.root, leaves, multi.proof, multi.proof_flags
    ).call()
    other = [values[index][0], (int(str(values[index][1])) + 1) % 2**256]
    assert not commitments.functions.verifyRow(tree.root, tree.encode(other), proof).call()
