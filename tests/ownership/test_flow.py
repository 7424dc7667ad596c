"""Contributions → assembly → valuation → lineage record → reward epoch → claim, on the devnet."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from proofmind.app.deploy import deploy_suite
from proofmind.app.ownership import (
    assemble_dataset,
    load_valuation,
    publish_epoch,
    rewards_client,
    value_contributions,
)
from proofmind.app.provenance import track_run, verify_path
from proofmind.chain.base import Chain, utc
from proofmind.chain.contracts import DeploymentRegistry, attach
from proofmind.errors import InputError
from proofmind.ownership.contributions import contribute
from proofmind.provenance.ledger import Ledger
from proofmind.workspace import Workspace

pytestmark = pytest.mark.devnet


def write(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    lines = ["x1,x2,label"] + [f"{a:.6f},{b:.6f},{int(c)}" for (a, b), c in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_contributors_are_valued_and_paid(ws: Workspace, chain: Chain, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)

    def sample(n: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 2))
        y = (x[:, 0] > 0).astype(int)
        return x, (1 - y) if flip else y

    deploy_suite(chain, ws, [])
    registry = rewards_client(chain, ws)
    contributions_registry = attach(chain, "ContributionRegistry", DeploymentRegistry(ws.state))
    files = [
        write(tmp_path / "alice.csv", *sample(60, flip=False)),
        write(tmp_path / "bob.csv", *sample(40, flip=False)),
        write(tmp_path / "carol.csv", *sample(30, flip=True)),  # every label wrong
    ]
    items = []
    for account, data in zip(chain.accounts[1:4], files, strict=True):
        items.append(
            (
                contribute(
                    account,
                    data,
                    dataset="demo",
                    licence="CC-BY-4.0",
                    expiry=int(time.time()) + 3600,
                    nonce=0,
                    chain_id=chain.chain_id,
                    registry=contributions_registry.address,
                    work_dir=tmp_path / "w",
                ),
                data,
            )
        )
    assembled = tmp_path / "assembled.csv"
    assemble_dataset(ws, items, dataset="demo", output=assembled, registry=contributions_registry)
    test = write(tmp_path / "test.csv", *sample(50, flip=False))

    valuation = value_contributions(ws, assembled, test, features=["x1", "x2"], label="label", k=5)
    by = {c.contributor: c.value for c in valuation.contributors}
    alice, bob, carol = (a.address for a in chain.accounts[1:4])
    assert by[alice] > 0 and by[bob] > 0 and by[carol] < 0
    assert load_valuation(ws, valuation.hash)["values_root"].startswith("0x")
    banzhaf = value_contributions(
        ws, assembled, test, features=["x1", "x2"], label="label", method="banzhaf", name="bz"
    )
    assert {c.contributor: c.value for c in banzhaf.contributors}[carol] < 0
    assert {"seed", "samples", "converged", "max_stderr"} <= set(banzhaf.document["parameters"])
    anchored = Ledger(ws).anchor(chain)
    assert valuation.record.key in {r.key for r in anchored.anchored}

    owner = chain.sender().address
    chain.sender().transact(registry.token.functions.mint(owner, 10**20))
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    epoch, tree, saved = publish_epoch(ws, chain, valuation, 10**18, deadline)
    assert saved.is_file() and len(tree.values) == 2  # carol's harmful data earns nothing
    registry.claim(epoch, tree, bob)
    assert registry.token.functions.balanceOf(bob).call() > 0
    status = registry.status(epoch)
    assert status.valuation == valuation.hash and status.claimed <= status.funded

    # a model trained on the assembled data verifies until a contributor withdraws consent
    with track_run("on-contributions", datasets=[assembled], workspace=ws, anchor=False) as run:
        run.log_metric(0, loss=0.1)
    Ledger(ws).anchor(chain)
    assert verify_path(ws, run.directory, connect=lambda: chain, workers=1).ok
    carol_id = bytes.fromhex(items[2][0].id[2:])
    chain.sender(chain.accounts[3]).transact(contributions_registry.functions.revoke(carol_id))
    report = verify_path(ws, run.directory, connect=lambda: chain, workers=1)
    problems = [p for f in report.findings for p in f.problems]
    assert not report.ok
    assert [p for p in problems if "revoked" in p] == [
        f"contribution {items[2][0].id[:12]}… by {carol} was revoked at "
        f"{utc(contributions_registry.functions.revokedAt(carol, carol_id).call())}: "
        "consent withdrawn"
    ]
    # and no new epoch pays by a valuation of that data: it would reward use without consent
    with pytest.raises(InputError) as refused:
        publish_epoch(ws, chain, banzhaf, 10**18, deadline)
    assert refused.value.message.startswith(f"valuation {banzhaf.hash} values data without ")
    assert f"by {carol} was revoked at" in refused.value.message
    assert "assemble the dataset again without those" in str(refused.value.hint)
    assert len(registry.statuses()) == epoch + 1  # nothing published
