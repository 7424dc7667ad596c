"""Optimistic models without a verifier: the watcher disputes a wrong answer with a bond and
committee members settle every dispute by re-execution votes."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.ml import zk
from proofmind.oracle.client import Mode, OracleClient, Status, Terms, io_hash
from proofmind.oracle.watcher import Verdict, Watcher
from tests.test_cli import assert_one_line_error, run

BOND = 10**17
Pair = tuple[zk.Package, zk.Package]


def _settle(watcher: Watcher) -> dict[int, list[Verdict]]:
    seen: dict[int, list[Verdict]] = {}
    for _ in range(3):  # a dispute sent in one step is voted on in the next
        for verdict in watcher.step():
            seen.setdefault(verdict.request_id, []).append(verdict)
    return seen


def _committee_oracle(chain: Chain, pkg: zk.Package, window: int) -> tuple[OracleClient, bytes]:
    """An oracle serving ``pkg`` optimistically, disputes settled by 2 of accounts 3, 4, 5."""
    contract, _ = deploy(chain, "InferenceOracle")
    oracle = OracleClient(chain, contract)
    terms = Terms(
        Mode.OPTIMISTIC,
        bond=BOND,
        challenge_window=window,
        quorum=2,
        committee=tuple(m.address for m in chain.accounts[3:6]),
    )
    return oracle, oracle.register_package(pkg, terms)


@pytest.mark.devnet
def test_committee_overturns_a_lie_and_upholds_a_right_answer(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
) -> None:
    pkg = zk_pair[0]
    members = chain.accounts[3:6]
    oracle, model_id = _committee_oracle(chain, pkg, window=20)
    assert int(oracle.model(model_id)["verifier"], 16) == 0  # no verifier: the committee decides
    node, griefer = chain.accounts[2], chain.accounts[6]
    oracle.deposit(10**18, account=node)
    oracle.deposit(BOND, account=griefer)
    start = chain.w3.eth.block_number + 1
    right_id = oracle.request(model_id, sample_inputs[0])
    lied_id = oracle.request(model_id, sample_inputs[1])
    right = [zk.circuit_output(pkg, x) for x in sample_inputs[:2]]
    oracle.propose([right_id, lied_id], [right[0], [right[1][0] + 77]], node)
    oracle.dispute(right_id, account=griefer)  # a dispute of a right answer

    first = Watcher(
        chain, oracle, tmp_path / "a.sqlite", [pkg], account=members[0], start_block=start
    )
    seen = _settle(first)
    assert any(v.challenged for v in seen[lied_id])  # disputed, its bond deposited on the way
    assert [v.proposed_ok for v in seen[right_id] if v.voted] == [True]
    assert [v.proposed_ok for v in seen[lied_id] if v.voted] == [False]
    assert oracle.state(lied_id).status == Status.DISPUTED  # one vote of a quorum of two

    second = Watcher(
        chain, oracle, tmp_path / "b.sqlite", [pkg], account=members[1], start_block=start
    )
    later = _settle(second)
    assert [v.proposed_ok for v in later[right_id] if v.voted] == [True]
    assert [v.proposed_ok for v in later[lied_id] if v.voted] == [False]  # the quorum's vote
    for request_id, output in ((right_id, right[0]), (lied_id, right[1])):
        state = oracle.state(request_id)
        assert state.status == Status.FULFILLED
        assert state.output_hash == io_hash(output)
    fee = oracle.state(right_id).fee
    # its own bond back and half the liar's (the requester got the other half)
    assert oracle.balance(members[0].address) == BOND + BOND // 2 + fee
    assert oracle.balance(node.address) == 10**18 + fee  # kept one bond, lost the other
    assert oracle.balance(griefer.address) == 0
    # a non-member watcher disputes nothing further and never votes
    outsider = Watcher(
        chain, oracle, tmp_path / "c.sqlite", [pkg], account=chain.accounts[7], start_block=start
    )
    assert not any(v.voted or v.challenged for v in outsider.step())


@pytest.mark.devnet
def test_a_dispute_without_quorum_is_abandoned(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
) -> None:
    pkg = zk_pair[0]
    oracle, model_id = _committee_oracle(chain, pkg, window=3)
    requester, node, disputer = chain.accounts[1], chain.accounts[2], chain.accounts[6]
    oracle.deposit(BOND, account=node)
    oracle.deposit(BOND, account=disputer)
    start = chain.w3.eth.block_number + 1
    request_id = oracle.request(model_id, sample_inputs[2], account=requester)
    oracle.propose([request_id], [zk.circuit_output(pkg, sample_inputs[2])], node)
    oracle.dispute(request_id, account=disputer)
    refunds_before = oracle.balance(requester.address)
    # no member votes: this watcher is not on the committee
    watcher = Watcher(
        chain, oracle, tmp_path / "w.sqlite", [pkg], account=chain.accounts[7], start_block=start
    )
    assert not any("abandoned" in v.detail for v in watcher.step())  # voting is still open
    watcher = Watcher(  # restarted: it remembers the open dispute
        chain, oracle, tmp_path / "w.sqlite", [pkg], account=chain.accounts[7], start_block=start
    )
    chain.mine(4)
    closed = [v for v in watcher.step() if "abandoned" in v.detail]
    assert [v.request_id for v in closed] == [request_id]
    assert oracle.state(request_id).status == Status.REFUNDED
    assert oracle.balance(node.address) == BOND and oracle.balance(disputer.address) == BOND
    assert oracle.balance(requester.address) == refunds_before + oracle.state(request_id).fee
    assert watcher.step() == []  # closed once


def test_register_refuses_a_bad_committee(tmp_path: Path) -> None:
    member, other = "0x" + "11" * 20, "0x" + "22" * 20
    cases = [
        (["--mode", "zk", "--committee", member], "zk answers are proved"),
        (["--mode", "optimistic", "--committee", "0x12"], "'0x12' is not an address"),
        (
            ["--mode", "optimistic", "--committee", member, "--committee", other, "--quorum", "1"],
            "quorum 1 is not a majority of 2",
        ),
        (["--mode", "optimistic", "--quorum", "2"], "--quorum needs a --committee"),
    ]
    for args, message in cases:
        assert_one_line_error(run("oracle", "register", "mlp", *args, cwd=tmp_path), message)
