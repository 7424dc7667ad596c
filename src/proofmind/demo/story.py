"""The story `proofmind demo` tells, step by step: devnet, contracts, a dataset commitment with
row proofs and a tampered row, then the chapters of the other modules of this package."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.panel import Panel
from web3.contract import Contract

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach
from proofmind.chain.devnet import DevnetBackend
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import ContractReverted, ProofmindError
from proofmind.text import count_of
from proofmind.workspace import Workspace, find_workspace, init_workspace, open_workspace

SAMPLE = "eth_fraud_labels_sample.csv"
ROW_TYPES = ["address", "uint256"]

T = TypeVar("T")


@dataclass
class DemoReport:
    """What the demo established; also returned to Python callers and tests."""

    chain_id: int = 0
    rpc: str = ""
    contracts: dict[str, str] = field(default_factory=dict)
    dataset_root: str = ""
    dataset_rows: int = 0
    proved_row: int = -1
    attest_gas: int = 0
    multiproof_rows: list[int] = field(default_factory=list)
    tamper_rejected: bool = False
    lineage_records: int = 0
    anchor_gas_per_record: float = 0.0
    model_metrics: dict[str, float] = field(default_factory=dict)
    lineage_verified: bool = False
    tampered_row: int = -1
    tamper_pinpointed: bool = False
    contributor_values: dict[str, float] = field(default_factory=dict)
    reward_epoch: int = -1
    claimed: int = 0
    oracle_scores: dict[str, float] = field(default_factory=dict)
    airdrop_paid: dict[str, int] = field(default_factory=dict)
    agent_moved: int = 0
    agent_vetoed: str = ""
    agent_over_cap: str = ""
    agent_expired: str = ""
    agent_trace_ok: bool = False
    depeg_alert_block: int = -1  # the block the monitor stored the depeg alert with
    depeg_round_block: int = -1  # the block holding the price round that triggered it
    alert_proved: bool = False
    proved: list[str] = field(default_factory=list)


def load_sample() -> tuple[bytes, list[list[object]]]:
    """The bundled data sample (raw bytes, and rows typed for ROW_TYPES)."""
    raw = resources.files("proofmind.data").joinpath(SAMPLE).read_bytes()
    reader = csv.DictReader(raw.decode().splitlines())
    rows: list[list[object]] = [[r["address"], int(r["flag"])] for r in reader]
    return raw, rows


def run_demo(directory: Path, console: Console | None = None) -> DemoReport:
    console = console or Console()
    started = time.monotonic()
    report = DemoReport()
    console.rule("[bold]proofmind demo[/bold]")

    workspace = _workspace(directory, console)
    _refuse_a_serving_node(workspace)
    chain = _step(console, "Devnet", lambda: _connect(workspace, report))
    _step(console, "Contracts", lambda: _deploy(chain, workspace, report))
    contract = attach(chain, "MerkleCommitments", DeploymentRegistry(workspace.state))
    tree = _step(console, "Dataset commitment", lambda: _commit(chain, workspace, contract, report))
    _step(console, "On-chain row proof", lambda: _prove_row(chain, contract, tree, report))
    _step(console, "On-chain multiproof", lambda: _prove_rows(contract, tree, report))
    _step(console, "Tampered row", lambda: _tamper(chain, contract, tree, report))
    _lineage(console, workspace, chain, report)

    chain.wait_confirmed(int(chain.w3.eth.block_number))  # the devnet saved what it showed
    elapsed = time.monotonic() - started
    console.print(
        Panel(
            "\n".join(f"[green]✔[/green] {line}" for line in report.proved),
            title=f"What was proved (chain {report.chain_id}, {elapsed:.1f}s)",
            expand=False,
        )
    )
    if isinstance(chain.backend, DevnetBackend):
        console.print("[dim]The devnet keeps running; stop it with `proofmind chain down`.[/dim]")
    console.print(f"dashboard: run `proofmind serve` → {dashboard_url(workspace)}")
    return report


def dashboard_url(workspace: Workspace) -> str:
    """Where `proofmind serve` shows the dashboard of ``workspace`` ([api] host and port)."""
    from proofmind.settings import ApiSettings

    settings = ApiSettings.load(workspace.config_path)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}/"


def _refuse_a_serving_node(workspace: Workspace) -> None:
    """The demo's oracle step answers in the workspace node's queue: with `oracle serve` (or
    `serve -m`) serving that queue it would stop there, half way, so it is said at the start."""
    from proofmind.app.oracle import NODE_DB
    from proofmind.oracle.node import node_lock

    node_lock(workspace.root / NODE_DB).check()


def _workspace(directory: Path, console: Console) -> Workspace:
    found = find_workspace(directory.resolve())
    if found is not None:
        return open_workspace(found)
    workspace, _ = init_workspace(directory.resolve())
    console.print(f"[dim]created workspace {workspace.root}[/dim]")
    return workspace


def _step(console: Console, title: str, action: Callable[[], tuple[T, str]]) -> T:
    began = time.monotonic()
    try:
        value, summary = action()
    except ProofmindError:
        console.print(f"[red]✘[/red] [bold]{title}[/bold]")
        raise
    console.print(
        f"[green]✔[/green] [bold]{title}[/bold] [dim]({time.monotonic() - began:.1f}s)[/dim] "
        f"{summary}"
    )
    return value


def _connect(workspace: Workspace, report: DemoReport) -> tuple[Chain, str]:
    chain = workspace.connect()
    report.chain_id = chain.chain_id
    report.rpc = chain.backend.describe()
    return chain, f"{report.rpc}, chain {chain.chain_id}, head block {chain.w3.eth.block_number}"


def _deploy(chain: Chain, workspace: Workspace, report: DemoReport) -> tuple[None, str]:
    from proofmind.app.deploy import deploy_suite

    rows = deploy_suite(chain, workspace, [])
    report.contracts = {name: address for name, address, _ in rows}
    fresh = sum(1 for *_, status in rows if status == "deployed")
    listing = ", ".join(f"{name} {address[:10]}…" for name, address, _ in rows)
    report.proved.append(f"{len(rows)} contract(s) live on chain {chain.chain_id}: {listing}")
    return None, f"{fresh} deployed, {len(rows) - fresh} reused: {listing}"


def _commit(
    chain: Chain, workspace: Workspace, contract: Contract, report: DemoReport
) -> tuple[StandardMerkleTree, str]:
    raw, rows = load_sample()
    blob = workspace.blobs.put(raw)
    tree = StandardMerkleTree.of(rows, ROW_TYPES)
    root = tree.root
    report.dataset_root = "0x" + root.hex()
    report.dataset_rows = len(rows)
    if contract.functions.isCommitted(root).call():
        note = "already committed"
    else:
        chain.sender().transact(
            contract.functions.commit(root, len(rows), f"proofmind-blob:{blob}")
        )
        note = "committed"
    report.proved.append(
        f"the {len(rows)}-row sample of eth_fraud (blob {blob[:12]}…, keccak of the file) is "
        f"committed on-chain as Merkle root {report.dataset_root[:14]}…"
    )
    return tree, f"{note} root {report.dataset_root[:18]}… over {len(rows)} rows ({SAMPLE})"


def _prove_row(
    chain: Chain, contract: Contract, tree: StandardMerkleTree, report: DemoReport
) -> tuple[None, str]:
    index = len(tree.values) // 3
    values = tree.values[index]
    proof = tree.get_proof(index)
    encoded = tree.encode(values)
    ok = contract.functions.verifyRow(tree.root, encoded, proof).call()
    receipt = chain.sender().transact(contract.functions.attestRow(tree.root, encoded, proof))
    report.proved_row = index
    report.attest_gas = int(receipt["gasUsed"])
    report.proved.append(
        f"row {index} ({values[0]}, flag {values[1]}) is in the committed data: "
        f"OpenZeppelin MerkleProof accepted its {len(proof)}-hash proof "
        f"(verifyRow → {ok}; attestRow mined, {report.attest_gas:,} gas)"
    )
    return None, f"row {index} verified on-chain with {len(proof)} proof hashes"


def _prove_rows(
    contract: Contract, tree: StandardMerkleTree, report: DemoReport
) -> tuple[None, str]:
    picks = [0, len(tree.values) // 2, len(tree.values) - 1]
    multi = tree.get_multiproof(picks)
    encoded = [tree.encode(v) for v in multi.leaves]
    ok = contract.functions.verifyRows(tree.root, encoded, multi.proof, multi.proof_flags).call()
    if not ok:
        raise ProofmindError("the contract rejected a valid multiproof; this is a bug")
    report.multiproof_rows = picks
    report.proved.append(f"rows {picks} verified together by one multiproof")
    return None, f"rows {picks} in one multiproof ({len(multi.proof)} hashes)"


def _tamper(
    chain: Chain, contract: Contract, tree: StandardMerkleTree, report: DemoReport
) -> tuple[None, str]:
    index = report.proved_row
    address, flag = tree.values[index]
    forged = tree.encode([address, 1 - int(str(flag))])
    proof = tree.get_proof(index)
    accepted = contract.functions.verifyRow(tree.root, forged, proof).call()
    try:
        chain.sender().transact(contract.functions.attestRow(tree.root, forged, proof))
    except ContractReverted as exc:
        report.tamper_rejected = not accepted
        report.proved.append(
            f"flipping row {index}'s label is detected: verifyRow → {accepted}, "
            f"attestRow reverted with {exc.error_name}"
        )
        return None, f"flipped label of row {index} rejected: {exc.error_name}"
    raise ProofmindError("a tampered row was accepted on-chain; this is a bug")


def _lineage(console: Console, workspace: Workspace, chain: Chain, report: DemoReport) -> None:
    from proofmind.demo import lineage

    demo = lineage.prepare(workspace)

    def train() -> tuple[None, str]:
        lineage.train(demo, workspace)
        assert demo.run is not None
        report.model_metrics = demo.metrics
        m = demo.metrics
        return None, (
            f"{len(demo.run.datasets)} datasets committed; logistic regression, "
            f"held-out F1 {m['test_f1']:.2f} on {m['test_accounts']} accounts; "
            f"log head {demo.run.head[:14]}… ({demo.run.seq} entries)"
        )

    def register() -> tuple[None, str]:
        record = lineage.register(demo, workspace, chain)
        return None, f"{record.name} {record.content_hash[:14]}…, card signed by the owner"

    def anchor() -> tuple[None, str]:
        anchored = lineage.anchor(workspace, chain)
        report.lineage_records = len(anchored.anchored)
        report.anchor_gas_per_record = anchored.gas_per_record
        return None, (
            f"{len(anchored.anchored)} records in "
            f"{count_of(len(anchored.tx_hashes), 'transaction')}, "
            f"{anchored.gas_per_record:,.0f} gas/record"
        )

    def verify() -> tuple[None, str]:
        result = lineage.verify(workspace, chain, demo.model)
        report.lineage_verified = result.ok
        if not result.ok:
            raise ProofmindError(f"the fresh lineage does not verify: {result.to_json()}")
        chain_of = " → ".join(f.record.kind_name for f in result.findings)
        report.proved.append(
            f"model {demo.model.name} verifies from its bytes back to the data: {chain_of}, "
            "every hash re-derived from the files and found on-chain"
        )
        return None, f"OK: {chain_of}"

    def tamper() -> tuple[None, str]:
        row, result = lineage.tamper_and_verify(demo, workspace, chain)
        report.tampered_row = row
        wanted = f"row {row} differs"
        report.tamper_pinpointed = not result.ok and any(
            p.startswith(wanted) for f in result.findings for p in f.problems
        )
        if not report.tamper_pinpointed:
            raise ProofmindError(f"verify did not pinpoint the tampered row: {result.to_json()}")
        line = next(p for f in result.findings for p in f.problems if p.startswith(wanted))
        report.proved.append(f"one changed transaction value is pinpointed by verify: {line}")
        return None, line

    _step(console, "Training run (track_run)", train)
    _step(console, "Model + signed card", register)
    _step(console, "Anchor lineage", anchor)
    _step(console, "Verify model → run → data", verify)
    _step(console, "Tampered transaction", tamper)

    def ownership() -> tuple[None, str]:
        from proofmind.demo import ownership as demo_ownership

        result = demo_ownership.run(demo, workspace, chain)
        assert result.valuation is not None
        values = {c.contributor: c.value for c in result.valuation.contributors}
        named = {n: values.get(a, 0.0) for n, a in result.contributors.items()}
        report.contributor_values = named
        report.reward_epoch = result.epoch
        report.claimed = result.claimed
        shown = ", ".join(f"{n} {v:+.3f}" for n, v in named.items())
        report.proved.append(
            f"three wallet-signed contributions valued by exact KNN-Shapley ({shown}); epoch "
            f"{result.epoch} pays by value, alice claimed {result.claimed / 10**18:.2f} PMDR"
        )
        return (
            None,
            f"values {shown}; epoch {result.epoch}, alice claimed {result.claimed / 10**18:.2f}",
        )

    _step(console, "Contributions → values → rewards", ownership)

    def oracle() -> tuple[None, str]:
        from proofmind.demo import oracle as demo_oracle

        result = demo_oracle.run(demo, workspace, chain)
        report.oracle_scores = result.scores
        report.airdrop_paid = result.paid
        gas = ", ".join(f"{g:,}" for g in result.verify_gas)
        shown = ", ".join(
            f"{who} {result.scores[who]:.3f} → {result.paid[who] / 10**18:.0f} tokens"
            for who in result.scores
        )
        report.proved.append(
            f"the fraud model became an EZKL circuit (logrows {result.logrows}); the airdrop "
            f"asked the oracle for two claimants' risk scores, the node proved them, the chain "
            f"verified the proofs (fulfil gas {gas}) and paid only the low-risk claimant: {shown}"
        )
        stand_ins = ", ".join(f"{w} = {a[:10]}…" for w, a in result.stand_ins.items())
        return None, f"{shown} (devnet wallets standing in for {stand_ins})"

    _step(console, "Verifiable oracle → sybil-gated airdrop", oracle)

    def monitor() -> tuple[None, str]:
        from proofmind.demo import monitor as demo_monitor

        result = demo_monitor.run(workspace, chain)
        alert = result.alert.alert
        report.depeg_alert_block, report.depeg_round_block = alert.block or -1, result.round_block
        report.alert_proved = result.proved
        report.proved.append(
            f"a Chainlink-compatible feed replayed FEI's real prices of June 2022; the monitor "
            f"raised the depeg alert in block {alert.block}, the block of the round that "
            f"triggered it (round {alert.evidence['round_id']}), and the alert, anchored on the "
            f"provenance ledger, {'verified' if result.proved else 'did NOT verify'}"
        )
        return None, f"{alert.explanation} (feed {result.feed[:10]}…, block {alert.block})"

    _step(console, "Price feed → monitor → depeg alert", monitor)

    def agent() -> tuple[None, str]:
        from proofmind.demo import agent as demo_agent

        result = demo_agent.run(workspace, chain)
        report.agent_moved = result.moved
        report.agent_vetoed = result.vetoed
        report.agent_over_cap = result.over_cap_error
        report.agent_expired = result.expired_error
        report.agent_trace_ok = result.trace is not None and result.trace.ok
        report.proved.append(
            f"a guarded agent acted only inside the DAO's on-chain policy: on FEI's depeg alert it "
            f"moved {result.moved / 10**18:.0f} DUSD from the Safe, a larger move was queued and "
            f"vetoed by the owners, a move beyond the cap was refused on-chain "
            f"({result.over_cap_error.split('(')[0]}), after expiry it could not act; verify "
            f"walks the move to decision → detector → evaluation run → price data"
        )
        return None, (
            f"Safe {result.safe[:10]}…, guard {result.guard[:10]}…: moved "
            f"{result.moved / 10**18:.0f} DUSD, vetoed {result.vetoed[:10]}…, over the cap "
            f"{result.over_cap_error.split('(')[0]}, expired {result.expired_error}; "
            f"verify `proofmind verify {result.move_tx}`"
        )

    _step(console, "Guarded agent (Safe + AgentGuard)", agent)
