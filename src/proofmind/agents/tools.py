"""proofmind's agent tools, as plain Python: what the MCP server exposes to an LLM client.

Read tools (alerts, the decision log, the guard's state, sybil status) change nothing. The one
state-changing tool, :meth:`AgentTools.propose_action`, never sends anything itself: it records
a decision and hands it to the runtime, which pre-checks it with ``eth_call`` and sends it only
through the AgentGuard. Whatever a prompt- or tool-description-injected client asks for, the
on-chain policy bounds what can happen: an out-of-policy request comes back as the guard's
named error, with nothing sent.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from proofmind.agents.guard import decision_id_of, encode_action
from proofmind.agents.log import FINAL, OPEN, DecisionLog, canonical
from proofmind.agents.policy import ActionSpec, parameter_types, parse_amount, selector_of
from proofmind.agents.runtime import RECORD_VERSION, AgentRuntime, StepReport
from proofmind.errors import InputError
from proofmind.monitor.store import AlertStore

MAX_REASON = 2000
MAX_ARGS = 16
UINT256_MAX = 2**256 - 1


def _address(value: Any, what: str) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    if not is_address(text) or not text.startswith("0x"):
        raise InputError(f"{what} {value!r} is not an address (0x followed by 40 hex digits)")
    digits = text[2:]
    mixed = digits != digits.lower() and digits != digits.upper()
    if mixed and text != to_checksum_address(text):
        raise InputError(
            f"{what} {value!r} has a wrong EIP-55 checksum (a mistyped or lookalike address)"
        )
    return to_checksum_address(text)


class AgentTools:
    """The tools of one agent: its runtime (guard, key, policy), the alert store, the log."""

    def __init__(self, runtime: AgentRuntime, sybil_reports: Path | None = None) -> None:
        self.runtime = runtime
        self.log: DecisionLog = runtime.log
        self.alerts: AlertStore = runtime.alerts
        self.sybil_reports = sybil_reports

    # -- reads ------------------------------------------------------------------------------

    def read_alerts(
        self,
        detector: str | None = None,
        subject: str | None = None,
        limit: int = 20,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; an address subject in any case (a checksummed one finds the stored
        lower-case alerts); ``since`` an ISO 8601 time, unix seconds or a span (``24h``)."""
        from proofmind.monitor.store import parse_moment, subject_key

        if not 1 <= int(limit) <= 500:
            raise InputError(f"limit {limit} is out of range", hint="1 to 500")
        self.alerts.reopen_if_replaced()  # a monitor started again on a new store
        rows = self.alerts.query(
            detector=detector,
            subject=subject_key(subject),
            since=None if since is None else parse_moment(since, "since"),
            limit=int(limit),
        )
        return [r.to_dict() for r in rows]

    def decision_log(self, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        if not 1 <= int(limit) <= 500:
            raise InputError(f"limit {limit} is out of range", hint="1 to 500")
        known = (*OPEN, *FINAL)
        if status is not None and status not in known:
            raise InputError(f"status {status!r} is not a decision status", hint=", ".join(known))
        return [d.to_dict() for d in self.log.query(status=status, limit=int(limit))]

    def guard_status(self) -> dict[str, Any]:
        runtime = self.runtime
        status = runtime.guard.grant_of(runtime.agent)
        status["policy"] = runtime.policy.name
        status["caps"] = [
            {
                "token": cap.token,
                "limit": str(cap.limit),
                "window_seconds": cap.window,
                "spent_in_window": str(runtime.guard.spent(runtime.agent, cap.token)),
                "timelock_above": None if cap.timelock_above is None else str(cap.timelock_above),
            }
            for cap in runtime.policy.cap
        ]
        status["recipients"] = list(runtime.policy.recipients)
        return status

    def sybil_status(self, address: str, report: str) -> dict[str, Any]:
        """Whether ``address`` is on the flagged list of a `sybil detect` output folder."""
        checked = _address(address, "address")
        if self.sybil_reports is None:
            raise InputError("this MCP server was started without --sybil-reports")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", report) or report in (".", ".."):
            raise InputError(f"report {report!r} is not a report name")
        flagged = self.sybil_reports / report / "flagged.txt"
        if not flagged.is_file():
            raise InputError(f"no sybil report named {report!r}")
        listed = {line.strip().lower() for line in flagged.read_text().splitlines()}
        return {"address": checked, "report": report, "flagged": checked.lower() in listed}

    # -- the one state-changing tool --------------------------------------------------------

    def propose_action(
        self,
        target: str,
        function: str,
        args: list[Any] | None = None,
        value: str = "0",
        reason: str = "",
    ) -> dict[str, Any]:
        """Propose a call for the Safe; it runs only if the on-chain policy allows it."""
        args = list(args or [])
        if len(args) > MAX_ARGS:
            raise InputError(f"{len(args)} arguments: at most {MAX_ARGS}")
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise InputError(f"reason must be text of at most {MAX_REASON} characters")
        checked_target = _address(target, "target")
        try:
            selector_of(function)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        types = parameter_types(function)
        if len(args) != len(types):
            raise InputError(
                f"{function} takes {len(types)} argument(s), {len(args)} given"
                + ("" if types else " (a native transfer takes no args)")
            )
        cleaned: list[Any] = []  # as the record keeps them: checksummed, amounts in base units
        for kind, arg in zip(types, args, strict=True):
            if kind == "address":
                cleaned.append(_address(arg, "argument"))
            elif kind.startswith("uint"):
                try:
                    cleaned.append(str(parse_amount(arg)))
                except ValueError as exc:
                    raise InputError(f"argument {arg!r}: {exc}") from None
            else:
                cleaned.append(arg)  # checked against its type by encode_action below
        try:
            native = parse_amount(value)
        except ValueError as exc:
            raise InputError(f"value {value!r}: {exc}") from None
        if native > UINT256_MAX:
            raise InputError(f"value {value!r} does not fit in uint256")
        spec = ActionSpec(target=checked_target, function=function, args=cleaned, value=native)
        call = encode_action(spec)
        return self._decide_and_act(call, {"target": checked_target, "function": function,
                                           "args": [str(a) for a in cleaned],
                                           "value": str(native)}, reason)  # fmt: skip

    def _decide_and_act(self, call: Any, request: dict[str, Any], reason: str) -> dict[str, Any]:
        runtime = self.runtime
        request_hash = "0x" + hashlib.sha256(canonical({**request, "reason": reason})).hexdigest()
        record = {
            "version": RECORD_VERSION,
            "source": "mcp",
            "policy": runtime.policy.name,
            "policy_hash": runtime.policy.policy_hash,
            "policy_id": runtime.policy_id,
            "guard": runtime.guard.address,
            "agent": runtime.agent,
            "model_record": runtime.policy.model_record,
            "request": request,
            "inputs_hash": request_hash,
            "nonce": f"{time.time_ns()}-{os.urandom(8).hex()}",
            "rule": None,
            "action": call.to_dict(),
            "explanation": ("requested over MCP" + (f": {reason}" if reason.strip() else ""))[:500],
        }
        decision_id = "0x" + decision_id_of(canonical(record)).hex()
        self.log.record(
            [(decision_id, None, record, "decided")],
            runtime.policy.name,
            self.log.cursor(runtime.policy.name),
        )
        decision = self.log.get(decision_id)
        assert decision is not None
        runtime.settle(decision, StepReport())
        # a node may mine a moment after it accepts: answer with the outcome, not `sending`
        runtime.await_receipts(StepReport())
        done = self.log.get(decision_id)
        assert done is not None
        simulation = done.outcome.get("simulation", done.outcome)
        return {
            "decision_id": decision_id,
            "status": done.status,
            "tx_hash": done.tx_hash,
            "action_id": done.action_id,
            "eta": done.eta,
            "refused_by_guard": done.status == "refused",
            "error": simulation.get("error"),
            "reason": simulation.get("reason"),
        }


def build_server(tools: AgentTools) -> Any:
    """A FastMCP server exposing ``tools``. Tool errors come back as MCP tool errors."""
    from mcp.server.fastmcp import FastMCP

    server = FastMCP("proofmind")

    @server.tool(
        description="Recent monitor alerts (newest first), optionally filtered by detector, "
        "subject (an asset, or an address in any case) and since (an ISO 8601 time in UTC, "
        "unix seconds, or a span before now such as 24h)."
    )
    def read_alerts(
        detector: str | None = None,
        subject: str | None = None,
        limit: int = 20,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        return tools.read_alerts(detector, subject, limit, since)

    @server.tool(description="The agent's decision log (newest first), optionally by status.")
    def decision_log(status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        return tools.decision_log(status, limit)

    @server.tool(
        description="The agent's on-chain grant: expiry, pause, caps and what is spent of them."
    )
    def guard_status() -> dict[str, Any]:
        return tools.guard_status()

    @server.tool(description="Whether an address is flagged in a sybil report.")
    def sybil_status(address: str, report: str) -> dict[str, Any]:
        return tools.sybil_status(address, report)

    @server.tool(
        description="Propose a call for the treasury Safe (target, function signature such as "
        "'transfer(address,uint256)' or 'native', args, value in base units, reason). It is "
        "checked against the on-chain AgentGuard policy and executes only within it; large "
        "actions are queued behind a timelock the owners can veto."
    )
    def propose_action(
        target: str,
        function: str,
        args: list[str] | None = None,
        value: str = "0",
        reason: str = "",
    ) -> dict[str, Any]:
        return tools.propose_action(target, function, args, value, reason)

    return server
