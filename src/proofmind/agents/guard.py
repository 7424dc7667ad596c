"""The AgentGuard module on the chain: set it up on a Safe, write a policy, act through it.

Owner-side calls (grant, scopes, caps, veto, pause) are Safe transactions signed by the owners
(:func:`proofmind.agents.safe.owners_exec`); agent-side calls are sent from the agent's key.
Every agent action is first simulated with ``eth_call`` from the agent's address: a refusal comes
back as the guard's named error (``CapExceeded``, ``RecipientNotAllowed`` ...) before anything
is sent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3Exception
from web3.types import TxReceipt

from proofmind.agents.policy import NATIVE, ActionSpec, Policy, encode_args, selector_of
from proofmind.agents.safe import create_safe, owners_exec, safe_at
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy, load_artifact
from proofmind.crypto.keccak import keccak256 as keccak
from proofmind.errors import ContractNotFound, ContractReverted, InputError

# AgentGuard.QueueStatus, in the contract's order
QUEUE_STATUSES = ("None", "Queued", "Executed", "Vetoed", "Withdrawn")


@dataclass(frozen=True)
class Call:
    """One action: ``to``, ``value`` and calldata."""

    to: str
    value: int
    data: bytes

    @property
    def selector(self) -> bytes:
        return self.data[:4] if self.data else b"\x00" * 4

    def to_dict(self) -> dict[str, Any]:
        return {"to": self.to, "value": str(self.value), "data": "0x" + self.data.hex()}


@dataclass(frozen=True)
class Simulation:
    """What ``eth_call`` of the action through the guard said."""

    ok: bool
    error_name: str | None = None
    error_args: tuple[Any, ...] = ()
    reason: str = ""

    @property
    def needs_timelock(self) -> bool:
        return self.error_name == "TimelockRequired"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error_name,
            "args": [str(a) for a in self.error_args],
            "reason": self.reason,
        }


def encode_action(action: ActionSpec) -> Call:
    """Calldata for a rule's action (ABI-encoded from its signature and arguments)."""
    if action.function == NATIVE:
        if action.args:
            raise InputError("a native transfer takes no args", hint="set only target and value")
        return Call(action.target, action.value, b"")
    try:
        encoded = encode_args(action.function, action.args)
    except ValueError as exc:
        raise InputError(str(exc), hint="give one value of the right type per parameter") from None
    return Call(action.target, action.value, selector_of(action.function) + encoded)


class Guard:
    """An AgentGuard at a known address."""

    def __init__(self, chain: Chain, address: str) -> None:
        checksum = to_checksum_address(address)
        if not chain.w3.eth.get_code(checksum):
            raise ContractNotFound(
                f"no AgentGuard at {address} on chain {chain.chain_id}",
                hint="set one up with `proofmind agent safe create`",
            )
        self.chain = chain
        self.contract: Contract = chain.w3.eth.contract(
            address=checksum, abi=load_artifact("AgentGuard").abi
        )
        self.safe = str(self.contract.functions.safe().call())

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # -- owners -----------------------------------------------------------------------------

    def _owners(self, owners: Sequence[LocalAccount], fn: Any, label: str) -> TxReceipt:
        data = fn._encode_transaction_data()
        receipt: TxReceipt = owners_exec(
            self.chain, safe_at(self.chain, self.safe), owners, self.address, data, label=label
        )
        return receipt

    def grant(self, owners: Sequence[LocalAccount], policy: Policy, agent: str) -> str:
        """Write ``policy`` for ``agent`` (a new grant: any earlier one is replaced)."""
        c = self.contract.functions
        expiry = int(self.chain.w3.eth.get_block("latest")["timestamp"]) + policy.expires_in
        self._owners(owners, c.grant(agent, expiry), f"grant {policy.name}")
        for spec in policy.scope:
            self._owners(
                owners, c.setScope(agent, spec.target, spec.selector, spec.on_chain()), "setScope"
            )
        for recipient in policy.recipients:
            self._owners(owners, c.setRecipient(agent, recipient, True), "setRecipient")
        for cap in policy.cap:
            self._owners(owners, c.setCap(agent, *cap.on_chain()), "setCap")
        for guardian in policy.guardians:
            if not c.isGuardian(guardian).call():
                self._owners(owners, c.setGuardian(guardian, True), "setGuardian")
        policy_id: bytes = c.grants(agent).call()[0]
        return "0x" + policy_id.hex()

    def renew(self, owners: Sequence[LocalAccount], agent: str, expiry: int) -> None:
        self._owners(owners, self.contract.functions.renew(agent, expiry), "renew")

    def revoke(self, owners: Sequence[LocalAccount], agent: str) -> None:
        self._owners(owners, self.contract.functions.revoke(agent), "revoke")

    def pause(self, owners: Sequence[LocalAccount]) -> None:
        self._owners(owners, self.contract.functions.pause(), "pause")

    def unpause(self, owners: Sequence[LocalAccount]) -> None:
        self._owners(owners, self.contract.functions.unpause(), "unpause")

    def veto(self, account: LocalAccount, action_id: bytes, *, as_guardian: bool) -> TxReceipt:
        """Veto a queued action: as a guardian (direct call) or as the owners (Safe tx)."""
        fn = self.contract.functions.veto(action_id)
        if as_guardian:
            return self.chain.sender(account).transact(fn)
        return self._owners([account], fn, "veto")

    def veto_by_owners(self, owners: Sequence[LocalAccount], action_id: bytes) -> TxReceipt:
        """Veto a queued action with a Safe transaction signed by the owners."""
        return self._owners(owners, self.contract.functions.veto(action_id), "veto")

    # -- reads ------------------------------------------------------------------------------

    def grant_of(self, agent: str) -> dict[str, Any]:
        policy_id, expiry, active = self.contract.functions.grants(agent).call()
        return {
            "agent": to_checksum_address(agent),
            "policy_id": "0x" + bytes(policy_id).hex(),
            "expiry": int(expiry),
            "active": bool(active),
            "paused": bool(self.contract.functions.paused().call()),
            "delay": int(self.contract.functions.delay().call()),
        }

    def spent(self, agent: str, token: str) -> int:
        address = "0x" + "00" * 20 if token == NATIVE else token
        return int(self.contract.functions.spentInWindow(agent, address).call())

    def decision_used(self, decision_id: bytes) -> bool:
        return bool(self.contract.functions.decisionUsed(decision_id).call())

    def action_id(self, agent: str, call: Call, decision_id: bytes) -> bytes:
        return bytes(
            self.contract.functions.actionIdOf(
                agent, to_checksum_address(call.to), call.value, call.data, decision_id
            ).call()
        )

    def queued(self, action_id: bytes) -> tuple[int, str]:
        """(eta, status) of a queued action; status None/Queued/Executed/Vetoed/Withdrawn."""
        _agent, _policy, eta, status = self.contract.functions.queued(action_id).call()
        return int(eta), QUEUE_STATUSES[int(status)]

    def withdraw(self, account: LocalAccount, action_id: bytes) -> TxReceipt:
        """The agent ``account`` withdraws its own queued action: it can never execute."""
        return self.chain.sender(account).transact(self.contract.functions.withdraw(action_id))

    def execution_of(self, decision_id: bytes, from_block: int = 0) -> str | None:
        """The hash of the transaction that executed ``decision_id``, if any."""
        event = self.contract.events.ActionExecuted()
        logs = event.get_logs(from_block=from_block, argument_filters={"decisionId": decision_id})
        return logs[-1]["transactionHash"].to_0x_hex() if logs else None

    # -- the agent --------------------------------------------------------------------------

    def _fn(self, method: str, call: Call, decision_id: bytes) -> Any:
        fn = getattr(self.contract.functions, method)
        return fn(to_checksum_address(call.to), call.value, call.data, decision_id)

    def simulate(
        self, agent: str, call: Call, decision_id: bytes, method: str = "execute"
    ) -> Simulation:
        """``eth_call`` of the action through the guard from ``agent``: ok, or the named error."""
        try:
            self._fn(method, call, decision_id).call({"from": agent})
        except ContractLogicError as exc:
            decoded = self.chain.sender().revert_error(exc.data, method, exc.message)
            return Simulation(
                False, decoded.error_name, tuple(decoded.error_args), decoded.reason or ""
            )
        return Simulation(True)

    def submit(
        self, account: LocalAccount, call: Call, decision_id: bytes, method: str = "execute"
    ) -> HexBytes:
        """Send the action and return its hash once the node accepted it (no waiting)."""
        fn = self._fn(method, call, decision_id)
        params = {"to": self.address, "data": fn._encode_transaction_data()}
        return self.chain.sender(account).submit(params, label=f"{method}()")

    def send(
        self, account: LocalAccount, call: Call, decision_id: bytes, method: str = "execute"
    ) -> TxReceipt:
        return self.chain.sender(account).transact(self._fn(method, call, decision_id))


def now_on_chain(chain: Chain) -> int:
    try:
        return int(chain.w3.eth.get_block("latest")["timestamp"])
    except Web3Exception:  # pragma: no cover - a node that cannot give its head block
        return int(time.time())


def decision_id_of(payload: bytes) -> bytes:
    return bytes(keccak(payload))


__all__ = [
    "Call",
    "ContractReverted",
    "Guard",
    "Simulation",
    "decision_id_of",
    "encode_action",
    "now_on_chain",
]


def create_guarded_safe(
    chain: Chain,
    registry: DeploymentRegistry,
    owners: Sequence[LocalAccount],
    threshold: int,
    *,
    delay: int,
    salt: int,
) -> tuple[str, Guard]:
    """A new Safe owned by ``owners`` with an AgentGuard (timelock ``delay`` s) enabled on it.

    The Safe singleton and factory are deployed once per chain and recorded in ``registry``."""
    if not 0 <= delay <= 30 * 86_400:
        raise InputError(f"timelock delay {delay}s is out of range", hint="0 to 30 days")
    safe = create_safe(chain, registry, owners, threshold, salt=salt)
    guard_contract, _ = deploy(chain, "AgentGuard", safe.address, delay)
    owners_exec(
        chain,
        safe,
        owners,
        safe.address,
        safe.functions.enableModule(guard_contract.address)._encode_transaction_data(),
        label="enableModule(AgentGuard)",
    )
    return str(safe.address), Guard(chain, str(guard_contract.address))
