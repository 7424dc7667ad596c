"""The fraud-exposure detector: a watched address trades with an address the fraud model
scores high. On the real eth_fraud data, with a model trained on the other half of the labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.errors import InputError
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import address_features, read_labels, train_model
from proofmind.monitor.api import BlockEvent
from proofmind.monitor.exposure import FraudExposureDetector

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "eth_fraud"
WATCHED = "0x" + "77" * 20


def _tx(sender: str, receiver: str, n: int) -> dict[str, object]:
    return {
        "hash": f"0x{n:064x}",
        "from_address": sender,
        "to_address": receiver,
        "value_wei": str(10**18),
        "status": 1,
        "input": "0x",
        "method_id": "0x",
    }


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/datasets/eth_fraud is not beside the repo"
)
def test_exposure_to_a_held_out_phishing_address_on_eth_fraud(tmp_path: Path) -> None:
    import_etherscan(
        [SHARED / "transactions.csv.gz", SHARED / "token_transfers.csv.gz"], tmp_path / "data"
    )
    labels = read_labels(SHARED / "labels.csv")
    train = {a: y for a, y in labels.items() if int(a[-1], 16) % 2 == 0}
    held_out = {a: y for a, y in labels.items() if a not in train}
    con = connect(tmp_path / "data")
    train_model(address_features(con, list(train)), train, tmp_path / "model.txt")
    detector = FraudExposureDetector(
        addresses=[WATCHED], model=str(tmp_path / "model.txt"), data=str(tmp_path / "data")
    )
    phishing = [a for a, y in held_out.items() if y == 1][:20]
    benign = [a for a, y in held_out.items() if y == 0][:20]
    scored_bad = {a: detector.score(a) for a in phishing}
    scored_good = {a: detector.score(a) for a in benign}
    caught = [a for a, s in scored_bad.items() if s is not None and s >= 0.5]
    quiet = [a for a, s in scored_good.items() if s is not None and s < 0.5]
    assert len(caught) >= 12 and len(quiet) >= 15  # the model generalises to unseen addresses
    bad, good = caught[0], quiet[0]
    unknown = "0x" + "ab" * 20  # in no table: no score, no alert
    event = BlockEvent(
        number=100,
        hash="0x" + "11" * 32,
        time=1_700_000_000.0,
        transactions=(
            _tx(bad, WATCHED, 1),
            _tx(WATCHED, good, 2),
            _tx(WATCHED, unknown, 3),
            {**_tx(bad, WATCHED, 4), "status": 0},  # reverted: nothing moved
        ),
    )
    alerts = detector.evaluate(event)
    assert [(a.subject, a.evidence["counterparty"], a.evidence["direction"]) for a in alerts] == [
        (WATCHED, bad, "received from")
    ]
    assert alerts[0].score == round(scored_bad[bad] or 0, 6) and alerts[0].block == 100
    restored = FraudExposureDetector.from_state(detector.to_state())
    assert [a.key for a in restored.evaluate(event)] == [a.key for a in alerts]


def test_bad_parameters_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="threshold must be in"):
        FraudExposureDetector(addresses=[WATCHED], model="m", data="d", threshold=2)
    with pytest.raises(InputError, match="no model at"):
        FraudExposureDetector(addresses=[WATCHED], model=str(tmp_path / "m"), data="d")
    with pytest.raises(InputError, match="list of 0x-addresses"):
        FraudExposureDetector(addresses=["nope"], model="m", data="d")


def test_scores_are_read_while_an_ingestion_replaces_the_files(tmp_path: Path) -> None:
    """The tables may be a live ingestion's, whose parts are merged and cut back as it goes:
    a file that goes away while the features are read is read again, not an error that
    would stop the monitor."""
    import shutil
    import threading

    from tests.intel.test_fraud import synthetic

    tx, tokens, accounts = synthetic(tmp_path)
    data = tmp_path / "data"
    import_etherscan([tx, tokens], data)
    labels = {a: i % 2 for i, a in enumerate(accounts)}
    train_model(address_features(connect(data), list(labels)), labels, tmp_path / "model.txt")
    stop = threading.Event()

    def rewrite() -> None:  # a file at a time copied under a new name, the old one removed
        n = 0
        while not stop.wait(0.05):  # an ingestion merges parts every 16 commits
            path = sorted(data.glob("*/*/*.parquet"))[n % 2]
            n += 1
            copy = path.with_name(f"part-{n:012d}.tmp")  # written whole, as ingest does
            shutil.copyfile(path, copy)
            copy.rename(copy.with_suffix(".parquet"))
            path.unlink()

    thread = threading.Thread(target=rewrite, daemon=True)
    thread.start()
    try:
        for _ in range(40):
            detector = FraudExposureDetector(
                addresses=[WATCHED], model=str(tmp_path / "model.txt"), data=str(data)
            )
            detector.score_many(accounts)
            assert detector.score(accounts[0]) is not None
    finally:
        stop.set()
        thread.join()
