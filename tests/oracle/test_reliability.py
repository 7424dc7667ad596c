"""A burst of optimistic requests while the node is killed (SIGKILL) and restarted: every
request is answered and finalized exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from proofmind.chain.accounts import Keystore
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy
from proofmind.ml import zk
from proofmind.oracle.client import (
    Mode,
    OracleClient,
    Status,
    Terms,
    io_hash,
    save_package,
)
from proofmind.workspace import init_workspace

REQUESTS = 200
KILLS = 3
Pair = tuple[zk.Package, zk.Package]


class Node:
    def __init__(self, cwd: Path, env: dict[str, str], start: int, log: Path) -> None:
        self.args = [sys.executable, "-m", "proofmind", "oracle", "serve", "-m", "mlp0",
                     "--start-block", str(start), "--poll", "0.05"]  # fmt: skip
        self.cwd, self.env, self.log = cwd, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_burst_survives_sigkill(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg = zk_pair[0]
    ws, _ = init_workspace(tmp_path)
    for path in pkg.paths.values():
        ws.blobs.put_file(path)
    save_package(ws, pkg)
    contract, _ = deploy(chain, "InferenceOracle", registry=DeploymentRegistry(ws.state))
    oracle = OracleClient(chain, contract)
    terms = Terms(Mode.OPTIMISTIC, fee=10**12, bond=10**15, challenge_window=2, timeout=100_000)
    model_id = oracle.register_package(pkg, terms)
    node_account = chain.accounts[5]
    oracle.deposit(REQUESTS * 10**15, account=node_account)
    Keystore(ws.keystore_dir).import_key("node", node_account.key, "pw")
    env = {
        **os.environ,
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_ACCOUNT": "node",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
        # the node signs as its own account and serves the models the owner registered
        "PROOFMIND_ORACLE_MODEL_OWNER": chain.default_account.address,
    }
    start = chain.w3.eth.block_number + 1
    events = oracle.oracle.events

    def count(event) -> int:  # type: ignore[no-untyped-def]
        head = chain.w3.eth.block_number
        return 0 if head < start else len(event().get_logs(from_block=start, to_block=head))

    def proposed() -> int:
        return count(events.InferenceProposed)

    def fulfilled() -> int:
        return count(events.InferenceFulfilled)

    ids: list[int] = []
    stop = threading.Event()

    def burst() -> None:
        requester = chain.accounts[1]
        for i in range(REQUESTS):
            ids.append(
                oracle.request(
                    model_id, sample_inputs[i % len(sample_inputs)], fee=10**12, account=requester
                )
            )

    def miner() -> None:  # blocks keep coming, so challenge windows close
        while not stop.is_set():
            chain.mine(1)
            time.sleep(0.2)

    node = Node(tmp_path, env, start, tmp_path / "node.log")
    sender = threading.Thread(target=burst)
    mining = threading.Thread(target=miner, daemon=True)
    node.start()
    sender.start()
    mining.start()
    try:
        for k in range(KILLS):
            seen = proposed() + fulfilled()
            _wait(lambda s=seen: proposed() + fulfilled() > s, 60, f"progress before kill {k + 1}")
            time.sleep(0.2 * k)
            node.kill()
            node.start()
        sender.join()
        _wait(lambda: fulfilled() >= REQUESTS, 120, "every request finalized")
        log = tmp_path / "node.log"
        _wait(lambda: log.read_text().count("serving mlp0") == KILLS + 1, 60, "the last start")
        time.sleep(1.0)  # a node that answered twice would do it now
    finally:
        stop.set()
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
            node.proc.wait(timeout=30)
    log = (tmp_path / "node.log").read_text()
    assert node.proc is not None and node.proc.returncode == 0, log[-3000:]
    assert "oracle node stopped" in log  # graceful shutdown on SIGTERM

    assert len(ids) == REQUESTS
    proposals = [
        e["args"]["requestId"] for e in events.InferenceProposed().get_logs(from_block=start)
    ]
    fulfilments = [
        e["args"]["requestId"] for e in events.InferenceFulfilled().get_logs(from_block=start)
    ]
    assert sorted(proposals) == sorted(ids), "each request proposed exactly once"
    assert sorted(fulfilments) == sorted(ids), "each request fulfilled exactly once"
    expected = {tuple(x): io_hash(zk.circuit_output(pkg, x)) for x in sample_inputs}
    for i, request_id in enumerate(ids):
        state = oracle.state(request_id)
        assert state.status == Status.FULFILLED
        assert state.output_hash == expected[tuple(sample_inputs[i % len(sample_inputs)])]
