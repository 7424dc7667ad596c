"""Pre-flight refusals, the challenge watcher, metrics and health, a reverting consumer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.chain.devnet import free_port
from proofmind.chain.events import LogReader
from proofmind.chain.rpc import http_web3
from proofmind.errors import InputError
from proofmind.ml import zk
from proofmind.ml.onnx_models import mlp_onnx, reference_mlp
from proofmind.ml.zk import _verifier
from proofmind.oracle.client import Mode, OracleClient, Status, Terms, io_hash
from proofmind.oracle.node import NodeConfig, OracleNode
from proofmind.oracle.watcher import Watcher
from proofmind.store.blobs import BlobStore
from tests.locks import running
from tests.rpc_proxy import rpc_proxy

Pair = tuple[zk.Package, zk.Package]


def _oracle(chain: Chain, pkg: zk.Package, mode: Mode) -> tuple[OracleClient, bytes]:
    contract, _ = deploy(chain, "InferenceOracle")
    oracle = OracleClient(chain, contract)
    return oracle, oracle.register_package(pkg, Terms(mode, challenge_window=10))


def test_preflight_reports_and_refuses_what_does_not_fit(tmp_path: Path) -> None:
    model = reference_mlp(tmp_path / "mlp.onnx")
    np.savetxt(tmp_path / "cal.csv", np.random.default_rng(0).normal(0, 1, (8, 16)), delimiter=",")
    report = zk.preflight(model, tmp_path / "cal.csv")
    assert report.logrows >= 10 and report.samples == 8 and report.fits
    assert 0 < report.quantization["max_abs"] < 0.01  # fixed point vs float, on every sample
    # its rows alone need more than 50 MB: refused before calibration, with lower bounds
    early = zk.preflight(model, tmp_path / "cal.csv", memory_mb=50)
    assert not early.calibrated and not early.quantization and early.logrows < report.logrows
    assert "needs at least" in str(early.refusal())
    # calibrated logrows need more than 200 MB: refused before compiling and running samples
    late = zk.preflight(model, tmp_path / "cal.csv", memory_mb=200)
    assert late.calibrated and late.logrows == report.logrows and late.samples == 0
    assert "needs about" in str(late.refusal())
    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(zk.ZkError, match="needs at least"):
        zk.package(
            model, tmp_path / "cal.csv", store=blobs.adopt, path_of=blobs.path_of, memory_mb=50
        )
    assert not (tmp_path / "blobs").exists()  # refused before anything was stored
    np.savetxt(tmp_path / "bad.csv", np.zeros((2, 5)), delimiter=",")
    with pytest.raises(InputError, match=r"have 5 values each; mlp\.onnx takes 16"):
        zk.preflight(model, tmp_path / "bad.csv")


def test_preflight_refuses_a_big_model_before_calibrating_it(tmp_path: Path) -> None:
    """A model whose circuit rows alone need more memory than there is is refused in the
    seconds EZKL's first settings take, not after minutes of calibration."""
    rng = np.random.default_rng(0)
    layers = [
        (rng.normal(0, 0.1, (64, 512)), np.zeros(512)),
        (rng.normal(0, 0.1, (512, 512)), np.zeros(512)),
        (rng.normal(0, 0.1, (512, 1)), np.zeros(1)),
    ]
    model = mlp_onnx(layers, tmp_path / "big.onnx")
    np.savetxt(tmp_path / "cal.csv", rng.normal(0, 1, (8, 64)), delimiter=",")
    started = time.monotonic()
    report = zk.preflight(model, tmp_path / "cal.csv", memory_mb=2_000)
    assert not report.calibrated and report.rows > 2**18 and report.logrows >= 19
    assert time.monotonic() - started < 8  # calibrating it alone takes longer
    assert "needs at least" in str(report.refusal())


def test_watcher_challenges_a_wrong_answer(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg = zk_pair[0]
    oracle, model_id = _oracle(chain, pkg, Mode.OPTIMISTIC)
    liar, watcher_account = chain.accounts[2], chain.accounts[3]
    oracle.deposit(10**18, account=liar)
    start = chain.w3.eth.block_number + 1
    honest_id = oracle.request(model_id, sample_inputs[0])
    lied_id = oracle.request(model_id, sample_inputs[1])
    right = zk.circuit_output(pkg, sample_inputs[0])
    oracle.propose(
        [honest_id, lied_id], [right, [zk.circuit_output(pkg, sample_inputs[1])[0] - 50]], liar
    )
    watcher = Watcher(
        chain, oracle, tmp_path / "w.sqlite", [pkg], account=watcher_account, start_block=start
    )
    verdicts = {v.request_id: v for v in watcher.step()}
    assert verdicts[honest_id].proposed_ok and not verdicts[honest_id].challenged
    assert verdicts[lied_id].challenged and not verdicts[lied_id].proposed_ok
    state = oracle.state(lied_id)
    assert state.status == Status.FULFILLED
    assert state.output_hash == io_hash(zk.circuit_output(pkg, sample_inputs[1]))
    # half the liar's bond and the fee; the other half went to the requester
    assert oracle.balance(watcher_account.address) == 10**17 // 2 + state.fee
    assert watcher.step() == []  # nothing new


def test_the_watcher_reads_a_requests_input_near_its_block_on_a_long_chain(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    """4,000 blocks before the request, read in windows of 200: checking its proposal reads
    the logs from the request's block, in one window, not from block 0 in twenty. (On a
    real chain, with a hosted node's range limit of 2,000 blocks, block 0 is thousands of
    windows away: minutes, past a challenge window of a few blocks.)"""
    pkg = zk_pair[0]
    chain.mine(4_000)
    oracle, model_id = _oracle(chain, pkg, Mode.OPTIMISTIC)
    liar = chain.accounts[2]
    oracle.deposit(10**18, account=liar)
    start = chain.w3.eth.block_number + 1
    lied_id = oracle.request(model_id, sample_inputs[1])
    oracle.propose([lied_id], [[zk.circuit_output(pkg, sample_inputs[1])[0] - 50]], liar)
    watcher = Watcher(
        chain, oracle, tmp_path / "w.sqlite", [pkg], account=chain.accounts[3], start_block=start
    )
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    with rpc_proxy(upstream, max_log_range=200) as proxy:
        watcher.reader = LogReader(http_web3(proxy["url"]), max_range=200)
        (verdict,) = watcher.step()
    assert verdict.challenged, verdict.detail
    assert proxy["requests"] <= 3 and proxy["refused"] == 0  # the new blocks, the input


def test_metrics_health_and_a_reverting_consumer(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pkg = zk_pair[0]
    oracle, model_id = _oracle(chain, pkg, Mode.ZK)
    # a contract without onInference asks (impersonated): its callback must revert harmlessly
    token, _ = deploy(chain, "RewardToken", "T", "T", chain.accounts[0].address)
    rpc = chain.w3.provider.make_request  # type: ignore[attr-defined]
    rpc("anvil_impersonateAccount", [token.address])
    rpc("anvil_setBalance", [token.address, hex(10**18)])
    start = chain.w3.eth.block_number + 1
    fn = oracle.oracle.functions.requestInference(model_id, sample_inputs[0], 100_000)
    tx = fn.transact({"from": token.address, "value": 10**15})
    chain.w3.eth.wait_for_transaction_receipt(tx)
    rpc("anvil_stopImpersonatingAccount", [token.address])
    node = OracleNode(
        chain, oracle, tmp_path / "n.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    port = free_port("127.0.0.1")

    async def scenario() -> tuple[dict[str, object], str]:
        runner = await node.serve_http("127.0.0.1", port)
        try:
            await node.step()
            for _ in range(20):  # the fulfilment's receipt is read on a later step
                await node.step()
                if not node.queue.open_count():
                    break
                await asyncio.sleep(0.2)
            base = f"http://127.0.0.1:{port}"
            health = await asyncio.to_thread(urllib.request.urlopen, base + "/health")
            metrics = await asyncio.to_thread(urllib.request.urlopen, base + "/metrics")
            return json.loads(health.read()), metrics.read().decode()
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.WARNING, logger="proofmind.oracle"):
        try:
            health, metrics = asyncio.run(scenario())
        finally:
            node.close()
    logged = [r.message for r in caplog.records]
    assert oracle.state(1).status == Status.FULFILLED, logged  # although the callback failed
    assert any("callback of request 1 failed" in r.message for r in caplog.records)
    assert health["status"] == "ok" and health["queue"] == {"done": 1}
    assert "proofmind_oracle_callback_failures_total 1.0" in metrics
    assert 'proofmind_oracle_answers_submitted_total{mode="zk"} 1.0' in metrics
    assert "proofmind_oracle_proving_seconds_count 1.0" in metrics
    assert "proofmind_oracle_float_drift_count 1.0" in metrics  # cross-checked with onnxruntime
    assert 'proofmind_oracle_float_drift_bucket{le="0.01"} 1.0' in metrics  # a calibrated input
    # an answer far from onnxruntime's float output is logged (the answer itself stands)
    far = [v + 2 ** (pkg.output_scale - 1) for v in zk.circuit_output(pkg, sample_inputs[0])]
    with caplog.at_level(logging.WARNING, logger="proofmind.oracle"):
        node._cross_check(99, next(iter(node.served.values())), sample_inputs[0], far)
    assert any("request 99: the circuit's answer is 0.5" in r.message for r in caplog.records)


def test_a_verifier_too_big_for_ethereum_is_refused(
    zk_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = zk_pair[0].paths["verifier_sol"]
    abi, _ = zk.compile_verifier(source)  # the reference MLP's verifier fits EIP-170
    assert any(item.get("name") == "verifyProof" for item in abi)
    monkeypatch.setattr(_verifier, "MAX_CODE_SIZE", 1_000)
    with pytest.raises(zk.ZkError, match="over the 1,000-byte limit of EIP-170") as refused:
        zk.compile_verifier(source)
    assert "--max-logrows" in (refused.value.hint or "")


def test_the_watchers_state_belongs_to_one_oracle(
    chain: Chain, tmp_path: Path, zk_pair: Pair
) -> None:
    """Request ids restart at 1 on a new InferenceOracle: a dispute followed on the old one must
    not be taken for the new one's request with the same id."""
    pkg = zk_pair[0]
    old, _ = _oracle(chain, pkg, Mode.OPTIMISTIC)
    new, _ = _oracle(chain, pkg, Mode.OPTIMISTIC)
    db = tmp_path / "w.sqlite"
    watcher = Watcher(chain, old, db, [pkg])
    watcher.disputes[1] = 10**9  # a committee dispute whose voting has not ended
    watcher._save_disputes()
    watcher.state.close()
    with pytest.raises(InputError, match=r"1 of its committee disputes are still open") as info:
        Watcher(chain, new, db, [pkg])
    assert old.address in str(info.value) and new.address in str(info.value)
    watcher = Watcher(chain, old, db, [pkg])  # refused: nothing was moved
    assert watcher.disputes == {1: 10**9}
    del watcher.disputes[1]  # settled
    watcher._save_disputes()
    watcher.state.close()
    assert Watcher(chain, new, db, [pkg]).disputes == {}
    assert (tmp_path / f"w.{chain.chain_id}-{old.address[:10]}.sqlite").is_file()


def test_a_second_watcher_on_the_same_state_is_refused(
    chain: Chain, tmp_path: Path, zk_pair: Pair
) -> None:
    """Two watchers on one state would work on the same requests, and one for another oracle
    could move the other's state aside: the second is refused before it opens the state."""
    import os

    from proofmind.errors import ConfigError

    pkg = zk_pair[0]
    oracle, _ = _oracle(chain, pkg, Mode.OPTIMISTIC)
    db = tmp_path / "w.sqlite"
    first = Watcher(chain, oracle, db, [pkg])
    with (
        running(lambda: first.run(0.05), first.stop, first.lock.path, "first watcher"),
        pytest.raises(ConfigError) as refused,
    ):
        Watcher(chain, oracle, db, [pkg])
    assert str(refused.value).startswith(
        f"another process (pid {os.getpid()}) is already watching with the challenge "
        f"watcher's state {db}"
    )
    first.state.close()
    assert Watcher(chain, oracle, db, [pkg]).disputes == {}  # stopped: free again
