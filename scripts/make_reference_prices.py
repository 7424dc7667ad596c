"""Cut the reference prices of underlyings that `proofmind monitor replay` falls back on.

Usage: python scripts/make_reference_prices.py ../shared/datasets/token_prices/prices.csv.gz \
    src/proofmind/monitor/data/reference_prices.csv.gz

WETH and WBTC, the hourly USD prices (CoinGecko, via bhemen/aave-data) of the dev price set,
2021-01-01 to 2023-02-25, each price rounded to 7 significant digits (a ratio changes by at
most 1e-6, four orders below any discount threshold). A price file that holds a derivative of
ETH or BTC (stETH, renBTC…) but neither underlying gets its ratio from these.
The output is byte-for-byte reproducible (gzip without a name or time stamp).
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

from proofmind.monitor.prices import write_prices_gz

SYMBOLS = ("WETH", "WBTC")


def main(source: Path, target: Path) -> None:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["symbol"] in SYMBOLS]
    rows.sort(key=lambda row: (int(row["timestamp"]), SYMBOLS.index(row["symbol"])))
    count = write_prices_gz(
        ([r["symbol"], r["timestamp"], f"{float(r['usd_price']):.7g}"] for r in rows), target
    )
    print(f"{count} prices → {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
