"""`proofmind verify TXHASH`: an agent's transaction back to decision, model, run and data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from proofmind.agents.trace import anchor_decisions, trace_transaction
from proofmind.errors import InputError
from proofmind.provenance.ledger import Ledger
from proofmind.provenance.records import Kind
from proofmind.workspace import init_workspace
from tests.agents.conftest import Treasury
from tests.agents.test_runtime import depeg


def _hash(n: int) -> str:
    return "0x" + f"{n:064x}"


def test_an_agent_transaction_leads_back_to_model_run_and_data(
    treasury: Treasury, tmp_path: Path
) -> None:
    ws, _ = init_workspace(tmp_path / "ws")
    ledger = Ledger(ws)
    data = ledger.add(Kind.DATASET, "prices", _hash(1), "file:prices.csv")
    run = ledger.add(Kind.TRAINING_RUN, "depeg-run", _hash(2), "file:run", parents=[data])
    model = ledger.add(Kind.MODEL, "depeg-model", _hash(3), "file:model.onnx", parents=[run])
    ledger.anchor(treasury.chain)
    policy_path = treasury.policy_file(
        treasury.rule("50e18"), extra=f'model_record = "{model.content_hash}"'
    )
    policy = load_policy(policy_path)
    treasury.guard.grant(treasury.owners, policy, treasury.agent.address)
    agent = AgentRuntime(treasury.guard, treasury.agent, policy, treasury.alerts, treasury.log)
    depeg(treasury)
    depeg(treasury, subject="DAI")  # a do-nothing decision: anchored too
    agent.step()
    tx = treasury.log.query(status="executed")[0].tx_hash
    assert tx is not None

    before = trace_transaction(treasury.chain, treasury.log, ledger, tx)
    assert not before.ok and "not in the provenance ledger" in before.problems[0]

    assert anchor_decisions(ledger, treasury.chain, treasury.log) == 2
    assert anchor_decisions(ledger, treasury.chain, treasury.log) == 0  # nothing twice
    trace = trace_transaction(treasury.chain, treasury.log, ledger, tx)
    assert trace.ok, trace.problems
    assert [item["kind"] for item in trace.lineage] == ["model", "model", "run", "dataset"]
    assert all(item["record_id"] for item in trace.lineage)
    assert any("hashes to the decision id" in line for line in trace.ok_lines)

    # an edit to the logged decision after the fact is caught
    conn = sqlite3.connect(treasury.log.path)
    row = conn.execute("SELECT id, record FROM decisions WHERE tx_hash=?", (tx,)).fetchone()
    record = json.loads(row[1])
    record["explanation"] = "something else"
    conn.execute("UPDATE decisions SET record=? WHERE id=?", (json.dumps(record), row[0]))
    conn.commit()
    conn.close()
    tampered = trace_transaction(treasury.chain, treasury.log, ledger, tx)
    assert any("edited after the decision" in p for p in tampered.problems)
    ws.close()


def test_a_transaction_that_is_no_agent_action_is_an_input_error(treasury: Treasury) -> None:
    ws, _ = init_workspace(treasury.tmp / "ws")
    receipt = treasury.chain.sender().send(
        {"to": treasury.treasury, "value": 1}, label="plain transfer"
    )
    with pytest.raises(InputError, match="no ActionExecuted event"):
        trace_transaction(
            treasury.chain, treasury.log, Ledger(ws), receipt["transactionHash"].to_0x_hex()
        )
    with pytest.raises(InputError, match="is not on chain"):
        trace_transaction(treasury.chain, treasury.log, Ledger(ws), _hash(7))
    ws.close()
