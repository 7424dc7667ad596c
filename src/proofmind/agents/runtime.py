"""The agent runtime: observe -> decide -> simulate -> pre-check -> send -> record.

Crash safety (exactly once): a decision is written to the log, with the alert cursor, before
anything is sent; its id is the one-use decision id the guard checks on-chain. After a crash
(even SIGKILL between sending and recording) the runtime asks the guard whether the id was used:
if so it finds the executing transaction in the guard's events and records it; if not, it sends
again. A second send of a used id can only revert (``DecisionAlreadyUsed``): no action ever
executes twice, and every intended action executes once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from proofmind.agents.guard import Call, Guard, decision_id_of, encode_action, now_on_chain
from proofmind.agents.log import Decision, DecisionLog, canonical
from proofmind.agents.policy import SEVERITIES, Policy, RuleSpec
from proofmind.chain.base import utc
from proofmind.errors import ContractReverted, TransactionError
from proofmind.monitor.store import AlertStore, StoredAlert
from proofmind.text import count_of

log = logging.getLogger("proofmind.agents")

RECORD_VERSION = 1


def _matches(rule: RuleSpec, stored: StoredAlert) -> bool:
    alert = stored.alert
    if rule.detector is not None and rule.detector != alert.detector:
        return False
    if rule.kind is not None and rule.kind != alert.kind:
        return False
    if rule.subject is not None and rule.subject != alert.subject:
        return False
    severity = alert.severity if alert.severity in SEVERITIES else "info"
    return SEVERITIES.index(severity) >= SEVERITIES.index(rule.min_severity)


def inputs_hash(stored: StoredAlert) -> str:
    """sha256 of the alert as the agent saw it (canonical JSON)."""
    return "0x" + hashlib.sha256(canonical(stored.alert.to_dict())).hexdigest()


@dataclass
class StepReport:
    decided: int = 0
    executed: int = 0
    queued: int = 0
    refused: int = 0
    vetoed: int = 0
    noop: int = 0
    withdrawn: int = 0
    events: list[str] = field(default_factory=list)


def _alert_view(stored: StoredAlert) -> dict[str, Any]:
    """The alert as a decision records it (and as the runtime recognises it again)."""
    alert = stored.alert
    return {
        "id": stored.id,
        "detector": alert.detector,
        "kind": alert.kind,
        "subject": alert.subject,
        "severity": alert.severity,
        "time": alert.time,
    }


class AgentRuntime:
    """Runs one policy for one agent key against one guard."""

    def __init__(
        self,
        guard: Guard,
        account: LocalAccount,
        policy: Policy,
        alerts: AlertStore,
        log: DecisionLog,
        *,
        on_event: Callable[[str], None] | None = None,
        receipt_wait: float = 5.0,
    ) -> None:
        self.guard = guard
        self.account = account
        self.agent = str(account.address)
        self.policy = policy
        self.alerts = alerts
        self.log = log
        self.on_event = on_event or (lambda _message: None)
        self.receipt_wait = receipt_wait
        self._model: Any = None
        self._store_checked = False  # whether the alert store is the one the cursor is in
        self._looked: float | None = None  # when this runtime last read the alert store
        self._generation = alerts.generation
        self.policy_id = guard.grant_of(self.agent)["policy_id"]

    # -- decide -----------------------------------------------------------------------------

    def _model_gate(self, stored: StoredAlert) -> tuple[bool, dict[str, Any], str]:
        """(act?, what the model saw and said, why) for the policy's ONNX model."""
        spec = self.policy.model
        assert spec is not None
        if self._model is None:
            from proofmind.ml.onnx_models import OnnxModel

            self._model = OnnxModel.load(spec.path)
        values: list[float] = []
        for name in spec.features:
            source: Any = stored.alert.evidence if name.startswith("evidence.") else None
            value = (
                source.get(name.removeprefix("evidence."))
                if source is not None
                else getattr(stored.alert, name, None)
            )
            if isinstance(value, bool) or not isinstance(value, int | float):
                return (
                    False,
                    {"inputs": None},
                    f"the model's input {name} is missing or not a number",
                )
            values.append(float(value))
        output = float(self._model.run(values)[0])
        seen = {"inputs": values, "output": round(output, 9), "act_above": spec.act_above}
        if output >= spec.act_above:
            return True, seen, f"the model scored {output:.3f} >= {spec.act_above}"
        return False, seen, f"the model scored {output:.3f} < {spec.act_above}: no action"

    def decide(self, stored: StoredAlert) -> tuple[str, dict[str, Any], str]:
        """(decision id, record, initial status) for one alert: the first matching rule acts
        (when the policy has a model: only if the model's output reaches its threshold)."""
        rule_index, call, explanation = None, None, "no rule of the policy matches this alert"
        model_view: dict[str, Any] | None = None
        llm_view: dict[str, Any] | None = None
        candidates = list(enumerate(self.policy.rule))
        if self.policy.llm is not None:
            from proofmind.agents.llm import choose_rule

            chosen, why, llm_view = choose_rule(
                self.policy.llm, stored.alert.to_dict(), self.policy.rule
            )
            explanation = why
            if chosen is None:
                candidates = []
            elif not _matches(self.policy.rule[chosen], stored):
                explanation = f"{why}; but the alert does not meet that rule's conditions"
                candidates = []
            else:
                candidates = [(chosen, self.policy.rule[chosen])]
        for index, rule in candidates:
            if _matches(rule, stored):
                explanation = rule.explanation or (
                    f"rule {index} ({rule.detector or 'any'}/{rule.subject or 'any'}, "
                    f"severity >= {rule.min_severity}) matched: {stored.alert.explanation}"
                )
                rule_index = index
                if self.policy.model is not None:
                    act, model_view, why = self._model_gate(stored)
                    explanation = f"{explanation}; {why}"
                    if not act:
                        break
                call = encode_action(rule.action)
                break
        record = {
            "version": RECORD_VERSION,
            "policy": self.policy.name,
            "policy_hash": self.policy.policy_hash,
            "policy_id": self.policy_id,
            "guard": self.guard.address,
            "agent": self.agent,
            "model_record": self.policy.model_record,
            "alert": _alert_view(stored),
            "inputs_hash": inputs_hash(stored),
            "rule": rule_index,
            "action": None if call is None else call.to_dict(),
            "explanation": explanation,
        }
        if model_view is not None:
            record["model"] = model_view
        if llm_view is not None:
            record["llm"] = llm_view
        decision_id = "0x" + decision_id_of(canonical(record)).hex()
        return decision_id, record, "decided" if call is not None else "noop"

    def observe(self, limit: int = 100) -> int:
        """Decide on the alerts stored since the last step; returns how many decisions were new."""
        looking = time.time()  # an alert stored after this is seen at the next step at the latest
        self.alerts.reopen_if_replaced()
        if self.alerts.generation != self._generation:  # replaced while running
            self._generation = self.alerts.generation
            self._store_checked = False  # check the cursor against the new store
        cursor = self.log.cursor(self.policy.name)
        if not self._store_checked:
            cursor = self._check_store(cursor)
        fresh = self.alerts.query(after_id=cursor, status="active", limit=limit, newest_first=False)
        self._looked = looking
        if not fresh:
            return 0
        decisions = []
        for stored in fresh:
            decision_id, record, status = self.decide(stored)
            decisions.append((decision_id, stored.id, record, status))
        return self.log.record(decisions, self.policy.name, fresh[-1].id)

    def _check_store(self, cursor: int) -> int:
        """The cursor is an alert id of one store. If the alert under it is not the one the
        log decided on, the store was replaced (ids start again at 1) and alerts up to the old
        cursor would be passed over unseen. Then decide on the new store's alerts stored after
        this policy last looked at the old one (news it has not seen); those stored before are
        history it never saw, not news to act on."""
        self._store_checked = True
        decided = self.log.decided_alert(self.policy.name, cursor) if cursor else None
        if decided is None:
            return cursor
        seen, decided_at = decided
        stored = self.alerts.get(cursor)
        if stored is not None and seen == _alert_view(stored):
            return cursor
        looked = self._looked if self._looked is not None else decided_at
        moved = self.alerts.last_id_stored_until(looked)
        news = self.alerts.last_id() - moved
        held = f"; the {moved} stored before are not acted on" if moved else ""
        message = (
            f"policy {self.policy.name} decided up to alert {cursor} ({seen.get('detector')} / "
            f"{seen.get('subject')}), but the alert store has "
            f"{'no such alert' if stored is None else 'another alert under that id'}: the store "
            f"was replaced; deciding on its {count_of(news, 'alert')} stored since it last looked "
            f"({utc(looked)}){held}"
        )
        log.warning(message)
        self.on_event(message)
        self.log.move_cursor(self.policy.name, moved)
        return moved

    # -- act --------------------------------------------------------------------------------

    def _call(self, decision: Decision) -> Call:
        action = decision.record["action"]
        return Call(action["to"], int(action["value"]), bytes.fromhex(action["data"][2:]))

    def settle(self, decision: Decision, report: StepReport) -> None:
        """Move one open decision forward as far as it can go now."""
        ident = bytes.fromhex(decision.id[2:])
        call = self._call(decision)
        status = decision.status
        if status == "sending" and decision.tx_hash:
            self._poll(decision, ident, call, report)
        elif status in ("decided", "sending"):
            if self.guard.decision_used(ident):
                self._after_use(decision, ident, call, report)
                return
            if status == "decided" and self._withdrawn(decision, report):  # nothing went out
                return
            simulation = self.guard.simulate(self.agent, call, ident)
            if simulation.ok:
                # written before the transaction leaves: a crash from here on is recovered
                # through the guard's record of the decision id, never by a blind resend
                self.log.update(
                    decision.id, "sending", outcome={"simulation": simulation.to_dict()}
                )
                tx = self.guard.submit(self.account, call, ident).to_0x_hex()
                self.log.update(decision.id, "sending", tx_hash=tx)
                fresh = self.log.get(decision.id)
                if fresh is not None:
                    self._poll(fresh, ident, call, report)
            elif simulation.needs_timelock:
                queued = self.guard.simulate(self.agent, call, ident, "queue")
                if not queued.ok:
                    self._refuse(decision, queued, report)
                    return
                self.guard.send(self.account, call, ident, "queue")
                self._after_use(decision, ident, call, report)
            else:
                self._refuse(decision, simulation, report)
        elif status in ("queued", "sending_queued"):
            self._advance_queued(decision, ident, call, report)

    def _poll(self, decision: Decision, ident: bytes, call: Call, report: StepReport) -> None:
        """Look for the receipt of the decision's transaction without waiting for it."""
        w3 = self.guard.chain.w3
        tx = str(decision.tx_hash)
        try:
            w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
        except TransactionNotFound:
            if self.guard.decision_used(ident):
                self._after_use(decision, ident, call, report)
                return
            try:
                w3.eth.get_transaction(tx)  # type: ignore[arg-type]
            except TransactionNotFound:
                # the node dropped it: decide again whether to send (the id is still unused)
                self.log.update(decision.id, "decided")
            return
        try:
            receipt = self.guard.chain.sender(self.account).wait(HexBytes(tx))
        except ContractReverted as exc:
            if exc.error_name == "DecisionAlreadyUsed" or self.guard.decision_used(ident):
                self._after_use(decision, ident, call, report)
                return
            # the chain moved between the simulation and the send (another action spent the
            # cap, a veto, a pause): refused by the guard on-chain, recorded with its reason
            self.log.update(
                decision.id,
                "refused",
                outcome={"error": exc.error_name, "reason": exc.reason, "on_chain": True},
            )
            report.refused += 1
            self.on_event(f"refused on-chain {decision.id[:10]}: {exc.reason}")
            return
        self.log.update(decision.id, "executed", tx_hash=tx)
        report.executed += 1
        self.on_event(f"executed {decision.id[:10]} in {tx} (block {receipt['blockNumber']})")

    def _send(
        self, decision: Decision, ident: bytes, call: Call, method: str, report: StepReport
    ) -> None:
        try:
            receipt = self.guard.send(self.account, call, ident, method)
        except ContractReverted as exc:
            # the chain moved between the simulation and the send (another action spent the
            # cap, a veto, a pause): refused by the guard, recorded with its reason
            self.log.update(
                decision.id, "refused", outcome={"error": exc.error_name, "reason": exc.reason}
            )
            report.refused += 1
            self.on_event(f"refused {decision.id[:10]}: {exc.reason}")
            return
        tx = receipt["transactionHash"].to_0x_hex()
        self.log.update(decision.id, "executed", tx_hash=tx)
        report.executed += 1
        self.on_event(f"executed {decision.id[:10]} in {tx} (block {receipt['blockNumber']})")

    def _refuse(self, decision: Decision, simulation: Any, report: StepReport) -> None:
        self.log.update(decision.id, "refused", outcome={"simulation": simulation.to_dict()})
        report.refused += 1
        self.on_event(f"refused {decision.id[:10]}: {simulation.reason}")

    def _after_use(self, decision: Decision, ident: bytes, call: Call, report: StepReport) -> None:
        """The guard has seen this decision id: find out whether it executed or was queued."""
        tx = self.guard.execution_of(ident)
        if tx is not None:
            self.log.update(decision.id, "executed", tx_hash=tx.lower())
            report.executed += 1
            self.on_event(f"executed {decision.id[:10]} in {tx}")
            return
        action_id = self.guard.action_id(self.agent, call, ident)
        eta, state = self.guard.queued(action_id)
        if state == "None":
            # used but neither executed nor queued: the id was spent by a send that reverted
            # after being counted, which the guard makes impossible; record it honestly
            self.log.update(decision.id, "refused", outcome={"error": "DecisionAlreadyUsed"})
            report.refused += 1
            return
        self.log.update(decision.id, "queued", action_id="0x" + action_id.hex(), eta=eta)
        report.queued += 1
        self.on_event(f"queued {decision.id[:10]} as 0x{action_id.hex()[:10]}, executable at {eta}")
        if state != "Queued":
            fresh = self.log.get(decision.id)
            if fresh is not None:
                self._advance_queued(fresh, ident, call, report)

    def _withdrawn(
        self, decision: Decision, report: StepReport, queued: bytes | None = None
    ) -> bool:
        """Whether the alert ``decision`` acts on was retracted since (the monitor saw its block
        leave the chain in a reorg): then the decision is withdrawn, final, and True. The alert
        is the one decided on only when the store still holds it as it was recorded (a replaced
        store reuses ids). An action ``queued`` in the guard's timelock is withdrawn there
        first, so the DAO sees it will never run (the log follows the chain: a crash between
        the two is mended by the next step, which reads it back as withdrawn)."""
        why = self._retracted(decision)
        if why is None:
            return False
        outcome: dict[str, Any] = {"reason": why}
        if queued is not None:
            try:
                receipt = self.guard.withdraw(self.account, queued)
            except ContractReverted as exc:
                if self.guard.queued(queued)[1] != "Queued":
                    return False  # vetoed or executed meanwhile: the next step records which
                # a guard deployed before it could withdraw: only this agent can execute the
                # action, and it never will; it stays queued on-chain until its grace ends
                outcome["withdraw_refused"] = exc.reason
            else:
                outcome["withdraw_tx"] = receipt["transactionHash"].to_0x_hex()
        self._record_withdrawn(decision, report, outcome)
        return True

    def _record_withdrawn(
        self, decision: Decision, report: StepReport, outcome: dict[str, Any]
    ) -> None:
        self.log.update(decision.id, "withdrawn", outcome=outcome)
        report.withdrawn += 1
        self.on_event(f"withdrawn {decision.id[:10]}: {outcome['reason']}")

    def _retracted(self, decision: Decision) -> str | None:
        """Why ``decision`` no longer stands (its alert was retracted), or None."""
        if decision.alert_id is None:
            return None  # an MCP client's proposal: no alert behind it
        stored = self.alerts.get(decision.alert_id)
        if stored is None or stored.status != "retracted":
            return None
        if _alert_view(stored) != decision.record.get("alert"):
            return None
        return (
            f"alert {stored.id} ({stored.alert.detector} / {stored.alert.subject}) was retracted: "
            "its block left the chain in a reorg"
        )

    def _advance_queued(
        self, decision: Decision, ident: bytes, call: Call, report: StepReport
    ) -> None:
        action_id = self.guard.action_id(self.agent, call, ident)
        eta, state = self.guard.queued(action_id)
        if state == "Vetoed":
            self.log.update(decision.id, "vetoed")
            report.vetoed += 1
            self.on_event(f"vetoed {decision.id[:10]}")
            return
        if state == "Executed":
            tx = self.guard.execution_of(ident)
            self.log.update(decision.id, "executed", tx_hash=None if tx is None else tx.lower())
            report.executed += 1
            return
        if state == "Withdrawn":  # by this agent, which crashed before it logged that
            why = self._retracted(decision) or "withdrawn on-chain by the agent"
            self._record_withdrawn(decision, report, {"reason": why})
            return
        if decision.status == "queued" and self._withdrawn(decision, report, action_id):
            return  # withdrawn in the guard too: it can never execute
        if now_on_chain(self.guard.chain) < eta:
            return
        simulation = self.guard.simulate(self.agent, call, ident, "executeQueued")
        if simulation.ok:
            self.log.update(decision.id, "sending_queued")
            self._send(decision, ident, call, "executeQueued", report)
        elif simulation.error_name == "QueueExpired":
            self.log.update(decision.id, "lapsed", outcome={"simulation": simulation.to_dict()})
        elif simulation.error_name in ("NotAgent", "PolicyChanged", "GrantExpired"):
            self._refuse(decision, simulation, report)
        # otherwise (a cap full for now, a pause): try again on a later step

    def step(self) -> StepReport:
        """One round: settle what is open, decide on new alerts, settle those."""
        report = StepReport()
        for decision in self.log.open(self.policy.name):
            self._settle_safely(decision, report)
        report.decided = self.observe()
        for decision in self.log.open(self.policy.name):
            self._settle_safely(decision, report)
        self.await_receipts(report)
        return report

    def await_receipts(self, report: StepReport) -> None:
        """Wait (up to ``receipt_wait`` s) for the policy's sent transactions to be mined."""
        deadline = time.monotonic() + self.receipt_wait
        while True:
            sending = [
                d for d in self.log.open(self.policy.name) if d.status == "sending" and d.tx_hash
            ]
            if not sending or time.monotonic() > deadline:
                return
            for decision in sending:
                self._settle_safely(decision, report)
            time.sleep(0.02)

    def _settle_safely(self, decision: Decision, report: StepReport) -> None:
        try:
            self.settle(decision, report)
        except TransactionError as exc:
            # the node refused or timed out: the decision stays open and is retried next step
            self.on_event(f"will retry {decision.id[:10]}: {exc}")

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Step until ``stop`` is set."""
        while not stop.is_set():
            self.step()
            stop.wait(interval)
