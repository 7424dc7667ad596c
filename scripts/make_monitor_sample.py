"""Write the synthetic price sample shipped with the monitor (deterministic, seeded).

Usage: python scripts/make_monitor_sample.py src/proofmind/monitor/data/sample_prices.csv

Four hourly feeds over 45 days, with jittered timestamps like an aggregator's:
- USDX, a dollar stablecoin: ±0.1% noise, two one-print glitches (0.90 and 1.12), and a depeg
  from day 30 (down to 0.93 within 6 hours, back above 0.99 over two days);
- USDY, a calm stablecoin, with a 30-hour gap in its updates (a stale feed) on day 20;
- TOKA, a volatile token that trades around $1 (it must never alert as a depeg);
- FEEDZ, a stablecoin feed that stops moving and repeats 0.9950 for two days (pinned).
"""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path

START_MS = 1_672_531_200_000  # 2023-01-01T00:00Z
HOURS = 45 * 24


def _stamp(hour: int, rng: random.Random) -> int:
    return START_MS + hour * 3_600_000 + rng.randint(0, 600_000)  # up to 10 min late


def rows() -> list[tuple[str, int, float]]:
    rng = random.Random(13)
    out: list[tuple[str, int, float]] = []
    for hour in range(HOURS):
        price = 1.0 + rng.gauss(0, 0.001)
        if 30 * 24 <= hour < 32 * 24 + 12:
            since = hour - 30 * 24
            dip = 0.07 * min(1.0, since / 6) * (1.0 if since < 12 else math.exp(-(since - 12) / 12))
            price -= dip
        price = {200: 0.90, 400: 1.12}.get(hour, price)
        out.append(("USDX", _stamp(hour, rng), round(price, 6)))
    for hour in range(HOURS):
        if 20 * 24 <= hour < 20 * 24 + 30:
            continue
        out.append(("USDY", _stamp(hour, rng), round(1.0 + rng.gauss(0, 0.0008), 6)))
    price = 1.0
    for hour in range(HOURS):
        price *= math.exp(rng.gauss(0, 0.012))
        out.append(("TOKA", _stamp(hour, rng), round(price, 6)))
    for hour in range(HOURS):
        pinned = 25 * 24 <= hour < 27 * 24
        value = 0.995 if pinned else round(1.0 + rng.gauss(0, 0.0008), 6)
        out.append(("FEEDZ", _stamp(hour, rng), value))
    return sorted(out)


def main(path: str) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["symbol", "timestamp", "usd_price"])
        writer.writerows(rows())


if __name__ == "__main__":
    main(sys.argv[1])
