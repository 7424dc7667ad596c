"""Agent policies on a guarded Safe's AgentGuard: list and show grants, grant, revoke, pause
and unpause (`proofmind agent policy …` and the HTTP API's /agents/safes/…); the agent loop
`proofmind agent run` and `proofmind serve --agent` run. Writes are Safe
transactions signed by the owner keys the workspace holds (or a guardian's / the agent's own
key where the guard allows it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proofmind.addresses import parse_address
from proofmind.app.paging import Page
from proofmind.chain.base import Chain
from proofmind.errors import InputError, NotFound
from proofmind.store.lock import ServiceLock
from proofmind.workspace import Workspace

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from proofmind.agents.guard import Guard
    from proofmind.agents.log import DecisionLog
    from proofmind.agents.policy import Policy
    from proofmind.agents.runtime import AgentRuntime


def open_guard(workspace: Workspace, chain: Chain, name: str) -> Guard:
    """The AgentGuard of the workspace's guarded Safe ``name``, on ``chain``."""
    from proofmind.agents.log import DecisionLog

    log = DecisionLog.existing(workspace.root)
    try:
        return guard_of(chain, log, name)
    finally:
        if log is not None:
            log.close()


def guard_of(chain: Chain, log: DecisionLog | None, name: str) -> Guard:
    """The AgentGuard of guarded Safe ``name`` as ``log`` records it (None: no log yet)."""
    from proofmind.agents.guard import Guard

    if log is None:
        raise NotFound(
            f"no guarded Safe named {name!r}: this workspace has none yet",
            hint="create one with `proofmind agent safe create --name NAME`",
        )
    try:
        chain_id, _safe, guard = log.agent(name)
    except InputError as exc:
        raise NotFound(exc.message, hint=exc.hint) from None
    if chain_id != chain.chain_id:
        raise InputError(
            f"guarded Safe {name!r} is on chain {chain_id}, the workspace is connected to "
            f"chain {chain.chain_id}",
            hint="connect the workspace to that chain, or create a Safe here",
        )
    return Guard(chain, guard)


def owner_signers(chain: Chain, guard: Guard, indexes: Sequence[int] | None) -> list[LocalAccount]:
    """The owner accounts that sign: ``indexes`` of the chain's accounts, or else every owner
    of the Safe this workspace holds a key for."""
    from eth_utils.address import to_checksum_address

    from proofmind.agents.safe import safe_at

    if indexes:
        return [chain.account(i) for i in indexes]
    safe = safe_at(chain, guard.safe)
    owners = {to_checksum_address(o) for o in safe.functions.getOwners().call()}
    held = [a for a in chain.accounts if to_checksum_address(a.address) in owners]
    if not held:
        raise InputError(
            f"this workspace holds no key of an owner of Safe {guard.safe}",
            hint="the owners sign with their own wallets; give --owner for local owner keys",
        )
    return held


def agent_account(chain: Chain, text: str) -> LocalAccount:
    """The chain account ``text`` names (an index, or an address the workspace holds)."""
    return chain.account(int(text) if text.isdigit() else text)


def agent_address(chain: Chain, text: str) -> str:
    """The checksummed address of agent ``text`` (an account index or an address)."""
    return parse_address(agent_account(chain, text).address if text.isdigit() else text, "--agent")


def show_policy(workspace: Workspace, chain: Chain, safe: str, agent: str) -> dict[str, Any]:
    """The agent's grant on-chain: policy id, expiry, active, pause, timelock; with the guard
    and Safe addresses (`proofmind agent policy show`)."""
    guard = open_guard(workspace, chain, safe)
    grant = guard.grant_of(agent_address(chain, agent))
    grant["guard"], grant["safe"] = guard.address, guard.safe
    return grant


def list_policies(
    workspace: Workspace, chain: Chain, safe: str, *, limit: int = 100, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """The agents the guard ever granted (its ``Granted`` events), in the order of first
    grant, each with its grant as it is now (active or not), a page at a time."""
    from proofmind.app.paging import check_limit, decode_cursor, encode_cursor

    start = decode_cursor("policies", cursor) or 0
    end = start + check_limit(limit)
    guard = open_guard(workspace, chain, safe)
    logs = guard.contract.events.Granted().get_logs(from_block=0)
    agents = list(dict.fromkeys(str(e["args"]["agent"]) for e in logs))
    items = []
    for agent in agents[start:end]:
        grant = guard.grant_of(agent)
        grant["guard"], grant["safe"] = guard.address, guard.safe
        items.append(grant)
    return Page(items, encode_cursor("policies", end) if end < len(agents) else None)


def grant_policy(
    workspace: Workspace,
    chain: Chain,
    safe: str,
    policy: Policy,
    owners: Sequence[int] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Write ``policy`` to the guard for its agent (replacing any earlier grant): the policy
    id and the grant now on-chain (`proofmind agent policy grant`)."""
    guard = open_guard(workspace, chain, safe)
    agent = chain.account(policy.agent)
    policy_id = guard.grant(owner_signers(chain, guard, owners), policy, agent.address)
    return policy_id, guard.grant_of(agent.address)


def revoke_policy(
    workspace: Workspace,
    chain: Chain,
    safe: str,
    agent: str,
    *,
    owners: Sequence[int] | None = None,
    by_agent: bool = False,
) -> str:
    """Revoke the agent's grant at once, by the owners or (``by_agent``) by the agent's own
    key; the agent's address (`proofmind agent policy revoke`)."""
    guard = open_guard(workspace, chain, safe)
    address = parse_address(
        agent_account(chain, agent).address if agent.isdigit() or by_agent else agent, "--agent"
    )
    if not guard.grant_of(address)["active"]:
        raise InputError(f"{address} holds no grant on guard {guard.address}")
    if by_agent:
        chain.sender(agent_account(chain, agent)).transact(guard.contract.functions.revoke(address))
    else:
        guard.revoke(owner_signers(chain, guard, owners), address)
    return address


def pause_guard(
    workspace: Workspace,
    chain: Chain,
    safe: str,
    *,
    guardian: int | None = None,
    owners: Sequence[int] | None = None,
) -> Guard:
    """Stop every agent of the guard at once, by the owners or a guardian account."""
    guard = open_guard(workspace, chain, safe)
    if guardian is not None:
        chain.sender(chain.account(guardian)).transact(guard.contract.functions.pause())
    else:
        guard.pause(owner_signers(chain, guard, owners))
    return guard


def unpause_guard(
    workspace: Workspace, chain: Chain, safe: str, *, owners: Sequence[int] | None = None
) -> Guard:
    """Lift a pause (owners only)."""
    guard = open_guard(workspace, chain, safe)
    guard.unpause(owner_signers(chain, guard, owners))
    return guard


class AgentLoop:
    """`proofmind agent run`'s loop: step every ``interval`` seconds, anchor the final
    decisions in the ledger every ``anchor_every`` seconds and once more when stopped.
    ``run()`` until ``stop()`` (from any thread)."""

    def __init__(
        self,
        workspace: Workspace,
        chain: Chain,
        runtime: AgentRuntime,
        *,
        interval: float = 1.0,
        anchor_every: float = 60.0,
    ) -> None:
        import threading

        from proofmind.provenance.ledger import Ledger

        self.chain, self.runtime = chain, runtime
        self.interval, self.anchor_every = interval, anchor_every
        self.ledger = Ledger(workspace)
        self.stopping = threading.Event()
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", runtime.policy.name)
        self.lock = ServiceLock(  # held while this loop (or one step of it) runs
            workspace.root / "agents" / f"{name}.lock",
            f"running policy {runtime.policy.name}",
            hint="stop that agent first: two runs of one policy would both work on the same "
            "open decisions at once",
        )
        self.lock.check()  # this policy running already: say so before anything is decided

    def anchor(self) -> int:
        from proofmind.agents.trace import anchor_decisions

        return anchor_decisions(self.ledger, self.chain, self.runtime.log)

    def run(self) -> None:
        import logging
        import time

        from proofmind.chain.retry import Outage

        outage = Outage(logging.getLogger("proofmind.agents"), base=max(1.0, self.interval))
        with self.lock.held():
            last_anchor = time.monotonic()
            while not self.stopping.is_set():
                try:
                    self.runtime.step()
                    if time.monotonic() - last_anchor >= self.anchor_every:
                        self.anchor()
                        last_anchor = time.monotonic()
                    outage.ok()
                except Outage.ERRORS as exc:  # the node is away: open decisions wait in the log
                    self.stopping.wait(outage.retry_after(exc))
                    continue
                self.stopping.wait(self.interval)
            self.anchor()

    def stop(self) -> None:
        self.stopping.set()


def open_agent(
    workspace: Workspace,
    chain: Chain,
    log: DecisionLog | None,
    policy_file: Path,
    safe: str,
    *,
    since: str = "now",
    on_event: Callable[[str], None] | None = None,
    interval: float = 1.0,
    anchor_every: float = 60.0,
) -> AgentLoop:
    """The agent of ``policy_file`` on the guarded Safe ``safe``, checked before it runs: the
    agent holds a grant, the policy's model is its model of record. A new policy starts from
    the alerts stored from now on (``since="now"``) or from every active one (``"start"``)."""
    from proofmind.agents.policy import load_policy
    from proofmind.agents.runtime import AgentRuntime
    from proofmind.monitor.store import AlertStore
    from proofmind.provenance.ledger import Ledger

    if since not in ("now", "start"):
        raise InputError(f"--since {since!r} is not one of: now, start")
    policy = load_policy(policy_file)
    guard = guard_of(chain, log, safe)
    assert log is not None  # guard_of found the Safe in it
    account = chain.account(policy.agent)
    grant = guard.grant_of(account.address)
    if not grant["active"]:
        raise InputError(
            f"{account.address} holds no grant on guard {guard.address}",
            hint=f"grant it first: `proofmind agent policy grant {policy_file} --safe {safe}`",
        )
    if policy.model is not None and policy.model_record:
        from proofmind.crypto.keccak import keccak256_file

        record = Ledger(workspace).find(policy.model_record)
        actual = "0x" + keccak256_file(policy.model.path).hex()
        if record.content_hash.lower() != actual:
            raise InputError(
                f"policy {policy_file}: model {policy.model.path} is not the model of record "
                f"{policy.model_record} (its keccak-256 is {actual}, the record's "
                f"{record.content_hash})",
                hint="register this model (`proofmind provenance model`) and name its record",
            )
    alerts = AlertStore.for_workspace(workspace.root)
    if since == "now" and log.cursor(policy.name) == 0:
        log.record([], policy.name, alerts.last_id())  # a new policy starts from here
    runtime = AgentRuntime(guard, account, policy, alerts, log, on_event=on_event)
    return AgentLoop(workspace, chain, runtime, interval=interval, anchor_every=anchor_every)
