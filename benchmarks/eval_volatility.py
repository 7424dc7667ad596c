"""Backtest of the monitor's volatility forecast (online grid-chosen exponential smoothing of
daily log realised volatility) against AutoETS refitted every day (the model it replaced) and two
naive baselines: the rolling standard deviation of the last 7 days' returns, and RiskMetrics EWMA
(λ = 0.94 per hourly return).

Per asset: one-day-ahead forecasts after a 21-day warm-up; RMSE of log volatility, QLIKE on
variance, and the breach rate of the 99% interval's upper bound (the alert threshold; nominal
0.5%). Printed per asset, then the medians over assets and the assets where the smoothing
beats each other method, for the tuning and evaluation splits of docs/monitor.md.

Usage: python benchmarks/eval_volatility.py [PRICES]
  (default: ../shared/datasets/token_prices/prices.csv.gz, else the shipped feed sample)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

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
KEYS = ("rmse_log_vol", "qlike", "breach_rate")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else (DEV if DEV.exists() else sample_path())
    series = read_prices(path)
    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for symbol in sorted(set(series.symbol.tolist())):
        mask = series.symbol == symbol
        scores = backtest(series.time[mask], series.price[mask])
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
        print(f"  assets where the smoothing is better: {wins}")


if __name__ == "__main__":
    main()
