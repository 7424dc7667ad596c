"""The devnet killed (SIGKILL on anvil) while `provenance anchor --batch-size 1` runs: after
`chain up` the ledger and the chain agree, and anchoring again sends exactly the records the
chain does not hold — none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from proofmind.chain.base import Chain
from proofmind.chain.contracts import load_artifact
from proofmind.chain.devnet import Devnet
from proofmind.crypto.keccak import keccak256
from proofmind.provenance.ledger import REGISTRY, Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.workspace import Workspace, init_workspace

RECORDS = 150


def _queue(ledger: Ledger) -> None:
    """Datasets, and every tenth a training run reading the dataset before it."""
    previous: LocalRecord | None = None
    for i in range(RECORDS):
        digest = "0x" + keccak256(f"sigkill-{i}".encode()).hex()
        if i % 10 == 9 and previous is not None:
            ledger.add(Kind.TRAINING_RUN, f"run-{i}", digest, f"proofmind://run/{i}",
                       parents=[previous])  # fmt: skip
        else:
            previous = ledger.add(Kind.DATASET, f"data-{i}", digest, f"proofmind://dataset/{i}")


def _expected_ids(ledger: Ledger, creator: str) -> dict[int, bytes]:
    ids: dict[int, bytes] = {}
    for record in ledger.all():
        ids[record.key] = record.record_input([ids[p] for p in record.parents]).record_id(creator)
    return ids


def _on_chain(chain: Chain, ws: Workspace, ids: dict[int, bytes]) -> dict[int, bool]:
    from proofmind.chain.contracts import DeploymentRegistry

    deployment = DeploymentRegistry(ws.state).get(chain.chain_id, REGISTRY)
    if deployment is None or not chain.w3.eth.get_code(to_checksum_address(deployment.address)):
        return dict.fromkeys(ids, False)
    registry = chain.w3.eth.contract(
        address=to_checksum_address(deployment.address), abi=load_artifact(REGISTRY).abi
    )
    return {k: bool(registry.functions.exists(i).call()) for k, i in ids.items()}


def _sent(ws: Workspace) -> int:
    row = ws.state.conn.execute("SELECT COUNT(*) FROM records WHERE record_id IS NOT NULL")
    return int(row.fetchone()[0])


def _confirmed(ws: Workspace) -> int:
    row = ws.state.conn.execute("SELECT COUNT(*) FROM records WHERE status = 'anchored'")
    return int(row.fetchone()[0])


@pytest.mark.slow
def test_anchor_survives_sigkill_of_the_devnet(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path)
    ledger = Ledger(ws)
    _queue(ledger)
    devnet = Devnet(ws.chain_dir, ws.devnet_settings())
    env = {**os.environ, "PROOFMIND_WORKSPACE": str(ws.root)}
    anchor = [sys.executable, "-m", "proofmind", "provenance", "anchor", "--batch-size", "1"]
    devnet.up()
    try:
        proc = subprocess.Popen(anchor, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 120
        # well into the run: dozens of blocks, some confirmed (saved), some not yet dumped; on a
        # loaded machine the first save can come after many sends, so wait for both
        while _sent(ws) < 40 or _confirmed(ws) == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "anchor made no progress"
            time.sleep(0.02)
        record = devnet.read_record()
        assert record is not None
        os.kill(record.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode != 0, "anchor cannot finish without its node"
        assert b"Traceback" not in err

        devnet.up()  # `proofmind chain up`: resumes from the newest complete state
        chain = ws.connect()
        ids = _expected_ids(ledger, chain.default_account.address)
        on_chain = _on_chain(chain, ws, ids)
        marked = [r for r in ledger.all() if r.anchored]
        assert marked, "some records were confirmed before the kill"
        lost = [r.label() for r in marked if not on_chain[r.key]]
        assert not lost, f"marked anchored but not on-chain after the restart: {lost}"

        missing = {k for k, present in on_chain.items() if not present}
        assert missing, "the kill came before the end of the run"
        report = ledger.anchor(chain, batch_size=7)
        assert {r.key for r in report.anchored} == missing, "sends exactly the missing ones"
        assert not report.waiting
        assert all(r.anchored for r in ledger.all())
        assert all(_on_chain(chain, ws, ids).values())
        assert [r.record_id for r in ledger.all()] == ["0x" + ids[k].hex() for k in sorted(ids)]

        again = subprocess.run(
            anchor, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert again.returncode == 0, again.stderr
        assert "every record is on chain" in again.stdout
    finally:
        devnet.down()
        ws.close()
