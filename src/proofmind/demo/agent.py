"""The guarded-agent part of `proofmind demo`.

A treasury Safe (2 of 3 owners) holds a stablecoin and ETH; an AgentGuard module lets an agent
key move the stablecoin to the reserve only inside the DAO's policy. The monitor's depeg
detector replays FEI's real prices (the shipped sample the demo's price feed replays on-chain)
and raises the alert of 22 June 2022; the agent moves funds out within its cap;
a larger move proposed over the agent's MCP tools is queued and the owners veto it; a move
beyond the cap, sent straight to the chain, is refused there; after the grant expires the agent
can no longer act; and `proofmind verify` walks the move back to decision, detector, its
evaluation run and the price data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from proofmind.agents.guard import Call, Guard, create_guarded_safe
from proofmind.agents.log import DecisionLog, canonical
from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from proofmind.agents.tools import AgentTools
from proofmind.agents.trace import Trace, anchor_decisions, trace_transaction
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy
from proofmind.crypto.keccak import keccak256, keccak256_file
from proofmind.demo.monitor import END as LIVE_END
from proofmind.errors import ContractReverted, ProofmindError
from proofmind.monitor.api import Alert
from proofmind.monitor.feedreplay import sample_path
from proofmind.monitor.prices import read_prices
from proofmind.monitor.registry import load_detectors
from proofmind.monitor.replay import evaluate_alerts, read_events, replay
from proofmind.monitor.store import AlertStore
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.workspace import Workspace

E18 = 10**18
EXPIRES_MINUTES = 30


@dataclass
class AgentDemo:
    safe: str = ""
    guard: str = ""
    alert: str = ""
    moved: int = 0
    move_tx: str = ""
    vetoed: str = ""
    over_cap_error: str = ""
    expired_error: str = ""
    trace: Trace | None = None
    decisions: dict[str, int] = field(default_factory=dict)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _detector_lineage(workspace: Workspace) -> tuple[LocalRecord, list[Alert]]:
    """The depeg detector as a model in the ledger: the price data (FEI's and USDC's real
    hourly prices), the replay that evaluated it on that data against the documented depeg
    windows (its metrics), and its parameters. Returns the model record and the alerts of the
    window the demo's feed replays live (up to 22 June 2022, 08:00 UTC)."""
    prices_path = sample_path()
    series = read_prices(prices_path)
    data = resources.files("proofmind.monitor.data")
    with resources.as_file(data.joinpath("depeg_events.csv")) as events_path:
        events = read_events(events_path)
    detectors = load_detectors(["depeg"])
    alerts = replay(series, detectors)
    evaluation = evaluate_alerts(alerts, events, series).summary()
    params = {"detector": "depeg", "state": detectors[0].to_state()}
    ledger = Ledger(workspace)
    dataset = ledger.add(
        Kind.DATASET,
        "FEI and USDC hourly prices (CoinGecko, 2022-05-20 to 2022-08-25)",
        _hex(keccak256_file(prices_path)),
        f"package:proofmind/monitor/data/{prices_path.name}",
    )
    run_doc = {"replay": "proofmind monitor replay", "params": params, "evaluation": evaluation}
    run = ledger.add(
        Kind.TRAINING_RUN,
        "depeg detector evaluation",
        _hex(keccak256(canonical(run_doc))),
        "proofmind:monitor-replay:depeg",
        parents=[dataset],
        meta=json.dumps(evaluation, sort_keys=True, default=str),
    )
    model = ledger.add(
        Kind.MODEL,
        "depeg detector",
        _hex(keccak256(canonical(params))),
        "proofmind:detector:depeg",
        parents=[run],
    )
    return model, [a for a in alerts if a.subject == "FEI" and a.time < LIVE_END]


def _policy(folder: Path, token: str, reserve: str, guardian: str, model: str, safe: str) -> Path:
    path = folder / "depeg-guard.toml"
    path.write_text(
        f"""# The demo treasury's agent policy (see docs/agents.md).
name = "depeg-guard-{safe[2:10].lower()}"
agent = 4
expires_in = "{EXPIRES_MINUTES}m"
guardians = ["{guardian}"]
recipients = ["{reserve}"]
model_record = "{model}"

[[scope]]
target = "{token}"
function = "transfer(address,uint256)"
recipient_arg = 0
amount_arg = 1
max_amount = "600e18"

[[cap]]
token = "{token}"
limit = "1000e18"
window = "1d"
timelock_above = "400e18"

[[rule]]
detector = "depeg"
kind = "depeg"
subject = "FEI"
min_severity = "high"
explanation = "FEI lost its peg: move 300 DUSD of the treasury to the reserve"
[rule.action]
target = "{token}"
function = "transfer(address,uint256)"
args = ["{reserve}", "300e18"]
"""
    )
    return path


def run(workspace: Workspace, chain: Chain) -> AgentDemo:
    demo = AgentDemo()
    folder = workspace.root / "agents"
    folder.mkdir(exist_ok=True)
    owners, agent = chain.accounts[1:4], chain.accounts[4]
    reserve, guardian = chain.accounts[5], chain.accounts[6]

    model, alerts = _detector_lineage(workspace)
    store = AlertStore.for_workspace(workspace.root)
    if not alerts:
        raise ProofmindError("the depeg detector raised no alert on FEI's prices of June 2022")
    for alert in alerts:
        store.add(alert)
    demo.alert = alerts[0].explanation

    registry = DeploymentRegistry(workspace.state)
    safe, guard = create_guarded_safe(
        chain, registry, owners, 2, delay=300, salt=int(chain.w3.eth.block_number)
    )
    demo.safe, demo.guard = safe, guard.address
    token, _ = deploy(chain, "RewardToken", "Demo USD", "DUSD", chain.accounts[0].address)
    chain.sender().transact(token.functions.mint(safe, 1_000_000 * E18))
    chain.sender().send({"to": safe, "value": 10 * E18}, label="fund the Safe with ETH")

    log = DecisionLog.for_workspace(workspace.root)
    log.add_agent("demo-treasury", chain.chain_id, safe, guard.address)
    policy = load_policy(
        _policy(
            folder, str(token.address), reserve.address, guardian.address, model.content_hash, safe
        )
    )
    guard.grant(owners, policy, agent.address)
    runtime = AgentRuntime(guard, agent, policy, store, log)

    # 1. the depeg alert -> a move within the cap
    before = int(token.functions.balanceOf(reserve.address).call())
    runtime.step()
    demo.moved = int(token.functions.balanceOf(reserve.address).call()) - before
    executed = [
        d for d in log.query(status="executed", limit=5) if d.record.get("guard") == guard.address
    ]
    if not executed or demo.moved != 300 * E18:
        raise ProofmindError(f"the agent did not move 300 DUSD on the depeg alert: {executed}")
    demo.move_tx = str(executed[0].tx_hash)

    # 2. a larger move (over MCP) is queued behind the timelock; the owners veto it
    tools = AgentTools(runtime)
    big = tools.propose_action(
        str(token.address), "transfer(address,uint256)", [reserve.address, "500e18"],
        reason="move more while the peg is off",
    )  # fmt: skip
    if big["status"] != "queued":
        raise ProofmindError(f"the larger move was not queued: {big}")
    guard.veto_by_owners(owners, bytes.fromhex(big["action_id"][2:]))
    demo.vetoed = big["action_id"]
    runtime.step()  # the runtime sees the veto and records it

    # 3. within the cap again (700 of 1000 spent), then beyond it, sent straight to the chain
    tools.propose_action(
        str(token.address), "transfer(address,uint256)", [reserve.address, "400e18"]
    )
    data = token.functions.transfer(reserve.address, 400 * E18)._encode_transaction_data()
    call = Call(str(token.address), 0, bytes.fromhex(data[2:]))
    decision = keccak256(b"demo: beyond the cap, no pre-check")
    fn = guard.contract.functions.execute(call.to, call.value, call.data, decision)
    try:
        chain.sender(agent).transact(fn, gas=400_000)
    except ContractReverted as exc:
        demo.over_cap_error = f"{exc.error_name}{tuple(str(a) for a in exc.error_args)}"
    if not demo.over_cap_error.startswith("CapExceeded"):
        raise ProofmindError(
            f"a move beyond the cap was not refused on-chain: {demo.over_cap_error}"
        )

    # 4. after the grant expires the agent cannot act
    chain.w3.provider.make_request("evm_increaseTime", [EXPIRES_MINUTES * 60 + 1])  # type: ignore[arg-type]
    chain.mine()
    late = tools.propose_action(
        str(token.address), "transfer(address,uint256)", [reserve.address, "1e18"]
    )
    demo.expired_error = str(late.get("error"))
    if demo.expired_error != "GrantExpired":
        raise ProofmindError(f"an expired grant still acted: {late}")

    # 5. decisions anchored; verify walks the move back to the data
    anchor_decisions(Ledger(workspace), chain, log)
    demo.trace = trace_transaction(chain, log, Ledger(workspace), demo.move_tx)
    if not demo.trace.ok:
        raise ProofmindError(f"verify of the agent's move failed: {demo.trace.problems}")
    demo.decisions = log.counts(policy.name)
    store.close()
    return demo


__all__ = ["AgentDemo", "Guard", "run"]
