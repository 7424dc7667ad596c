"""The agent runtime on the devnet: alert -> decision -> guarded action, and every refusal."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest
from web3.logs import DISCARD

from proofmind.agents.log import DecisionLog
from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore
from tests.agents.conftest import DELAY, E18, Treasury

_times = itertools.count(1_700_000_000)


def depeg(
    treasury: Treasury, subject: str = "USDC", severity: str = "high", block: int | None = None
) -> int:
    alert = Alert(
        detector="depeg",
        kind="depeg",
        severity=severity,  # type: ignore[arg-type]
        subject=subject,
        time=float(next(_times)),
        score=0.04,
        explanation=f"{subject} trades 4.0% below its peg",
        block=block,
    )
    stored = treasury.alerts.add(alert)
    assert stored is not None
    return stored


def runtime(treasury: Treasury, rules: str, **kwargs: str) -> AgentRuntime:
    policy = load_policy(treasury.policy_file(rules, **kwargs))
    treasury.guard.grant(treasury.owners, policy, treasury.agent.address)
    return AgentRuntime(treasury.guard, treasury.agent, policy, treasury.alerts, treasury.log)


def warp(treasury: Treasury, seconds: int) -> None:
    treasury.chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    treasury.chain.mine()


def test_an_alert_becomes_one_guarded_transfer_with_its_decision_recorded(
    treasury: Treasury,
) -> None:
    agent = runtime(treasury, treasury.rule("250e18"))
    depeg(treasury)
    depeg(treasury, subject="DAI")  # matches no rule: a recorded "do nothing"
    report = agent.step()
    assert (report.decided, report.executed, report.noop) == (2, 1, 0)
    assert treasury.balance(treasury.treasury) == 250 * E18
    executed = treasury.log.query(status="executed")
    assert len(executed) == 1
    record = executed[0].record
    assert record["alert"]["subject"] == "USDC" and record["inputs_hash"].startswith("0x")
    assert record["policy_id"] == treasury.guard.grant_of(treasury.agent.address)["policy_id"]
    # the transaction carries the decision id, and the log finds the decision by its hash
    receipt = treasury.chain.w3.eth.get_transaction_receipt(executed[0].tx_hash)  # type: ignore[arg-type]
    events = treasury.guard.contract.events.ActionExecuted().process_receipt(
        receipt, errors=DISCARD
    )
    assert "0x" + events[0]["args"]["decisionId"].hex() == executed[0].id
    assert treasury.log.by_tx(executed[0].tx_hash or "") == executed[0]
    assert [d.record["explanation"] for d in treasury.log.query(status="noop")] == [
        "no rule of the policy matches this alert"
    ]
    # stepping again decides nothing new and sends nothing
    again = agent.step()
    assert (again.decided, again.executed) == (0, 0)
    assert treasury.balance(treasury.treasury) == 250 * E18


def test_over_the_cap_is_refused_before_anything_is_sent(treasury: Treasury) -> None:
    agent = runtime(treasury, treasury.rule("300e18"))
    for _ in range(4):
        depeg(treasury)
    nonce = treasury.chain.w3.eth.get_transaction_count(treasury.agent.address)
    report = agent.step()
    assert (report.executed, report.refused) == (3, 1)
    assert treasury.balance(treasury.treasury) == 900 * E18
    refused = treasury.log.query(status="refused")[0]
    assert refused.outcome["simulation"]["error"] == "CapExceeded"
    assert refused.tx_hash is None
    # three transactions: the refused one was never sent
    assert treasury.chain.w3.eth.get_transaction_count(treasury.agent.address) == nonce + 3


def test_a_recipient_outside_the_allowlist_is_refused(treasury: Treasury) -> None:
    outsider = treasury.chain.accounts[7].address
    agent = runtime(treasury, treasury.rule("10e18", to=outsider))
    depeg(treasury)
    assert agent.step().refused == 1
    assert treasury.log.query(status="refused")[0].outcome["simulation"]["error"] == (
        "RecipientNotAllowed"
    )
    assert treasury.balance(outsider) == 0


def test_a_large_move_is_queued_and_the_guardian_vetoes_it(treasury: Treasury) -> None:
    agent = runtime(treasury, treasury.rule("500e18"))
    depeg(treasury)
    report = agent.step()
    assert (report.queued, report.executed) == (1, 0)
    queued = treasury.log.query(status="queued")[0]
    assert queued.action_id is not None and queued.eta is not None
    treasury.guard.veto(treasury.guardian, bytes.fromhex(queued.action_id[2:]), as_guardian=True)
    warp(treasury, DELAY + 1)
    assert agent.step().vetoed == 1
    assert treasury.log.get(queued.id).status == "vetoed"  # type: ignore[union-attr]
    assert treasury.balance(treasury.treasury) == 0


def test_a_queued_move_executes_after_the_delay(treasury: Treasury) -> None:
    agent = runtime(treasury, treasury.rule("500e18"))
    depeg(treasury)
    agent.step()
    assert agent.step().executed == 0  # too early: still queued
    warp(treasury, DELAY + 1)
    assert agent.step().executed == 1
    assert treasury.balance(treasury.treasury) == 500 * E18


def test_an_action_on_a_retracted_alert_is_withdrawn(treasury: Treasury) -> None:
    """The monitor retracts an alert whose block left the chain (a reorg): a decision on it
    not sent yet, or queued in the timelock, is withdrawn and never acts."""
    agent = runtime(treasury, treasury.rule("500e18"))  # above timelock_above: queued
    depeg(treasury, block=100)
    assert agent.step().queued == 1
    depeg(treasury, block=105)
    agent.observe()  # decided, nothing sent yet (as when the node was away)
    (queued,) = treasury.log.query(status="queued")
    (decided,) = treasury.log.query(status="decided")
    retracted = treasury.alerts.retract_from_block(100)
    assert len(retracted) == 2
    report = agent.step()
    assert (report.withdrawn, report.queued, report.executed) == (2, 0, 0)
    for decision in (queued, decided):
        withdrawn = treasury.log.get(decision.id)
        assert withdrawn is not None and withdrawn.status == "withdrawn"
        assert withdrawn.outcome["reason"].endswith("its block left the chain in a reorg")
    # the queued one is withdrawn in the guard too: the DAO sees it will never run
    assert queued.action_id is not None
    _eta, on_chain = treasury.guard.queued(bytes.fromhex(queued.action_id[2:]))
    assert on_chain == "Withdrawn"
    withdraw_tx = treasury.log.get(queued.id).outcome["withdraw_tx"]  # type: ignore[union-attr]
    assert treasury.chain.w3.eth.get_transaction_receipt(withdraw_tx)["status"] == 1
    warp(treasury, DELAY + 1)  # past the timelock: the queued action still does not run
    assert agent.step().executed == 0
    assert treasury.balance(treasury.treasury) == 0
    # an alert that stays is acted on as before
    depeg(treasury, block=200)
    assert agent.step().queued == 1


def test_a_withdrawal_sent_before_a_crash_is_read_back(treasury: Treasury) -> None:
    """The agent withdrew a queued action on-chain and died before logging it: the restarted
    runtime reads the guard's state and logs the decision as withdrawn, sending nothing."""
    agent = runtime(treasury, treasury.rule("500e18"))
    depeg(treasury, block=100)
    assert agent.step().queued == 1
    (queued,) = treasury.log.query(status="queued")
    assert queued.action_id is not None
    treasury.alerts.retract_from_block(100)
    treasury.guard.withdraw(treasury.agent, bytes.fromhex(queued.action_id[2:]))
    nonce = treasury.chain.w3.eth.get_transaction_count(treasury.agent.address)
    report = agent.step()
    assert (report.withdrawn, report.executed) == (1, 0)
    again = treasury.log.get(queued.id)
    assert again is not None and again.status == "withdrawn" and "withdraw_tx" not in again.outcome
    assert again.outcome["reason"].endswith("its block left the chain in a reorg")
    assert treasury.chain.w3.eth.get_transaction_count(treasury.agent.address) == nonce


def test_after_expiry_the_agent_cannot_act(treasury: Treasury) -> None:
    agent = runtime(treasury, treasury.rule("10e18"), expires_in="1h")
    warp(treasury, 3601)
    depeg(treasury)
    assert agent.step().refused == 1
    assert treasury.log.query(status="refused")[0].outcome["simulation"]["error"] == "GrantExpired"


def test_a_send_whose_record_was_lost_is_found_not_repeated(treasury: Treasury) -> None:
    agent = runtime(treasury, treasury.rule("100e18"))
    depeg(treasury)
    agent.observe()
    decision = treasury.log.open("depeg-guard")[0]
    # the runtime sent the action and died before writing it down
    treasury.log.update(decision.id, "sending")
    call = agent._call(decision)
    sent = treasury.guard.send(treasury.agent, call, bytes.fromhex(decision.id[2:]))
    restarted = AgentRuntime(
        treasury.guard,
        treasury.agent,
        agent.policy,
        treasury.alerts,
        DecisionLog(treasury.log.path),
    )
    assert restarted.step().executed == 1
    assert treasury.log.get(decision.id).tx_hash == sent["transactionHash"].to_0x_hex()  # type: ignore[union-attr]
    assert treasury.balance(treasury.treasury) == 100 * E18


def test_an_onnx_model_gates_the_rules(treasury: Treasury) -> None:
    from proofmind.ml.onnx_models import mlp_onnx

    # a one-layer model: sigmoid(100 * score - 3): acts from a score of 0.03
    mlp_onnx([([[100.0]], [-3.0])], treasury.tmp / "gate.onnx", name="depeg-gate")
    extra = '[model]\npath = "gate.onnx"\nfeatures = ["score"]\nact_above = 0.5\n'
    agent = runtime(treasury, treasury.rule("10e18"), extra=extra)
    calm = Alert("depeg", "high", "USDC", float(next(_times)), 0.01, "USDC 1% below its peg",
                 kind="depeg")  # fmt: skip
    treasury.alerts.add(calm)
    depeg(treasury)  # score 0.04
    report = agent.step()
    assert (report.decided, report.executed) == (2, 1)
    noop = treasury.log.query(status="noop")[0].record
    assert noop["model"]["output"] < 0.5 and "no action" in noop["explanation"]
    acted = treasury.log.query(status="executed")[0].record
    assert acted["model"]["inputs"] == [0.04] and acted["model"]["output"] >= 0.5


def test_a_replaced_alert_store_is_noticed_not_passed_over(
    treasury: Treasury, caplog: pytest.LogCaptureFixture
) -> None:
    """The cursor is an alert id: in a new store (ids from 1 again) the alerts up to the old
    cursor would be passed over unseen. The runtime notices, and decides on the new store's
    alerts stored after it last looked; those stored before are history."""
    fresh = AlertStore(treasury.tmp / "replaced.sqlite")
    fresh.add(Alert(detector="depeg", kind="depeg", severity="high", subject="USDC",
                    time=1.0, score=0.04, explanation="history"))  # fmt: skip
    agent = runtime(treasury, treasury.rule("250e18"))
    for _ in range(3):
        depeg(treasury, subject="DAI")  # three do-nothing decisions: the cursor is at 3
    assert agent.step().decided == 3
    treasury.alerts = fresh
    depeg(treasury)  # id 2 in the new store: below the old cursor, stored since, news
    again = AgentRuntime(treasury.guard, treasury.agent, agent.policy, fresh, treasury.log)
    with caplog.at_level(logging.WARNING, logger="proofmind.agents"):
        report = again.step()
    assert (report.decided, report.executed) == (1, 1)  # the news, not the history
    assert treasury.balance(treasury.treasury) == 250 * E18
    (said,) = [r.getMessage() for r in caplog.records if "store was replaced" in r.getMessage()]
    assert "decided up to alert 3" in said and "on its 1 alert stored since it last" in said
    assert said.endswith("; the 1 stored before are not acted on")
    fresh.close()


def test_an_alert_store_replaced_while_running_is_followed(
    treasury: Treasury, caplog: pytest.LogCaptureFixture
) -> None:
    """The store deleted and made again while the runtime runs (a monitor started again on a
    new store): the open connection would read the old file for good and see nothing new."""
    agent = runtime(treasury, treasury.rule("250e18"))
    for _ in range(2):
        depeg(treasury, subject="DAI")
    assert agent.step().decided == 2
    path = treasury.alerts.path
    path.unlink()  # the runtime's connection (to the same store object) stays open
    treasury.alerts = AlertStore(path)  # what a monitor started again writes to
    depeg(treasury)  # id 1 in the new store, below the cursor
    with caplog.at_level(logging.WARNING, logger="proofmind.agents"):
        report = agent.step()
    assert (report.decided, report.executed) == (1, 1)
    assert treasury.balance(treasury.treasury) == 250 * E18
    (said,) = [r.getMessage() for r in caplog.records if "store was replaced" in r.getMessage()]
    assert "decided up to alert 2" in said and "on its 1 alert stored since" in said
    assert agent.step().decided == 0  # followed from there on: nothing decided twice
    depeg(treasury, subject="DAI")
    assert agent.step().decided == 1
    treasury.alerts.close()


def test_the_timelocked_list_keeps_an_old_waiting_action(tmp_path: Path) -> None:
    """`agent queue` lists every action still waiting in the timelock, however many newer
    decisions (do-nothing ones, other timelocked actions) the log holds after it."""
    log = DecisionLog(tmp_path / "decisions.sqlite")
    try:
        record = {"action": {"to": "0x" + "11" * 20}, "explanation": "x"}
        waiting = "0x" + "aa" * 32
        log.record([(waiting, 1, record, "decided")], "p", 1)
        log.update(waiting, "queued", action_id="0x" + "01" * 32, eta=100)
        later = [(f"0x{i:064x}", 2 + i, record, "noop") for i in range(1, 1_500)]
        log.record(later, "p", 1_500)
        for decision_id, *_ in later[:5]:  # five more went through the timelock and executed
            log.update(decision_id, "executed", action_id=decision_id, eta=100)
        assert waiting not in {d.id for d in log.query(limit=1000)}  # older than the newest 1,000
        listed = log.timelocked(limit=3)
        assert [d.id for d in listed] == [later[4][0], later[3][0], later[2][0], waiting]
    finally:
        log.close()


def test_the_sentinels_history_is_its_guards_calls_to_the_target(tmp_path: Path) -> None:
    """Executed calls of another guard, or to another target, are not in it, and do not push
    the target's older calls out (a busy agent's calls elsewhere)."""
    log = DecisionLog(tmp_path / "decisions.sqlite")
    mine, theirs = "0x" + "aa" * 20, "0x" + "bb" * 20
    target, other = "0x" + "11" * 20, "0x" + "22" * 20

    def executed(n: int, guard: str, to: str) -> tuple[str, int, dict[str, object], str]:
        action = {"to": to, "data": "0xa9059cbb" + "00" * 32 + f"{n:064x}"}
        return (f"0x{n:064x}", n, {"guard": guard, "action": action, "explanation": ""}, "executed")

    try:
        rows = [executed(n, mine, target) for n in range(1, 6)]
        rows += [executed(n, mine, other) for n in range(6, 12_000)]
        rows += [executed(n, theirs, target) for n in range(12_000, 12_010)]
        log.record(rows, "p", 12_010)
        found = log.executed_calls(mine.upper().replace("0X", "0x"), target)
        assert [int(d.record["action"]["data"][-64:], 16) for d in found] == [5, 4, 3, 2, 1]
    finally:
        log.close()
