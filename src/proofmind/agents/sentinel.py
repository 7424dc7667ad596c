"""The sentinel: a guardian that vetoes queued agent actions the monitor has reasons to distrust.

Every action an agent queues behind the guard's timelock is read back from the chain (the
``queue`` call's input: target, value, calldata, decision id) and checked:

- **unknown decision**: its decision id is not in the decision log, or the logged decision
  chose another action: someone other than the runtime holds the agent key;
- **flagged counterparty**: the target or an address argument is the subject of an active
  monitor alert of high or critical severity (e.g. the watch list, fraud, sybil detectors);
- **outsized amount**: the amount argument is more than ``max_ratio`` times the median of the
  agent's executed amounts for that target (once there are ``min_history`` of them).

Any hit vetoes the action (the guardian key signs ``veto``); the reason is kept.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from proofmind.agents.guard import Guard
from proofmind.agents.log import DecisionLog
from proofmind.monitor.store import AlertStore

SEVERE = ("high", "critical")


@dataclass
class Verdict:
    action_id: str
    decision_id: str
    to: str
    amount: int | None
    reasons: list[str] = field(default_factory=list)
    vetoed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "decision_id": self.decision_id,
            "to": self.to,
            "amount": None if self.amount is None else str(self.amount),
            "reasons": self.reasons,
            "vetoed": self.vetoed,
        }


def _address_words(data: bytes) -> list[str]:
    """Argument words of ``data`` that look like addresses (12 zero bytes, then 20 others)."""
    found: list[str] = []
    for start in range(4, len(data) - 31, 32):
        word = data[start : start + 32]
        if word[:12] == b"\x00" * 12 and word[12:] != b"\x00" * 20 and any(word[12:16]):
            found.append(to_checksum_address("0x" + word[12:].hex()))
    return found


class Sentinel:
    def __init__(
        self,
        guard: Guard,
        guardian: LocalAccount,
        log: DecisionLog,
        alerts: AlertStore,
        *,
        max_ratio: float = 5.0,
        min_history: int = 5,
    ) -> None:
        self.guard = guard
        self.guardian = guardian
        self.log = log
        self.alerts = alerts
        self.max_ratio = max_ratio
        self.min_history = min_history
        self.from_block = 0
        self.seen: set[str] = set()

    def _flagged(self, address: str) -> bool:
        """Whether an active high- or critical-severity alert names ``address`` (lower-case
        or checksummed, as detectors spell it), however many alerts came after it."""
        spellings = {address.lower(), to_checksum_address(address)}
        return any(
            self.alerts.count(subject=spelling, severity=severity, status="active")
            for spelling in spellings
            for severity in SEVERE
        )

    def _history(self, to: str) -> list[int]:
        """The amounts of this guard's latest executed calls to ``to`` (another Safe's, or
        calls to other targets, neither count nor crowd them out)."""
        amounts = []
        for decision in self.log.executed_calls(self.guard.address, to):
            data = decision.record["action"].get("data", "0x")
            if len(data) >= 2 + 8 + 128:
                amounts.append(int(data[2 + 8 + 64 : 2 + 8 + 128], 16))
        return amounts

    def assess(self, to: str, value: int, data: bytes, decision_id: bytes) -> list[str]:
        reasons = []
        decision = self.log.get("0x" + decision_id.hex())
        expected = None if decision is None else decision.record.get("action")
        if expected is None:
            reasons.append("its decision id is not in the decision log (unknown decision)")
        elif (
            expected["to"].lower() != to.lower()
            or int(expected["value"]) != value
            or expected["data"].lower() != "0x" + data.hex()
        ):
            reasons.append("the queued call differs from the action its decision chose")
        for address in [to, *_address_words(data)]:
            if self._flagged(address):
                reasons.append(f"{address} is the subject of an active high-severity alert")
        if len(data) >= 4 + 64:
            amount = int.from_bytes(data[36:68], "big")
            history = self._history(to)
            if len(history) >= self.min_history:
                median = statistics.median(history)
                if median > 0 and amount > self.max_ratio * median:
                    reasons.append(
                        f"amount {amount} is {amount / median:.1f}x the median of the agent's "
                        f"{len(history)} executed actions on {to}"
                    )
        return reasons

    def scan(self) -> list[Verdict]:
        """Check every action queued since the last scan; veto those with a reason."""
        contract = self.guard.contract
        head = int(self.guard.chain.w3.eth.block_number)
        events = contract.events.ActionQueued().get_logs(from_block=self.from_block, to_block=head)
        verdicts = []
        for event in events:
            action_id = "0x" + bytes(event["args"]["actionId"]).hex()
            if action_id in self.seen:
                continue
            self.seen.add(action_id)
            tx = self.guard.chain.w3.eth.get_transaction(event["transactionHash"])
            _fn, params = contract.decode_function_input(tx["input"])
            to, value, data, decision_id = (
                str(params["to"]),
                int(params["value"]),
                bytes(params["data"]),
                bytes(params["decisionId"]),
            )
            amount = None
            if len(data) >= 68:
                amount = int(decode(["uint256"], data[36:68])[0])
            verdict = Verdict(action_id, "0x" + decision_id.hex(), to, amount)
            verdict.reasons = self.assess(to, value, data, decision_id)
            if verdict.reasons:
                _eta, state = self.guard.queued(bytes.fromhex(action_id[2:]))
                if state == "Queued":
                    self.guard.veto(self.guardian, bytes.fromhex(action_id[2:]), as_guardian=True)
                    verdict.vetoed = True
            verdicts.append(verdict)
        self.from_block = head + 1
        return verdicts
