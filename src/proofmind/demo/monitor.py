"""The monitoring part of `proofmind demo`: a Chainlink-compatible price feed on the devnet
replays FEI's real hourly prices (the shipped sample) round by round; `monitor run`'s service
reads the feed each block and raises the depeg alert in the block of the round that triggers
it; the alert is anchored on the provenance ledger and proved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from proofmind.chain.base import Chain
from proofmind.errors import ProofmindError
from proofmind.monitor.depeg import DepegDetector
from proofmind.monitor.feedreplay import deploy_feed, one_series, push_history, sample_path
from proofmind.monitor.pricefeed import FeedReader
from proofmind.monitor.prices import read_prices
from proofmind.monitor.service import MonitorService
from proofmind.monitor.sinks import JsonlSink
from proofmind.monitor.store import AlertStore, StoredAlert
from proofmind.services.alert_anchoring import anchor_alerts, prove_alert
from proofmind.store.state import StateDB
from proofmind.workspace import Workspace

LIVE_FROM = datetime(2022, 6, 21, 12, tzinfo=UTC).timestamp()  # one round per block from here
END = datetime(2022, 6, 22, 8, tzinfo=UTC).timestamp()


@dataclass
class MonitorDemo:
    feed: str
    alert: StoredAlert
    round_block: int  # the block holding the round that triggered the alert
    proved: bool


def run(workspace: Workspace, chain: Chain) -> MonitorDemo:
    times, prices = one_series(read_prices(sample_path()), "FEI")
    keep = sum(t < END for t in times)
    times, prices = times[:keep], prices[:keep]
    warm = sum(t < LIVE_FROM for t in times)
    start = chain.w3.eth.block_number + 1
    feed = deploy_feed(chain, "FEI / USD (replay)")
    pushed = push_history(chain, feed, times, prices, warmup=warm)
    block_of_time = {p.time: p.block for p in pushed}
    # each run watches its own feed, so it keeps its own alert store
    folder = workspace.root / "monitor" / f"demo-{feed.address.lower()}"
    folder.mkdir(parents=True, exist_ok=True)
    store = AlertStore(folder / "alerts.sqlite")
    try:
        service = MonitorService(
            chain.w3,
            StateDB(folder / "cursor.sqlite"),
            store,
            [DepegDetector()],
            [JsonlSink(folder / "alerts.jsonl")],
            chain_id=chain.chain_id,
            start_block=start,
            poll_interval=0.05,
            feeds=FeedReader({"FEI": feed.address}),
        )
        service.run(until_block=chain.w3.eth.block_number, drain_seconds=5)
        found = store.query(detector="depeg", limit=1)
        if not found:
            raise ProofmindError("the monitor raised no depeg alert on the FEI replay")
        alert = found[0]
        anchor_alerts(workspace, chain, store)
        proof = prove_alert(workspace, chain, store, alert.id)
    finally:
        store.close()
    return MonitorDemo(feed.address, alert, block_of_time[int(alert.alert.time)], proof.ok)
