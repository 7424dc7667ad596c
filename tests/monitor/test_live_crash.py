"""`proofmind monitor run` SIGKILLed three times during a burst of alerts: after restarts,
every alert is stored once, written to the JSON-lines file once, and reaches the webhook
receiver (a repeat, if the kill fell between the POST and its bookkeeping, carries the same
Idempotency-Key, so the receiver drops it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.monitor.store import AlertStore
from proofmind.workspace import init_workspace
from tests.monitor.test_live import SECRET, Receiver

pytestmark = pytest.mark.devnet


def test_sigkill_during_a_burst_delivers_every_alert_once(chain: Chain, tmp_path: Path) -> None:
    receiver = Receiver()
    workspace, _ = init_workspace(tmp_path)
    root = workspace.root
    workspace.close()
    env = {
        **os.environ,
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
        "PROOFMIND_MONITOR_WEBHOOK_SECRET": SECRET,
    }
    watched = chain.accounts[7].address
    start = chain.w3.eth.block_number + 1
    params = json.dumps({"watch": {"addresses": [watched]}})
    command = [
        sys.executable, "-m", "proofmind", "monitor", "run", "-w", str(root),
        "--params", params, "--from-block", str(start), "--jsonl", str(tmp_path / "a.jsonl"),
        "--webhook", receiver.url, "--no-terminal", "--poll", "0.05",
    ]  # fmt: skip

    def launch() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip

    sent = 0
    for _ in range(3):
        process = launch()
        time.sleep(1.5)  # let it start and catch up
        for _ in range(8):
            chain.sender().send({"to": watched, "value": 1000 + sent})
            sent += 1
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    head = chain.w3.eth.block_number
    final = subprocess.run(
        [*command, "--until-block", str(head)], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr
    receiver.server.shutdown()

    store = AlertStore(root / "monitor" / "alerts.sqlite")
    assert store.count() == sent == 24
    ids = [
        json.loads(line)["alert"]["id"] for line in (tmp_path / "a.jsonl").read_text().splitlines()
    ]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == sent
    keys = {h["Idempotency-Key"]: json.loads(b)["alert"]["id"] for h, b in receiver.received}
    assert sorted(keys.values()) == sorted(set(ids))  # each alert under one key, none missing
    assert not store.deliveries(status="dead")


def test_sigkill_while_reading_a_feed_reads_every_round_once(chain: Chain, tmp_path: Path) -> None:
    """`monitor run --feed` SIGKILLed three times while FEI's real prices are pushed round by
    round: afterwards the alerts are those the detectors raise offline on the same prices, each
    stored and written once, and the reader's state says every round was read."""
    from proofmind.monitor import DepegDetector, FeedHealthDetector
    from proofmind.monitor.api import PriceObservation
    from proofmind.monitor.feedreplay import deploy_feed, one_series, push_history, sample_path
    from proofmind.monitor.prices import read_prices
    from proofmind.monitor.service import FEEDS_KEY

    workspace, _ = init_workspace(tmp_path)
    root = workspace.root
    workspace.close()
    env = {
        **os.environ,
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
    }
    times, prices = one_series(read_prices(sample_path()), "FEI")
    times, prices = times[:805], prices[:805]  # through the dip of 22 June 2022
    start = chain.w3.eth.block_number + 1
    feed = deploy_feed(chain, "FEI / USD")
    warm = 760
    push_history(chain, feed, times[:warm], prices[:warm], warmup=warm)
    command = [
        sys.executable, "-m", "proofmind", "monitor", "run", "-w", str(root),
        "--feed", f"FEI={feed.address}", "--from-block", str(start),
        "--jsonl", str(tmp_path / "a.jsonl"), "--no-terminal", "--poll", "0.05",
    ]  # fmt: skip
    pushed = warm
    for _ in range(3):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.5)
        for _ in range(15):
            push_history(chain, feed, [times[pushed]], [prices[pushed]])
            pushed += 1
            time.sleep(0.03)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    head = chain.w3.eth.block_number
    final = subprocess.run([*command, "--until-block", str(head)], env=env, capture_output=True,
                           text=True, timeout=120, check=False)  # fmt: skip
    assert final.returncode == 0, final.stderr

    offline = [DepegDetector(), FeedHealthDetector()]
    expected = [
        (a.detector, a.kind, a.time)
        for t, p in zip(times[:pushed], prices[:pushed], strict=True)
        for d in offline
        for a in d.evaluate(PriceObservation("FEI", float(t), round(p * 1e8) / 1e8))
    ]
    store = AlertStore(root / "monitor" / "alerts.sqlite")
    stored = store.query(limit=50, newest_first=False)
    assert [(a.alert.detector, a.alert.kind, a.alert.time) for a in stored] == expected
    assert any(d == "depeg" for d, _, _ in expected)
    ids = [
        json.loads(line)["alert"]["id"] for line in (tmp_path / "a.jsonl").read_text().splitlines()
    ]
    assert sorted(ids) == [a.id for a in stored]
    done = store.processed_through()
    assert done is not None
    assert done[1][FEEDS_KEY]["state"]["last_round"] == {feed.address.lower(): pushed}
