"""The volatility forecast detector on the shipped real sample (FEI and USDC, hourly,
2022-05-20 to 2022-08-25), its state, and its backtest against the naive baselines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from proofmind.monitor.feedreplay import sample_path
from proofmind.monitor.prices import PriceSeries, read_prices
from proofmind.monitor.registry import load_detectors
from proofmind.monitor.replay import replay
from proofmind.monitor.volatility import VolatilityDetector, backtest


def _day(time: float) -> str:
    return datetime.fromtimestamp(time, UTC).date().isoformat()


def test_alerts_on_the_sample_fall_on_its_stress_days() -> None:
    series = read_prices(sample_path())
    (detector,) = load_detectors(["volatility"])
    alerts = replay(series, [detector])
    days = [(a.subject, _day(a.time)) for a in alerts]
    # the first day of FEI's depeg (21 June 2022); nothing on USDC. The later stress days
    # (22 and 30 June, 20 August after the shutdown announcement) come within the bound of a
    # forecast that has learnt from 21 June: a narrower interval flags 20 August too
    assert days == [("FEI", "2022-06-21")]
    narrow = replay(series, [VolatilityDetector(width=1.0)])
    assert ("FEI", "2022-08-20") in [(a.subject, _day(a.time)) for a in narrow]
    first = min(series.time)
    assert all(a.time - first > 21 * 86400 for a in alerts)  # not during the warm-up
    for alert in alerts:
        evidence = alert.evidence
        assert evidence["realised_volatility"] > evidence["upper_bound"] > 0
    assert isinstance(detector, VolatilityDetector)
    forecast = detector.forecast("USDC")
    assert forecast is not None and 0 < forecast[0] < forecast[1] < 0.05


def test_state_round_trip_gives_the_same_alerts() -> None:
    series = read_prices(sample_path())
    whole = replay(series, [VolatilityDetector()])
    cut = len(series) // 2
    first = VolatilityDetector()
    head = replay(PriceSeries(series.symbol[:cut], series.time[:cut], series.price[:cut]), [first])
    restored = VolatilityDetector.from_state(json.loads(json.dumps(first.to_state())))
    tail = replay(
        PriceSeries(series.symbol[cut:], series.time[cut:], series.price[cut:]), [restored]
    )
    assert [a.key for a in head + tail] == [a.key for a in whole]


def test_one_glitch_is_not_volatility() -> None:
    hours = np.arange(40 * 24, dtype=np.float64)
    rng = np.random.default_rng(3)
    prices = 1 + 0.001 * rng.standard_normal(len(hours))
    prices[30 * 24 + 5] = 0.5  # one bad print
    series = PriceSeries(np.array(["X"] * len(hours)), 1.6e9 + hours * 3600, prices)
    assert replay(series, [VolatilityDetector()]) == []


def test_backtest_scores_the_forecast_and_the_baselines() -> None:
    series = read_prices(sample_path())
    mask = series.symbol == "USDC"
    scores = backtest(series.time[mask], series.price[mask])
    assert set(scores) == {"smoothing", "autoets", "rolling_std", "ewma"}
    quick = backtest(series.time[mask], series.price[mask], reference=False)
    assert set(quick) == {"smoothing", "rolling_std", "ewma"}
    assert quick["smoothing"].summary() == scores["smoothing"].summary()
    for score in scores.values():
        summary = score.summary()
        assert summary["windows"] > 60 and 0 < summary["rmse_log_vol"] < 2
        assert 0 <= summary["breach_rate"] <= 0.1


def test_replay_says_when_prices_are_too_sparse_for_its_windows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One price a day gives no window of six returns: the forecast never starts. The replay
    says so, and how to give it weekly windows; not for hourly prices, nor weekly windows."""
    from proofmind.cli.main import main
    from proofmind.cli.monitor_run import too_sparse_for

    series = read_prices(sample_path())
    day = (series.time // 86400).astype(np.int64)
    first = np.ones(len(series), dtype=bool)
    for symbol in ("FEI", "USDC"):
        rows = np.flatnonzero(series.symbol == symbol)
        first[rows[1:]] = day[rows[1:]] != day[rows[:-1]]
    daily = PriceSeries(series.symbol[first], series.time[first], series.price[first])
    assert too_sparse_for(VolatilityDetector(), series) == ""
    note = too_sparse_for(VolatilityDetector(), daily)
    assert note.startswith("volatility: no forecast for FEI, USDC: their 24 h windows hold a ")
    assert "median of 1 price(s)" in note and '"window_seconds": 604800' in note
    assert too_sparse_for(VolatilityDetector(window_seconds=7 * 86400, min_history=8), daily) == ""
    path = tmp_path / "daily.csv"
    rows = zip(daily.symbol.tolist(), daily.time.tolist(), daily.price.tolist(), strict=True)
    path.write_text(
        "symbol,timestamp,usd_price\n" + "".join(f"{s},{t * 1000:.0f},{p}\n" for s, t, p in rows)
    )
    assert main(["monitor", "replay", str(path), "-d", "volatility"]) == 0
    assert "volatility: no forecast for FEI, USDC" in capsys.readouterr().err
    assert main(["monitor", "replay", str(sample_path()), "-d", "volatility"]) == 0
    assert "no forecast" not in capsys.readouterr().err
