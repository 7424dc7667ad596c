"""Alert anchoring: the monitor's alerts, batched under Merkle roots, anchored on the
provenance ledger, and proved one by one afterwards.

A batch holds the alerts stored since the previous batch. Each alert's leaf is
``leaf_hash(("uint256", "bytes32"), (alert id, keccak256 of its canonical content))`` (OpenZeppelin
``StandardMerkleTree`` encoding, so a contract can check a proof with ``MerkleProof``). The
batch's root becomes a ledger record (kind dataset, ``uri proofmind://monitor/alerts?...``) and is
registered on the ProvenanceRegistry by the ledger's own anchoring: batched, confirmed, and
reconciled with the chain after a crash. Each step is idempotent, so an interrupted
`monitor anchor` run is finished by the next one.

To prove an alert: its leaf is recomputed from the alert as stored now and must equal the leaf
kept for it; the kept leaves must give the batch's root; the root must be the content hash of
a ledger record whose id the registry holds, registered by the record's creator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proofmind.chain.base import Chain
from proofmind.crypto.merkle import MerkleTree, verify_proof
from proofmind.errors import InputError
from proofmind.monitor.store import AlertBatch, AlertStore, alert_leaf
from proofmind.provenance.ledger import Ledger, LocalRecord, require_anchored_on
from proofmind.provenance.records import Kind, ProvenanceRegistryClient
from proofmind.store.stores import Stores

URI = "proofmind://monitor/alerts"


@dataclass
class AnchoredBatches:
    """What one `anchor_alerts` call did."""

    new_batches: list[AlertBatch] = field(default_factory=list)
    records: list[LocalRecord] = field(default_factory=list)  # the batches' ledger records
    anchored: int = 0  # records anchored by this call
    waiting: int = 0  # records sent whose block is not confirmed yet
    gas_used: int = 0


def _record_of(ledger: Ledger, batch: AlertBatch) -> LocalRecord:
    return ledger.add(
        Kind.DATASET,
        f"monitor-alerts-{batch.first_id}-{batch.last_id}",
        batch.root,
        f"{URI}?first={batch.first_id}&last={batch.last_id}&count={batch.count}",
        meta=f"alert batch {batch.batch}",
    )


def anchor_alerts(
    workspace: Stores, chain: Chain, store: AlertStore, *, max_alerts: int = 10_000
) -> AnchoredBatches:
    """Batch the alerts not yet in a batch and anchor every batch not yet on chain."""
    report = AnchoredBatches()
    while (batch := store.new_batch(max_alerts)) is not None:
        report.new_batches.append(batch)
    ledger = Ledger(workspace)
    for batch in store.batches(unrecorded=True):  # also those a crash left without a record
        store.set_batch_record(batch.batch, _record_of(ledger, batch).key)
    records = [ledger.get(b.record_key) for b in store.batches() if b.record_key is not None]
    todo = [r for r in records if not r.anchored]
    if todo:
        anchored = ledger.anchor(chain, only=todo)
        report.anchored, report.waiting = len(anchored.anchored), len(anchored.waiting)
        report.gas_used = anchored.gas_used
    report.records = [ledger.get(r.key) for r in records]
    return report


@dataclass
class AlertProof:
    """The proof that alert ``alert_id`` is in an anchored batch (``ok``), or why not."""

    alert_id: int
    problems: list[str] = field(default_factory=list)
    leaf: str | None = None
    proof: list[str] = field(default_factory=list)
    root: str | None = None
    batch: int | None = None
    record_id: str | None = None
    registry: str | None = None
    chain_id: int | None = None
    block_number: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.record_id is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "ok": self.ok,
            "problems": self.problems,
            "leaf": self.leaf,
            "proof": self.proof,
            "root": self.root,
            "batch": self.batch,
            "record_id": self.record_id,
            "registry": self.registry,
            "chain_id": self.chain_id,
            "block_number": self.block_number,
        }


def prove_alert(workspace: Stores, chain: Chain, store: AlertStore, alert_id: int) -> AlertProof:
    """Check alert ``alert_id`` against its anchored batch (see the module's docstring)."""
    result = AlertProof(alert_id)
    stored = store.get(alert_id)
    if stored is None:
        raise InputError(f"no alert {alert_id} in {store.path}")
    batch = store.batch_of(alert_id)
    if batch is None:
        result.problems.append("not in any batch yet: run `proofmind monitor anchor`")
        return result
    result.batch, result.root = batch.batch, batch.root
    ids = [a.id for a in store.query(after_id=batch.first_id - 1, before_id=batch.last_id + 1,
                                     limit=batch.count + 1, newest_first=False)]  # fmt: skip
    if len(ids) != batch.count or len(batch.leaves) != batch.count:
        result.problems.append(f"batch {batch.batch} no longer holds {batch.count} alerts")
        return result
    index = ids.index(alert_id)
    leaf = alert_leaf(stored)
    result.leaf = "0x" + leaf.hex()
    if batch.leaves[index] != leaf:
        result.problems.append(
            f"alert {alert_id} was altered after it was batched: its content no longer "
            f"gives the leaf kept for it in batch {batch.batch}"
        )
        return result
    tree = MerkleTree.of(list(batch.leaves), sort_leaves=False)
    if tree.root_hex != batch.root:
        result.problems.append(f"the leaves kept for batch {batch.batch} no longer give its root")
        return result
    proof = tree.get_proof(index)
    result.proof = ["0x" + p.hex() for p in proof]
    if not verify_proof(bytes.fromhex(batch.root[2:]), leaf, proof):
        result.problems.append("the Merkle proof does not verify")  # pragma: no cover
        return result
    _check_record(workspace, chain, batch, result)
    return result


def _check_record(workspace: Stores, chain: Chain, batch: AlertBatch, result: AlertProof) -> None:
    if batch.record_key is None:
        result.problems.append("the batch has no ledger record yet: run `proofmind monitor anchor`")
        return
    record = Ledger(workspace).get(batch.record_key)
    if record.content_hash != batch.root:
        result.problems.append(
            f"ledger record {record.key} commits to {record.content_hash}, not to the batch root"
        )
        return
    if not record.anchored or record.record_id is None or record.creator is None:
        result.problems.append("the batch is not anchored yet: run `proofmind monitor anchor`")
        return
    require_anchored_on(record, chain)
    derived = "0x" + record.record_input([]).record_id(record.creator).hex()
    if derived != record.record_id:
        result.problems.append(f"ledger record {record.key} was altered after it was anchored")
        return
    from eth_utils.address import to_checksum_address

    from proofmind.chain.contracts import load_artifact

    contract = chain.w3.eth.contract(
        address=to_checksum_address(str(record.registry)),
        abi=load_artifact("ProvenanceRegistry").abi,
    )
    found = ProvenanceRegistryClient(chain, contract).lookup(bytes.fromhex(derived[2:]))
    if found is None or found.creator.lower() != record.creator.lower():
        result.problems.append(
            f"record {record.record_id} is not on chain {chain.chain_id} (registry "
            f"{record.registry}): was the chain reset? `proofmind monitor anchor` registers it "
            "again"
        )
        return
    result.record_id, result.registry = record.record_id, record.registry
    result.chain_id, result.block_number = chain.chain_id, record.block_number
