"""End to end on the devnet with real EZKL proofs and verifiers."""

from __future__ import annotations

import dataclasses

import pytest
from web3.logs import DISCARD

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.errors import ContractReverted
from proofmind.ml import zk
from proofmind.oracle.client import Mode, OracleClient, Status, Terms, io_hash

Pair = tuple[zk.Package, zk.Package]


@pytest.fixture
def oracle(chain: Chain) -> OracleClient:
    contract, _ = deploy(chain, "InferenceOracle")
    return OracleClient(chain, contract)


def _register(oracle: OracleClient, pkg: zk.Package, mode: Mode, **terms: int) -> bytes:
    return oracle.register_package(pkg, Terms(mode, **terms))


def test_deterministic_output_equals_proved_output(
    zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg = zk_pair[0]
    for x in sample_inputs[:2]:
        assert zk.circuit_output(pkg, x) == zk.prove(pkg, x).output


def test_zk_request_proved_and_verified_on_chain(
    chain: Chain, oracle: OracleClient, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg, other = zk_pair
    model_id = _register(oracle, pkg, Mode.ZK)
    x = sample_inputs[0]
    requester = chain.accounts[1]
    request_id = oracle.request(model_id, x, account=requester)
    assert oracle.state(request_id).status == Status.PENDING
    proof = zk.prove(pkg, x)

    tampered = bytearray(proof.proof)
    tampered[100] ^= 0x01
    with pytest.raises(ContractReverted, match="InvalidProof"):
        oracle.fulfill(request_id, dataclasses.replace(proof, proof=bytes(tampered)))
    with pytest.raises(ContractReverted, match="InvalidProof"):  # a proof of another model
        oracle.fulfill(request_id, zk.prove(other, x))
    wrong = [proof.output[0] + 1]
    with pytest.raises(ContractReverted, match="InvalidProof"):
        oracle.fulfill(request_id, dataclasses.replace(proof, output=wrong))
    with pytest.raises(ContractReverted, match="InputMismatch"):
        oracle.fulfill(request_id, zk.prove(pkg, sample_inputs[1]))

    receipt = oracle.fulfill(request_id, proof)
    state = oracle.state(request_id)
    assert state.status == Status.FULFILLED
    assert state.output_hash == io_hash(proof.output)
    assert receipt["gasUsed"] < 800_000
    (event,) = oracle.oracle.events.InferenceFulfilled().process_receipt(receipt, errors=DISCARD)
    assert list(event["args"]["output"]) == proof.output
    with pytest.raises(ContractReverted, match="WrongStatus"):
        oracle.fulfill(request_id, proof)


def test_bad_requests_get_clear_reasons(
    chain: Chain, oracle: OracleClient, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg = zk_pair[0]
    model_id = _register(oracle, pkg, Mode.ZK)
    with pytest.raises(ContractReverted, match="UnknownModel"):
        oracle.request(b"\x01" * 32, sample_inputs[0], fee=10**15)
    with pytest.raises(ContractReverted, match="InputShape"):
        oracle.request(model_id, sample_inputs[0][:-1])
    with pytest.raises(ContractReverted, match="ValueOutOfRange"):
        oracle.request(model_id, [2**30] * pkg.input_size)


def test_optimistic_wrong_answer_slashed_right_answer_finalizes(
    chain: Chain, oracle: OracleClient, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg = zk_pair[0]
    bond = 10**17
    model_id = _register(oracle, pkg, Mode.OPTIMISTIC, bond=bond, challenge_window=5)
    node, challenger, requester = chain.accounts[2], chain.accounts[3], chain.accounts[1]
    oracle.deposit(10 * bond, account=node)
    good, bad = (oracle.request(model_id, x, account=requester) for x in sample_inputs[:2])
    right = zk.circuit_output(pkg, sample_inputs[0])
    lie = [zk.circuit_output(pkg, sample_inputs[1])[0] + 7]
    oracle.propose([good, bad], [right, lie], account=node)
    assert oracle.state(bad).status == Status.PROPOSED

    # the watcher recomputes, sees the lie and proves the truth
    assert zk.circuit_output(pkg, sample_inputs[1]) != lie
    proof = zk.prove(pkg, sample_inputs[1])
    before = oracle.balance(challenger.address)
    with pytest.raises(ContractReverted, match="ProposerCannotChallenge"):
        oracle.challenge(bad, proof, account=node)
    refunds = oracle.balance(requester.address)
    oracle.challenge(bad, proof, account=challenger)  # commits, then reveals
    fee = oracle.state(bad).fee
    assert oracle.balance(challenger.address) == before + bond // 2 + fee
    assert oracle.balance(requester.address) == refunds + bond // 2  # the other half
    assert oracle.state(bad).output_hash == io_hash(proof.output)
    with pytest.raises(ContractReverted, match="SameOutput"):  # a right answer stands
        oracle.challenge(good, zk.prove(pkg, sample_inputs[0]), account=challenger)
    with pytest.raises(ContractReverted, match="ChallengeWindowOpen"):
        oracle.finalize([good], [right])
    chain.mine(5)
    oracle.finalize([good], [right])
    assert oracle.state(good).status == Status.FULFILLED
    # two bonds locked, the lie's lost, the right one back with its fee
    assert oracle.balance(node.address) == 10 * bond - bond + oracle.state(good).fee
