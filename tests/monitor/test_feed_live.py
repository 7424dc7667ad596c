"""`monitor run` reading price feeds on the devnet: real FEI and USDC hourly prices (the shipped
sample) pushed round by round into two ReplayPriceFeeds (AggregatorV3Interface); the depeg
detector raises FEI's alert of 22 June 2022 at the round that triggers it, in that round's
block, and nothing on USDC's calm stretch; the monitor stopped and restarted half-way reads
every round exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.monitor import DepegDetector, FeedHealthDetector, RatioDetector
from proofmind.monitor.api import PriceObservation
from proofmind.monitor.feedreplay import deploy_feed, one_series, push_history, sample_path
from proofmind.monitor.pricefeed import FeedReader, parse_feeds
from proofmind.monitor.prices import read_prices
from proofmind.monitor.service import MonitorService
from proofmind.monitor.sinks import JsonlSink
from proofmind.monitor.store import AlertStore
from proofmind.store.state import StateDB

pytestmark = pytest.mark.devnet


def _at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


LIVE_FROM, END = _at("2022-06-21T12:00"), _at("2022-06-22T12:00")


def _series(symbol: str) -> tuple[list[int], list[float]]:
    times, prices = one_series(read_prices(sample_path()), symbol)
    keep = [i for i, t in enumerate(times) if t < END]
    return [times[i] for i in keep], [prices[i] for i in keep]


def _monitor(chain: Chain, folder: Path, feeds: dict[str, str], read: str, start: int | str):
    reader = FeedReader(feeds, read="rounds" if read == "rounds" else "logs")
    return MonitorService(
        chain.w3,
        StateDB(folder / "cursor.sqlite"),
        AlertStore(folder / "alerts.sqlite"),
        [DepegDetector(), FeedHealthDetector()],
        [JsonlSink(folder / "alerts.jsonl")],
        chain_id=chain.chain_id,
        start_block=start,
        poll_interval=0.05,
        backoff=0.05,
        max_range=4,  # small ranges, so the first run really stops half-way
        feeds=reader,
    )


@pytest.mark.parametrize("read", ["logs", "rounds"])
def test_a_replayed_depeg_is_raised_at_its_round(chain: Chain, tmp_path: Path, read: str) -> None:
    start = chain.w3.eth.block_number + 1
    feeds = {symbol: deploy_feed(chain, f"{symbol} / USD") for symbol in ("FEI", "USDC")}
    data = {symbol: _series(symbol) for symbol in feeds}
    # the warm-up (a month of history the detector learns the peg from) in batches ...
    for symbol, (times, prices) in data.items():
        warm = sum(t < LIVE_FROM for t in times)
        push_history(chain, feeds[symbol], times[:warm], prices[:warm], warmup=warm)
    # ... then the last day round by round, both feeds interleaved in time order
    live = sorted((t, s, p) for s, (ts, ps) in data.items() for t, p in zip(ts, ps, strict=True)
                  if t >= LIVE_FROM)  # fmt: skip
    block_of: dict[tuple[str, int], int] = {}
    half = len(live) // 2
    middle = 0
    for n, (t, symbol, price) in enumerate(live):
        (done,) = push_history(chain, feeds[symbol], [t], [price])
        block_of[(symbol, t)] = done.block
        if n == half:
            middle = done.block
    head = chain.w3.eth.block_number

    addresses = {s: f.address for s, f in feeds.items()}
    first = _monitor(chain, tmp_path, addresses, read, start)
    first.run(until_block=middle)
    assert first.cursor.next_block <= middle + 4
    monitor = _monitor(chain, tmp_path, addresses, read, start)  # a restart half-way
    monitor.run(until_block=head)

    # what the same detectors raise on the same prices (as the feed stores them) offline
    events = sorted(
        (t, s, round(p * 1e8) / 1e8)
        for s, (ts, ps) in data.items()
        for t, p in zip(ts, ps, strict=True)
    )
    offline = [DepegDetector(), FeedHealthDetector()]
    expected = [
        (a.detector, a.kind, a.subject, a.time)
        for t, s, p in events
        for d in offline
        for a in d.evaluate(PriceObservation(s, float(t), p))
    ]
    stored = monitor.store.query(limit=100, newest_first=False)
    assert [(a.alert.detector, a.alert.kind, a.alert.subject, a.alert.time) for a in stored] == (
        expected
    )
    depeg = [a.alert for a in stored if a.alert.detector == "depeg"]
    assert [a.subject for a in depeg] == ["FEI"]  # USDC's calm day raises nothing
    (alert,) = depeg
    assert datetime.fromtimestamp(alert.time, UTC).strftime("%Y-%m-%d %H") == "2022-06-22 04"
    assert alert.block == block_of[("FEI", int(alert.time))]  # in the block of its round
    assert alert.evidence["feed"] == feeds["FEI"].address.lower()
    assert alert.evidence["round_id"] == data["FEI"][0].index(int(alert.time)) + 1
    total = sum(len(times) for times, _ in data.values())
    assert first.stats.rounds + monitor.stats.rounds == total and monitor.stats.rounds > 0
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == len(stored)
    assert json.loads(lines[-1])["alert"]["evidence"]["answer"]
    # every round read once over the two runs: the reader's state ends at the last round
    assert monitor.feeds is not None
    assert sum(monitor.feeds.last_round.values()) == total


def test_a_daily_heartbeat_feed_is_learnt_and_its_depeg_raised(
    chain: Chain, tmp_path: Path
) -> None:
    """A stablecoin feed that writes one round a day (a 24-hour heartbeat and a deviation
    threshold the calm never crosses): learnt as pegged from its days, its depeg raised live
    at the third round below the peg, as the same detector raises it offline, in that round's
    block; the feed's daily cadence is not stale."""
    start = chain.w3.eth.block_number + 1
    feed = deploy_feed(chain, "USDX / USD")
    times = [_at("2023-01-01T00:10") + day * 86400 for day in range(40)]
    prices = [1.0 + 0.001 * ((day % 5) - 2) if day < 34 else 0.95 for day in range(40)]
    push_history(chain, feed, times[:30], prices[:30], warmup=30)
    block_of = {t: push_history(chain, feed, [t], [p])[0].block
                for t, p in zip(times[30:], prices[30:], strict=True)}  # fmt: skip
    monitor = _monitor(chain, tmp_path, {"USDX": feed.address}, "rounds", start)
    monitor.run(until_block=chain.w3.eth.block_number)
    stored = [a.alert for a in monitor.store.query(limit=100, newest_first=False)]
    offline = DepegDetector()
    expected = [a.time for t, p in zip(times, prices, strict=True)
                for a in offline.evaluate(PriceObservation("USDX", float(t), p))]  # fmt: skip
    assert [(a.detector, a.time) for a in stored] == [("depeg", times[36])]
    assert expected == [times[36]]
    assert stored[0].block == block_of[times[36]]


def test_a_feed_replayed_from_ingested_logs_raises_what_the_live_monitor_raises(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FEI's and USDC's real prices pushed into two feeds, the blocks ingested with their logs
    (`ingest rpc`), and `monitor replay DIR --feed` over them: the price detectors see every
    round once, at its updatedAt, and raise what they raise offline on the same prices (FEI's
    depeg of 22 June 2022, nothing on USDC); the decimals given per feed. A folder without
    the feed's rounds, or price files with --feed, are errors that say what to do."""
    from proofmind.cli.main import main
    from proofmind.intel.ingest import ingest
    from tests.intel.test_ingest import url_of

    start = chain.w3.eth.block_number + 1
    feeds = {"FEI": deploy_feed(chain, "FEI / USD"), "USDC": deploy_feed(chain, "USDC / USD", 18)}
    data = {symbol: _series(symbol) for symbol in feeds}
    block_of: dict[tuple[str, int], int] = {}
    for symbol, (times, prices) in data.items():
        warm = sum(t < LIVE_FROM for t in times)
        push_history(chain, feeds[symbol], times[:warm], prices[:warm], warmup=warm)
        for t, price in zip(times[warm:], prices[warm:], strict=True):
            (done,) = push_history(chain, feeds[symbol], [t], [price])
            block_of[(symbol, t)] = done.block
    folder = tmp_path / "chaindata"
    ingest(chain.w3, url_of(chain), folder, chain_id=chain.chain_id, start=start)
    out = tmp_path / "alerts.jsonl"
    fei, usdc = (feeds[s].address for s in ("FEI", "USDC"))
    args = ["monitor", "replay", str(folder), "--feed", f"FEI={fei}", "--feed", f"USDC={usdc}:18"]
    assert main([*args, "--out", str(out)]) == 0
    total = sum(len(times) for times, _ in data.values())
    assert f"{total:,} prices" in capsys.readouterr().out
    replayed = [json.loads(line) for line in out.read_text().splitlines()]
    events = sorted((t, s, round(p * 1e8) / 1e8) for s, (ts, ps) in data.items()
                    for t, p in zip(ts, ps, strict=True))  # fmt: skip
    offline = [DepegDetector(), FeedHealthDetector(), RatioDetector()]
    expected = [(a.detector, a.subject, a.time) for t, s, p in events for d in offline
                for a in d.evaluate(PriceObservation(s, float(t), p))]  # fmt: skip
    assert [(a["detector"], a["subject"], a["time"]) for a in replayed] == expected
    depeg = [a for a in replayed if a["detector"] == "depeg"]
    assert [a["subject"] for a in depeg] == ["FEI"]
    assert datetime.fromtimestamp(depeg[0]["time"], UTC).strftime("%Y-%m-%d %H") == (
        "2022-06-22 04"
    )
    # as `monitor run --feed` stores it: the block of its round, the round as evidence
    assert depeg[0]["block"] == block_of[("FEI", int(depeg[0]["time"]))]
    assert depeg[0]["evidence"]["feed"] == fei.lower()
    assert depeg[0]["evidence"]["round_id"] == data["FEI"][0].index(int(depeg[0]["time"])) + 1
    assert depeg[0]["evidence"]["tx"].startswith("0x")
    # resumed: the blocks to four hours before FEI's depeg ingested and replayed with --state,
    # then the rest: together the same alerts, no round read twice; a third run, nothing new
    middle = min(b for (s, t), b in block_of.items() if s == "FEI" and t >= _at("2022-06-22T00:00"))
    part, state = tmp_path / "part", tmp_path / "state.json"
    ingest(chain.w3, url_of(chain), part, chain_id=chain.chain_id, start=start, end=middle)
    resumed = []
    for n in range(2):
        if n:
            ingest(chain.w3, url_of(chain), part, chain_id=chain.chain_id)
        half = tmp_path / f"half{n}.jsonl"
        assert main(["monitor", "replay", str(part), *args[3:], "--state", str(state),
                     "--out", str(half)]) == 0  # fmt: skip
        got = [json.loads(line) for line in half.read_text().splitlines()]
        assert any(a["detector"] == "depeg" for a in got) is bool(n)  # the second run's
        resumed += got
    assert sum(json.loads(state.read_text())["@feeds"].values()) == total
    assert [(a["detector"], a["subject"], a["time"], a["block"]) for a in resumed] == [
        (a["detector"], a["subject"], a["time"], a["block"]) for a in replayed
    ]
    capsys.readouterr()
    assert main(["monitor", "replay", str(part), *args[3:], "--state", str(state)]) == 0
    assert "nothing to replay" in capsys.readouterr().out
    other = "0x" + "12" * 20
    assert main(["monitor", "replay", str(folder), "--feed", f"FEI={other}"]) == 2
    assert f"no AnswerUpdated log of FEI={other}" in capsys.readouterr().err
    assert main(["monitor", "replay", str(sample_path()), "--feed", f"FEI={fei}"]) == 2
    assert "--feed reads a price feed's rounds from one folder of block tables" in (
        capsys.readouterr().err
    )


def test_feed_specs_and_a_wrong_address(chain: Chain) -> None:
    from proofmind.errors import InputError

    assert parse_feeds(["FEI=0x" + "Ab" * 20]) == {"FEI": "0x" + "ab" * 20}
    for bad in (["FEI"], ["=0x" + "ab" * 20], ["FEI=0x12"], ["A=0x" + "ab" * 20] * 2):
        with pytest.raises(InputError):
            parse_feeds(bad)
    reader = FeedReader({"X": chain.accounts[3].address})  # an account, not a feed
    with pytest.raises(InputError, match="does not answer decimals"):
        reader.connect(chain.w3)


def test_the_cli_replays_the_sample_into_a_feed_monitors_and_anchors_it(
    chain: Chain, tmp_path: Path
) -> None:
    import os
    import re
    import subprocess
    import sys

    from proofmind.chain.accounts import Keystore
    from proofmind.workspace import init_workspace

    workspace, _ = init_workspace(tmp_path)
    Keystore(workspace.keystore_dir).import_key("feeder", chain.accounts[8].key, "pw")
    root = workspace.root
    workspace.close()
    env = {
        **os.environ,
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_ACCOUNT": "feeder",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
    }
    start = chain.w3.eth.block_number + 1

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "proofmind", *args, "-w", str(root)],
                              env=env, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    pushed = cli("monitor", "feed-replay", "FEI", "--limit", "800", "--warmup", "780")
    found = re.search(r"at (0x[0-9a-fA-F]{40})", pushed)
    assert found and "pushed 800 FEI rounds in 24 transactions" in pushed
    head = chain.w3.eth.block_number
    jsonl = str(tmp_path / "a.jsonl")
    out = cli("monitor", "run", "--feed", f"FEI={found[1]}", "--from-block", str(start),
              "--until-block", str(head), "--no-terminal", "--jsonl", jsonl)  # fmt: skip
    assert "800 feed rounds, 1 alert," in out
    (line,) = (tmp_path / "a.jsonl").read_text().splitlines()
    alert = json.loads(line)["alert"]
    assert alert["detector"] == "depeg" and alert["subject"] == "FEI"
    assert alert["block"] > start and alert["evidence"]["round_id"] > 780
    # the alert anchored on the provenance ledger, then proved
    anchored = cli("monitor", "anchor")
    assert "1 new batch of 1 alert; 1 batch record anchored now" in anchored
    proof_file = tmp_path / "proof.json"
    verified = cli("monitor", "verify", str(alert["id"]), "--json", str(proof_file))
    assert f"alert {alert['id']} verified" in verified
    assert json.loads(proof_file.read_text())["ok"] is True
    assert "retracted" not in verified
    store = AlertStore.for_workspace(root)  # a reorg dropped its block since: still proven
    store.retract_from_block(alert["block"])  # as raised, and said to be retracted
    store.close()
    again = cli("monitor", "verify", str(alert["id"]))
    assert f"alert {alert['id']} verified" in again and "  retracted at 20" in again


def test_a_reorg_retracts_a_feed_alert_and_rereads_the_new_rounds(
    chain: Chain, tmp_path: Path
) -> None:
    """The block holding the round that raised the depeg alert is dropped by a reorg: the alert
    is retracted, and the rounds of the new branch (same round ids, calm prices) are read."""
    start = chain.w3.eth.block_number + 1
    feed = deploy_feed(chain, "FEI / USD")
    times, prices = _series("FEI")
    warm = sum(t < LIVE_FROM for t in times)
    push_history(chain, feed, times[:warm], prices[:warm], warmup=warm)
    before = chain.snapshot()
    push_history(chain, feed, times[warm:], prices[warm:])  # the dip: one alert
    feeds = {"FEI": feed.address}
    first = _monitor(chain, tmp_path, feeds, "logs", start)
    first.run(until_block=chain.w3.eth.block_number)
    assert [a.alert.detector for a in first.store.query(limit=10)] == ["depeg"]

    chain.revert(before)  # the blocks of the dip are gone; a calm branch replaces them
    calm = [1.0 + (k % 3) * 1e-4 for k in range(len(times) - warm)]  # not pinned either
    push_history(chain, feed, times[warm:], calm)
    chain.mine(2)
    second = _monitor(chain, tmp_path, feeds, "logs", start)
    second.run(until_block=chain.w3.eth.block_number)
    stored = second.store.query(limit=10)
    assert [(a.alert.detector, a.status) for a in stored] == [("depeg", "retracted")]
    events = [json.loads(line)["event"] for line in (tmp_path / "alerts.jsonl").open()]
    assert events == ["alert", "retraction"]
    assert second.feeds is not None
    assert second.feeds.last_round[feed.address.lower()] == len(times)
