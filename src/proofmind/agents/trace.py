"""Decisions in the provenance ledger, and the walk from an agent's transaction back to its data.

Each final decision becomes an *inference* record of the ledger (content hash = the decision
id) whose parent is the policy, a *model* record (content hash = the policy file's hash), itself
under the model record the policy names, if any; anchored on-chain in batches. So a
transaction the guard executed leads to: its ActionExecuted event -> the decision id -> the
decision record (whose hash must still be that id) -> the ledger record anchoring it -> the
model -> the model's training run -> the run's datasets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD

from proofmind.agents.guard import Guard, decision_id_of
from proofmind.agents.log import Decision, DecisionLog, canonical
from proofmind.chain.base import Chain
from proofmind.chain.contracts import load_artifact
from proofmind.errors import InputError
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind

TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def decision_uri(decision_id: str) -> str:
    return f"proofmind:agent-decision:{decision_id}"


def anchor_decisions(ledger: Ledger, chain: Chain, log: DecisionLog, limit: int = 500) -> int:
    """Add every final, unanchored decision to the ledger and anchor them; returns how many
    were anchored now (those whose block is not yet confirmed are anchored by a later call)."""
    decisions = log.unanchored(limit)
    records: dict[str, LocalRecord] = {}
    policies: dict[tuple[str, str, str], LocalRecord] = {}
    for decision in decisions:
        key = (
            str(decision.record.get("policy")),
            str(decision.record.get("policy_hash")),
            str(decision.record.get("model_record") or ""),
        )
        if key not in policies:
            policies[key] = _policy_record(ledger, *key)
        parents = [policies[key]]
        meta = {"status": decision.status, "tx_hash": decision.tx_hash, "policy": decision.policy}
        records[decision.id] = ledger.add(
            Kind.INFERENCE,
            f"decision {decision.id[:10]} ({decision.policy})",
            decision.id,
            decision_uri(decision.id),
            parents=parents,
            meta=json.dumps(meta, sort_keys=True),
        )
    if not records:
        return 0
    report = ledger.anchor(chain, only=list(records.values()))
    done = {r.key for r in report.anchored}
    done |= {r.key for r in map(ledger.get, (r.key for r in records.values())) if r.anchored}
    count = 0
    for decision_id, record in records.items():
        if record.key in done:
            fresh = ledger.get(record.key)
            log.update_anchor(decision_id, str(fresh.record_id))
            count += 1
    return count


def _policy_record(ledger: Ledger, name: str, policy_hash: str, model: str) -> LocalRecord:
    """The policy as a model record (its rules decide); under the model record it names."""
    parents = [ledger.find(model)] if model else []
    return ledger.add(
        Kind.MODEL,
        f"agent policy {name}",
        policy_hash,
        f"proofmind:agent-policy:{name}",
        parents=parents,
    )


@dataclass
class Trace:
    """What `proofmind verify TXHASH` found, check by check."""

    tx_hash: str
    ok_lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lineage: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "ok": self.ok,
            "checks": self.ok_lines,
            "problems": self.problems,
            "decision": self.decision,
            "lineage": self.lineage,
        }


def trace_transaction(chain: Chain, log: DecisionLog | None, ledger: Ledger, tx_hash: str) -> Trace:
    """Walk an agent transaction back to its decision, model, run and data, checking each link."""
    if not TX_HASH.match(tx_hash):
        raise InputError(f"{tx_hash!r} is not a transaction hash (0x followed by 64 hex digits)")
    trace = Trace(tx_hash.lower())
    try:
        receipt = chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        raise InputError(
            f"transaction {tx_hash} is not on chain {chain.chain_id}",
            hint="check the hash and that the workspace is connected to the right chain",
        ) from None
    event = chain.w3.eth.contract(abi=load_artifact("AgentGuard").abi).events.ActionExecuted()
    executed = event.process_receipt(receipt, errors=DISCARD)
    if not executed:
        raise InputError(
            f"transaction {tx_hash} executed no guarded agent action (no ActionExecuted event)",
            hint="give the hash of a transaction an agent sent through its AgentGuard",
        )
    found = executed[0]
    decision_id = "0x" + bytes(found["args"]["decisionId"]).hex()
    guard_address = str(found["address"])
    if receipt["status"] != 1:
        trace.problems.append("the transaction failed (status 0)")
    trace.ok_lines.append(
        f"tx {trace.tx_hash} executed decision {decision_id} through AgentGuard {guard_address} "
        f"(block {receipt['blockNumber']})"
    )
    decision: Decision | None = None if log is None else log.get(decision_id)
    if decision is None:
        trace.problems.append(
            f"decision {decision_id} is not in this workspace's decision log "
            "(the agent ran elsewhere, or the log was lost)"
        )
        return trace
    trace.decision = decision.to_dict()
    _check_decision(trace, decision, found, guard_address)
    _check_guard(trace, chain, guard_address, decision)
    _check_ledger(trace, ledger, decision)
    return trace


def _check_decision(trace: Trace, decision: Decision, found: Any, guard_address: str) -> None:
    recomputed = "0x" + decision_id_of(canonical(decision.record)).hex()
    if recomputed != decision.id:
        trace.problems.append(
            f"the logged decision record no longer hashes to its id ({recomputed} != "
            f"{decision.id}): it was edited after the decision"
        )
    else:
        trace.ok_lines.append("decision record hashes to the decision id the guard saw")
    action = decision.record.get("action") or {}
    args = found["args"]
    same = (
        to_checksum_address(action.get("to", "0x" + "00" * 20)) == to_checksum_address(args["to"])
        and int(action.get("value", -1)) == int(args["value"])
        and action.get("data", "0x")[:10] == "0x" + bytes(args["selector"]).hex()
        and to_checksum_address(decision.record.get("guard", guard_address)) == guard_address
        and to_checksum_address(decision.record.get("agent", args["agent"]))
        == to_checksum_address(args["agent"])
    )
    if same:
        trace.ok_lines.append(
            f"the executed call (agent {args['agent']}, to {args['to']}, value {args['value']}, "
            f"selector 0x{bytes(args['selector']).hex()}) is the action the decision chose"
        )
    else:
        trace.problems.append("the executed call differs from the action the decision chose")
    if decision.tx_hash and decision.tx_hash.lower() != trace.tx_hash:
        trace.problems.append(
            f"the decision log names another transaction ({decision.tx_hash}) for this decision"
        )
    alert = decision.record.get("alert", {})
    trace.ok_lines.append(
        f"decided on alert {alert.get('id')} ({alert.get('detector')} / {alert.get('subject')}, "
        f"{alert.get('severity')}; inputs {decision.record.get('inputs_hash')}) by policy "
        f"{decision.policy}: {decision.record.get('explanation')}"
    )


def _check_guard(trace: Trace, chain: Chain, guard_address: str, decision: Decision) -> None:
    guard = Guard(chain, guard_address)
    if guard.decision_used(bytes.fromhex(decision.id[2:])):
        trace.ok_lines.append("the guard has the decision id marked used (it cannot run again)")
    else:  # pragma: no cover - an executed decision is always marked used
        trace.problems.append("the guard does not have the decision id marked used")


def _check_ledger(trace: Trace, ledger: Ledger, decision: Decision) -> None:
    found = ledger.by_content(Kind.INFERENCE, decision.id)
    if not found:
        trace.problems.append(
            "the decision is not in the provenance ledger yet (run `proofmind agent anchor`)"
        )
        return
    record = found[0]
    if not record.anchored:
        trace.problems.append(f"the decision's ledger record is {record.state}, not anchored yet")
    else:
        trace.ok_lines.append(
            f"decision anchored on-chain as record {record.record_id} (block {record.block_number})"
        )
    for ancestor in ledger.ancestors(record)[1:]:
        trace.lineage.append(
            {
                "kind": ancestor.kind_name,
                "name": ancestor.name,
                "content_hash": ancestor.content_hash,
                "record_id": ancestor.record_id,
                "state": ancestor.state,
            }
        )
        if not ancestor.anchored:
            trace.problems.append(f"{ancestor.label()} is {ancestor.state}, not anchored")
    if len(trace.lineage) == 1:
        trace.ok_lines.append("the policy names no model record: the lineage ends at the policy")
