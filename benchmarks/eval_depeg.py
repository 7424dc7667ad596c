"""The depeg guard on the dev price set: per-asset figures, the false alerts, candidate rules.

Runs the same replay and scoring as ``proofmind monitor replay --events`` (``replay``,
``evaluate_alerts``) and prints, in Markdown:

- ``table``: the per-asset table of docs/monitor.md (events, detected, delay, false alerts per
  asset-year) for the shipped detector, with the tuning / evaluation split of each asset;
- ``false``: every alert outside the windows of its asset, with the episode around it: the run
  of prices outside ±2% (one short return to the band inside it bridged), its duration, the
  lowest price in it;
- ``rules``: candidate rules (detector parameters) against the defaults: false alerts on the
  tuning and evaluation splits, per asset, recall and delay on the windows, and the delay each
  costs on constructed depegs of a quiet hourly feed (the cost the dev data cannot show: it
  has one scored event);
- ``systemic``: the delay of a depeg of five coins at once (the common-mode wait applies) on
  simulated feeds whose prices come 55 to 65 minutes apart, as the dev set's mostly do,
  for several waits (``common_mode_seconds``); needs no data.

    python benchmarks/eval_depeg.py [table|false|rules|systemic] [--prices P] [--events E]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from proofmind.monitor.api import PriceObservation
from proofmind.monitor.depeg import DepegDetector
from proofmind.monitor.prices import PriceSeries, read_prices
from proofmind.monitor.replay import (
    EventWindow,
    evaluate_alerts,
    is_escalation,
    read_events,
    replay,
)

HERE = Path(__file__).resolve().parent.parent
PRICES = HERE.parent / "shared" / "datasets" / "token_prices" / "prices.csv.gz"
EVENTS = HERE / "src" / "proofmind" / "monitor" / "data" / "depeg_events.csv"
HOUR = 3600.0
# the split the detector's choices were made on (docs/monitor.md, "Threshold choice")
_TUNING = "1INCH BAT BUSD CRV DAI ENJ GUSD LINK MANA RAI UNI USDC WBTC ZRX renFIL sUSD xSUSHI"
TUNING = set(_TUNING.split())
# candidate rules, as detector parameters; none is adopted unless the tuning split supports it
RULES: dict[str, dict[str, Any]] = {
    "shipped defaults": {},
    "before the latest-price and noisy-feed rules": {
        "confirm_latest": False,
        "noisy_fraction": 1e9,
    },
    "depth x duration rule on every feed (noisy_fraction 0)": {"noisy_fraction": 0.0},
    "three confirmations": {"confirm": 3},
    "episode ends after 7 days back at peg (recover 168 h)": {"recover_seconds": 168 * HOUR},
    "alert from 3% below (threshold 0.03)": {"threshold": 0.03},
}


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def table(series: PriceSeries, events: list[EventWindow]) -> None:
    alerts = replay(series, [DepegDetector()])
    report = evaluate_alerts(alerts, events, series)
    print("| asset | split | events | detected | delay (h) | false alerts | per asset-year |")
    print("|---|---|---|---|---|---|---|")
    rows = [s for s in report.subjects.values() if s.events or s.false_alerts or s.unscored]
    for s in rows:
        events_cell = f"{s.events}" + (f" (+{len(s.unscored)} not scored)" if s.unscored else "")
        delay = ", ".join(f"{d:.1f}" for d in s.delays_hours) or "–"
        detected = str(s.detected) if s.events else "–"
        split = "tune" if s.subject in TUNING else "eval"
        print(
            f"| {s.subject} | {split} | {events_cell} | {detected} | {delay} | "
            f"{s.false_alerts} | {s.false_per_year:.2f} |"
        )
    for name, chosen in (("tuning split", TUNING), ("evaluation split", None)):
        part = [
            s for s in report.subjects.values() if (s.subject in TUNING) == (chosen is not None)
        ]
        false = sum(s.false_alerts for s in part)
        years = sum(s.years for s in part)
        print(
            f"| {name} ({years:.1f} asset-years) | | {sum(s.events for s in part)} | "
            f"{sum(s.detected for s in part)} | | {false} | {false / years:.2f} |"
        )
    summary = report.summary()
    print(
        f"| **all {len(report.subjects)}** | | **{summary['events']}** | **{summary['detected']}**"
        f" | **median {summary['median_delay_hours'] or 0:.1f}** | **{summary['false_alerts']}**"
        f" | **{summary['false_per_asset_year']:.2f}** |"
    )


def false_alerts(series: PriceSeries, events: list[EventWindow], gap: float = 3.0) -> None:
    alerts = replay(series, [DepegDetector()])
    print("| asset | alert (UTC) | price | median | outside ±2% (UTC) | hours | prices out | min |")
    print("|---|---|---|---|---|---|---|---|")
    for alert in alerts:
        if is_escalation(alert):
            continue  # its episode's first alert is the one counted (and listed)
        windows = [e for e in events if e.subject == alert.subject]
        if any(w.start <= alert.time <= w.end for w in windows):
            continue
        mask = series.symbol == alert.subject
        times, prices = series.time[mask], series.price[mask]
        outside = np.abs(prices - 1.0) > 0.02
        k = int(np.searchsorted(times, alert.time, side="right")) - 1
        first = last = k
        while first > 0 and (outside[first - 1] or _near_outside(times, outside, first - 1, -gap)):
            first -= 1
        while last + 1 < len(times) and (
            outside[last + 1] or _near_outside(times, outside, last + 1, gap)
        ):
            last += 1
        while first < last and not outside[first]:
            first += 1
        while last > first and not outside[last]:
            last -= 1
        run = prices[first : last + 1]
        print(
            f"| {alert.subject} | {_day(alert.time)} | {alert.evidence['price']:.4f} | "
            f"{alert.evidence['median_deviation']:+.1%} | {_day(times[first])} → "
            f"{_day(times[last])[11:]} | {(times[last] - times[first]) / HOUR:.0f} | "
            f"{int(outside[first : last + 1].sum())}/{last - first + 1} | {run.min():.4f} |"
        )


def _near_outside(
    times: NDArray[np.float64], outside: NDArray[np.bool_], j: int, hours: float
) -> bool:
    """Is a price outside ±2% within ``hours`` of price ``j`` (forward if > 0, else back)?"""
    if hours > 0:
        stop = int(np.searchsorted(times, times[j] + hours * HOUR, side="right"))
        return bool(outside[j + 1 : stop].any())
    begin = int(np.searchsorted(times, times[j] + hours * HOUR, side="left"))
    return bool(outside[begin:j].any())


def constructed_delays(params: dict[str, Any]) -> list[str]:
    """Hours from the first price outside ±2% to the alert, on a quiet hourly feed (20 days at
    the peg, ±0.1% noise) for a step to 0.975, 0.97, 0.95 and a slide of 0.5% per hour."""
    shapes: dict[str, Callable[[int], float]] = {
        "2.5% step": lambda h: 0.975,
        "3% step": lambda h: 0.97,
        "5% step": lambda h: 0.95,
        "0.5%/h slide": lambda h: max(0.9, 0.99 - 0.005 * h),
    }
    out = []
    for label, shape in shapes.items():
        rng = random.Random(3)
        detector = DepegDetector(**params)
        first = alert = None
        for h in range(20 * 24 + 48):
            t = h * HOUR + rng.uniform(0, 600)
            price = 1 + rng.gauss(0, 0.001) if h < 20 * 24 else shape(h - 20 * 24)
            if first is None and abs(price - 1) > 0.02:
                first = t
            if detector.evaluate(PriceObservation("Q", t, price)) and alert is None:
                alert = t
        hours = "none" if alert is None or first is None else f"{(alert - first) / HOUR:.0f} h"
        out.append(f"{label} {hours}")
    return out


def systemic(trials: int = 200, coins: int = 5) -> None:
    """Delays of simultaneous depegs (every coin to 0.95 for two days, 20 days in) on feeds
    with 55-65 minutes between prices, per common-mode wait: median, share over 3 h, max."""
    print("| common_mode_seconds | alerts | median delay (h) | over 3 h | max (h) |")
    print("|---|---:|---:|---:|---:|")
    for wait in (2.5 * HOUR, 2.0 * HOUR, 1.5 * HOUR):
        rng = np.random.default_rng(0)
        delays = []
        for _ in range(trials):
            events = []
            for k in range(coins):
                times = np.cumsum(rng.uniform(3300, 3900, 30 * 24)) + rng.uniform(0, HOUR)
                onset = 20 * 86400 + rng.uniform(0, HOUR)
                for t in times:
                    low = onset <= t < onset + 2 * 86400
                    price = 0.95 if low else 1 + 0.0005 * rng.standard_normal()
                    events.append(PriceObservation(f"S{k}", float(t), float(price)))
            events.sort(key=lambda e: e.time)
            detector = DepegDetector(common_mode_seconds=wait)
            for event in events:
                for alert in detector.evaluate(event):
                    delays.append((alert.time - alert.evidence["first_outside_time"]) / HOUR)
        found = np.array(delays)
        print(
            f"| {wait / HOUR:g} h | {len(found)} | {np.median(found):.2f} | "
            f"{np.mean(found > 3):.0%} | {found.max():.2f} |"
        )


def rules(series: PriceSeries, events: list[EventWindow]) -> None:
    print(
        "| rule | false: tuning / evaluation | per asset (false alerts) | recall, delay (h) |"
        " delay on a quiet hourly feed |"
    )
    print("|---|---|---|---|---|")
    for label, params in RULES.items():
        report = evaluate_alerts(replay(series, [DepegDetector(**params)]), events, series)
        tune = sum(s.false_alerts for s in report.subjects.values() if s.subject in TUNING)
        rest = sum(s.false_alerts for s in report.subjects.values() if s.subject not in TUNING)
        per = ", ".join(
            f"{s.subject} {s.false_alerts}" for s in report.subjects.values() if s.false_alerts
        )
        summary = report.summary()
        delays = [f"{d:.1f}" for s in report.subjects.values() for d in s.delays_hours]
        print(
            f"| {label} `{json.dumps(params)}` | {tune} / {rest} | {per} | "
            f"{summary['detected']}/{summary['events']}, {', '.join(delays) or '–'} | "
            f"{'; '.join(constructed_delays(params))} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parts = ["table", "false", "rules", "systemic"]
    parser.add_argument("part", nargs="?", choices=parts, default="table")
    parser.add_argument("--prices", type=Path, default=PRICES)
    parser.add_argument("--events", type=Path, default=EVENTS)
    args = parser.parse_args()
    if args.part == "systemic":
        systemic()
        return
    if not args.prices.is_file():
        parser.exit(2, f"error: price file {args.prices} does not exist (give --prices)\n")
    series = read_prices(args.prices)
    events = read_events(args.events)
    {"table": table, "false": false_alerts, "rules": rules}[args.part](series, events)


if __name__ == "__main__":
    main()
