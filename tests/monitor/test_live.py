"""`monitor run` on the devnet: block detectors, alerts stored once, delivered to a webhook
receiver run here (signed, retried, dead-lettered) and to a JSON-lines file, retracted after a
reorg, exactly once across restarts."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.monitor.api import BlockEvent
from proofmind.monitor.service import MonitorService
from proofmind.monitor.sinks import SIGNATURE_HEADER, JsonlSink, WebhookSink, verify_signature
from proofmind.monitor.store import AlertStore
from proofmind.monitor.watch import FundingFanOutDetector, WatchDetector
from proofmind.store.state import StateDB
from tests.locks import running

pytestmark = pytest.mark.devnet
SECRET = "test-secret"


class Receiver:
    """A webhook receiver on a free port; ``status`` is what it answers."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.headers: dict[str, str] = {}  # sent with each answer to a POST
        self.gets: list[str] = []  # paths asked for with GET (answered 200)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def do_GET(self) -> None:
                receiver.gets.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def deliveries(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


def service(
    chain: Chain, folder: Path, watched: str, sinks: list[Any], **kw: Any
) -> MonitorService:
    return MonitorService(
        chain.w3,
        StateDB(folder / "cursor.sqlite"),
        AlertStore(folder / "alerts.sqlite"),
        [WatchDetector(addresses=[watched])],
        sinks,
        chain_id=chain.chain_id,
        poll_interval=0.05,
        backoff=0.05,
        **kw,
    )


def test_alerts_reach_a_signed_webhook_and_a_file(
    chain: Chain, tmp_path: Path, receiver: Receiver
) -> None:
    watched = chain.accounts[5].address
    start = chain.w3.eth.block_number + 1
    chain.sender().send({"to": watched, "value": 10**18})
    token, _ = deploy(chain, "RewardToken", "T", "T", chain.sender().address)
    # a transaction from the watched account that reverts (a transfer it cannot pay for)
    data = token.functions.transfer(chain.accounts[6].address, 10**30)._encode_transaction_data()
    chain.w3.eth.send_transaction({"from": watched, "to": token.address, "data": data,
                                   "gas": 100_000})  # fmt: skip
    head = chain.w3.eth.block_number
    sinks = [JsonlSink(tmp_path / "alerts.jsonl"), WebhookSink(receiver.url, secret=SECRET)]
    monitor = service(chain, tmp_path, watched, sinks, start_block=start)
    stats = monitor.run(until_block=head)
    assert stats.alerts == 2 and stats.deliveries["delivered"] == 4
    said = {d["alert"]["kind"].split(":")[0]: d["alert"]["explanation"]
            for d in receiver.deliveries()}  # fmt: skip
    assert said == {  # who paid whom, and what the reverted one called
        "tx": f"transaction to {watched.lower()}: 1 ETH from {chain.sender().address.lower()}",
        "reverted": f"reverted transaction from {watched.lower()}: 0 ETH to "
        f"{token.address.lower()}, call 0xa9059cbb",
    }
    for headers, body in receiver.received:
        assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
        assert headers["Idempotency-Key"].startswith("proofmind-")
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["alert"]["severity"] for line in lines) == ["info", "medium"]


def test_a_failing_webhook_is_retried_then_dead_lettered(
    chain: Chain, tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="proofmind.monitor")
    receiver.status = 500
    watched = chain.accounts[5].address
    start = chain.w3.eth.block_number + 1
    chain.sender().send({"to": watched, "value": 1})
    monitor = service(chain, tmp_path, watched, [JsonlSink(tmp_path / "a.jsonl"),
                      WebhookSink(receiver.url, secret=SECRET)], start_block=start,
                      max_attempts=3)  # fmt: skip
    monitor.run(until_block=chain.w3.eth.block_number)
    assert len(receiver.received) == 3  # every attempt reached the receiver
    [dead] = monitor.store.deliveries(status="dead")
    assert dead.sink.startswith("webhook:") and "HTTP 500" in (dead.last_error or "")
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 1  # the file still got it
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3 and "kept as a dead letter" in said[-1], said
    assert not any("/hook" in line for line in said), said  # the URL's path may be a key

    # /metrics and /health say so: the dead letter by its sink, without the webhook's path
    from prometheus_client.parser import text_string_to_metric_families

    from proofmind.monitor.sinks import public_sink_name

    server = monitor.serve_http("127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        text = requests.get(f"{base}/metrics", timeout=5).text
        health = requests.get(f"{base}/health", timeout=5).json()
    finally:
        server.shutdown()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    hook = public_sink_name(dead.sink)
    assert "/hook" not in hook and hook.startswith("webhook:http://127.0.0.1:")
    assert samples[("proofmind_monitor_outbox", (("sink", hook), ("status", "dead")))] == 1
    lines_sink = (("sink", f"jsonl:{(tmp_path / 'a.jsonl').resolve()}"), ("status", "delivered"))
    assert samples[("proofmind_monitor_outbox", lines_sink)] == 1
    assert samples[("proofmind_monitor_deliveries_total", (("result", "dead"),))] == 1
    assert samples[("proofmind_monitor_deliveries_total", (("result", "retried"),))] == 2
    assert samples[("proofmind_monitor_blocks_total", ())] >= 1
    assert "# TYPE proofmind_monitor_alerts_total counter" in text
    assert health["outbox"][f"{hook}/dead"] == 1 and health["oldest_pending_seconds"] == {}
    assert "/hook" not in json.dumps(health)


@pytest.mark.parametrize("kept_blocks", [0, 3], ids=["fork-at-first-block", "fork-later"])
def test_a_reorg_retracts_the_alerts_of_dropped_blocks(
    chain: Chain, tmp_path: Path, kept_blocks: int
) -> None:
    watched = chain.accounts[5].address
    start = chain.w3.eth.block_number + 1
    chain.mine(kept_blocks)  # blocks the reorg keeps (the common ancestor is among them)
    before = chain.snapshot()
    chain.sender().send({"to": watched, "value": 7})
    monitor = service(chain, tmp_path, watched, [JsonlSink(tmp_path / "a.jsonl")],
                      start_block=start)  # fmt: skip
    monitor.run(until_block=chain.w3.eth.block_number)
    assert monitor.stats.alerts == 1
    chain.revert(before)  # the block with the transfer is gone; a longer branch replaces it
    chain.sender().send({"to": chain.accounts[6].address, "value": 8})
    chain.mine(2)
    monitor = service(chain, tmp_path, watched, [JsonlSink(tmp_path / "a.jsonl")])
    monitor.run(until_block=chain.w3.eth.block_number)
    events = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["alert", "retraction"]
    assert events[1]["alert"]["status"] == "retracted"
    assert monitor.store.count(status="active") == 0


def test_restarts_deliver_each_alert_once(
    chain: Chain, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped between storing a range and moving the cursor, then restarted: the range is
    not evaluated again, and nothing is stored or delivered twice."""
    watched = chain.accounts[5].address
    start = chain.w3.eth.block_number + 1
    for n in range(3):
        chain.sender().send({"to": watched, "value": 100 + n})
    sinks = [JsonlSink(tmp_path / "a.jsonl"), WebhookSink(receiver.url, secret=SECRET)]
    first = service(chain, tmp_path, watched, sinks, start_block=start)

    def crash(*_: Any) -> None:
        raise KeyboardInterrupt("killed after the store's commit")

    monkeypatch.setattr(first.cursor, "commit", crash)
    with pytest.raises(KeyboardInterrupt):
        first.run(until_block=chain.w3.eth.block_number)
    chain.sender().send({"to": watched, "value": 200})
    sinks = [JsonlSink(tmp_path / "a.jsonl"), WebhookSink(receiver.url, secret=SECRET)]
    second = service(chain, tmp_path, watched, sinks)
    second.run(until_block=chain.w3.eth.block_number)
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    keys = [json.loads(line)["alert"]["id"] for line in lines]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 4
    received = {d["alert"]["id"] for d in receiver.deliveries()}
    assert len(received) == 4
    assert second.store.count() == 4


def test_funding_fan_out_detector_and_its_state() -> None:
    funder = "0x" + "f" * 40
    detector = FundingFanOutDetector(min_recipients=3, window_blocks=10)
    alerts = []
    for n in range(5):
        event = BlockEvent(
            number=100 + n,
            hash=f"0x{n:064x}",
            time=1_700_000_000 + n,
            native_transfers=({"from_address": funder, "to_address": f"0x{n + 1:040x}"},),
        )
        alerts += detector.evaluate(event)
        detector = FundingFanOutDetector.from_state(json.loads(json.dumps(detector.to_state())))
    assert [(a.subject, a.block, a.score) for a in alerts] == [(funder, 102, 3.0)]


def test_new_parameters_on_restart_take_effect(chain: Chain, tmp_path: Path) -> None:
    """A restart with another watch list watches the new list (the saved state of a detector
    whose parameters changed is not restored)."""
    first, second = chain.accounts[5].address, chain.accounts[6].address
    start = chain.w3.eth.block_number + 1
    chain.sender().send({"to": first, "value": 1})
    service(chain, tmp_path, first, [], start_block=start).run(
        until_block=chain.w3.eth.block_number
    )
    chain.sender().send({"to": second, "value": 2})
    monitor = service(chain, tmp_path, second, [])
    monitor.run(until_block=chain.w3.eth.block_number)
    subjects = [a.alert.subject for a in monitor.store.query(limit=10)]
    assert sorted(subjects) == sorted([first.lower(), second.lower()])


def test_a_restart_of_a_first_run_keeps_the_detectors_state(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A monitor started on an empty store, then restarted with the same parameters, goes on
    with its detectors' state: a funder's fresh recipients before and after the restart add
    up. (The first run's saved configuration used to be the detector's live memory, so the
    restart dropped the state as 'parameters changed'.)"""
    funder = chain.accounts[7]
    fresh = [f"0x{n:040x}" for n in range(0xF00D01, 0xF00D04)]

    def monitor(**kw: Any) -> MonitorService:
        return MonitorService(
            chain.w3,
            StateDB(tmp_path / "cursor.sqlite"),
            AlertStore(tmp_path / "alerts.sqlite"),
            [FundingFanOutDetector(min_recipients=3, window_blocks=50)],
            [],
            chain_id=chain.chain_id,
            poll_interval=0.05,
            **kw,
        )

    start = chain.w3.eth.block_number + 1
    for to in fresh[:2]:
        chain.sender(funder).send({"to": chain.w3.to_checksum_address(to), "value": 1})
    first = monitor(start_block=start)
    first.run(until_block=chain.w3.eth.block_number)
    assert first.store.query(limit=5) == []
    first.store.close()
    chain.sender(funder).send({"to": chain.w3.to_checksum_address(fresh[2]), "value": 1})
    with caplog.at_level("WARNING", logger="proofmind.monitor"):
        again = monitor()
        again.run(until_block=chain.w3.eth.block_number)
    assert "parameters changed" not in caplog.text
    alerts = [a.alert for a in again.store.query(limit=5)]
    assert [(a.detector, a.subject, a.score) for a in alerts] == [
        ("funding-fan-out", funder.address.lower(), 3.0)
    ]
    again.store.close()


def test_a_second_monitor_on_the_same_store_is_refused(chain: Chain, tmp_path: Path) -> None:
    """Two monitors on one alert store share its cursor: each block would be evaluated by
    whichever read it first, with that monitor's detectors only, and a delivery could go out
    from both. The second is refused, naming the first; once the first stops, it runs."""
    import os

    from proofmind.errors import ConfigError

    watched = chain.accounts[5].address
    first = service(chain, tmp_path, watched, [])
    lock = tmp_path / "monitor.lock"
    with running(first.run, first.stop, lock, "first monitor"):
        chain.sender().send({"to": watched, "value": 1})
        second = service(chain, tmp_path, watched, [])
        with pytest.raises(ConfigError) as refused:
            second.run(until_block=chain.w3.eth.block_number)
    assert str(refused.value).startswith(
        f"another process (pid {os.getpid()}) is already following the chain into the alert "
        f"store {tmp_path / 'alerts.sqlite'} (it holds {lock})"
    )
    assert "stop that monitor first" in (refused.value.hint or "")
    assert second.stats.blocks == 0  # nothing read, nothing stored
    second.run(until_block=chain.w3.eth.block_number)  # now it may
    assert [a.alert.detector for a in second.store.query(limit=10)] == ["watch"]  # stored once
