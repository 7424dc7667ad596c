"""Read a price series file: CSV (optionally gzip) or Parquet with symbol, timestamp, usd_price.

``timestamp`` is Unix epoch milliseconds (the shared token_prices format); a file whose
timestamps are under 1e11 (median; as milliseconds, before March 1973) is in seconds, read so.
A bad row is reported with its file and line, never skipped silently: by default it is an
error; with ``skip_bad`` it is left out and listed in the series' ``skipped``, for the caller
to print (real feeds have the odd empty or zero price, and one such row should not stop a
replay of the others).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import PriceBatch

COLUMNS = ("symbol", "timestamp", "usd_price")
LAST_TIMESTAMP_MS = 32_503_680_000_000  # 3000-01-01 UTC: a later timestamp is not a price's
MAX_PRICE = 1e15  # dollars: more than the world's wealth is a data error, not a price
SECONDS_BELOW = 1e11  # a file whose median timestamp is under this is in seconds (as ms: 1973)


@dataclass(frozen=True)
class PriceSeries:
    """Observations sorted by time (ties keep file order); ``time`` in Unix seconds."""

    symbol: NDArray[np.str_]
    time: NDArray[np.float64]
    price: NDArray[np.float64]
    # optional: ``symbol`` as codes into ``names`` (what read_prices gives; saves a sort)
    codes: NDArray[np.int64] | None = field(default=None, repr=False, compare=False)
    names: tuple[str, ...] | None = field(default=None, repr=False, compare=False)
    # the rows left out by ``read_prices(..., skip_bad=True)``: where and why, in file order
    skipped: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # rows of a later file equal to one of an earlier file (`read_price_files`), left out
    duplicates: int = field(default=0, repr=False, compare=False)
    # how the file was read where it differs from the documented format, for the caller to print
    notes: tuple[str, ...] = field(default=(), repr=False, compare=False)

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


def read_prices(path: Path, *, skip_bad: bool = False) -> PriceSeries:
    """The price series in ``path``, sorted by time. A row that is not a price (a field that is
    not a number, a wrong field count, an empty symbol, a price or timestamp ≤ 0, a price of
    1e15 or more, a timestamp from the year 3000 on) is an error
    naming its line, or with ``skip_bad`` is left out and described in ``skipped``; a file
    with no good row is an error either way."""
    if not path.is_file():
        raise InputError(f"price file {path} does not exist", hint="give a CSV or Parquet path")
    lines: NDArray[np.int64] | None = None  # the file line of each row, when not row + 2
    skipped: list[str] = []
    if path.suffix == ".parquet":
        table = _read_parquet(path)
    else:
        try:
            table = _read_csv(path)
        except InputError:
            if not skip_bad:
                raise
            table, lines, skipped = _read_csv_rows(path)  # row by row: slower, names each line
    table = table.rename_columns([name.strip() for name in table.column_names])
    _check_header(path, table.column_names)
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
    moments = table.column("timestamp")
    if pa.types.is_timestamp(moments.type) or pa.types.is_date(moments.type):
        # a date-time column (Parquet written from pandas, say): as epoch milliseconds, UTC
        # when it carries no zone
        unit = pa.timestamp("ms", tz=getattr(moments.type, "tz", None))
        moments = moments.cast(unit, safe=False)  # below a millisecond: truncated
        moments = moments.cast(pa.int64())
    try:
        stamp = moments.cast(pa.float64()).to_numpy(zero_copy_only=False)
        price = table.column("usd_price").cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"{path}: timestamp and usd_price must be numbers ({exc})") from exc
    raw = stamp
    valid = np.isfinite(stamp) & (stamp > 0)
    notes: tuple[str, ...] = ()
    if valid.any() and float(np.median(stamp[valid])) < SECONDS_BELOW:
        # epoch milliseconds this small would be before March 1973: the file is in seconds (the
        # median, so that one stray value does not decide; it then fails as a row)
        stamp = stamp * 1000.0
        notes = (
            f"{path.name}: timestamps read as Unix seconds (they are under 1e11, which in "
            "milliseconds would be before March 1973)",
        )
    bad = ~np.isfinite(stamp) | ~np.isfinite(price) | (price <= 0) | (stamp <= 0)
    bad |= (stamp >= LAST_TIMESTAMP_MS) | (price >= MAX_PRICE)
    empty = np.array([not name for name in names] + [True], dtype=bool)
    bad |= empty[codes]

    def where(row: int) -> str:
        if path.suffix == ".parquet":
            return f"row {row}"
        return f"line {row + 2 if lines is None else int(lines[row])}"

    def described(row: int) -> str:
        symbol = names[codes[row]] if codes[row] >= 0 else None
        return (
            f"{where(row)}: bad price row (symbol={symbol!r}, timestamp={raw[row]}, "
            f"usd_price={price[row]})"
        )

    if bad.any() and not skip_bad:
        raise InputError(
            f"{path}, {described(int(np.flatnonzero(bad)[0]))}; {int(bad.sum())} bad row(s) in all",
            hint="prices must be positive numbers under 1e15, timestamps epoch milliseconds "
            "(or seconds) before the year 3000, symbols non-empty; fix or drop the rows",
        )
    if bad.any():
        found = [described(r) for r in np.flatnonzero(bad).tolist()]
        skipped = sorted([*skipped, *found], key=_line_of)
        keep = ~bad
        codes, stamp, price = codes[keep], stamp[keep], price[keep]
    if skipped and not len(stamp):
        raise InputError(
            f"{path}: no good price row ({len(skipped)} bad; the first, {skipped[0]})",
            hint="the file needs the columns symbol, timestamp (epoch ms), usd_price",
        )
    order = np.argsort(stamp, kind="stable")
    codes = codes[order]
    text = np.array(names) if names else np.array([], dtype=str)
    return PriceSeries(
        text[codes],
        stamp[order] / 1000.0,
        price[order],
        codes=codes,
        names=tuple(names),
        skipped=tuple(skipped),
        notes=notes,
    )


def write_prices_gz(rows: Iterable[Sequence[str]], target: Path) -> int:
    """Write price rows (symbol, timestamp, usd_price, as text) under the documented header as
    a gzip CSV that is byte-for-byte reproducible (no file name or time in the gzip header),
    written whole or not at all; the number of rows written."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    partial = target.with_name(target.name + ".partial")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out,
    ):
        out.write(text.getvalue().encode())
    partial.replace(target)
    return count


def read_price_files(paths: Sequence[Path], *, skip_bad: bool = False) -> PriceSeries:
    """The price series of several files as one, sorted by time (ties keep the order of the
    files, then of their rows): one file per asset, or a derivative's prices and its
    underlying's from two sources. Each file is read as `read_prices` reads it; a row equal
    in symbol, time and price to one of an earlier file (files that overlap) is kept once and
    counted in ``duplicates``. The skipped rows are named with their file."""
    if not paths:
        raise InputError("no price file given", hint="give one or more CSV or Parquet files")
    if len(paths) == 1:
        return read_prices(paths[0], skip_bad=skip_bad)
    parts = [read_prices(path, skip_bad=skip_bad) for path in paths]
    index: dict[str, int] = {}  # symbol -> its code in the merged series
    codes, times, prices, files = [], [], [], []
    for k, part in enumerate(parts):
        assert part.codes is not None and part.names is not None  # read_prices sets both
        part_names, part_codes = part.names, part.codes
        remap = np.array([index.setdefault(n, len(index)) for n in part_names], dtype=np.int64)
        codes.append(remap[part_codes] if len(part_codes) else part_codes)
        times.append(part.time)
        prices.append(part.price)
        files.append(np.full(len(part), k, dtype=np.int64))
    code, file = np.concatenate(codes), np.concatenate(files)
    time, price = np.concatenate(times), np.concatenate(prices)
    # a row is dropped when a row of an earlier file has the same symbol, time and price
    order = np.lexsort((file, price, time, code))
    same = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        a, b = order[1:], order[:-1]
        same[1:] = (code[a] == code[b]) & (time[a] == time[b]) & (price[a] == price[b])
    group = np.cumsum(~same) - 1  # one group per distinct (symbol, time, price)
    first_file = file[order][~same]  # the earliest file of each group (sorted by file last)
    dropped = np.zeros(len(code), dtype=bool)
    dropped[order] = file[order] > first_file[group]
    keep = np.flatnonzero(~dropped)
    keep = keep[np.argsort(time[keep], kind="stable")]
    skipped = tuple(
        f"{path.name} {text}"
        for path, part in zip(paths, parts, strict=True)
        for text in part.skipped
    )
    code = code[keep]
    names = list(index)
    text = np.array(names) if names else np.array([], dtype=str)
    return PriceSeries(
        text[code],
        time[keep],
        price[keep],
        codes=code,
        names=tuple(names),
        skipped=skipped,
        duplicates=int(dropped.sum()),
        notes=tuple(note for part in parts for note in part.notes),
    )


def _line_of(text: str) -> int:
    """The number in "line 12: …" / "row 3: …", to keep the skipped rows in file order."""
    return int(text.split(":", 1)[0].split()[1])


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
    except OSError as exc:  # a truncated or corrupt gzip stream, a read error
        raise InputError(
            f"cannot read CSV file {path}: {exc}", hint="check the file is whole"
        ) from exc


def _read_csv_rows(path: Path) -> tuple[pa.Table, NDArray[np.int64], list[str]]:
    """The CSV read line by line (when pyarrow's reader fails on a bad line): the rows with the
    header's field count and numbers where numbers belong, each one's line, and what was
    wrong with each other line."""
    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    lines: list[int] = []
    skipped: list[str] = []
    for line, values, problem in _csv_lines(path):
        if problem is not None:
            skipped.append(f"line {line}: {problem}")
            continue
        columns["symbol"].append(values[0])
        columns["timestamp"].append(float(values[1]))
        columns["usd_price"].append(float(values[2]))
        lines.append(line)
    table = pa.table(
        {
            "symbol": pa.array(columns["symbol"], pa.string()),
            "timestamp": pa.array(columns["timestamp"], pa.float64()),
            "usd_price": pa.array(columns["usd_price"], pa.float64()),
        }
    )
    return table, np.array(lines, dtype=np.int64), skipped


def _raise_first_bad_line(path: Path, cause: Exception) -> None:
    """pyarrow does not say which line failed; scan the file once to say it."""
    for line, _, problem in _csv_lines(path, cause):
        if problem is not None:
            raise InputError(f"{path}, line {line}: {problem}", hint="fix or drop the line")


def _csv_lines(
    path: Path, cause: Exception | None = None
) -> Iterator[tuple[int, list[str], str | None]]:
    """Each data line of the CSV: its number, its symbol, timestamp and usd_price fields, and
    what is wrong with it (None: nothing; the fields are then numbers where they should be)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path} is empty", hint=f"write the header {','.join(COLUMNS)}")
            _check_header(path, [name.strip() for name in header])
            index = {name.strip(): i for i, name in enumerate(header)}
            missing = [c for c in COLUMNS if c not in index]
            if missing:
                raise InputError(
                    f"{path}: missing column(s) {', '.join(missing)}",
                    hint=f"the file needs the columns {', '.join(COLUMNS)} (timestamp in epoch ms)",
                )
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    yield line, [], f"{len(row)} field(s), the header has {len(header)}"
                    continue
                values = [row[index[c]] for c in COLUMNS]
                wrong = [k for k in (1, 2) if not _is_number(values[k])]
                if wrong:
                    yield line, [], f"{COLUMNS[wrong[0]]} {values[wrong[0]]!r} is not a number"
                    continue
                yield line, values, None
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise InputError(f"cannot read CSV file {path}: {exc}") from (cause or exc)


def _check_header(path: Path, names: list[str]) -> None:
    twice = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if twice:
        raise InputError(
            f"{path}: the column(s) {', '.join(twice)} appear more than once in the header",
            hint="keep one of each: symbol, timestamp, usd_price",
        )


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
