"""Cut the real price sample that `proofmind monitor feed-replay` pushes into a devnet feed.

Usage: python scripts/make_feed_sample.py ../shared/datasets/token_prices/prices.csv.gz \
    src/proofmind/monitor/data/feed_sample.csv.gz

FEI and USDC hourly prices (CoinGecko, via bhemen/aave-data) from 2022-05-20 to 2022-08-25:
FEI holds its peg from early June, dips 2-4% below $1 on 22 June 2022, and trades off peg
after Fei Labs' shutdown proposal of 19 August 2022; USDC stays calm throughout.
The output is byte-for-byte reproducible (gzip without a name or time stamp).
"""

from __future__ import annotations

import csv
import gzip
import sys
from datetime import UTC, datetime
from pathlib import Path

from proofmind.monitor.prices import write_prices_gz

SYMBOLS = ("FEI", "USDC")
START = datetime(2022, 5, 20, tzinfo=UTC)
END = datetime(2022, 8, 25, tzinfo=UTC)


def main(source: Path, target: Path) -> None:
    first, last = START.timestamp() * 1000, END.timestamp() * 1000
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        rows = [
            row
            for row in csv.DictReader(handle)
            if row["symbol"] in SYMBOLS and first <= float(row["timestamp"]) < last
        ]
    rows.sort(key=lambda row: int(row["timestamp"]))
    count = write_prices_gz(([r["symbol"], r["timestamp"], r["usd_price"]] for r in rows), target)
    print(f"{count} prices → {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
