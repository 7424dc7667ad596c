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
    assert not store.dead_letters()
