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


def test_daily_prices_get_weekly_windows_and_the_replay_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One price a day gives no daily window of six returns: the forecast would never start.
    An asset so sparse gets weekly windows after its first week, per asset (an hourly one
    beside it keeps its daily windows), and the replay says which (with the warm-up the
    history is too short for); with sparse_window_seconds 0 it keeps its window and the
    replay names the assets left without a forecast."""
    from proofmind.cli.main import main
    from proofmind.cli.monitor_run import volatility_note

    series = read_prices(sample_path())
    daily = _first_of_each_day(series)
    hourly = VolatilityDetector()
    replay(series, [hourly])
    assert hourly.sparse_subjects() == [] and volatility_note(hourly, series) == ""
    weekly = VolatilityDetector()
    replay(daily, [weekly])
    assert weekly.sparse_subjects() == ["FEI", "USDC"] and weekly.seconds("FEI") == 7 * 86400
    note = volatility_note(weekly, daily)
    assert note.startswith("volatility: FEI, USDC: about one price a day or fewer, too few for "
                           "24 h windows (6 returns each): 168 h windows")  # fmt: skip
    assert "its warm-up of 21 windows needs about 22 of them, these prices span 14" in note
    mixed = PriceSeries(*(np.concatenate([a[series.symbol == "FEI"], b[daily.symbol == "USDC"]])
                          for a, b in ((series.symbol, daily.symbol), (series.time, daily.time),
                                       (series.price, daily.price))))  # fmt: skip
    both = VolatilityDetector()
    replay(mixed, [both])
    assert both.sparse_subjects() == ["USDC"] and both.seconds("FEI") == 86400
    kept = VolatilityDetector(sparse_window_seconds=0)
    replay(daily, [kept])
    note = volatility_note(kept, daily)
    assert kept.sparse_subjects() == [] and note.startswith("volatility: no forecast for FEI, USDC")
    assert "median of 1 price(s)" in note and '"window_seconds": 604800' in note
    # a long daily series: weekly windows forecast it, and a volatile month breaks out
    path = tmp_path / "abc_usd.csv"
    start = _daily_with_a_volatile_month(path)
    out = tmp_path / "alerts.jsonl"
    assert main(["monitor", "replay", str(path), "-d", "volatility", "-o", str(out)]) == 0
    assert "abc: about one price a day or fewer" in capsys.readouterr().err
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert alerts and all(280 <= (a["time"] - start) / 86400 < 310 for a in alerts)
    assert "168 h window" in alerts[0]["explanation"]
    argv = ["monitor", "replay", str(path), "-d", "volatility", "-o", str(out),
            "--params", '{"volatility": {"sparse_window_seconds": 0}}']  # fmt: skip
    assert main(argv) == 0
    assert "volatility: no forecast for abc" in capsys.readouterr().err
    assert out.read_text() == ""


def _daily_with_a_volatile_month(path: Path) -> float:
    """320 daily prices of ``abc`` from 2021-01-01, eight times as volatile on days 280-299,
    written to ``path``; their start."""
    rng = np.random.default_rng(5)
    returns = 0.01 * rng.standard_normal(320)
    returns[280:300] *= 8
    start = 1_609_459_200.0  # 2021-01-01
    path.write_text("timestamp,price\n" + "".join(
        f"{int((start + d * 86400) * 1000)},{p}\n"
        for d, p in enumerate(100 * np.exp(np.cumsum(returns)))))  # fmt: skip
    return start


def _first_of_each_day(series: PriceSeries) -> PriceSeries:
    """Each asset's first price of each day (UTC)."""
    day = (series.time // 86400).astype(np.int64)
    first = np.ones(len(series), dtype=bool)
    for symbol in set(series.symbol.tolist()):
        rows = np.flatnonzero(series.symbol == symbol)
        first[rows[1:]] = day[rows[1:]] != day[rows[:-1]]
    return PriceSeries(series.symbol[first], series.time[first], series.price[first])
