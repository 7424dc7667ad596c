"""The alert store: idempotent by key, keyset pagination, retraction after a reorg."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from proofmind.errors import InputError
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore


def _alert(subject: str = "USDC", time: float = 1.0, block: int | None = None) -> Alert:
    return Alert(
        detector="depeg",
        severity="high",
        subject=subject,
        time=time,
        score=0.05,
        explanation="USDC traded at 0.95",
        evidence={"price": 0.95},
        block=block,
        kind="depeg",
    )


def test_the_same_alert_is_stored_once(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    first = store.add(_alert())
    assert first is not None
    assert store.add(_alert()) is None
    assert store.count() == 1
    stored = store.get(first)
    assert stored is not None
    assert stored.alert == _alert()
    assert stored.status == "active"


def test_a_second_process_sees_what_the_first_wrote(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    writer, reader = AlertStore(path), AlertStore(path)
    writer.add(_alert(time=1.0))
    assert reader.last_id() == 1
    assert [a.alert.time for a in reader.query(after_id=0, newest_first=False)] == [1.0]


def test_pages_and_filters(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.add_many([(_alert("USDC" if i % 2 else "DAI", float(i)), None) for i in range(10)])
    page = store.query(limit=3)
    assert [a.id for a in page] == [10, 9, 8]
    assert [a.id for a in store.query(limit=3, before_id=page[-1].id)] == [7, 6, 5]
    assert store.count(subject="DAI") == 5
    assert {a.alert.subject for a in store.query(subject="USDC")} == {"USDC"}
    assert [a.id for a in store.query(after_id=8, newest_first=False)] == [9, 10]
    with pytest.raises(InputError, match="unknown alert status"):
        store.query(status="gone")


def test_a_reorg_retracts_alerts_of_dropped_blocks_once(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    for block in (10, 11, 12):
        store.add(_alert(time=float(block), block=block), block_hash=f"0x{block:064x}")
    retracted = store.retract_from_block(11)
    assert [a.alert.block for a in retracted] == [11, 12]
    assert all(a.status == "retracted" and a.retracted_at for a in retracted)
    assert store.retract_from_block(11) == []
    assert store.count(status="active") == 1


def test_concurrent_writers_never_duplicate(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    other = AlertStore(tmp_path / "alerts.sqlite")

    def write(s: AlertStore) -> None:
        for i in range(50):
            s.add(_alert(time=float(i)))

    threads = [threading.Thread(target=write, args=(s,)) for s in (store, other, store)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 50


def test_a_delivery_waiting_for_its_retry_holds_back_the_later_ones(tmp_path: Path) -> None:
    """A sink gets its deliveries in queue order: while the first waits for its retry, the
    alert's retraction queued after it is not due either."""
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(_alert(block=7), None)], ["hook"], 7, {})
    store.rewind(7, ["hook"])  # the retraction of the same alert
    [(first, event, _, _), (_, later, _, _)] = store.pending("hook")
    assert (event, later) == ("alert", "retraction")
    store.failed(first, "HTTP 500", time.time() + 60)
    assert store.pending("hook") == []
    store.failed(first, "HTTP 500", time.time() - 1)  # due again
    assert [e for _, e, _, _ in store.pending("hook")] == ["alert", "retraction"]
    store.close()
