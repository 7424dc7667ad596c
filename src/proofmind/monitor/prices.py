"""Read a price series file: CSV (optionally gzip) or Parquet with symbol, timestamp, usd_price.

``timestamp`` is Unix epoch milliseconds (the shared token_prices format). A bad row is reported
with its file and line, never skipped silently: a replay over half-read data would score wrong.
"""

from __future__ import annotations

import csv
import gzip
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import PriceBatch

COLUMNS = ("symbol", "timestamp", "usd_price")


@dataclass(frozen=True)
class PriceSeries:
    """Observations sorted by time (ties keep file order); ``time`` in Unix seconds."""

    symbol: NDArray[np.str_]
    time: NDArray[np.float64]
    price: NDArray[np.float64]
    # optional: ``symbol`` as codes into ``names`` (what read_prices gives; saves a sort)
    codes: NDArray[np.int64] | None = field(default=None, repr=False, compare=False)
    names: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.time)

    def batch(self) -> PriceBatch:
        """The series in columns per subject (subjects in order of first appearance)."""
        if self.codes is not None and self.names is not None:
            codes, names = self.codes, self.names
        else:
            found, first, codes = np.unique(self.symbol, return_index=True, return_inverse=True)
            rank = np.empty(len(found), dtype=np.int64)
            rank[np.argsort(first, kind="stable")] = np.arange(len(found))
            codes = rank[codes.reshape(-1)]
            names = tuple(str(found[k]) for k in np.argsort(first, kind="stable"))
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(names))
        bounds = np.concatenate(([0], np.cumsum(counts)))
        rows, times, prices, subjects = [], [], [], []
        for k, name in enumerate(names):
            if counts[k] == 0:
                continue
            chosen = order[bounds[k] : bounds[k + 1]].astype(np.int64)
            rows.append(chosen)
            times.append(self.time[chosen])
            prices.append(self.price[chosen])
            subjects.append(name)
        return PriceBatch(tuple(subjects), tuple(rows), tuple(times), tuple(prices), len(self))


def read_prices(path: Path) -> PriceSeries:
    if not path.is_file():
        raise InputError(f"price file {path} does not exist", hint="give a CSV or Parquet path")
    table = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path)
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}",
            hint=f"the file needs the columns {', '.join(COLUMNS)} (timestamp in epoch ms)",
        )
    try:
        symbols = table.column("symbol").cast(pa.string()).combine_chunks().dictionary_encode()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"{path}: symbol must be text ({exc})") from exc
    names = symbols.dictionary.to_pylist()
    codes = symbols.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    try:
        stamp = table.column("timestamp").cast(pa.float64()).to_numpy(zero_copy_only=False)
        price = table.column("usd_price").cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"{path}: timestamp and usd_price must be numbers ({exc})") from exc
    bad = ~np.isfinite(stamp) | ~np.isfinite(price) | (price <= 0) | (stamp <= 0)
    empty = np.array([not name for name in names] + [True], dtype=bool)
    bad |= empty[codes]
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        symbol = names[codes[row]] if codes[row] >= 0 else None
        where = f"line {row + 2}" if path.suffix != ".parquet" else f"row {row}"
        raise InputError(
            f"{path}, {where}: bad price row (symbol={symbol!r}, timestamp={stamp[row]}, "
            f"usd_price={price[row]}); {int(bad.sum())} bad row(s) in all",
            hint="prices must be positive finite numbers, timestamps epoch milliseconds, "
            "symbols non-empty; fix or drop the rows",
        )
    order = np.argsort(stamp, kind="stable")
    codes = codes[order]
    text = np.array(names) if names else np.array([], dtype=str)
    return PriceSeries(
        text[codes], stamp[order] / 1000.0, price[order], codes=codes, names=tuple(names)
    )


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet file {path}: {exc}") from exc


def _read_csv(path: Path) -> pa.Table:
    import pyarrow.csv as pcsv

    types = {"symbol": pa.string(), "timestamp": pa.float64(), "usd_price": pa.float64()}
    try:
        return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types=types))
    except pa.ArrowInvalid as exc:
        _raise_first_bad_line(path, exc)
        raise InputError(f"cannot read CSV file {path}: {exc}") from exc


def _raise_first_bad_line(path: Path, cause: Exception) -> None:
    """pyarrow does not say which line failed; scan the file once to say it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path} is empty", hint=f"write the header {','.join(COLUMNS)}")
            index = {name: i for i, name in enumerate(header)}
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise InputError(
                        f"{path}, line {line}: {len(row)} field(s), the header has {len(header)}",
                        hint="fix or drop the line",
                    )
                for column in ("timestamp", "usd_price"):
                    if column in index and not _is_number(row[index[column]]):
                        raise InputError(
                            f"{path}, line {line}: {column} {row[index[column]]!r} is not a number",
                            hint="fix or drop the line",
                        )
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"cannot read CSV file {path}: {exc}") from cause


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
