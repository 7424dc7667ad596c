"""Backtest of the monitor's volatility forecast (online grid-chosen exponential smoothing of
daily log realised volatility) against AutoETS refitted every day (the model it replaced) and two
naive baselines: the rolling standard deviation of the last 7 days' returns, and RiskMetrics EWMA
(λ = 0.94 per hourly return).

Per asset: one-day-ahead forecasts after a 21-day warm-up; RMSE of log volatility, QLIKE on
variance, and the breach rate of the 99% interval's upper bound (the alert threshold; nominal
0.5%). Printed per asset, then the medians over assets and the assets where the smoothing
beats each other method, for the tuning and evaluation splits of docs/monitor.md.

With ``--daily`` the prices are first cut to one a day (each asset's first price of each UTC
day, as CoinGecko's daily export snaps them at 00:00) and the windows are weeks (7 returns
each; the warm-up 21 weeks), as `monitor replay` runs the detector on a daily series.

Usage: python benchmarks/eval_volatility.py [--daily] [PRICES]
  (default: ../shared/datasets/token_prices/prices.csv.gz, else the shipped feed sample)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from proofmind.monitor.feedreplay import sample_path
from proofmind.monitor.prices import read_prices
from proofmind.monitor.volatility import backtest

DEV = Path(__file__).resolve().parents[1].parent / "shared/datasets/token_prices/prices.csv.gz"
TUNE = set(
    [
        "1INCH",
        "BAT",
        "BUSD",
        "CRV",
        "DAI",
        "ENJ",
        "GUSD",
        "LINK",
        "MANA",
        "RAI",
        "UNI",
        "USDC",
        "WBTC",
        "ZRX",
        "renFIL",
        "sUSD",
        "xSUSHI",
    ]
)
METHODS = ("smoothing", "autoets", "rolling_std", "ewma")
WEEK = 7 * 86400.0  # a daily series's window: 7 returns
KEYS = ("rmse_log_vol", "qlike", "breach_rate")


def first_of_day(times: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which of one asset's prices (sorted by time, seconds) is its first of a UTC day."""
    day = np.floor(times / 86400.0)
    keep = np.ones(len(times), dtype=bool)
    keep[1:] = day[1:] != day[:-1]
    return keep


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--daily"]
    daily = len(args) < len(sys.argv) - 1
    path = Path(args[0]) if args else (DEV if DEV.exists() else sample_path())
    series = read_prices(path)
    window = WEEK if daily else 86400.0
    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for symbol in sorted(set(series.symbol.tolist())):
        mask = series.symbol == symbol
        times, prices = series.time[mask], series.price[mask]
        if daily:
            kept = first_of_day(times)
            times, prices = times[kept], prices[kept]
        scores = backtest(times, prices, window_seconds=window)
        if scores["smoothing"].windows == 0:
            print(f"{symbol:7s} no forecast (too few {'weeks' if daily else 'days'})")
            continue
        results[symbol] = {m: scores[m].summary() for m in METHODS}
        cells = " | ".join(
            f"{m} " + " ".join(f"{results[symbol][m][k]:.4f}" for k in KEYS) for m in METHODS
        )
        print(f"{symbol:7s} n={results[symbol]['smoothing']['windows']:4d} {cells}")
    print(f"({' '.join(KEYS)} per method; {time.perf_counter() - started:.1f} s)")
    for split, members in (
        ("all", set(results)),
        ("tune", TUNE & set(results)),
        ("eval", set(results) - TUNE),
    ):
        if not members:
            continue
        medians = {
            m: [round(statistics.median(results[s][m][k] for s in members), 4) for k in KEYS]
            for m in METHODS
        }
        wins = {
            f"{k} vs {m}": sum(results[s]["smoothing"][k] < results[s][m][k] for s in members)
            for k in KEYS[:2]
            for m in METHODS[1:]
        }
        print(f"{split}: {len(members)} assets, medians {medians}")
        pooled = {}  # all the split's windows together: breaches are rare on weekly windows
        for m in METHODS:
            windows = sum(results[s][m]["windows"] for s in members)
            breaches = sum(round(results[s][m]["breach_rate"] * results[s][m]["windows"])
                           for s in members)  # fmt: skip
            pooled[m] = f"{breaches}/{windows} = {breaches / max(1, windows):.2%}"
        print(f"  breaches of the upper 99% bound, pooled: {pooled}")
        print(f"  assets where the smoothing is better: {wins}")


if __name__ == "__main__":
    main()
