"""Anchoring: batches, gas, and failures that leave the ledger as it was; verify's chain errors."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from proofmind.app.provenance import record_dataset, track_run
from proofmind.chain.base import Chain
from proofmind.errors import ContractReverted, InputError, WrongChain
from proofmind.provenance import Kind, Ledger
from proofmind.provenance.lineage import export, lineage_records
from proofmind.provenance.verify import verify_path
from proofmind.workspace import Workspace

from .conftest import Lineage, write_dataset

pytestmark = pytest.mark.devnet


def test_batches_of_fifty_cost_under_60k_gas_per_record(
    ws: Workspace, chain: Chain, tmp_path: Path
) -> None:
    ledger = Ledger(ws)
    for n in range(120):
        ledger.add(
            Kind.DATASET,
            f"d{n}",
            "0x" + f"{n + 1:064x}",
            f"proofmind://dataset/d{n}?manifest=0x" + "ab" * 32,
        )
    report = ledger.anchor(chain, batch_size=50)
    assert len(report.anchored) == 120 and len(report.tx_hashes) == 3
    assert report.gas_per_record < 60_000
    assert not ledger.pending()
    client_ids = {r.record_id for r in ledger.all()}
    assert len(client_ids) == 120


def test_a_failed_anchoring_transaction_changes_nothing(ws: Workspace, chain: Chain) -> None:
    """A batch the registry refuses leaves every record of it pending, as it was. (A record
    registered already is not refused: the ledger finds it on-chain first, see
    test_reconcile.py.)"""
    ledger = Ledger(ws)
    ledger.add(Kind.DATASET, "a", "0x" + "01" * 32, "proofmind://dataset/a")
    ledger.add(Kind.INFERENCE, "orphan", "0x" + "02" * 32, "proofmind://inference/orphan")
    before = [(r.key, r.status, r.record_id) for r in ledger.all()]
    with pytest.raises(ContractReverted) as failed:
        ledger.anchor(chain)
    assert failed.value.error_name == "InferenceNeedsModel"  # an inference names its model
    assert [(r.key, r.status, r.record_id) for r in ledger.all()] == before


def test_a_record_absent_on_chain(lineage: Lineage) -> None:
    chain = lineage.chain
    snapshot = chain.snapshot()
    ledger = Ledger(lineage.ws)
    extra = record_dataset(lineage.ws, write_dataset(lineage.data.parent / "more"))
    ledger.anchor(chain)
    chain.revert(snapshot)  # the chain forgets the anchoring; the ledger does not
    report = verify_path(lineage.ws, Path(str(extra.record.path)), connect=lambda: chain, workers=1)
    problems = [p for f in report.findings for p in f.problems]
    assert not report.ok
    assert any("is absent on chain 31337" in p for p in problems)
    # not forever: anchoring again finds the ledger wrong and registers the record again
    again = ledger.anchor(chain)
    assert [r.key for r in again.anchored] == [extra.record.key]
    report = verify_path(lineage.ws, Path(str(extra.record.path)), connect=lambda: chain, workers=1)
    assert report.ok, [p for f in report.findings for p in f.problems]


def test_verify_on_the_wrong_chain(lineage: Lineage) -> None:
    from proofmind.chain.connect import open_chain
    from proofmind.chain.inprocess import InProcessBackend

    other = open_chain(InProcessBackend())
    with pytest.raises(
        WrongChain, match="anchored on chain 31337, but this workspace is connected to chain"
    ):
        verify_path(lineage.ws, lineage.model, connect=lambda: other, workers=1)


def test_pending_records_do_not_verify(ws: Workspace, chain: Chain, tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "data")
    record_dataset(ws, data)
    report = verify_path(ws, data, connect=lambda: chain, workers=1)
    assert not report.ok
    assert report.findings[0].problems == ["not anchored yet: run `proofmind provenance anchor`"]


def test_unknown_path(ws: Workspace, chain: Chain, tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="nothing in this workspace's ledger describes"):
        verify_path(ws, tmp_path / "x.bin", connect=lambda: chain)


def test_a_failed_run_is_still_logged(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), track_run("boom", workspace=ws, anchor=False) as run:
        run.log_params(a=1)
        raise RuntimeError("diverged")
    assert run.record is not None and run.record.kind == Kind.TRAINING_RUN
    last = run.log_path.read_text().splitlines()[-1]
    assert '"status": "failed: RuntimeError: diverged"' in last


def test_bad_run_input(ws: Workspace) -> None:
    with (
        pytest.raises(InputError, match="run name"),
        track_run("no spaces", workspace=ws, anchor=False),
    ):
        pass
    with track_run("ok", workspace=ws, anchor=False) as run:
        with pytest.raises(InputError, match="finite number"):
            run.log_metric(0, loss=float("nan"))
        with pytest.raises(InputError, match="not JSON"):
            run.log_params(f=object())
        with pytest.raises(InputError, match="is not a file"):
            run.log_artifact("missing.bin")


def test_lineage_exports(lineage: Lineage) -> None:
    records = lineage_records(Ledger(lineage.ws), str(lineage.model))
    assert [r.kind for r in records] == [Kind.DATASET, Kind.TRAINING_RUN, Kind.MODEL]
    import json

    doc = json.loads(export(records, "prov"))
    data, run, model = (f"pm:{r.kind_name}-{r.key}" for r in records)
    assert run in doc["activity"] and data in doc["entity"] and model in doc["entity"]
    assert {"prov:activity": run, "prov:entity": data} in doc["used"].values()
    assert {"prov:entity": model, "prov:activity": run} in doc["wasGeneratedBy"].values()
    dot = export(records, "dot")
    assert dot.startswith("digraph lineage {") and dot.count("->") == 2
    plain = json.loads(export(records, "json"))
    assert len(plain["records"]) == 3 and len(plain["edges"]) == 2
    with pytest.raises(InputError, match="unknown lineage format"):
        export(records, "xml")


def test_a_finished_run_is_anchored_when_it_ends(ws: Workspace, tmp_path: Path) -> None:
    """With its datasets, and nothing else: another pending record stays pending."""
    from proofmind.chain.devnet import Devnet

    unrelated = Ledger(ws).add(Kind.DATASET, "unrelated", "0x" + "ab" * 32, "proofmind://x")
    try:
        with track_run("anchored", datasets=[write_dataset(tmp_path / "d")], workspace=ws) as run:
            run.log_metric(0, loss=0.5)
        assert run.record is not None
        records = Ledger(ws).all()
        assert [r.kind for r in records] == [Kind.DATASET, Kind.DATASET, Kind.TRAINING_RUN]
        assert [r.anchored for r in records] == [False, True, True]
        assert records[0].key == unrelated.key and records[0].state == "pending"
    finally:
        Devnet(ws.chain_dir, ws.devnet_settings()).down()


def test_a_run_whose_anchoring_fails_stays_pending(ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "config.toml").write_text(
        '[chain]\nbackend = "rpc"\nrpc_url = "http://127.0.0.1:9"\n'
    )
    with (
        pytest.warns(RuntimeWarning, match="could not be anchored"),
        track_run("offline", workspace=ws) as run,
    ):
        run.log_params(a=1)
    assert run.record is not None and not Ledger(ws).get(run.record.key).anchored


def test_two_anchorings_at_once_anchor_each_record_once(
    ws: Workspace, chain: Chain, tmp_path: Path
) -> None:
    """A service anchoring in the background (an agent's decisions, the monitor's alert
    batches) and `provenance anchor` on the same workspace: the second waits for the first
    instead of sending the same records again, which the registry refused (RecordExists), and
    whose failure put the first one's anchored records back to pending."""
    from proofmind.workspace import open_workspace
    from tests.locks import at_once

    for n in range(8):
        Ledger(ws).add(Kind.DATASET, f"d{n}", "0x" + f"{n + 1:064x}", f"proofmind://dataset/d{n}")

    def anchor() -> None:
        handle = open_workspace(ws.root)  # its own connection, as another process has
        try:
            Ledger(handle).anchor(chain, batch_size=2)
        finally:
            handle.close()

    assert at_once(2, anchor, timeout=120) == []
    records = Ledger(ws).all()
    assert [r.status for r in records] == ["anchored"] * 8
    assert all(Ledger(ws)._on_chain(chain, records).values())


def test_an_anchoring_waits_while_another_holds_the_workspace(ws: Workspace, chain: Chain) -> None:
    import threading
    import time

    from proofmind.store.lock import ServiceLock

    ledger = Ledger(ws)
    ledger.add(Kind.DATASET, "d", "0x" + "0a" * 32, "proofmind://dataset/d")
    other = ServiceLock(ws.root / "ledger-anchor.lock", "anchoring (the test)", hint="")
    done = threading.Event()
    told: list[str] = []
    with other.held():
        waiting = threading.Thread(
            target=lambda: (ledger.anchor(chain, on_wait=told.append), done.set())
        )
        waiting.start()
        time.sleep(0.5)
        assert not done.is_set() and ledger.pending()  # it waits its turn, and says so once
        assert told == [
            f"another process (pid {os.getpid()}) is anchoring this workspace's records: "
            "waiting up to 600 s for it to finish"
        ]
    waiting.join(60)
    assert done.is_set() and not ledger.pending()


def test_an_anchoring_without_a_callback_logs_its_wait(
    ws: Workspace, chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    """The agents', the monitor's and the other commands' anchorings give no callback: the
    wait is a warning in their log (printed by a command that set up no logging)."""
    import threading

    from proofmind.store.lock import ServiceLock

    ledger = Ledger(ws)
    ledger.add(Kind.DATASET, "d", "0x" + "0b" * 32, "proofmind://dataset/d")
    other = ServiceLock(ws.root / "ledger-anchor.lock", "anchoring (the test)", hint="")
    caplog.set_level(logging.WARNING, logger="proofmind.provenance")
    with other.held():
        waiting = threading.Thread(target=ledger.anchor, args=(chain,))
        waiting.start()
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    waiting.join(60)
    (record,) = caplog.records
    assert "is anchoring this workspace's records: waiting up to 600 s" in record.getMessage()
    assert not ledger.pending()
