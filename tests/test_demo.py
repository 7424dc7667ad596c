"""`proofmind demo` end to end on its own devnet, twice (the second run reuses everything)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from proofmind.chain.devnet import Devnet
from proofmind.demo import load_sample, run_demo
from proofmind.errors import ConfigError
from proofmind.oracle.node import node_lock
from proofmind.provenance import Ledger
from proofmind.settings import DevnetSettings
from proofmind.workspace import init_workspace, open_workspace

pytestmark = pytest.mark.devnet


def _node_queue(root: Path) -> dict[str, int]:
    with sqlite3.connect(root / ".proofmind" / "oracle-node.sqlite") as conn:
        rows = conn.execute("SELECT state, COUNT(*) FROM oracle_requests GROUP BY state")
        return dict(rows.fetchall())


def test_demo_proves_rows_and_rejects_tampering(tmp_path: Path) -> None:
    out = io.StringIO()
    try:
        report = run_demo(tmp_path, Console(file=out, width=200))
        assert report.chain_id == 31337
        assert set(report.contracts) == {
            "ContributionRegistry",
            "InferenceOracle",
            "MerkleCommitments",
            "ProvenanceRegistry",
            "RewardDistributor",
            "RewardToken",
        }
        assert report.dataset_rows == len(load_sample()[1]) == 250
        assert report.tamper_rejected
        assert 0 < report.attest_gas < 100_000
        assert "What was proved" in out.getvalue()
        assert report.lineage_records == 4  # two datasets, the run, the model
        assert report.lineage_verified and report.tamper_pinpointed
        assert 0 < report.anchor_gas_per_record < 60_000
        assert 0.0 <= report.model_metrics["test_f1"] <= 1.0
        values = report.contributor_values
        assert values["carol"] < min(values["alice"], values["bob"])  # carol's labels are wrong
        assert report.reward_epoch == 0 and report.claimed > 0
        # the airdrop paid the low-risk claimant only, on proofs verified on-chain
        assert report.oracle_scores["honest"] < 0.5 <= report.oracle_scores["flagged"]
        assert report.airdrop_paid == {"honest": 100 * 10**18, "flagged": 0}
        # the demo's node used the workspace's queue: the dashboard's Oracle page lists them
        assert _node_queue(tmp_path) == {"done": 2}
        # the monitor raised the FEI depeg alert in the block of its price round, and proved it
        assert report.depeg_alert_block == report.depeg_round_block > 0
        assert report.alert_proved
        # the guarded agent: moved within the cap, vetoed, refused beyond it, expired, traced
        assert report.agent_moved == 300 * 10**18 and report.agent_vetoed.startswith("0x")
        assert report.agent_over_cap.startswith("CapExceeded")
        assert report.agent_expired == "GrantExpired" and report.agent_trace_ok
        # every record the demo made is on-chain, the circuit's too (made after the lineage)
        workspace = open_workspace(tmp_path)
        try:
            records = Ledger(workspace).all()
        finally:
            workspace.close()
        assert "fraud-risk" in {r.name for r in records}
        assert {r.name: r.state for r in records if r.state != "anchored"} == {}

        again = run_demo(tmp_path, Console(file=io.StringIO(), width=200))
        assert again.dataset_root == report.dataset_root
        assert again.contracts == report.contracts
        assert again.airdrop_paid == report.airdrop_paid
        assert again.alert_proved
        assert again.agent_trace_ok
        assert _node_queue(tmp_path) == {"done": 4}
    finally:
        Devnet(tmp_path / ".proofmind" / "chain", DevnetSettings()).down()


def test_demo_refuses_at_the_start_while_a_node_serves_the_workspace_queue(
    tmp_path: Path,
) -> None:
    """Its oracle step answers in that queue: it would stop half way, after nine steps."""
    workspace, _ = init_workspace(tmp_path)
    out = io.StringIO()
    with (
        node_lock(workspace.root / "oracle-node.sqlite").held(),  # `oracle serve` running
        pytest.raises(ConfigError, match="already serving the oracle node's queue"),
    ):
        run_demo(tmp_path, Console(file=out, width=200))
    assert "Devnet" not in out.getvalue()  # no step ran
    assert not (workspace.chain_dir / "devnet.json").exists()
