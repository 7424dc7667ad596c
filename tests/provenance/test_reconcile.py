"""The ledger and the deployment registry are settled against the chain before they are
trusted: what the chain lost goes back to pending (or is forgotten), what it holds is kept,
and nothing is sent twice."""

from __future__ import annotations

import pytest

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry
from proofmind.chain.reconcile import reconcile
from proofmind.crypto.keccak import keccak256
from proofmind.provenance.ledger import REGISTRY, Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.workspace import Workspace

pytestmark = pytest.mark.devnet


def _queue(ledger: Ledger, n: int) -> list[LocalRecord]:
    data = ledger.add(Kind.DATASET, "data", "0x" + keccak256(b"data").hex(), "proofmind://d")
    runs = [
        ledger.add(
            Kind.TRAINING_RUN,
            f"run-{i}",
            "0x" + keccak256(f"run{i}".encode()).hex(),
            f"proofmind://run/{i}",
            parents=[data],
        )
        for i in range(n - 1)
    ]
    return [data, *runs]


def test_records_the_chain_lost_go_back_to_pending(ws: Workspace, chain: Chain) -> None:
    ledger = Ledger(ws)
    records = _queue(ledger, 3)
    before = chain.snapshot()
    first = ledger.anchor(chain)
    assert len(first.anchored) == 3 and not first.corrections
    chain.revert(before)  # the chain forgets them, as a devnet restarted from an older state

    again = ledger.anchor(chain)
    registry = DeploymentRegistry(ws.state).get(chain.chain_id, REGISTRY)
    assert registry is not None
    assert again.deployed_registry, "the registry itself was lost: deployed again"
    assert [r.key for r in again.anchored] == [r.key for r in records]
    assert len(again.corrections) == 4
    assert again.corrections[0].startswith(f"{REGISTRY} was recorded at ")
    assert all("back to pending" in line for line in again.corrections[1:])
    assert all(r.anchored and r.registry == registry.address for r in ledger.all())
    assert ledger.anchor(chain).corrections == []  # now they agree


def test_sent_records_are_settled_not_sent_again(ws: Workspace, chain: Chain) -> None:
    """A command stopped after its first transaction: the next one confirms the record that
    transaction registered and sends only the others (a second registration would revert)."""
    ledger = Ledger(ws)
    records = _queue(ledger, 4)

    def stop(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ledger.anchor(chain, batch_size=1, progress=stop)
    assert [r.state for r in ledger.all()][1:] == ["pending"] * 3
    report = ledger.anchor(chain, batch_size=2)
    assert [r.key for r in report.anchored] == [r.key for r in records[1:]]
    assert len(report.tx_hashes) == 2 and not report.waiting
    assert all(r.anchored for r in ledger.all())


def test_deployments_without_code_are_forgotten(ws: Workspace, chain: Chain) -> None:
    from proofmind.chain.contracts import deploy

    deployments = DeploymentRegistry(ws.state)
    before = chain.snapshot()
    _, kept = deploy(chain, "MerkleCommitments", registry=deployments)
    lost_at = chain.snapshot()
    deploy(chain, REGISTRY, registry=deployments)
    chain.revert(lost_at)
    corrections = reconcile(chain, deployments)
    assert len(corrections) == 1 and corrections[0].startswith(f"{REGISTRY} was recorded at")
    assert [d.name for d in deployments.list(chain.chain_id)] == ["MerkleCommitments"]
    assert deployments.get(chain.chain_id, "MerkleCommitments") == kept
    chain.revert(before)
    assert reconcile(chain, deployments) and deployments.list(chain.chain_id) == []


def _cli_env(ws: Workspace, chain: Chain) -> dict[str, str]:
    """The CLI on the session devnet, signing with its first account from the keystore."""
    from proofmind.chain.accounts import Keystore

    Keystore(ws.keystore_dir).import_key("curator", chain.accounts[0].key, "pw")
    return {
        "PROOFMIND_WORKSPACE": str(ws.root),
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_ACCOUNT": "curator",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
    }


def test_cli_anchor_does_not_trust_a_ledger_the_chain_lost(ws: Workspace, chain: Chain) -> None:
    """The reported case: after the chain lost anchored records, `provenance anchor` said
    "every record is on-chain". It checks first, says what it corrected, and anchors them."""
    from tests.test_cli import run

    env = _cli_env(ws, chain)
    ledger = Ledger(ws)
    records = _queue(ledger, 2)
    before = chain.snapshot()
    first = run("provenance", "anchor", cwd=ws.root.parent, env=env)
    assert first.returncode == 0 and "Anchored 2 records" in first.stdout, first.stderr
    chain.revert(before)

    again = run("provenance", "anchor", cwd=ws.root.parent, env=env)
    assert again.returncode == 0, again.stderr
    assert "every record is on" not in again.stdout
    assert "Anchored 2 records" in again.stdout
    assert again.stderr.count("corrected:") == 3  # the registry, and both records
    assert all(r.anchored for r in ledger.all()) and len(records) == 2
    settled = run("provenance", "anchor", cwd=ws.root.parent, env=env)
    assert "Nothing to anchor: every record is on chain 31337." in settled.stdout
    assert "corrected:" not in settled.stderr


def test_pending_records_already_registered_are_not_sent_again(ws: Workspace, chain: Chain) -> None:
    """A record the registry holds while the ledger says pending (an older proofmind killed
    between receipt and ledger, a restored ledger) would make every batch with it revert."""
    from proofmind.provenance.records import ProvenanceRegistryClient

    ledger = Ledger(ws)
    data, run = _queue(ledger, 2)
    contract, _ = ledger.registry(chain, deploy_if_missing=True)
    client = ProvenanceRegistryClient(chain, contract)  # type: ignore[arg-type]
    client.register([data.record_input([])])  # on-chain, never recorded in the ledger
    report = ledger.anchor(chain)
    assert [r.key for r in report.anchored] == [run.key]
    assert report.corrections == [
        f"{data.label()} is registered on chain {chain.chain_id} but was not marked anchored: "
        "anchored now"
    ]
    assert all(r.anchored for r in ledger.all())


def test_cli_deploy_forgets_contracts_the_chain_lost(ws: Workspace, chain: Chain) -> None:
    from tests.test_cli import run

    env = _cli_env(ws, chain)
    before = chain.snapshot()
    first = run("contracts", "deploy", "MerkleCommitments", cwd=ws.root.parent, env=env)
    assert first.returncode == 0 and "deployed" in first.stdout, first.stderr
    chain.revert(before)
    again = run("contracts", "deploy", "MerkleCommitments", cwd=ws.root.parent, env=env)
    assert again.returncode == 0, again.stderr
    assert "corrected: MerkleCommitments was recorded at" in again.stderr
    assert "deployed" in again.stdout
    kept = run("contracts", "deploy", "MerkleCommitments", cwd=ws.root.parent, env=env)
    assert "kept" in kept.stdout and "corrected" not in kept.stderr
