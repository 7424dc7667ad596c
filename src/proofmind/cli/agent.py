"""The `agent` commands: guarded Safes, policies, the agent runtime and its decision log.

Only typer loads with the CLI; web3 and the agent runtime load when a command runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from proofmind.cli.params import WorkspaceOption, parse_address
from proofmind.errors import InputError
from proofmind.text import count_of

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from proofmind.agents.guard import Guard
    from proofmind.agents.log import DecisionLog
    from proofmind.chain.base import Chain
    from proofmind.workspace import Workspace

agent_app = typer.Typer(
    help="Guarded AI agents: a Safe module enforces the DAO's policy on-chain; the agent acts "
    "only through it and records every decision.",
    no_args_is_help=True,
)
safe_app = typer.Typer(help="Safes with an AgentGuard module.", no_args_is_help=True)
policy_app = typer.Typer(help="Grant, show, pause and revoke agent policies.", no_args_is_help=True)
agent_app.add_typer(safe_app, name="safe")
agent_app.add_typer(policy_app, name="policy")

SafeOption = Annotated[
    str, typer.Option("--safe", "-s", help="Name of the guarded Safe (`agent safe create`).")
]
OwnersOption = Annotated[
    list[int] | None,
    typer.Option(
        "--owner",
        help="Index of an owner account that signs (repeat; default: every owner this "
        "workspace holds a key for).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _open(workspace_path: Path | None) -> tuple[Workspace, Chain, DecisionLog | None]:
    """The workspace, its chain, and its decision log if it has one (never created here)."""
    from proofmind.agents.log import DecisionLog
    from proofmind.workspace import open_workspace

    workspace = open_workspace(workspace_path)
    chain = workspace.connect()
    return workspace, chain, DecisionLog.existing(workspace.root)


def _guard(chain: Chain, log: DecisionLog | None, name: str) -> Guard:
    from proofmind.app.agents import guard_of

    return guard_of(chain, log, name)


def _owners(chain: Chain, guard: Guard, indexes: list[int] | None) -> list[LocalAccount]:
    from proofmind.app.agents import owner_signers

    return owner_signers(chain, guard, indexes)


def _duration(text: str, what: str) -> int:
    from proofmind.agents.policy import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _account_arg(chain: Chain, text: str) -> LocalAccount:
    from proofmind.app.agents import agent_account

    return agent_account(chain, text)


@safe_app.command("create")
def safe_create(
    name: Annotated[str, typer.Option("--name", "-n", help="A name for this guarded Safe.")],
    owners: Annotated[
        list[int], typer.Option("--owner", help="Index of an owner account (repeat).")
    ],
    threshold: Annotated[int, typer.Option(help="Owner signatures a Safe transaction needs.")] = 2,
    delay: Annotated[
        str, typer.Option(help="Timelock before a queued (large) action may execute.")
    ] = "1h",
    workspace: WorkspaceOption = None,
) -> None:
    """Create a Safe owned by the given accounts, with an AgentGuard module enabled on it.

    The Safe singleton and factory (Safe 1.4.1) are deployed once per chain.

    Examples:
        proofmind agent safe create --name treasury --owner 1 --owner 2 --owner 3 --threshold 2
        proofmind agent safe create --name ops --owner 1 --threshold 1 --delay 30m
    """
    import re
    import time

    from proofmind.agents.guard import create_guarded_safe
    from proofmind.agents.log import DecisionLog
    from proofmind.chain.contracts import DeploymentRegistry

    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise InputError(f"--name {name!r}: use letters, digits, '_', '.', '-' (at most 64)")
    seconds = _duration(delay, "--delay")
    ws, chain, existing = _open(workspace)
    if existing is not None and name in existing.agent_names():
        raise InputError(f"a guarded Safe named {name!r} exists already", hint="pick another name")
    accounts = [chain.account(i) for i in owners]
    safe, guard = create_guarded_safe(
        chain, DeploymentRegistry(ws.state), accounts, threshold, delay=seconds, salt=time.time_ns()
    )
    log = existing or DecisionLog.for_workspace(ws.root)
    log.add_agent(name, chain.chain_id, safe, guard.address)
    typer.echo(
        f"Safe {safe} ({threshold} of {len(accounts)} owners) with AgentGuard {guard.address}"
    )
    typer.echo(
        f"  timelock {seconds}s; next: proofmind agent policy grant POLICY.toml --safe {name}"
    )


@safe_app.command("list")
def safe_list(workspace: WorkspaceOption = None) -> None:
    """The guarded Safes of this workspace.

    Examples:
        proofmind agent safe list
    """
    from proofmind.agents.log import DecisionLog
    from proofmind.workspace import open_workspace

    log = DecisionLog.existing(open_workspace(workspace).root)
    names = [] if log is None else log.agent_names()
    if not names:
        typer.echo("no guarded Safes yet — create one with `proofmind agent safe create`")
    for name in names:
        chain_id, safe, guard = log.agent(name)  # type: ignore[union-attr]
        typer.echo(f"{name}: Safe {safe}, AgentGuard {guard} (chain {chain_id})")


@policy_app.command("grant")
def policy_grant(
    policy_file: Annotated[Path, typer.Argument(help="The policy (TOML), see docs/agents.md.")],
    safe: SafeOption,
    owners: OwnersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write a policy to the guard: a new grant for its agent (replacing any earlier one).

    Examples:
        proofmind agent policy grant depeg-guard.toml --safe treasury
        proofmind agent policy grant depeg-guard.toml --safe treasury --owner 1 --owner 2
    """
    from proofmind.agents.policy import load_policy
    from proofmind.app.agents import grant_policy

    policy = load_policy(policy_file)
    ws, chain, _log = _open(workspace)
    policy_id, grant = grant_policy(ws, chain, safe, policy, owners)
    typer.echo(
        f"granted {policy.name} to {grant['agent']}: policy {policy_id[:18]}…, "
        f"{count_of(len(policy.scope), 'scope')}, {count_of(len(policy.cap), 'cap')}, "
        f"{count_of(len(policy.recipients), 'recipient')}, expires at {grant['expiry']} (unix)"
    )


@policy_app.command("show")
def policy_show(
    safe: SafeOption,
    agent: Annotated[str, typer.Option(help="Agent account: index or address.")],
    as_json: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The agent's grant on-chain: policy id, expiry, pause, timelock.

    Examples:
        proofmind agent policy show --safe treasury --agent 4
    """
    from proofmind.app.agents import show_policy

    ws, chain, _log = _open(workspace)
    grant = show_policy(ws, chain, safe, agent)
    if as_json:
        typer.echo(json.dumps(grant, indent=2))
        return
    state = "active" if grant["active"] else "none (revoked or never granted)"
    typer.echo(f"agent {grant['agent']} on guard {grant['guard']} (Safe {grant['safe']})")
    typer.echo(f"  grant: {state}; policy {grant['policy_id']}; expiry {grant['expiry']}")
    typer.echo(f"  paused: {grant['paused']}; timelock delay {grant['delay']}s")


@policy_app.command("revoke")
def policy_revoke(
    safe: SafeOption,
    agent: Annotated[str, typer.Option(help="Agent account: index or address.")],
    by_agent: Annotated[
        bool, typer.Option("--by-agent", help="The agent revokes its own grant (its key signs).")
    ] = False,
    owners: OwnersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke an agent's grant at once (by the owners, or by the agent itself).

    Examples:
        proofmind agent policy revoke --safe treasury --agent 4
        proofmind agent policy revoke --safe treasury --agent 4 --by-agent
    """
    from proofmind.app.agents import revoke_policy

    ws, chain, _log = _open(workspace)
    address = revoke_policy(ws, chain, safe, agent, owners=owners, by_agent=by_agent)
    typer.echo(f"revoked the grant of {address}")


@policy_app.command("renew")
def policy_renew(
    safe: SafeOption,
    agent: Annotated[str, typer.Option(help="Agent account: index or address.")],
    expires_in: Annotated[str, typer.Option(help="New expiry from now, e.g. 7d, 12h.")],
    owners: OwnersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Extend an agent's grant (renewal is explicit; grants always expire).

    Examples:
        proofmind agent policy renew --safe treasury --agent 4 --expires-in 7d
    """
    from proofmind.agents.policy import MAX_GRANT_SECONDS

    seconds = _duration(expires_in, "--expires-in")
    if not 0 < seconds <= MAX_GRANT_SECONDS:
        raise InputError(f"--expires-in {expires_in!r} must be more than 0 and at most 365 days")
    _ws, chain, log = _open(workspace)
    guard = _guard(chain, log, safe)
    address = parse_address(
        _account_arg(chain, agent).address if agent.isdigit() else agent, "--agent"
    )
    if not guard.grant_of(address)["active"]:
        raise InputError(f"{address} holds no grant on guard {guard.address}")
    expiry = int(chain.w3.eth.get_block("latest")["timestamp"]) + seconds
    guard.renew(_owners(chain, guard, owners), address, expiry)
    typer.echo(f"renewed the grant of {address} until {expiry} (unix)")


@policy_app.command("pause")
def policy_pause(
    safe: SafeOption,
    guardian: Annotated[
        int | None, typer.Option(help="Pause as this guardian account (default: the owners).")
    ] = None,
    owners: OwnersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Stop every agent of the guard at once (owners or a guardian).

    Examples:
        proofmind agent policy pause --safe treasury
        proofmind agent policy pause --safe treasury --guardian 6
    """
    from proofmind.app.agents import pause_guard

    ws, chain, _log = _open(workspace)
    guard = pause_guard(ws, chain, safe, guardian=guardian, owners=owners)
    typer.echo(f"paused guard {guard.address}: no agent can act until the owners unpause")


@policy_app.command("unpause")
def policy_unpause(
    safe: SafeOption, owners: OwnersOption = None, workspace: WorkspaceOption = None
) -> None:
    """Lift a pause (owners only).

    Examples:
        proofmind agent policy unpause --safe treasury
    """
    from proofmind.app.agents import unpause_guard

    ws, chain, _log = _open(workspace)
    guard = unpause_guard(ws, chain, safe, owners=owners)
    typer.echo(f"unpaused guard {guard.address}")


@agent_app.command("queue")
def agent_queue(
    safe: SafeOption, as_json: JsonOption = False, workspace: WorkspaceOption = None
) -> None:
    """Actions waiting in the guard's timelock, from the decision log, with on-chain status.

    Examples:
        proofmind agent queue --safe treasury
    """
    _ws, chain, log = _open(workspace)
    guard = _guard(chain, log, safe)
    rows = []
    for decision in log.timelocked() if log is not None else []:
        if decision.action_id is None or decision.record.get("guard") != guard.address:
            continue
        eta, state = guard.queued(bytes.fromhex(decision.action_id[2:]))
        rows.append(
            {
                "action_id": decision.action_id,
                "decision": decision.id,
                "eta": eta,
                "on_chain": state,
                "action": decision.record["action"],
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("nothing queued")
    for row in rows:
        typer.echo(
            f"{row['action_id']}  {row['on_chain']:<9}  "
            f"eta {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(row['eta']))} UTC  "
            f"decision {row['decision'][:18]}…  to {row['action']['to']}"
        )


@agent_app.command("veto")
def agent_veto(
    action_id: Annotated[str, typer.Argument(help="The queued action id (0x + 64 hex).")],
    safe: SafeOption,
    guardian: Annotated[
        int | None, typer.Option(help="Veto as this guardian account (default: the owners).")
    ] = None,
    owners: OwnersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Veto a queued action: it can never execute.

    Examples:
        proofmind agent veto 0x5f2c…e1 --safe treasury --guardian 6
    """
    import re

    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", action_id):
        raise InputError(f"{action_id!r} is not an action id (0x followed by 64 hex digits)")
    _ws, chain, log = _open(workspace)
    guard = _guard(chain, log, safe)
    ident = bytes.fromhex(action_id[2:])
    _eta, state = guard.queued(ident)
    if state != "Queued":
        raise InputError(
            f"action {action_id} is not queued on guard {guard.address} (it is {state})",
            hint="list queued actions with `proofmind agent queue --safe NAME`",
        )
    if guardian is not None:
        guard.veto(chain.account(guardian), ident, as_guardian=True)
    else:
        signers = _owners(chain, guard, owners)
        from proofmind.agents.safe import owners_exec, safe_at

        owners_exec(
            chain,
            safe_at(chain, guard.safe),
            signers,
            guard.address,
            guard.contract.functions.veto(ident)._encode_transaction_data(),
            label="veto",
        )
    typer.echo(f"vetoed {action_id}")


@agent_app.command("decisions")
def agent_decisions(
    policy: Annotated[str | None, typer.Option(help="Only this policy's decisions.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="Only this status: noop, decided, queued, executed, refused, vetoed, lapsed, "
            "withdrawn (its alert was retracted after a reorg)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    as_json: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The decision log, newest first: every decision, also the refused and do-nothing ones.

    Examples:
        proofmind agent decisions
        proofmind agent decisions --status refused --json
    """
    from proofmind.agents.log import FINAL, OPEN, DecisionLog
    from proofmind.workspace import open_workspace

    if status is not None and status not in (*FINAL, *OPEN):
        raise InputError(
            f"--status {status!r} is not a decision status",
            hint=f"one of {', '.join((*OPEN, *FINAL))}",
        )
    log = DecisionLog.existing(open_workspace(workspace).root)
    rows = [] if log is None else log.query(policy=policy, status=status, limit=limit)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in rows], indent=2))
        return
    if not rows:
        typer.echo("no decisions yet")
    for d in rows:
        outcome = d.outcome.get("simulation", d.outcome).get("error") or ""
        if d.status == "withdrawn":
            outcome = "its alert was retracted (reorg)"
            if d.outcome.get("withdraw_tx"):  # its queued action, withdrawn in the guard
                outcome += f"; queued action withdrawn in {d.outcome['withdraw_tx']}"
        alert = "–" if d.alert_id is None else d.alert_id  # requested over MCP: no alert
        typer.echo(
            f"{d.id[:18]}…  {d.status:<9} {d.policy}  alert {alert}  "
            f"{d.tx_hash or outcome or ''}  {d.record['explanation'][:80]}"
        )


@agent_app.command("sentinel")
def agent_sentinel(
    safe: SafeOption,
    guardian: Annotated[int, typer.Option(help="Index of the guardian account that vetoes.")],
    once: Annotated[bool, typer.Option("--once", help="One scan, then exit.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, max=3600, help="Seconds between scans.")
    ] = 2.0,
    max_ratio: Annotated[
        float, typer.Option(min=1.0, help="Veto amounts above this multiple of the median.")
    ] = 5.0,
    workspace: WorkspaceOption = None,
) -> None:
    """Veto queued agent actions the monitor distrusts (unknown decision, flagged counterparty,
    outsized amount), as a guardian of the guard.

    Examples:
        proofmind agent sentinel --safe treasury --guardian 6
        proofmind agent sentinel --safe treasury --guardian 6 --once
    """
    import logging
    import signal
    import threading

    from proofmind.agents.log import DecisionLog
    from proofmind.agents.sentinel import Sentinel
    from proofmind.chain.retry import Outage
    from proofmind.monitor.store import AlertStore

    ws, chain, log = _open(workspace)
    guard = _guard(chain, log, safe)
    account = chain.account(guardian)
    if not guard.contract.functions.isGuardian(account.address).call():
        raise InputError(
            f"{account.address} is not a guardian of guard {guard.address}",
            hint="name it in the policy's guardians and grant the policy again",
        )
    sentinel = Sentinel(
        guard,
        account,
        log or DecisionLog.for_workspace(ws.root),
        AlertStore.for_workspace(ws.root),
        max_ratio=max_ratio,
    )
    stop = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    outage = Outage(logging.getLogger("proofmind.agents"), base=max(1.0, interval))
    while True:
        try:
            verdicts = sentinel.scan()
            outage.ok()
        except Outage.ERRORS as exc:  # the node is away: the guardian waits, and reads on
            if once:
                raise
            if stop.wait(outage.retry_after(exc)):
                break
            continue
        for verdict in verdicts:
            state = "VETOED" if verdict.vetoed else "ok"
            why = "; ".join(verdict.reasons) or "no reason to doubt it"
            typer.echo(f"{state:<6} {verdict.action_id} to {verdict.to}: {why}")
        if once or stop.wait(interval):
            break


@agent_app.command("anchor")
def agent_anchor(workspace: WorkspaceOption = None) -> None:
    """Anchor the final decisions not yet anchored in the provenance ledger (in batches).

    `agent run` does this by itself every --anchor-every seconds and when it stops.

    Examples:
        proofmind agent anchor
    """
    from proofmind.agents.trace import anchor_decisions
    from proofmind.provenance.ledger import Ledger

    ws, chain, log = _open(workspace)
    if log is None:
        typer.echo("no decisions yet")
        return
    count = anchor_decisions(Ledger(ws), chain, log)
    typer.echo(f"anchored {count_of(count, 'decision')} in the provenance ledger")


@agent_app.command("run")
def agent_run(
    policy_file: Annotated[Path, typer.Argument(help="The policy (TOML) the agent follows.")],
    safe: SafeOption,
    once: Annotated[bool, typer.Option("--once", help="One step, then exit.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds between steps.")
    ] = 1.0,
    anchor_every: Annotated[
        float,
        typer.Option(min=1, help="Anchor final decisions in the ledger this often (seconds)."),
    ] = 60.0,
    since: Annotated[
        str,
        typer.Option(
            help="On a policy's first run: act on alerts stored from now on (now), or on every "
            "active alert already stored (start)."
        ),
    ] = "now",
    workspace: WorkspaceOption = None,
) -> None:
    """Run an agent: monitor alerts -> decision -> eth_call pre-check -> guarded transaction.

    Every decision is written to the decision log before anything is sent; after a crash the
    agent resumes without sending anything twice. A policy's first run starts from the alerts
    stored from then on (--since start: every active alert already stored). Stop with Ctrl-C
    or SIGTERM.

    Examples:
        proofmind agent run depeg-guard.toml --safe treasury
        proofmind agent run depeg-guard.toml --safe treasury --once
    """
    import asyncio

    from proofmind.app.agents import open_agent
    from proofmind.app.hosting import run_loop
    from proofmind.app.runner import install_signal_handlers, threaded

    if since not in ("now", "start"):  # before the workspace's chain is touched
        raise InputError(f"--since {since!r} is not one of: now, start")
    ws, chain, log = _open(workspace)
    agent = open_agent(
        ws, chain, log, policy_file, safe, since=since, on_event=typer.echo,
        interval=interval, anchor_every=anchor_every,
    )  # fmt: skip
    runtime = agent.runtime
    if once:
        with agent.lock.held():
            _print_step(runtime.step())
            agent.anchor()
        return

    async def main() -> None:  # the loop `proofmind serve --agent` hosts it with
        shutdown = asyncio.Event()
        install_signal_handlers(shutdown)
        typer.echo(  # once SIGTERM stops it cleanly
            f"agent {runtime.agent} running {runtime.policy.name} on guard {runtime.guard.address}"
        )
        await threaded(lambda: agent)(shutdown)

    try:
        run_loop(main)
    except KeyboardInterrupt:  # before the handlers are installed
        agent.anchor()
    typer.echo(f"stopped; decisions: {runtime.log.counts(runtime.policy.name)}")


def _print_step(report: Any) -> None:
    typer.echo(
        f"decided {report.decided}, executed {report.executed}, queued {report.queued}, "
        f"refused {report.refused}, vetoed {report.vetoed}"
        + (f", withdrawn {report.withdrawn}" if report.withdrawn else "")
    )


def run_verify_tx(workspace_path: Path | None, tx_hash: str, as_json: bool) -> int:
    """`proofmind verify TXHASH`: an agent transaction back to its decision, model, run, data."""
    from proofmind.agents.trace import trace_transaction
    from proofmind.provenance.ledger import Ledger

    ws, chain, log = _open(workspace_path)
    trace = trace_transaction(chain, log, Ledger(ws), tx_hash)
    if as_json:
        typer.echo(json.dumps(trace.to_json(), indent=2))
        return 0 if trace.ok else 1
    for line in trace.ok_lines:
        typer.echo(f"  OK       {line}")
    for item in trace.lineage:
        where = item["record_id"] or "(not anchored)"
        typer.echo(f"  lineage  {item['kind']} {item['name']!r} {where}")
    for line in trace.problems:
        typer.echo(f"  DIFFERS  {line}")
    typer.echo("OK: decision -> model -> run -> data all check out" if trace.ok else "NOT OK")
    return 0 if trace.ok else 1


def mcp_command(
    policy_file: Annotated[Path, typer.Argument(help="The policy (TOML) of the agent.")],
    safe: SafeOption,
    sybil_reports: Annotated[
        Path | None,
        typer.Option(help="Folder of `sybil detect` outputs the sybil_status tool may read."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Serve the agent's tools to an MCP client (Model Context Protocol, over stdio).

    Tools: read_alerts, decision_log, guard_status, sybil_status, propose_action. The one
    state-changing tool acts only through the on-chain AgentGuard: a prompt-injected client
    cannot exceed the policy. Configure it in an MCP client as the command below.

    Examples:
        proofmind mcp depeg-guard.toml --safe treasury
        proofmind mcp depeg-guard.toml --safe treasury --sybil-reports reports/
    """
    from proofmind.agents.policy import load_policy
    from proofmind.agents.runtime import AgentRuntime
    from proofmind.agents.tools import AgentTools, build_server
    from proofmind.monitor.store import AlertStore

    policy = load_policy(policy_file)
    if sybil_reports is not None and not sybil_reports.is_dir():
        raise InputError(f"--sybil-reports {sybil_reports} is not a folder")
    ws, chain, log = _open(workspace)
    guard = _guard(chain, log, safe)
    assert log is not None  # _guard found the Safe in it
    account = chain.account(policy.agent)
    runtime = AgentRuntime(guard, account, policy, AlertStore.for_workspace(ws.root), log)
    build_server(AgentTools(runtime, sybil_reports)).run("stdio")
