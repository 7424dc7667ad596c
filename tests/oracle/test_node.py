"""The oracle node against the devnet: answers, batches, finalizes, and recovers its queue."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.chain.rpc import RpcBackend
from proofmind.errors import InputError
from proofmind.ml import zk
from proofmind.oracle.client import Mode, OracleClient, Status, Terms, io_hash
from proofmind.oracle.node import NodeConfig, OracleNode
from tests.locks import running
from tests.mining import manual_mining
from tests.rpc_proxy import rpc_proxy

Pair = tuple[zk.Package, zk.Package]


def _setup(chain: Chain, pkg: zk.Package, *, window: int = 2) -> tuple[OracleClient, bytes, bytes]:
    contract, _ = deploy(chain, "InferenceOracle")
    oracle = OracleClient(chain, contract)
    verifier = oracle.deploy_verifier(pkg)
    ids = [
        oracle.register_package(pkg, Terms(mode, challenge_window=window), verifier=verifier)
        for mode in (Mode.ZK, Mode.OPTIMISTIC)
    ]
    oracle.deposit(10**19)  # the node's bonds
    return oracle, ids[0], ids[1]


def _finalize(chain: Chain, node: OracleNode) -> None:
    """Let the challenge window (2 blocks) pass, then step until the proposals are final:
    their receipts, the finalization, its receipt (then nothing is left to send)."""
    chain.mine(3)
    for _ in range(3):
        asyncio.run(node.step())


def _settle(chain: Chain, node: OracleNode) -> None:
    """Answer and propose, then finalize."""
    asyncio.run(node.step())
    _finalize(chain, node)


def test_node_answers_both_modes_once(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, zk_id, opt_id = _setup(chain, pkg)
    requester = chain.accounts[1]
    opt = [oracle.request(opt_id, x, account=requester) for x in sample_inputs]
    proved = oracle.request(zk_id, sample_inputs[0], account=requester)
    node = OracleNode(
        chain, oracle, tmp_path / "node.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    try:
        asyncio.run(node.step())
        assert oracle.state(proved).status == Status.FULFILLED  # automine: already mined
        assert all(oracle.state(i).status == Status.PROPOSED for i in opt)
        _finalize(chain, node)
    finally:
        node.close()
    for request_id, x in zip(opt, sample_inputs, strict=True):
        state = oracle.state(request_id)
        assert state.status == Status.FULFILLED
        assert state.output_hash == io_hash(zk.circuit_output(pkg, x))
    assert node.counts() == {"done": len(opt) + 1}
    events = oracle.oracle.events
    proposals = events.InferenceProposed().get_logs(from_block=start)
    fulfilments = events.InferenceFulfilled().get_logs(from_block=start)
    assert sorted(e["args"]["requestId"] for e in proposals) == opt
    assert sorted(e["args"]["requestId"] for e in fulfilments) == sorted([*opt, proved])


def test_a_long_challenge_window_does_not_hold_back_a_short_ones_finalization(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    """Two models: four proposals of one with a 50-block window, then two of another with a
    2-block window. With batches of one the node finalizes up to four proposals a round; the
    short window's proposals are finalized once it closes, not after the long ones."""
    start = chain.w3.eth.block_number + 1
    contract, _ = deploy(chain, "InferenceOracle")
    oracle = OracleClient(chain, contract)
    slow, fast = zk_pair
    slow_id = oracle.register_package(slow, Terms(Mode.OPTIMISTIC, challenge_window=50))
    fast_id = oracle.register_package(fast, Terms(Mode.OPTIMISTIC, challenge_window=2))
    oracle.deposit(10**19)
    slow_ids = [oracle.request(slow_id, x) for x in sample_inputs]
    fast_ids = [oracle.request(fast_id, x) for x in sample_inputs[:2]]
    config = NodeConfig(start_block=start, batch_size=1)
    node = OracleNode(chain, oracle, tmp_path / "n.sqlite", [slow, fast], config=config)
    try:
        for _ in range(3):
            asyncio.run(node.step())
        assert node.counts() == {"proposed": 6}
        _finalize(chain, node)
    finally:
        node.close()
    assert [oracle.state(i).status for i in fast_ids] == [Status.FULFILLED] * 2
    assert [oracle.state(i).status for i in slow_ids] == [Status.PROPOSED] * 4


def test_the_node_keeps_serving_through_an_outage_of_its_rpc_node(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its RPC endpoint answers 503 for a while (a provider's outage, a node restart): the
    node says so and waits, doubling, instead of exiting, and answers what came meanwhile
    once the endpoint is back."""
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, _, opt_id = _setup(chain, pkg)
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO, logger="proofmind.oracle")
    with rpc_proxy(upstream) as proxy:
        backend = RpcBackend(proxy["url"])
        via = Chain(backend, backend.connect(), chain.chain_id, chain.accounts, chain.tx_settings)
        node = OracleNode(
            via,
            OracleClient(via, via.w3.eth.contract(address=oracle.address, abi=oracle.oracle.abi)),
            tmp_path / "n.sqlite",
            [pkg],
            config=NodeConfig(start_block=start, poll_interval=0.05),
        )
        serving = threading.Thread(target=lambda: asyncio.run(node.run(handle_signals=False)))
        began = time.time()
        serving.start()
        try:
            deadline = time.monotonic() + 30
            while node.last_step <= began:  # serving: its first round is done
                assert time.monotonic() < deadline, "the node did not start"
                time.sleep(0.05)
            proxy["down"] = True
            asked = oracle.request(opt_id, sample_inputs[0])  # straight to the chain
            while not any("retrying in" in r.message for r in caplog.records):
                assert time.monotonic() < deadline, "the outage was not noticed"
                time.sleep(0.1)
            proxy["down"] = False
            while oracle.state(asked).status != Status.PROPOSED:
                assert serving.is_alive(), "the node exited during the outage"
                assert time.monotonic() < deadline + 30, "the request was not answered"
                time.sleep(0.1)
        finally:
            node.stop()
            serving.join(30)
    assert proxy["unavailable"] > 0 and not serving.is_alive()
    messages = [r.message for r in caplog.records]
    assert any("503" in m and "retrying in 2 s" in m for m in messages), messages
    assert "the node answers again" in messages


def test_node_recovers_in_flight_rows_from_chain(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    """A node that died after its proposal was mined but before it recorded it."""
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, _, opt_id = _setup(chain, pkg)
    for x in sample_inputs[:2]:
        oracle.request(opt_id, x)
    config = NodeConfig(start_block=start, finalize=False)
    node = OracleNode(chain, oracle, tmp_path / "node.sqlite", [pkg], config=config)
    asyncio.run(node.step())  # proposes; the receipt is read on the next step
    assert node.counts() == {"sending": 2}
    # what a kill between sending and recording the hash leaves: no hash to look up
    with node.state.transaction() as conn:
        conn.execute("UPDATE oracle_requests SET tx_hash=NULL")
    node.close()
    again = OracleNode(
        chain, oracle, tmp_path / "node.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    again.reconcile()  # the chain says they were proposed by us
    assert again.counts() == {"proposed": 2}
    chain.mine(3)
    asyncio.run(again.step())  # finalize sent
    asyncio.run(again.step())  # its receipt read
    assert again.counts() == {"done": 2}
    proposals = oracle.oracle.events.InferenceProposed().get_logs(from_block=start)
    assert len(proposals) == 2


def test_node_refuses_models_not_on_the_oracle(chain: Chain, tmp_path: Path, zk_pair: Pair) -> None:
    contract, _ = deploy(chain, "InferenceOracle")
    with pytest.raises(Exception, match="none of the given models is registered"):
        OracleNode(chain, OracleClient(chain, contract), tmp_path / "n.sqlite", [zk_pair[0]])


def test_node_says_when_it_cannot_afford_a_bond(
    chain: Chain, tmp_path: Path, zk_pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    oracle, _, _ = _setup(chain, zk_pair[0])
    poor = chain.accounts[9]  # nothing deposited
    node = OracleNode(chain, oracle, tmp_path / "n.sqlite", [zk_pair[0]], account=poor)
    try:
        with caplog.at_level(logging.WARNING, logger="proofmind.oracle"):
            node.reconcile()
    finally:
        node.close()
    (warning,) = [r.message for r in caplog.records if "less than one bond" in r.message]
    assert poor.address in warning and "proofmind oracle deposit" in warning


def test_answers_wait_for_their_bonds_and_go_once_deposited(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A balance that covers one bond of three: one answer is proposed, the other two wait
    without a refused proposal at every poll, and go out once the operator deposits."""
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, _, opt_id = _setup(chain, pkg)
    operator = chain.accounts[8]
    oracle.deposit(10**17 + 10**16, account=operator)  # one bond and a tenth
    ids = [oracle.request(opt_id, x) for x in sample_inputs[:3]]
    config = NodeConfig(start_block=start)
    node = OracleNode(chain, oracle, tmp_path / "n.sqlite", [pkg], account=operator, config=config)
    caplog.set_level(logging.INFO, logger="proofmind.oracle")
    try:
        for _ in range(4):
            asyncio.run(node.step())
        assert node.counts() == {"proposed": 1, "answered": 2}
        assert oracle.state(ids[0]).status == Status.PROPOSED
        oracle.deposit(2 * 10**17, account=operator)
        asyncio.run(node.step())
        asyncio.run(node.step())
    finally:
        node.close()
    assert node.counts() == {"proposed": 3}
    assert [oracle.state(i).node for i in ids] == [operator.address] * 3
    messages = [r.message for r in caplog.records]
    (waiting,) = [m for m in messages if "wait for their bonds" in m]
    assert waiting.startswith("2 optimistic answer(s) wait for their bonds: ")
    assert f"balance is {11 * 10**16} wei, enough for 1 of 3" in waiting
    assert "proofmind oracle deposit" in waiting
    assert not [m for m in messages if "refused" in m]
    assert any("covers the answers that waited" in m for m in messages)


def test_an_answer_the_contract_refuses_fails_alone(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One answer of a batch out of the model's range (a corrupted queue row) and one zk proof
    the verifier rejects: each fails with the contract's reason, once; the batch's other
    answers are proposed, and the bad proof is not committed to again at every poll."""
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, zk_id, opt_id = _setup(chain, pkg)
    opt = [oracle.request(opt_id, x) for x in sample_inputs[:3]]
    proved = oracle.request(zk_id, sample_inputs[3])
    node = OracleNode(
        chain, oracle, tmp_path / "n.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    caplog.set_level(logging.WARNING, logger="proofmind.oracle")
    try:
        node.follow()
        asyncio.run(node.answer())
        node.queue.set_state(opt[1], "answered", output=json.dumps([2**60]))
        doc = json.loads(node.queue.rows_by_id([proved])[0]["output"])
        doc["proof"] = "00" * (len(doc["proof"]) // 2)
        node.queue.set_state(proved, "answered", output=json.dumps(doc))
        for _ in range(4):
            asyncio.run(node.step())
    finally:
        node.close()
    assert [oracle.state(i).status for i in opt] == [
        Status.PROPOSED,
        Status.PENDING,
        Status.PROPOSED,
    ]
    assert oracle.state(proved).status == Status.PENDING
    assert node.counts() == {"proposed": 2, "failed": 2}
    failures = [r.message for r in caplog.records if "cannot be answered" in r.message]
    assert len(failures) == 2
    assert (
        f"request {opt[1]} cannot be answered" in failures[0] and "ValueOutOfRange" in failures[0]
    )
    assert f"request {proved} cannot be answered" in failures[1] and "InvalidProof" in failures[1]
    commits = oracle.oracle.events.Committed().get_logs(from_block=start)
    assert [e["args"]["requestId"] for e in commits] == [proved]


def test_a_copied_answer_does_not_sink_the_nodes_batch(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Someone proposes one answer of the node's batch first (same block, mined before it):
    the batch proposes the others, and the node marks the copied one lost."""
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, _, opt_id = _setup(chain, pkg)
    copier = chain.accounts[2]
    oracle.deposit(10**18, account=copier)
    ids = [oracle.request(opt_id, x) for x in sample_inputs[:3]]
    node = OracleNode(
        chain, oracle, tmp_path / "n.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    rpc = chain.w3.provider.make_request  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO, logger="proofmind.oracle")
    try:
        node.follow()
        asyncio.run(node.answer())
        copied = zk.circuit_output(pkg, sample_inputs[1])
        with manual_mining(chain):
            fn = oracle.oracle.functions.propose([ids[1]], [copied])
            chain.sender(copier).submit(
                {"to": oracle.address, "data": fn._encode_transaction_data()}
            )
            assert node.submit() == 3  # the copy is not mined yet: all three look open
            rpc("evm_mine", [])
        node.confirm()
    finally:
        node.close()
    assert oracle.state(ids[1]).node == copier.address
    assert [oracle.state(i).node for i in (ids[0], ids[2])] == [chain.default_account.address] * 2
    assert node.counts() == {"proposed": 2, "lost": 1}
    assert oracle.balance(chain.default_account.address) == 10**19 - 2 * 10**17  # two bonds
    # one INFO line per state change: request id, model, block, gas
    lines = [r.message for r in caplog.records if r.message.startswith(f"request {ids[0]} ")]
    assert [line.split(":")[0] for line in lines] == [
        f"request {ids[0]} seen",
        f"request {ids[0]} answered",
        f"request {ids[0]} proposed",
    ]
    assert "model mlp0/optimistic, block " in lines[-1] and "gas -" not in lines[-1]
    assert any(f"request {ids[1]} lost" in r.message for r in caplog.records)


def test_a_redeployed_oracle_gets_a_fresh_queue(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Request ids start at 1 on every InferenceOracle. A node whose queue holds the old
    oracle's request 1 must still answer the new oracle's request 1: the finished queue is
    kept under another name, and a queue with open requests is not given up silently."""
    pkg = zk_pair[0]
    db = tmp_path / "oracle-node.sqlite"

    def serve_until_done(oracle: OracleClient, start: int) -> OracleNode:
        node = OracleNode(chain, oracle, db, [pkg], config=NodeConfig(start_block=start))
        _settle(chain, node)
        return node

    start = chain.w3.eth.block_number + 1
    old, _, old_opt = _setup(chain, pkg)
    first = old.request(old_opt, sample_inputs[0])
    node = serve_until_done(old, start)
    assert node.counts() == {"done": 1}
    node.state.close()

    start = chain.w3.eth.block_number + 1
    new, _, new_opt = _setup(chain, pkg)
    again = new.request(new_opt, sample_inputs[1])
    assert again == first  # the same id on the new oracle
    with caplog.at_level(logging.WARNING, logger="proofmind.oracle"):
        node = serve_until_done(new, start)
    assert new.state(again).status == Status.FULFILLED
    assert node.counts() == {"done": 1}
    (moved,) = [r.getMessage() for r in caplog.records if "belonged to" in r.getMessage()]
    kept = tmp_path / f"oracle-node.{chain.chain_id}-{old.address[:10]}.sqlite"
    assert kept.name in moved and old.address in moved
    assert OracleNode(chain, old, kept, [pkg]).counts() == {"done": 1}  # nothing lost

    # the new oracle's queue has an open request: a node for the old oracle refuses it
    new.request(new_opt, sample_inputs[2])
    asyncio.run(node.step())  # proposed (its receipt read next step), not final
    node.state.close()
    with pytest.raises(InputError, match=r"1 of its requests are still open") as info:
        OracleNode(chain, old, db, [pkg])
    assert new.address in str(info.value) and "oracle refund" in (info.value.hint or "")
    counts = OracleNode(chain, new, db, [pkg]).counts()  # the same oracle: its queue as it was
    assert counts.pop("done") == 1 and list(counts.values()) == [1]  # sending or proposed


def test_a_request_id_given_again_after_a_deep_reorg_is_answered(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The node answered request N; the chain is reorganised past it (deeper than the node's
    confirmations) and the new branch gives N to another request: that one is answered too."""
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, _, opt_id = _setup(chain, pkg)
    fork = chain.snapshot()
    first = oracle.request(opt_id, sample_inputs[0])
    node = OracleNode(
        chain, oracle, tmp_path / "node.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    _settle(chain, node)
    assert node.counts() == {"done": 1}

    chain.revert(fork)  # the other branch: no request, no answer
    chain.mine(8)  # longer than the old one
    again = oracle.request(opt_id, sample_inputs[1])
    assert again == first and oracle.state(again).status == Status.PENDING
    with caplog.at_level(logging.WARNING, logger="proofmind.oracle"):
        _settle(chain, node)  # the reorg first, then the request read again and answered
    state = oracle.state(again)
    assert state.status == Status.FULFILLED  # before: PENDING, the id taken for the old one's
    assert state.output_hash == io_hash(zk.circuit_output(pkg, sample_inputs[1]))
    assert node.counts() == {"done": 1}
    said = [m for r in caplog.records if f"request {again} is in block" in (m := r.getMessage())]
    assert len(said) == 1 and "another request" in said[0] and "queued again" in said[0], said


def test_a_second_node_on_the_same_queue_is_refused(
    chain: Chain, tmp_path: Path, zk_pair: Pair
) -> None:
    """Two nodes on one queue would prove and send the same answers (and, for the binding, one
    could move the other's queue aside): the second is refused before it opens the queue."""
    import os

    from proofmind.errors import ConfigError

    pkg = zk_pair[0]
    oracle, _, _ = _setup(chain, pkg)
    db = tmp_path / "oracle-node.sqlite"
    first = OracleNode(chain, oracle, db, [pkg], config=NodeConfig(poll_interval=0.05))
    with (
        running(lambda: asyncio.run(first.run(handle_signals=False)), first.stop,
                first.lock.path, "first node"),
        pytest.raises(ConfigError) as refused,
    ):  # fmt: skip
        OracleNode(chain, oracle, db, [pkg])
    assert str(refused.value).startswith(
        f"another process (pid {os.getpid()}) is already serving the oracle node's queue {db}"
    )
    assert "two nodes on one queue would prove and send the same answers" in str(refused.value)
    assert OracleNode(chain, oracle, db, [pkg]).counts() == {}  # stopped: the queue is free
