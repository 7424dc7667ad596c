"""Alerts batched under Merkle roots, anchored on the provenance ledger on the devnet, and
proved one by one: an altered alert or batch fails, a retraction does not."""

from __future__ import annotations

import sqlite3

import pytest

from proofmind.chain.base import Chain
from proofmind.crypto.merkle import leaf_hash, verify_proof
from proofmind.monitor.api import Alert
from proofmind.monitor.store import LEAF_TYPES, AlertStore, alert_content_hash
from proofmind.provenance import Ledger
from proofmind.services.alert_anchoring import anchor_alerts, prove_alert
from proofmind.workspace import Workspace

pytestmark = pytest.mark.devnet


def _alerts(store: AlertStore, first: int, count: int) -> None:
    store.add_many(
        (
            Alert(
                detector="depeg",
                severity="high",
                subject="FEI",
                time=1_655_870_952.0 + n,
                score=0.02 + n / 1000,
                explanation=f"FEI trades {2 + n / 10:.1f}% below its peg",
                evidence={"price": 0.97, "round_id": n},
                block=100 + n,
                kind="depeg",
            ),
            f"0x{n:064x}",
        )
        for n in range(first, first + count)
    )


def test_alerts_are_anchored_in_batches_and_proved(ws: Workspace, chain: Chain) -> None:
    store = AlertStore.for_workspace(ws.root)
    _alerts(store, 0, 5)
    first = anchor_alerts(ws, chain, store)
    assert [(b.first_id, b.last_id, b.count) for b in first.new_batches] == [(1, 5, 5)]
    assert first.anchored == 1 and first.records[0].anchored
    _alerts(store, 5, 3)
    second = anchor_alerts(ws, chain, store)
    assert [(b.first_id, b.last_id) for b in second.new_batches] == [(6, 8)]
    again = anchor_alerts(ws, chain, store)  # nothing new: no batch, no transaction
    assert not again.new_batches and again.anchored == 0 and again.gas_used == 0

    for alert_id in range(1, 9):
        proof = prove_alert(ws, chain, store, alert_id)
        assert proof.ok, proof.problems
    proof = prove_alert(ws, chain, store, 7)
    stored = store.get(7)
    assert stored is not None
    leaf = leaf_hash(LEAF_TYPES, (7, alert_content_hash(stored)))
    assert proof.leaf == "0x" + leaf.hex() and proof.batch == 2
    assert verify_proof(bytes.fromhex(proof.root[2:]), leaf,  # type: ignore[index]
                        [bytes.fromhex(p[2:]) for p in proof.proof])  # fmt: skip
    record = Ledger(ws).find(str(proof.record_id))
    assert record.content_hash == proof.root and record.uri.endswith("first=6&last=8&count=3")

    # a retraction (a reorg dropped the block) does not change what was raised
    store.retract_from_block(107)
    assert prove_alert(ws, chain, store, 8).ok
    # a new alert is not proved before it is batched and anchored
    _alerts(store, 8, 1)
    assert "not in any batch yet" in prove_alert(ws, chain, store, 9).problems[0]

    # an alert altered after anchoring fails; its neighbours still verify
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE alerts SET score = 0.5 WHERE id = 3")
    altered = prove_alert(ws, chain, store, 3)
    assert not altered.ok and "altered after it was batched" in altered.problems[0]
    assert prove_alert(ws, chain, store, 4).ok
    # a batch whose kept root was rewritten to match altered leaves fails on chain
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE alert_batches SET root = '0x' || hex(zeroblob(32)) WHERE batch = 2")
    assert not prove_alert(ws, chain, store, 7).ok


def test_an_interrupted_anchoring_is_finished_by_the_next(ws: Workspace, chain: Chain) -> None:
    store = AlertStore.for_workspace(ws.root)
    _alerts(store, 0, 4)
    batch = store.new_batch()  # as if killed after batching, before the ledger record
    assert batch is not None and batch.record_key is None
    done = anchor_alerts(ws, chain, store)
    assert not done.new_batches and done.anchored == 1
    assert all(prove_alert(ws, chain, store, n).ok for n in range(1, 5))
