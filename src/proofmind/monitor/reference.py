"""Reference prices of underlyings, for a derivative whose underlying a price file lacks.

A discount of stETH against ETH cannot be seen in stETH's dollar prices alone: ETH's own moves
are in them. Exports often come one asset per file, so a file may hold stETH and no ETH. The
package ships the hourly USD prices of WETH and WBTC from 2021-01-01 to 2023-02-25 (CoinGecko,
via bhemen/aave-data; `scripts/make_reference_prices.py`). When a price file holds a symbol
that pairs with one of them (`ratio.symbol_pairs`, or a pair given in the ratio detector's
``pairs``) and the file has no underlying for it, the reference rows of that span are merged
into the replayed series. They are there for the ratio only: alerts about the reference asset
itself (its feed's gaps, say) are not the user's and are dropped, and it is not scored.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from proofmind.monitor.prices import PriceSeries
from proofmind.monitor.ratio import symbol_pairs

REFERENCE_FILE = "reference_prices.csv.gz"
MARGIN_SECONDS = 86_400.0  # reference rows kept this far before / after the file's prices
SOURCE = "CoinGecko hourly USD prices via bhemen/aave-data"


def reference_path() -> Path:
    return Path(str(resources.files("proofmind.monitor") / "data" / REFERENCE_FILE))


@cache
def reference_prices() -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Symbol → (times in Unix seconds, USD prices) of the shipped reference, sorted by time."""
    rows: dict[str, tuple[list[float], list[float]]] = {}
    with gzip.open(reference_path(), "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            times, prices = rows.setdefault(row["symbol"], ([], []))
            times.append(int(row["timestamp"]) / 1000.0)
            prices.append(float(row["usd_price"]))
    return {s: (np.asarray(t), np.asarray(p)) for s, (t, p) in rows.items()}


def needed_references(
    symbols: Iterable[str], pairs: Mapping[str, str] | None = None, *, auto_pairs: bool = True
) -> dict[str, str]:
    """Derivative → reference symbol, for each of ``symbols`` that pairs with an underlying
    the symbols lack and the reference has: a pair given in ``pairs``, else (``auto_pairs``)
    its automatic pair among the symbols and the reference together (``rsETH`` with ``sETH``
    and no ETH: WETH, as ``rsETH`` pairs with it once it is there)."""
    own = set(symbols)
    shipped = set(reference_prices())
    given = dict(pairs or {})
    found = {d: u for d, u in given.items() if d in own and u not in own and u in shipped}
    if auto_pairs:
        with_reference = symbol_pairs(own | shipped)
        for derivative in sorted(own - set(given)):
            underlying = with_reference.get(derivative)
            if underlying in shipped and underlying not in own:
                found[derivative] = underlying
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class ReferenceUse:
    """The series with the reference rows merged in, what was added, and what to tell the user."""

    series: PriceSeries
    pairs: dict[str, str]  # derivative -> the reference underlying its ratio uses
    added: frozenset[str]  # the reference symbols merged in (with at least one row)
    notes: tuple[str, ...]


def with_references(series: PriceSeries, needed: Mapping[str, str]) -> ReferenceUse:
    """``series`` with the reference prices of the ``needed`` underlyings over its span (a day
    either side), merged in time order (a file's row first on a tie)."""
    if not needed or not len(series):
        return ReferenceUse(series, {}, frozenset(), ())
    shipped = reference_prices()
    first, last = float(series.time.min()), float(series.time.max())
    if series.codes is not None and series.names is not None:
        names, codes = list(series.names), series.codes
    else:
        lookup = {s: k for k, s in enumerate(dict.fromkeys(series.symbol.tolist()))}
        names = list(lookup)
        codes = np.fromiter((lookup[s] for s in series.symbol.tolist()), np.int64, len(series))
    code_parts, time_parts, price_parts = [codes], [series.time], [series.price]
    added: set[str] = set()
    notes: list[str] = []
    for underlying in sorted(set(needed.values())):
        times, prices = shipped[underlying]
        keep = (times >= first - MARGIN_SECONDS) & (times <= last + MARGIN_SECONDS)
        users = ", ".join(d for d, u in needed.items() if u == underlying)
        span = f"{_day(times[0])} to {_day(times[-1])}"
        if not keep.any():
            notes.append(
                f"{users}: no {underlying} prices in the input, and the shipped {underlying} "
                f"reference ({span}) does not cover its dates: give the underlying's prices "
                "(e.g. as a second file) to watch its ratio"
            )
            continue
        added.add(underlying)
        names.append(underlying)
        code_parts.append(np.full(int(keep.sum()), len(names) - 1, dtype=np.int64))
        time_parts.append(times[keep])
        price_parts.append(prices[keep])
        partly = "" if times[0] <= first and times[-1] >= last else " (part of its dates only)"
        notes.append(
            f"{users}: no {underlying} prices in the input; its ratio uses the shipped "
            f"{underlying} reference ({SOURCE}, {span}){partly}. Give the underlying's prices "
            "(e.g. as a second file) to use your own, or --no-reference to leave it out"
        )
    if not added:
        return ReferenceUse(series, {}, frozenset(), tuple(notes))
    code, time = np.concatenate(code_parts), np.concatenate(time_parts)
    price = np.concatenate(price_parts)
    order = np.argsort(time, kind="stable")  # the file's rows come first: first on a tie
    text = np.array(names)
    merged = PriceSeries(
        text[code[order]],
        time[order],
        price[order],
        codes=code[order],
        names=tuple(names),
        skipped=series.skipped,
        duplicates=series.duplicates,
        notes=series.notes,
    )
    pairs = {d: u for d, u in needed.items() if u in added}
    return ReferenceUse(merged, pairs, frozenset(added), tuple(notes))


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).date().isoformat()
