"""`replay` passes the whole series to each detector's `evaluate_many` as one columnar chunk
(a `PriceBatch`); the shipped price detectors' array paths must raise exactly the alerts of
`evaluate` on every price, in the same order, and leave the detector in exactly the same state:
on the shipped samples, on constructed series that hit every rule (depegs, glitches, a shared
quote move, pinned and stale feeds, gaps, a zero price), and on a slice of the dev price set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from proofmind.monitor.feedreplay import sample_path
from proofmind.monitor.prices import PriceSeries, read_prices
from proofmind.monitor.registry import load_detectors
from proofmind.monitor.replay import replay, replay_streaming
from proofmind.monitor.volatility import VolatilityDetector

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src/proofmind/monitor/data"
PRICES = REPO.parent / "shared" / "datasets" / "token_prices" / "prices.csv.gz"
ALL = ["depeg", "feed-health", "ratio", "volatility"]
HOUR = 3600.0


def _state(detector: Any) -> Any:
    return json.loads(json.dumps(detector.to_state(), sort_keys=True))


def _same(series: PriceSeries, params: dict[str, dict[str, Any]], names: list[str] = ALL) -> int:
    batch = series.batch()
    for name in names:  # each detector: its array path against evaluate, price by price
        (fast_detector,) = load_detectors([name], params)
        (slow_detector,) = load_detectors([name], params)
        fast = fast_detector.evaluate_many(batch)
        slow = [alert for event in batch for alert in slow_detector.evaluate(event)]
        assert [a.key for a in fast] == [a.key for a in slow], name
        assert fast == slow, name  # severity, score, explanation and evidence too
        assert _state(fast_detector) == _state(slow_detector), name
    together = replay(series, load_detectors(names, params))
    assert together == replay_streaming(series, load_detectors(names, params))
    return len(together)


def test_volatility_windows_per_asset_agree_on_both_paths() -> None:
    """Assets whose windows change length, beside hourly ones: G daily (weekly windows after
    its first week), H five days only (too few to decide), I daily for three weeks and then
    hourly (a dense week: daily windows again), J hourly, silent for ten days, then daily
    (decided anew: weekly). The array path changes them at the same rows as evaluate, with
    the same alerts and state; also with a warm-up shorter than the probe."""
    hourly = _constructed()
    rng = np.random.default_rng(11)
    start = 1.6e9 - 200 * 86400
    returns = 0.01 * rng.standard_normal(320)
    returns[280:300] *= 8
    parts = {
        "G": (start + np.arange(320) * 86400 + 3600 * rng.uniform(0, 2, 320),
              100 * np.exp(np.cumsum(returns))),
        "H": (1.6e9 + np.arange(5) * 86400.0, np.ones(5)),
        "I": (np.concatenate([start + np.arange(21) * 86400.0,
                              start + 21 * 86400 + np.arange(60 * 24) * 3600.0]), None),
        "J": (np.concatenate([start + np.arange(30 * 24) * 3600.0,
                              start + 40 * 86400 + np.arange(60) * 86400.0]), None),
    }  # fmt: skip
    symbol, time, price = [hourly.symbol], [hourly.time], [hourly.price]
    for name, (t, p) in parts.items():
        symbol.append(np.array([name] * len(t)))
        time.append(t)
        price.append(p if p is not None else 1 + 0.002 * rng.standard_normal(len(t)))
    every = np.concatenate(time)
    order = np.argsort(every, kind="stable")
    series = PriceSeries(np.concatenate(symbol)[order], every[order], np.concatenate(price)[order])
    for params in ({}, {"min_history": 3, "width": 0.8}):
        assert _same(series, {"volatility": params}, ["volatility"]) > 0
        detector = VolatilityDetector(**params)
        alerts = replay(series, [detector])
        assert any(a.subject == "G" and "168 h window" in a.explanation for a in alerts)
        # H's five days (four ended) decide a probe of three windows, not one of seven
        assert detector.sparse_subjects() == (["G", "H", "J"] if params else ["G", "J"])
        assert detector.seconds("I") == 86400  # back to daily windows once hourly
        early = VolatilityDetector(**params)
        cut = series.time < start + 20 * 86400
        replay(PriceSeries(series.symbol[cut], series.time[cut], series.price[cut]), [early])
        assert early.seconds("I") == 7 * 86400  # ... after weekly ones while daily


def _constructed() -> PriceSeries:
    """Six assets, 60 days hourly at unaligned minutes, with every kind of trouble."""
    rng = np.random.default_rng(7)
    symbols, times, prices = [], [], []
    base = 1.6e9
    for k, name in enumerate(("A", "B", "C", "D", "E", "F")):
        hours = np.arange(60 * 24, dtype=np.float64)
        t = base + hours * HOUR + 60.0 * (7 * k + 3)  # feeds do not tick together
        p = 1.0 + 0.001 * rng.standard_normal(len(hours))
        if name == "A":
            p[30 * 24 : 30 * 24 + 10] = 0.95  # a real depeg, then back
            p[40 * 24] = 0.5  # a one-point glitch
            p[52 * 24 : 52 * 24 + 3] = 1.04  # a premium
        if name in ("A", "B", "C", "D"):
            p[45 * 24] = 0.975  # the quote moves for all at once, for an hour
            p[47 * 24 : 47 * 24 + 6] = 0.97  # and once for six hours
        if name == "E":
            p[35 * 24 : 35 * 24 + 30] = 1.0  # a pinned answer, repeated
            p[38 * 24 : 38 * 24 + 30] = 0.5  # at its minimum answer
        if name == "F":
            p = 50 * np.exp(np.cumsum(0.01 * rng.standard_normal(len(hours))))  # not pegged
            p[44 * 24 : 46 * 24] *= np.exp(np.cumsum(0.08 * rng.standard_normal(48)))
        keep = np.ones(len(hours), dtype=bool)
        if name == "B":
            keep[50 * 24 : 50 * 24 + 12] = False  # a stale feed
        if name == "C":
            keep[20 * 24 : 23 * 24] = False  # a gap of days
        symbols += [name] * int(keep.sum())
        times.append(t[keep])
        prices.append(p[keep])
    time, price = np.concatenate(times), np.concatenate(prices)
    order = np.argsort(time, kind="stable")
    return PriceSeries(np.array(symbols)[order], time[order], price[order])


PARAMS: dict[str, dict[str, Any]] = {
    "ratio": {"pairs": {"A": "B", "C": "D", "D": "B"}},
    "feed-health": {"heartbeats": {"D": 7200.0}, "bounds": {"E": [0.6, 5.0]}},
    "volatility": {"min_history": 10, "width": 0.8},
}


def test_the_shipped_samples_give_the_same_alerts_and_state() -> None:
    feed = read_prices(sample_path())
    assert _same(feed, {"ratio": {"pairs": {"FEI": "USDC"}}}) > 0
    assert _same(feed, {"volatility": {"width": 0.8}, "depeg": {"premium": True}}) > 0
    _same(read_prices(DATA / "sample_prices.csv"), {})


def test_every_rule_fires_and_both_paths_agree() -> None:
    series = _constructed()
    fast = replay(series, load_detectors(ALL, PARAMS))
    kinds = {(a.detector, a.kind) for a in fast}
    assert {("depeg", "depeg"), ("feed-health", "stale"), ("feed-health", "pinned")} <= kinds
    assert {("ratio", "discount"), ("volatility", "volatility")} <= kinds
    assert any(a.evidence.get("shared_with_other_pegged_assets") for a in fast)
    _same(series, PARAMS)
    _same(series, {**PARAMS, "depeg": {"premium": True, "confirm": 3}})


def test_automatic_pairs_give_the_same_alerts_and_state() -> None:
    """Pairs read from the symbols (stETH/WETH with a discount, aDAI/DAI with DAI at $1, a
    wrapped coin), found on the array path from the chunk's subjects and row by row as each
    subject first appears, next to a pair the user names."""
    rng = np.random.default_rng(5)
    hours = np.arange(40 * 24, dtype=np.float64)
    weth = 2000 * np.exp(np.cumsum(0.01 * rng.standard_normal(len(hours))))
    steth = weth * (1 + 0.0005 * rng.standard_normal(len(hours)))
    steth[25 * 24 : 26 * 24] *= 0.94
    dai = 1 + 0.001 * rng.standard_normal(len(hours))
    adai = dai * (1 + 0.0005 * rng.standard_normal(len(hours)))
    adai[30 * 24 : 31 * 24] *= 0.95
    legs = {"WETH": (weth, 60.0), "stETH": (steth, 300.0), "ETH": (weth * 1.0001, 90.0),
            "DAI": (dai, 120.0), "ADAI": (adai, 420.0)}  # fmt: skip
    symbols = np.concatenate([[name] * len(hours) for name in legs])
    time = np.concatenate([1.6e9 + hours * HOUR + offset for _, offset in legs.values()])
    price = np.concatenate([p for p, _ in legs.values()])
    order = np.argsort(time, kind="stable")
    series = PriceSeries(symbols[order], time[order], price[order])
    fast = replay(series, load_detectors(["ratio"], {}))
    assert {a.subject for a in fast} == {"stETH/ETH"}  # not aDAI/DAI: DAI is at $1
    assert _same(series, {}, ["ratio"]) == 1
    assert _same(series, {"ratio": {"pairs": {"ADAI": "DAI"}}}, ["ratio"]) == 2
    # a pair whose legs never come within align_seconds forms no ratio (was an IndexError)
    apart = {"pairs": {"ADAI": "DAI"}, "align_seconds": 60.0, "auto_pairs": False}
    assert _same(series, {"ratio": apart}, ["ratio"]) == 0


def test_a_zero_price_and_a_restored_state_take_the_row_by_row_path() -> None:
    series = _constructed()
    price = series.price.copy()
    price[np.flatnonzero(series.symbol == "F")[100]] = 0.0
    broken = PriceSeries(series.symbol, series.time, price)
    _same(broken, PARAMS, ["feed-health", "volatility"])
    cut = len(series) // 2
    head = PriceSeries(series.symbol[:cut], series.time[:cut], series.price[:cut])
    tail = PriceSeries(series.symbol[cut:], series.time[cut:], series.price[cut:])
    first = load_detectors(ALL, PARAMS)
    alerts = replay(head, first)
    resumed = [type(d).from_state(json.loads(json.dumps(d.to_state()))) for d in first]
    alerts += replay(tail, resumed)
    whole = load_detectors(ALL, PARAMS)
    assert alerts == replay_streaming(series, whole)
    for one, other in zip(resumed, whole, strict=True):
        assert _state(one) == _state(other)


@pytest.mark.skipif(not PRICES.is_file(), reason="../shared/datasets/token_prices is absent")
def test_a_slice_of_the_dev_price_set_gives_the_same_alerts_and_state() -> None:
    series = read_prices(PRICES)
    # the first 150,000 prices: the 2021 stress days, all 35 assets
    cut = 150_000
    part = PriceSeries(series.symbol[:cut], series.time[:cut], series.price[:cut])
    pairs = {s: "USDC" for s in ("DAI", "USDT", "BUSD", "TUSD", "FRAX", "LUSD", "sUSD", "FEI")}
    assert _same(part, {"ratio": {"pairs": pairs}}) > 0


def test_a_day_with_far_more_prices_than_the_others_gives_the_same_result() -> None:
    # 200 hourly days, then one day at 5,000 prices: the per-window sums are taken window by
    # window there, not in a grid of 201 x 5,000
    rng = np.random.default_rng(11)
    hourly = 1.6e9 + np.arange(200 * 24, dtype=np.float64) * HOUR
    dense = hourly[-1] + HOUR + np.arange(5000, dtype=np.float64) * 17.0
    time = np.concatenate((hourly, dense))
    price = 20 * np.exp(np.cumsum(0.004 * rng.standard_normal(len(time))))
    price[len(hourly) + 2500 :] *= np.exp(np.cumsum(0.01 * rng.standard_normal(2500)))
    series = PriceSeries(np.array(["G"] * len(time)), time, price)
    assert _same(series, {"volatility": {"width": 0.8}}, ["volatility", "feed-health"]) > 0


def test_daily_feeds_give_the_same_result() -> None:
    """Daily prices (their learning window counted in days), one feed with a day missing now
    and then, one with a depeg: the array path counts the days as ``evaluate`` does."""
    rng = np.random.default_rng(5)
    symbols, times, prices = [], [], []
    for k, name in enumerate(("DA", "DB", "DC")):
        days = np.arange(120, dtype=np.float64)
        if name == "DB":
            days = days[(days % 9 != 4)]  # a day missing now and then
        price = 1.0 + 0.002 * rng.standard_normal(len(days))
        if name == "DC":
            price[70:76] = [0.97, 0.95, 0.94, 0.96, 0.97, 0.99]
        symbols += [name] * len(days)
        times.append(1.6e9 + days * 86400.0 + 600.0 * k)
        prices.append(price)
    time = np.concatenate(times)
    order = np.argsort(time, kind="stable")
    series = PriceSeries(np.array(symbols)[order], time[order], np.concatenate(prices)[order])
    assert _same(series, {}, ["depeg", "feed-health"]) > 0
