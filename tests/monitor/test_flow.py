"""The abnormal-flow detector (river Half-Space Trees over per-block flow features): quiet on
ordinary blocks after its warm-up, one alert for a burst of large transfers to fresh addresses
(on the devnet, through `monitor run`), and a restored state that is the same model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from proofmind.chain.base import Chain
from proofmind.monitor.api import BlockEvent
from proofmind.monitor.flow import FlowAnomalyDetector
from proofmind.monitor.service import MonitorService
from proofmind.monitor.store import AlertStore
from proofmind.store.state import StateDB
from tests.mining import manual_mining


def _block(n: int, rng: random.Random, burst: bool = False) -> BlockEvent:
    """An ordinary block (a few small transfers among a few users), or a burst: one address
    sending large amounts to twenty fresh ones."""
    users = [f"0x{u:040x}" for u in range(1, 30)]
    if burst:
        sender = "0x" + "b" * 40
        transfers = [(sender, f"0x{10**6 + n * 100 + k:040x}", 50 + k) for k in range(20)]
    else:
        transfers = [
            (rng.choice(users), rng.choice(users), rng.uniform(0.01, 2.0))
            for _ in range(rng.randint(1, 4))
        ]
    rows = [
        {"from_address": f, "to_address": t, "value_wei": str(int(v * 1e18))}
        for f, t, v in transfers
    ]
    txs = [
        {"from_address": f, "to_address": t, "status": 1, "value_wei": r["value_wei"]}
        for (f, t, _), r in zip(transfers, rows, strict=True)
    ]
    return BlockEvent(n, f"0x{n:064x}", 1.7e9 + 12 * n, tuple(txs), (), (), tuple(rows))


def test_a_burst_is_one_alert_after_the_warm_up() -> None:
    rng = random.Random(5)
    detector = FlowAnomalyDetector(window_size=50)
    alerts = []
    for n in range(400):
        burst = n in (40, 300, 310)  # one in the warm-up, then two 10 blocks apart
        alerts += detector.evaluate(_block(n, rng, burst))
    assert [a.block for a in alerts] == [300]  # not in the warm-up; the cooldown holds the 2nd
    (alert,) = alerts
    assert alert.subject == "0x" + "b" * 40 and alert.score >= 0.75
    assert alert.evidence["top_fan_out"] == 20


@pytest.mark.parametrize("cut", [37, 100, 149, 260])
def test_restored_state_is_the_same_model(cut: int) -> None:
    rng_a, rng_b = random.Random(9), random.Random(9)
    whole = FlowAnomalyDetector(window_size=50, threshold=0.5, cooldown_blocks=1)
    split = FlowAnomalyDetector(window_size=50, threshold=0.5, cooldown_blocks=1)
    blocks_a = [_block(n, rng_a, n % 97 == 0) for n in range(320)]
    blocks_b = [_block(n, rng_b, n % 97 == 0) for n in range(320)]
    expected = [a for b in blocks_a for a in whole.evaluate(b)]
    got = [a for b in blocks_b[:cut] for a in split.evaluate(b)]
    split = FlowAnomalyDetector.from_state(json.loads(json.dumps(split.to_state())))
    got += [a for b in blocks_b[cut:] for a in split.evaluate(b)]
    assert [(a.block, a.score) for a in got] == [(a.block, a.score) for a in expected]
    assert len(expected) >= 2


@pytest.mark.devnet
def test_monitor_run_flags_a_burst_block_on_the_devnet(chain: Chain, tmp_path: Path) -> None:
    w3 = chain.w3
    start = w3.eth.block_number + 1
    rng = random.Random(2)
    sender = chain.sender()
    for _ in range(24):  # ordinary blocks: one small transfer each
        sender.send({"to": chain.accounts[rng.randint(1, 4)].address, "value": 10**15})
    with manual_mining(chain):
        hashes = [
            sender.submit(
                {
                    "to": to_checksum_address(f"0x{0xFEED0000 + k:040x}"),
                    "value": 40 * 10**18,
                    "gas": 21000,
                }
            )
            for k in range(15)
        ]
        chain.mine(1)
    burst = int(w3.eth.get_transaction_receipt(hashes[0])["blockNumber"])
    for _ in range(3):
        sender.send({"to": chain.accounts[2].address, "value": 10**15})
    monitor = MonitorService(
        w3,
        StateDB(tmp_path / "cursor.sqlite"),
        AlertStore(tmp_path / "alerts.sqlite"),
        [FlowAnomalyDetector(window_size=10, cooldown_blocks=20)],
        [],
        chain_id=chain.chain_id,
        start_block=start,
        poll_interval=0.05,
    )
    monitor.run(until_block=w3.eth.block_number)
    alerts = [a.alert for a in monitor.store.query(limit=10)]
    assert [(a.block, a.subject) for a in alerts] == [(burst, sender.address.lower())]
    assert alerts[0].evidence["native_transfers"] == 15
