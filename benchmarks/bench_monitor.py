"""The monitor's speed: alert latency live on a devnet that mines a block a second, and replay
throughput over a price history next to a plain DuckDB scan of the same file.

Latency: `MonitorService` follows a fresh devnet (1-second blocks) with the `watch` detector
and a webhook receiver run here; --alerts transfers to the watched address are sent at random
moments. For each, the latency is from the moment a separate poller (every 20 ms) first sees the
block that holds it to the moment the receiver has the alert (stored → signed POST → 2xx); in
blocks, divided by the block time.

Feed latency (--feed-rounds N): the same devnet, a ReplayPriceFeed, and `MonitorService`
reading it (AnswerUpdated logs) with the depeg and volatility detectors. The shipped real FEI
sample is pushed: its warm-up in batches, then N rounds one per transaction up to and past the
22 June 2022 dip; for each alert, the latency from the moment the poller first sees the block
holding the round that triggers it to the moment the webhook receiver has the alert.

Replay: `monitor replay` with every installed price detector (depeg, feed-health, ratio over
stablecoin/USDC pairs, volatility) over the token price history, reading the file included, rows
per second, against DuckDB reading and aggregating the same file (the speed limit of a scan);
the two alternate --repeats times and the medians are compared. --streaming also times the
row-by-row path and checks that it gives the same alerts.

Block replay (block_replay_speed): `monitor replay` over the eth_fraud tables ingested by
`proofmind ingest etherscan` (done first, not timed), with every block detector on: watch and
fraud-exposure (20 watched labelled addresses, a fraud model trained on the other half of the
labels), funding-fan-out, flow-anomaly and subject-flow; rows per second (rows = transactions +
ERC-20 transfers) against a plain DuckDB scan of the same Parquet tables that reads every column
the detectors read (median of three scans). Detector construction and river's import are not
timed; reading the tables, rebuilding the blocks and all detector work are.

Usage: python benchmarks/bench_monitor.py [--alerts 60] [--feed-rounds 40] [--prices PRICES.csv.gz]
         [--repeats 3] [--streaming] [--block-data DIR] [--only latency|feed|replay|blocks]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PRICES = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "token_prices" / "prices.csv.gz"
)
ETH_FRAUD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "eth_fraud"


def latency(alerts: int) -> None:
    from proofmind.chain.connect import open_chain
    from proofmind.chain.devnet import Devnet, DevnetBackend
    from proofmind.monitor.service import MonitorService
    from proofmind.monitor.sinks import WebhookSink
    from proofmind.monitor.store import AlertStore
    from proofmind.monitor.watch import WatchDetector
    from proofmind.settings import DevnetSettings, TxSettings
    from proofmind.store.state import StateDB

    received: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received[body["alert"]["evidence"]["hash"]] = time.monotonic()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        folder = Path(tmp)
        devnet = Devnet(folder / "chain", DevnetSettings(block_time=1.0))
        devnet.up()
        chain = open_chain(DevnetBackend(devnet), tx=TxSettings(poll_interval=0.05))
        try:
            watched = chain.accounts[3].address
            seen: dict[int, float] = {}
            stop = threading.Event()

            def poll_heads() -> None:
                while not stop.is_set():
                    seen.setdefault(chain.w3.eth.block_number, time.monotonic())
                    time.sleep(0.02)

            threading.Thread(target=poll_heads, daemon=True).start()
            monitor = MonitorService(
                chain.w3,
                StateDB(folder / "cursor.sqlite"),
                AlertStore(folder / "alerts.sqlite"),
                [WatchDetector(addresses=[watched])],
                [WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/")],
                chain_id=chain.chain_id,
                poll_interval=0.1,
            )
            runner = threading.Thread(target=monitor.run, daemon=True)
            runner.start()
            sender = chain.sender()
            hashes = []
            rng = random.Random(1)
            for _ in range(alerts):
                time.sleep(rng.uniform(0.2, 1.6))
                hashes.append(sender.submit({"to": watched, "value": 1}).to_0x_hex())
            deadline = time.monotonic() + 30
            while len(received) < alerts and time.monotonic() < deadline:
                time.sleep(0.1)
            monitor.stop()
            runner.join(timeout=30)
            stop.set()
            seconds = []
            for tx_hash in hashes:
                block = chain.w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]
                if tx_hash in received and block in seen:
                    seconds.append(received[tx_hash] - seen[block])
        finally:
            chain.close()
            devnet.down()
            server.shutdown()
    seconds.sort()
    p50 = statistics.median(seconds)
    p99 = seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))]
    print(f"alert latency over {len(seconds)} of {alerts} alerts (1-second blocks):")
    print(f"  p50 {p50:.3f} s = {p50:.2f} blocks, p99 {p99:.3f} s = {p99:.2f} blocks, "
          f"max {seconds[-1]:.3f} s")  # fmt: skip


def feed_latency(rounds: int) -> None:
    from datetime import UTC, datetime

    from proofmind.chain.connect import open_chain
    from proofmind.chain.devnet import Devnet, DevnetBackend
    from proofmind.monitor.depeg import DepegDetector
    from proofmind.monitor.feedreplay import deploy_feed, one_series, push_history, sample_path
    from proofmind.monitor.pricefeed import FeedReader
    from proofmind.monitor.prices import read_prices
    from proofmind.monitor.service import MonitorService
    from proofmind.monitor.sinks import WebhookSink
    from proofmind.monitor.store import AlertStore
    from proofmind.monitor.volatility import VolatilityDetector
    from proofmind.settings import DevnetSettings, TxSettings
    from proofmind.store.state import StateDB

    received: dict[int, tuple[float, str]] = {}  # round id -> (time, detector)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            alert = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["alert"]
            received[int(alert["evidence"]["round_id"])] = (time.monotonic(), alert["detector"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    times, prices = one_series(read_prices(sample_path()), "FEI")
    dip = int(datetime(2022, 6, 22, 6, tzinfo=UTC).timestamp())
    end = sum(t <= dip for t in times)
    warm = end - rounds
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        folder = Path(tmp)
        devnet = Devnet(folder / "chain", DevnetSettings(block_time=1.0))
        devnet.up()
        chain = open_chain(DevnetBackend(devnet), tx=TxSettings(poll_interval=0.05))
        try:
            start = chain.w3.eth.block_number + 1
            feed = deploy_feed(chain, "FEI / USD")
            push_history(chain, feed, times[:warm], prices[:warm], warmup=warm)
            seen: dict[int, float] = {}
            stop = threading.Event()

            def poll_heads() -> None:
                while not stop.is_set():
                    seen.setdefault(chain.w3.eth.block_number, time.monotonic())
                    time.sleep(0.02)

            threading.Thread(target=poll_heads, daemon=True).start()
            monitor = MonitorService(
                chain.w3,
                StateDB(folder / "cursor.sqlite"),
                AlertStore(folder / "alerts.sqlite"),
                [DepegDetector(), VolatilityDetector()],
                [WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/")],
                chain_id=chain.chain_id,
                start_block=start,
                poll_interval=0.1,
                feeds=FeedReader({"FEI": feed.address}),
            )
            runner = threading.Thread(target=monitor.run, daemon=True)
            runner.start()
            block_of = {}
            for t, p in zip(times[warm:end], prices[warm:end], strict=True):
                (done,) = push_history(chain, feed, [t], [p])
                block_of[done.first] = done.block
            deadline = time.monotonic() + 20
            while monitor.cursor.next_block <= block_of[max(block_of)] and (
                time.monotonic() < deadline
            ):
                time.sleep(0.1)
            time.sleep(1.0)
            monitor.stop()
            runner.join(timeout=30)
            stop.set()
        finally:
            chain.close()
            devnet.down()
            server.shutdown()
    print(f"feed alert latency ({rounds} FEI rounds pushed one per 1-second block):")
    for round_id, (at, detector) in sorted(received.items()):
        block = block_of.get(round_id)
        if block is None or block not in seen:
            print(f"  {detector}: round {round_id} (in the warm-up batches)")
            continue
        wait = at - seen[block]
        print(f"  {detector}: round {round_id}, block {block}: {wait:.3f} s = {wait:.2f} blocks")


# the ratio detector's pairs: stablecoins priced in USDC (a depeg seen without the
# aggregator's USD quote in between), as shipped for `monitor replay --params @...`
PARAMS = Path(__file__).resolve().parents[1] / "src/proofmind/monitor/data/stablecoin_pairs.json"


def price_detectors() -> list[str]:
    """Every installed detector that takes prices: the benchmark leaves none out."""
    from proofmind.monitor.registry import available, detector_class

    return sorted(n for n in available() if "price" in detector_class(n).events)


def replay_speed(prices: Path, repeats: int, streaming: bool) -> None:
    import duckdb

    from proofmind.monitor.prices import read_prices
    from proofmind.monitor.registry import load_detectors
    from proofmind.monitor.replay import replay, replay_streaming

    names = price_detectors()
    params = json.loads(PARAMS.read_text(encoding="utf-8"))
    scans, takes, alerts = [], [], []
    scan_cpu, take_cpu = [], []  # CPU seconds (all threads): less sensitive to a busy machine
    rows = 0
    for _ in range(repeats):  # alternate, so both see the same load on a shared machine
        started, cpu = time.perf_counter(), time.process_time()
        count = duckdb.sql(
            f"SELECT count(*), sum(usd_price), count(DISTINCT symbol) FROM read_csv('{prices}')"
        ).fetchone()
        scans.append(time.perf_counter() - started)
        scan_cpu.append(time.process_time() - cpu)
        rows = int(count[0]) if count else 0
        started, cpu = time.perf_counter(), time.process_time()
        series = read_prices(prices)
        read = time.perf_counter() - started
        detectors = load_detectors(names, params)
        alerts = replay(series, detectors)
        takes.append(time.perf_counter() - started)
        take_cpu.append(time.process_time() - cpu)
        print(f"  run: DuckDB scan {scans[-1]:.2f} s; replay {takes[-1]:.2f} s (reading "
              f"{read:.2f} s) -> {scans[-1] / takes[-1]:.0%}")  # fmt: skip
    scan, took = statistics.median(scans), statistics.median(takes)
    kinds: dict[str, int] = {}
    for alert in alerts:
        kinds[alert.detector] = kinds.get(alert.detector, 0) + 1
    pairs = len(params["ratio"]["pairs"])
    print(f"replay of {rows:,} prices with {' + '.join(names)} (ratio: {pairs} pairs), "
          f"reading the file included, median of {repeats}: {took:.2f} s "
          f"({rows / took:,.0f} rows/s; alerts {kinds})")  # fmt: skip
    print(f"DuckDB scan of the same file, median of {repeats}: {scan:.2f} s "
          f"({rows / scan:,.0f} rows/s); replay at {scan / took:.0%} of the scan")  # fmt: skip
    cpu_scan, cpu_take = statistics.median(scan_cpu), statistics.median(take_cpu)
    print(f"CPU time (all threads), medians: DuckDB scan {cpu_scan:.2f} s, "
          f"replay {cpu_take:.2f} s: {cpu_scan / cpu_take:.0%} of the scan's")  # fmt: skip
    series = read_prices(prices)
    started = time.perf_counter()
    batch = series.batch()
    parts = [f"columns per asset {time.perf_counter() - started:.2f} s"]
    for detector in load_detectors(names, params):
        started = time.perf_counter()
        detector.evaluate_many(batch)
        parts.append(f"{detector.name} {time.perf_counter() - started:.2f} s")
    print(f"where the time goes (one more run, reading excluded): {', '.join(parts)}")
    if streaming:
        started = time.perf_counter()
        reference = replay_streaming(series, load_detectors(names, params))
        slow = time.perf_counter() - started
        print(f"row-by-row replay (evaluate per price, reading excluded): {slow:.2f} s "
              f"({rows / slow:,.0f} rows/s); same alerts as the batched path: "
              f"{reference == alerts}")  # fmt: skip


def block_replay_speed(data: Path | None) -> None:
    from proofmind.intel.etherscan import connect, import_etherscan
    from proofmind.intel.fraud import address_features, read_labels, train_model
    from proofmind.monitor.blockreplay import BlockTables, replay_blocks
    from proofmind.monitor.registry import load_detectors

    with tempfile.TemporaryDirectory(prefix="bench-blocks-") as tmp:
        folder = Path(tmp)
        if data is None:
            data = folder / "data"
            import_etherscan(
                [ETH_FRAUD / "transactions.csv.gz", ETH_FRAUD / "token_transfers.csv.gz"], data
            )
        labels = read_labels(ETH_FRAUD / "labels.csv")
        train = {a: y for a, y in labels.items() if int(a[-1], 16) % 2 == 0}
        watched = sorted(a for a in labels if a not in train)[:20]
        con = connect(data)
        train_model(address_features(con, list(train)), train, folder / "model.txt")
        params: dict[str, dict[str, Any]] = {
            "watch": {"addresses": watched},
            "fraud-exposure": {
                "addresses": watched,
                "model": str(folder / "model.txt"),
                "data": str(data),
            },
        }
        names = ["watch", "fraud-exposure", "funding-fan-out", "flow-anomaly", "subject-flow"]
        detectors = load_detectors(names, params)
        import river.anomaly  # noqa: F401  (imported once per process, not per replay)

        scans, scan_cpu = [], []
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            scan_con = connect(data)
            tx = scan_con.execute(
                "SELECT count(*), sum(value_wei), count(DISTINCT from_address), "
                "count(DISTINCT to_address), sum(status), sum(length(input)), "
                "count(DISTINCT hash), max(timestamp), count(DISTINCT block_number) "
                "FROM transactions"
            ).fetchone()
            tr = scan_con.execute(
                "SELECT count(*), count(DISTINCT token), count(DISTINCT from_address), "
                "count(DISTINCT to_address), max(length(value)), count(DISTINCT block_number) "
                "FROM erc20_transfers"
            ).fetchone()
            scans.append(time.perf_counter() - started)
            scan_cpu.append(time.process_time() - cpu)
            scan_con.close()
        assert tx is not None and tr is not None
        rows = int(tx[0]) + int(tr[0])
        scan = statistics.median(scans)
        started, cpu = time.perf_counter(), time.process_time()
        tables = BlockTables(data)
        alerts = replay_blocks(tables.batches(), detectors)
        took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
        con.close()
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.detector] = counts.get(alert.detector, 0) + 1
    print(f"block replay of {rows:,} rows ({tables.block_count:,} blocks) with {', '.join(names)}: "
          f"{took:.2f} s ({rows / took:,.0f} rows/s); alerts {counts}")  # fmt: skip
    print(f"DuckDB scan of the same tables (median of 3): {scan:.3f} s ({rows / scan:,.0f} "
          f"rows/s); replay at {scan / took:.1%} of the scan")  # fmt: skip
    cpu_scan = statistics.median(scan_cpu)
    print(f"CPU time (all threads): replay {took_cpu:.2f} s, scan {cpu_scan:.3f} s; replay at "
          f"{cpu_scan / took_cpu:.1%} of the scan")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=60)
    parser.add_argument("--prices", type=Path, default=PRICES)
    parser.add_argument("--feed-rounds", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="replay / scan pairs to run")
    parser.add_argument("--streaming", action="store_true", help="also time row-by-row replay")
    parser.add_argument("--block-data", type=Path, default=None,
                        help="ingested eth_fraud tables (default: ingest them first)")  # fmt: skip
    parser.add_argument(
        "--only", choices=("latency", "feed", "replay", "blocks"), help="run one part"
    )
    opts = parser.parse_args()
    if opts.only in (None, "latency"):
        latency(opts.alerts)
    if opts.feed_rounds and opts.only in (None, "feed"):
        feed_latency(opts.feed_rounds)
    if opts.only in (None, "replay"):
        if opts.prices.is_file():
            replay_speed(opts.prices, opts.repeats, opts.streaming)
        else:
            print(f"replay: {opts.prices} is absent, skipped")
    if opts.only in (None, "blocks"):
        if (ETH_FRAUD / "labels.csv").is_file():
            block_replay_speed(opts.block_data)
        else:
            print(f"block replay: {ETH_FRAUD} is absent, skipped")


if __name__ == "__main__":
    main()
