"""The data-ownership part of `proofmind demo`: three contributors sign their rows, a curator
assembles them, KNN-Shapley values them, and a funded reward epoch pays one of them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from proofmind.app.ownership import (
    Valuation,
    assemble_dataset,
    publish_epoch,
    rewards_client,
    value_contributions,
)
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach
from proofmind.demo.lineage import FEATURES, LineageDemo, features
from proofmind.ownership.contributions import contribute
from proofmind.provenance.ledger import Ledger
from proofmind.workspace import Workspace

NAMES = ("alice", "bob", "carol")
POOL = 1_000 * 10**18


@dataclass
class OwnershipDemo:
    folder: Path
    contributors: dict[str, str] = field(default_factory=dict)  # name → address
    valuation: Valuation | None = None
    epoch: int = -1
    claimed: int = 0


def _write(path: Path, x: NDArray[np.float64], y: NDArray[np.float64]) -> Path:
    lines = [",".join([*FEATURES, "flag"])]
    lines += [
        ",".join([*(f"{v:.6f}" for v in row), str(int(label))])
        for row, label in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(lineage: LineageDemo, workspace: Workspace, chain: Chain) -> OwnershipDemo:
    """Split the sample's accounts among three contributors (carol's labels are all wrong),
    assemble, value on held-out accounts, publish an epoch and claim alice's share."""
    demo = OwnershipDemo(lineage.folder / "contributions")
    demo.folder.mkdir(exist_ok=True)
    x, y, accounts = features(lineage.transactions, lineage.labels)
    held_out = np.array([int(a[-1], 16) % 4 == 0 for a in accounts])
    test = _write(demo.folder / "test.csv", x[held_out], y[held_out])
    train_x, train_y = x[~held_out], y[~held_out]
    parts = np.array_split(np.arange(len(train_y)), 3)
    registry = attach(chain, "ContributionRegistry", DeploymentRegistry(workspace.state))
    items = []
    for name, account, rows in zip(NAMES, chain.accounts[1:4], parts, strict=True):
        labels = 1 - train_y[rows] if name == "carol" else train_y[rows]
        data = _write(demo.folder / f"{name}.csv", train_x[rows], labels)
        demo.contributors[name] = account.address
        contribution = contribute(
            account,
            data,
            dataset="eth-fraud-demo",
            licence="CC-BY-4.0",
            expiry=int(time.time()) + 30 * 86_400,
            nonce=time.time_ns(),
            chain_id=chain.chain_id,
            registry=registry.address,
            work_dir=workspace.root / "datasets",
        )
        items.append((contribution, data))
    assembled = demo.folder / "assembled.csv"
    assemble_dataset(
        workspace, items, dataset="eth-fraud-demo", output=assembled, registry=registry
    )
    demo.valuation = value_contributions(
        workspace, assembled, test, features=FEATURES, label="flag", k=5, name="eth-fraud-demo"
    )
    Ledger(workspace).anchor(chain)
    client = rewards_client(chain, workspace)
    owner = chain.sender().address
    chain.sender().transact(client.token.functions.mint(owner, POOL))
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 30 * 86_400
    # a demo run again on its workspace values the same contributions: a new round, on purpose
    demo.epoch, tree, _ = publish_epoch(
        workspace, chain, demo.valuation, POOL, deadline, again=True
    )
    alice = demo.contributors["alice"]
    if any(str(row[0]).lower() == alice.lower() for row in tree.values):
        before = int(client.token.functions.balanceOf(alice).call())
        client.claim(demo.epoch, tree, alice)
        demo.claimed = int(client.token.functions.balanceOf(alice).call()) - before
    return demo
