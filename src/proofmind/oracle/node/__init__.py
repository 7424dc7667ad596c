"""The oracle node: follows `InferenceRequested` events through the reorg-safe cursor, answers
with the circuit's fixed-point output (optimistic mode) or an EZKL proof made in a process pool
(zk mode), cross-checks each answer against onnxruntime's float output of the packaged model,
and submits — proposals in batches, then finalization after the challenge window.

Every request moves through a persistent SQLite queue:

    new → answered → sending → proposed → done          (optimistic)
    new → answered → committing → committed → sending → done   (zk: commit, then reveal)
    … → failed (bad input: logged, left to the requester's refund) | expired | lost

Exactly-once effects across crashes come from two rules: a request is inserted once (its id is
the primary key, and the cursor commits a block range only after its requests are stored), and
nothing is sent for a request before its on-chain status is read back and found still open — so
a node killed between sending and recording picks up what the chain says happened. The contract
itself refuses a second answer, so even a race with another node cannot answer twice.

The parts: ``_queue`` (the SQLite queue), ``_http`` (Prometheus metrics, ``/metrics`` and
``/health``), ``_node`` (the loop: follow, answer, submit, finalize, read back).
"""

from proofmind.oracle.node._http import Metrics
from proofmind.oracle.node._node import (
    MAX_PROVER_ATTEMPTS,
    NodeConfig,
    OracleNode,
    Served,
    node_lock,
)
from proofmind.oracle.node._queue import RequestQueue

__all__ = [
    "MAX_PROVER_ATTEMPTS",
    "Metrics",
    "NodeConfig",
    "OracleNode",
    "RequestQueue",
    "Served",
    "node_lock",
]
