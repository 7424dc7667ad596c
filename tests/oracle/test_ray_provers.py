"""The oracle node's provers on Ray: a zk request answered once, and a proof whose worker is
killed mid-proof retried to the same proof."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.errors import InputError
from proofmind.ml import zk
from proofmind.oracle.client import Status, io_hash
from proofmind.oracle.node import NodeConfig, OracleNode
from proofmind.oracle.node._node import _prove
from tests.oracle.test_node import _setup
from tests.scale.test_worker_loss import processes

Pair = tuple[zk.Package, zk.Package]
ray = pytest.importorskip("ray", reason="Ray provers are an extra: proofmind[ray]")


@pytest.fixture(scope="module")
def provers() -> Iterator[object]:
    from proofmind.oracle.ray_provers import RayProvers

    pool = RayProvers("local", 2)
    yield pool
    pool.shutdown()


def test_a_proof_task_reserves_its_estimated_memory(zk_pair: Pair) -> None:
    from proofmind.oracle.ray_provers import task_memory

    pkg = zk_pair[0]
    assert task_memory((pkg, [1, 2])) == int(zk.estimate(pkg.logrows)[1] * 2**20)
    assert task_memory(([1, 2],)) == 0


def test_not_a_ray_address() -> None:
    from proofmind.oracle.ray_provers import RayProvers

    with pytest.raises(InputError, match="not a Ray address"):
        RayProvers("http://head:10001")


def test_a_killed_prover_is_retried_to_the_same_proof(
    provers: object, zk_pair: Pair, sample_inputs: list[list[int]]
) -> None:
    pkg, x = zk_pair[0], sample_inputs[2]
    killed: list[int] = []

    def kill() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            for pid in processes(lambda c: c.startswith("ray::_prove")):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    proof = provers.submit(_prove, pkg, x).result(timeout=120)  # type: ignore[attr-defined]
    thread.join(1)
    assert killed, "no prover task was running"
    assert proof.output == zk.circuit_output(pkg, x)


def test_node_answers_a_zk_request_on_ray(
    chain: Chain, tmp_path: Path, zk_pair: Pair, sample_inputs: list[list[int]], provers: object
) -> None:
    pkg = zk_pair[0]
    start = chain.w3.eth.block_number + 1
    oracle, zk_id, _ = _setup(chain, pkg)
    request = oracle.request(zk_id, sample_inputs[0], account=chain.accounts[1])
    config = NodeConfig(start_block=start, prover_address="auto")  # the Ray started above
    node = OracleNode(chain, oracle, tmp_path / "node.sqlite", [pkg], config=config)
    try:
        asyncio.run(node.step())  # proved on Ray, sent
        deadline = time.monotonic() + 30
        while True:  # its receipt, read once the devnet has mined it (later on a busy machine)
            asyncio.run(node.step())
            if node.counts() != {"sending": 1} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        node.close()
    state = oracle.state(request)
    assert state.status == Status.FULFILLED
    assert state.output_hash == io_hash(zk.circuit_output(pkg, sample_inputs[0]))
    assert node.counts() == {"done": 1}
    assert ray.is_initialized()  # a cluster the node did not start is left running
