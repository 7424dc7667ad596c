"""Read a price series file (CSV, Parquet, JSON; compressed or not): symbol, timestamp, usd_price.

``timestamp`` is Unix epoch milliseconds (the shared token_prices format); a file whose
timestamps are under 1e11 (median; as milliseconds, before March 1973) is in seconds, read so;
ISO 8601 date-times (``2022-05-09 00:00:00 UTC``, as CoinGecko's export writes them) are read
too, UTC when they carry no zone. Column names are read in any case, and a column is also
found under the names other exports give it (`PRICE_COLUMNS`: ``price``, ``close``,
``snapped_at``, ``asset``…). A file with no symbol column holds one asset, named by the file
(``UST_usd.csv`` is UST's, ``steth-usd-max.csv`` stETH's: `symbol_from_file_name`). A table of
a time column and one column of prices per asset, named by its symbol (``date,USDC,DAI``, a
pivot), is read as those assets' prices, an empty cell being no price. What was read
differently from the documented format is said in the series' ``notes``. JSON is read as
CoinGecko's API gives it (``market_chart``: ``{"prices": [[ms, price], …]}``, one asset, named
by the file) and as pandas' ``to_json`` writes a frame (records, JSON lines, or its default
column orient with a date-time index), then as the other formats are (`_read_json`). A CSV
separated by semicolons or tabs is read so (`sniff_delimiter`), with a decimal comma when its
first prices are written with one (a spreadsheet's CSV in many locales). Any of these may be
compressed (`COMPRESSED`: gzip, bzip2, xz, Zstandard) or the one file of a zip archive (as
Kaggle's downloads are): it is read from the archive, named by what it holds (`data_name`).
A bad row is reported with its file and line, never skipped silently: by default it is an
error; with ``skip_bad`` it is left out and listed in the series' ``skipped``, for the caller
to print (real feeds have the odd empty or zero price, and one such row should not stop a
replay of the others).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import itertools
import json
import lzma
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import PriceBatch

COLUMNS = ("symbol", "timestamp", "usd_price")
LAST_TIMESTAMP_MS = 32_503_680_000_000  # 3000-01-01 UTC: a later timestamp is not a price's
MAX_PRICE = 1e15  # dollars: more than the world's wealth is a data error, not a price
WIDE_ROWS_LOOKED_AT = 100  # a table of one column per asset has a price in one of these rows
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
FORMATS = (".csv", ".tsv", ".parquet", *JSON_SUFFIXES)  # what a price file's name ends with
JSON_SHAPES = (
    'give CoinGecko\'s market_chart ({"prices": [[ms, price], …]}) or a list of [time, price] '
    "pairs (the asset named by the file), or a list (or JSON lines) of objects with symbol, "
    "timestamp, usd_price"
)
PANDAS_INDEX = "__index_level_0__"  # where pandas' to_parquet writes an unnamed index
# the keys under which market-data APIs put their records (CryptoCompare: Data, or Data.Data;
# Dune's API: result.rows)
ENVELOPES = ("Data", "data", "result", "results", "rows", "records")
_DECIMAL_COMMA = re.compile(r"[-+]?\$?\s?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+")
# a number in thousands groups, by decimal mark (1,234.5; 1.234,5); a comma in any other place
# is no separator, and no number in groups starts with 0 (0,999 is a decimal comma)
_IN_GROUPS = {
    ".": r"[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?",
    ",": r"[-+]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?",
}
# a price that can only be written with a dollar sign or thousands separators, whichever the
# decimal mark: a dollar sign, two groups or more (1,234,567), or groups then a decimal part
# (Investing.com's "30,123.5", a spreadsheet's "$1,234.56"; 1.234,56 with a decimal comma).
# One group alone (1,000) could be a decimal comma: it is no proof.
_GROUPED = {
    ".": re.compile(
        r"\$\s?[-+]?[\d,.]+"  # $1234.5, $1,234
        r"|[-+]?[1-9]\d{0,2}(?:,\d{3}){2,}(?:\.\d*)?"  # 1,234,567
        r"|[-+]?[1-9]\d{0,2}(?:,\d{3})+\.\d+"  # 1,234.5
    ),
    ",": re.compile(
        r"\$\s?[-+]?[\d.,]+"
        r"|[-+]?[1-9]\d{0,2}(?:\.\d{3}){2,}(?:,\d*)?"  # 1.234.567
        r"|[-+]?[1-9]\d{0,2}(?:\.\d{3})+,\d+"  # 1.234,5
    ),
}
# a compressed file's suffix and its compression (pyarrow's codec name, or zip)
COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
# what reading a file may raise besides a parse error: a read error, a truncated or corrupt
# compressed stream (lzma, zip and zlib have their own), text that is not UTF-8
UNREADABLE = (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError, zipfile.BadZipFile, zlib.error)
SECONDS_BELOW = 1e11  # a file whose median timestamp is under this is in seconds (as ms: 1973)
MICROS_FROM = 1e14  # ... over this, in microseconds (as ms: the year 5138)
NANOS_FROM = 1e17  # ... over this, in nanoseconds (as µs: the year 5138)

# other names the columns of a price file go by (any case), read when no column has the
# documented name: CoinGecko's CSV export (snapped_at, price), candles (close), other tools'
_TIMES: tuple[str, ...] = ("time", "timestamp_ms", "ts", "datetime", "date", "snapped_at")
_TIMES += ("updated_at", "minute", "hour", "day", "block_time")  # Dune's: minute … block_time
PRICE_COLUMNS: dict[str, tuple[str, ...]] = {
    # a subgraph's token { symbol }; Dune's chainlink.price_feeds: feed_name (USDC / USD)
    "symbol": ("asset", "token", "ticker", "coin", "token.symbol", "feed_name"),
    # a candle's close price is at its close time; The Graph's subgraphs' periodStartUnix
    "timestamp": (*_TIMES, "close_time", "period_start_unix", "unix_timestamp"),
    "usd_price": (
        "price",
        "price_usd",
        "usd",
        "close",
        "close_price",
        "price_close",
        "oracle_price",
    ),
}
# a column naming the chain a row's token is on (Dune's prices tables: one symbol's bridged copies
# on several chains): one chain per symbol is read (`_one_chain`)
CHAIN_COLUMNS = ("blockchain", "chain", "chain_name", "network", "chain_id", "chainid")
MAINNET = frozenset({"ethereum", "eth", "mainnet", "1"})  # first among chains with as many rows
# an alias taken over the others when it is one of them (a subgraph's priceUSD beside its candle's
# close: the same price)
FIRST_AMONG = {"usd_price": ("priceusd", "usdprice")}
# Binance's kline (candle) CSVs (data.binance.vision) have these columns and no header row; the
# close price is read, at close_time (the candle's last millisecond)
KLINE_COLUMNS: tuple[str, ...] = ("open_time", "open", "high", "low", "close", "volume")
KLINE_COLUMNS += ("close_time", "quote_volume", "count", "taker_buy_volume")
KLINE_COLUMNS += ("taker_buy_quote_volume", "ignore")
# Binance's file names: pair, interval, month or day (USDCUSDT-1h-2023-03.csv)
_KLINE_NAME = re.compile(r"(?P<pair>[A-Za-z0-9]+)-\d+(?:s|m|h|d|w|mo)-\d{4}-\d{2}(?:-\d{2})?")
# quote assets read as US dollars: a pair quoted in one is named by its base (USDCUSDT: USDC)
USD_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USD")
# CoinMarketCap's export names: the coin's name, the dates asked for (in the user's locale's
# digits and separators), perhaps the interval (Bitcoin_1_1_2023-3_31_2023_historical_data_…)
_CMC_NAME = re.compile(
    r"(?P<name>.+?)(?:_[\d._-]+)?(?:_(?:daily|weekly|monthly|hourly))?"
    r"_historical_data_coinmarketcap",
    re.IGNORECASE,
)
# a file named by an exchange's pair in capitals quoted in a dollar stablecoin (BTCUSDT), its
# base of 3 characters at least (AUSDT, Aave's aToken, is no pair; plain USD ends sUSD, LUSD…)
_STABLE_PAIR = re.compile(r"(?P<base>[A-Z0-9]{3,})(?P<quote>FDUSD|USDT|USDC|BUSD|TUSD)")
# a symbol column's pair: base, a slash or hyphen, quote (USDC/USDT, USDC-USD; Chainlink's feed
# names: USDC / USD)
_USD_PAIR = re.compile(r"(?P<base>[A-Za-z0-9.]{1,20})\s*[/-]\s*(?P<quote>[A-Za-z]{3,5})")
# what a file name ends with after its symbol (UST_usd.csv, steth-usd-max.csv, weth_prices.csv)
# and what names the data's kind or interval (USDC_histohour.json, USDC_1h_klines.json)
_NAME_TAIL = re.compile(
    r"(?:[-_. ](?:usd[-_]max|usd[-_]prices?|usd|prices?|hourly|daily|histo(?:minute|hour|day)"
    r"|klines|candles|ohlcv?|\d{1,2}[mhdw]))+$",
    re.IGNORECASE,
)
# columns of a market-data file that are not one asset's prices: a file with one of them and no
# price column is not read as one column per asset
_NOT_ASSETS = frozenset({"market_cap", "total_volume", "volume", "open", "high", "low", "vwap",
                         "trades", "count", "error", "note", "notes"})  # fmt: skip
# file names that are not a symbol: a file so named needs its symbol column
_NOT_SYMBOLS = frozenset({"prices", "price", "data", "export", "feed", "series", "sample", "usd",
                          "output", "file", "download", "chart", "history", "klines",
                          "candles", "ohlc", "ohlcv"})  # fmt: skip


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
    # (symbol, quote): symbols whose prices were read in a dollar stablecoin (USDCUSDT: USDC in
    # USDT), for `in_dollars`
    quotes: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

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


def symbol_from_file_name(path: Path) -> str | None:
    """The asset a one-asset file is named after: the name of what it holds (`data_name`)
    without its suffix and a ``_usd`` / ``-usd-max`` / ``_prices`` tail (``UST_usd.csv`` →
    ``UST``, CoinGecko's ``steth-usd-max.csv`` → ``steth``), a CoinGecko id read as its
    symbol (``usd-coin.json`` → ``USDC``: `coingecko_symbol`); None when what is left is no
    symbol (``prices.csv``)."""
    name = _stem(_bare_name(path))
    return None if name is None else coingecko_symbol(name) or name


def _bare_name(path: Path) -> str:
    """The name of what a price file holds (`data_name`) without its format's suffix."""
    name = data_name(path)
    suffix = next((s for s in FORMATS if name.lower().endswith(s)), "")
    return name[: len(name) - len(suffix)]


def _stem(name: str) -> str | None:
    """`symbol_from_file_name` of a bare name, before a CoinGecko id is read as its symbol."""
    pair = dollar_pair(name)
    if pair is not None:
        return pair[0]
    named = coinmarketcap_name(name)
    if named is not None:  # Lido Staked ETH → lido-staked-eth (→ stETH), Dai → DAI; dYdX as is
        slug = coin_id(named)
        return slug if coingecko_symbol(slug) else named.replace(" ", "_")
    name = _NAME_TAIL.sub("", name).strip()
    if not name or name.lower() in _NOT_SYMBOLS or not re.fullmatch(r"[\w.+-]{1,40}", name):
        return None
    return name


@cache
def _coingecko_ids() -> dict[str, str]:
    """CoinGecko's coin ids that are not their symbol, and the symbols (the shipped
    ``coingecko_ids.csv``)."""
    with (resources.files("proofmind.monitor") / "data" / "coingecko_ids.csv").open(
        encoding="utf-8"
    ) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["id"]: row["symbol"] for row in rows}


def coin_id(name: str) -> str:
    """A coin's name written as CoinGecko's ids are: lower case, words joined by hyphens
    (``Lido Staked ETH`` → ``lido-staked-eth``)."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def coingecko_symbol(name: str) -> str | None:
    """The symbol of the coin CoinGecko's API names ``name`` (``usd-coin`` → ``USDC``,
    ``staked-ether`` → ``stETH``), for the well-known coins whose id is not their symbol; None
    for another name."""
    return _coingecko_ids().get(name.strip().lower())


def coinmarketcap_name(name: str) -> str | None:
    """The coin's name in the name of a CoinMarketCap export (without its suffix:
    ``Lido Staked ETH_6_1_2022-6_30_2022_historical_data_coinmarketcap`` → ``Lido Staked
    ETH``); None for another name."""
    match = _CMC_NAME.fullmatch(name)
    return None if match is None else match["name"].strip() or None


def binance_pair(name: str) -> tuple[str, str] | None:
    """A Binance kline file's name (without its suffix) as its pair's base and quote, a quote
    in US dollars split off (``USDCUSDT-1h-2023-03`` → USDC, USDT; ``WBETHETH-1h-2023-03``
    → WBETHETH, ""); None for another name."""
    match = _KLINE_NAME.fullmatch(name)
    if match is None:
        return None
    pair = match["pair"]
    quote = next((q for q in USD_QUOTES if pair.upper().endswith(q) and len(pair) > len(q)), "")
    return pair[: len(pair) - len(quote)], quote


def dollar_pair(name: str) -> tuple[str, str] | None:
    """`binance_pair` of a file's bare name; else, for a name that is an exchange's pair in
    capitals, quoted in a dollar stablecoin (`_STABLE_PAIR`: ``BTCUSDT``, ``USDCUSDT_1h``,
    its kind or interval aside), its base and quote; None for another name."""
    pair = binance_pair(name)
    if pair is not None:
        return pair
    match = _STABLE_PAIR.fullmatch(_NAME_TAIL.sub("", name).strip())
    return None if match is None else (match["base"], match["quote"])


def _usd_bases(names: list[str]) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """``names`` (a symbol column's) with each pair quoted in a dollar (`USD_QUOTES`) written as
    its base (``USDC/USDT`` and ``USDC-USD`` → ``USDC``, as CryptoDataDownload's and Coinbase's
    files name them), unless that base is another name already (two markets of one coin stay
    apart); and each renamed pair's base and quote (``USDC/USDT`` → (``USDC``, ``USDT``))."""
    pairs = {}
    spaced = {}  # a pair of another quote as one word (Chainlink's STETH / ETH feed: STETH/ETH)
    for name in names:
        match = _USD_PAIR.fullmatch(name or "")
        if match is not None and match["quote"].upper() in USD_QUOTES:
            pairs[name] = (match["base"], match["quote"].upper())
        if match is not None:
            spaced[name] = re.sub(r"\s*/\s*", "/", name)
    taken = set(names) - set(pairs)
    counts: dict[str, int] = {}
    for base, _ in pairs.values():
        counts[base] = counts.get(base, 0) + 1
    kept = {n: p for n, p in pairs.items() if p[0] not in taken and counts[p[0]] == 1}
    return [kept[n][0] if n in kept else spaced.get(n, n) for n in names], kept


def _kline_names(row: Sequence[str]) -> tuple[str, ...] | None:
    """`KLINE_COLUMNS` when ``row`` is the first line of a Binance kline CSV with no header (7
    to 12 numbers, an open and a close time in epoch ms or µs, the close later); else None."""
    if not 7 <= len(row) <= len(KLINE_COLUMNS) or not all(_is_number(v.strip()) for v in row):
        return None
    opened, closed = float(row[0]), float(row[6])
    return KLINE_COLUMNS[: len(row)] if SECONDS_BELOW <= opened < closed < NANOS_FROM else None


@dataclass(frozen=True)
class _Layout:
    """Which column of a file is which: the header name holding each of ``COLUMNS`` (None for
    a symbol taken from the file's name, then ``symbol``), and what to tell the user."""

    names: dict[str, str | None]
    symbol: str | None
    notes: tuple[str, ...]
    # one column per asset (a wide table, pandas' pivot): those columns' header names, the
    # header's names being the symbols; empty for a file of rows (symbol, timestamp, price)
    assets: tuple[str, ...] = ()
    # a CSV's field separator and decimal mark (a spreadsheet's in many locales: ``;`` and ``,``)
    delimiter: str = ","
    decimal: str = "."
    # a CSV with no header row (Binance's klines): its columns' names
    columns: tuple[str, ...] = ()
    # lines before a CSV's header (CryptoDataDownload's address)
    banner: int = 0
    # the dollar coin the prices of a file named by a pair are in (USDCUSDT: USDT; "" for none)
    quote: str = ""
    # the header name of the column naming each row's chain (`CHAIN_COLUMNS`), if any
    chain: str | None = None
    # prices written as a person reads them (`_GROUPED`: $1,234.56, or 1.234,56 with a decimal
    # comma, a dollar sign allowed before them): their thousands separator ("" for none)
    thousands: str = ""

    @property
    def data_line(self) -> int:
        """The file line of the first row of data."""
        return (1 if self.columns else 2) + self.banner

    def number(self, text: str) -> str:
        """A number's text as Python reads it: a decimal comma as a point, no dollar sign or
        thousands separators (`_IN_GROUPS`)."""
        if self.thousands and text.lstrip().startswith("$"):
            text = text.strip()[1:].strip()
        if self.thousands and re.fullmatch(_IN_GROUPS[self.decimal], text):
            text = text.replace(self.thousands, "")
        return text.replace(",", ".") if self.decimal == "," else text

    @property
    def written(self) -> bool:
        """Whether the prices are written with a dollar sign or thousands separators, which
        the CSV reader does not read as numbers by itself."""
        return bool(self.thousands)


def find_columns(
    path: Path, header: Sequence[str], aliases: dict[str, tuple[str, ...]]
) -> dict[str, int | None]:
    """Where each key of ``aliases`` is in ``header``: the column of that name in any case
    (spaces and a byte-order mark around it ignored), else the one column named by one of its
    aliases (in any spelling: `_bare_column`); None when there is none. A name twice, or two
    aliases of one key (unless one is `FIRST_AMONG` them), is an error naming them (price
    files, and events files, are read so)."""
    cleaned = [_clean_name(name) for name in header]
    lowered = [name.lower() for name in cleaned]
    bare = [_bare_column(name) for name in cleaned]
    found: dict[str, int | None] = {}
    for key, others in aliases.items():
        exact = [i for i, low in enumerate(lowered) if low == key]
        if len(exact) > 1:
            raise InputError(
                f"{path}: the column(s) {key} appear more than once in the header "
                f"({', '.join(repr(cleaned[i]) for i in exact)})",
                hint=f"keep one of each: {', '.join(aliases)}",
            )
        # another spelling of the name or an alias: camelCase (updatedAt, priceUSD), spaces
        alike = {_bare_column(name) for name in (key, *others)}
        candidates = exact or [i for i, name in enumerate(bare) if name in alike]
        first = [i for i in candidates if bare[i] in FIRST_AMONG.get(key, ())]
        candidates = first if len(first) == 1 else candidates
        if len(candidates) > 1:
            raise InputError(
                f"{path}: the columns {' and '.join(cleaned[i] for i in candidates)} could both "
                f"be the {key}",
                hint=f"name the one to use {key}",
            )
        found[key] = candidates[0] if candidates else None
    return found


def _layout(path: Path, header: Sequence[str], index_time: str | None = None) -> _Layout:
    """Find symbol, timestamp and usd_price in ``header`` (`find_columns` with
    `PRICE_COLUMNS`), the symbol else from the file's name. ``index_time``: the column of
    pandas' unnamed date-time index, the times when no column is named so."""
    names: dict[str, str | None] = {}
    renamed = []
    for key, at in find_columns(path, header, PRICE_COLUMNS).items():
        names[key] = None if at is None else header[at]
        column = "" if at is None else _clean_name(header[at])
        if column and column.lower() != key:
            renamed.append(f"{key} ← {column!r}")
    if names["timestamp"] is None and index_time is not None:
        names["timestamp"] = index_time
    missing = [key for key in COLUMNS if names[key] is None]
    if missing == ["symbol", "usd_price"]:
        wide = _wide(path, header, str(names["timestamp"]))
        if wide is not None:
            return wide
    symbol = symbol_from_file_name(path) if names["symbol"] is None else None
    if symbol is not None:
        missing.remove("symbol")
    others = [n for k, n in enumerate(header) if n != names["timestamp"] and (k or n.strip())]
    other = _clean_name(others[0]) if len(others) == 1 else ""
    if missing == ["usd_price"] and symbol is not None and other.lower() not in ("", *_NOT_ASSETS):
        raise InputError(
            f"{path}: is its column {other!r} the prices of {symbol} (the file's name), or "
            f"{other}'s prices?",
            hint=f"name the column price to read {symbol}'s prices, or the file {other}.csv to "
            f"read {other}'s",
        )
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}",
            hint=f"the file needs the columns {', '.join(COLUMNS)} (timestamp in epoch ms, or "
            "ISO 8601); other exports' names are read too (price, close, time, date, snapped_at, "
            "asset…), a file of one asset may leave out symbol when its name is the "
            "symbol's (UST_usd.csv), and a time column with one column of prices per asset, "
            "named by its symbol, is read too",
        )
    notes = []
    if renamed:
        notes.append(f"{path.name}: columns read as {', '.join(renamed)}")
    quoted_in = ""  # the dollar coin a pair in the file's name is quoted in (USDCUSDT: USDT)
    if symbol is not None:
        bare = _bare_name(path)
        pair = dollar_pair(bare)
        quoted_in = pair[1] if pair is not None and pair[1] != "USD" else ""
        said = (f"; the pair {symbol}{quoted_in}, its prices in {quoted_in} read as US dollars"
                if quoted_in else "")  # fmt: skip
        stem = _stem(bare)
        if stem is not None and stem != symbol:
            said = f", CoinGecko's id for {symbol}"
        named = coinmarketcap_name(bare)
        if named is not None:
            said = f": CoinMarketCap's export of {named!r}" + (
                "; name the file by the coin's symbol (XYZ_usd.csv) to read it as that"
                if " " in named and stem == symbol
                else ""
            )
        notes.append(f"{path.name}: no symbol column; its prices are read as {symbol}'s (the "
                     f"file's name{said})")  # fmt: skip
    lowered = {_clean_name(name).lower(): name for name in header}
    chain = next((lowered[c] for c in CHAIN_COLUMNS if c in lowered), None)
    return _Layout(names, symbol, tuple(notes), quote=quoted_in, chain=chain)


def _wide(path: Path, header: Sequence[str], time: str) -> _Layout | None:
    """The layout of a table with a time column and one column per asset named by its symbol
    (``timestamp,USDC,DAI``), or None when the other columns do not look like that."""
    # an unnamed first column is pandas' row index (to_csv without index=False): not an asset
    assets = [name for k, name in enumerate(header) if name != time and (k or name.strip())]
    cleaned = [_clean_name(name) for name in assets]
    if not assets or any(not n or n.lower() in _NOT_ASSETS for n in cleaned):
        return None
    if len(set(cleaned)) < len(cleaned):
        return None  # a symbol twice: its rows could not be told apart
    named = symbol_from_file_name(path)
    known = {symbol.lower() for symbol in _coingecko_ids().values()}
    if (len(cleaned) == 1 and named is not None and cleaned[0].lower() != named.lower()
            and cleaned[0].lower() not in known):  # fmt: skip
        return None  # UST_usd.csv with time,value: a price column of another name, not asset
    shown = shown_names(cleaned)
    unnamed = time == PANDAS_INDEX or not _clean_name(time)
    where = "pandas' index" if unnamed else repr(time.strip())
    note = f"{path.name}: one column per asset ({shown}), times in {where}"
    return _Layout({"symbol": None, "timestamp": time, "usd_price": None}, None, (note,),
                   tuple(assets))  # fmt: skip


def shown_names(names: Sequence[str], limit: int = 6) -> str:
    """``names`` for a message: the first ``limit``, then how many more."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def not_a_price_file(path: Path) -> str | None:
    """Why ``path``'s header is not a price file's (its columns), or None when it is one; read
    from its first lines, to leave such files of a folder out (upstream's errors.csv)."""
    try:
        if is_json(path):
            names = _read_json(path)[0].column_names
            _layout(path, names, PANDAS_INDEX if PANDAS_INDEX in names else None)
        elif is_parquet(path):
            import pyarrow.parquet as pq

            try:
                with _parquet_source(path) as source:
                    schema = pq.read_schema(source)
            except (*UNREADABLE, pa.ArrowInvalid) as exc:
                return f"not a Parquet file ({str(exc).splitlines()[0][:120]})"
            _layout(path, schema.names, _parquet_index_time(schema))
        else:
            _csv_layout(path)
    except InputError as exc:
        return exc.message.removeprefix(f"{path}: ")
    return None


def _bare_column(name: str) -> str:
    """A column name without case, underscores, hyphens or spaces: ``updatedAt``,
    ``updated_at`` and ``Updated At`` alike."""
    return re.sub(r"[\s_-]+", "", name).lower()


def _clean_name(name: str) -> str:
    """A column name as a header means it: spaces and a spreadsheet's byte-order mark around
    it left out."""
    return name.strip().lstrip("\ufeff").strip()


def zip_members(path: Path) -> list[str]:
    """The files of the zip archive ``path``: folders, macOS's ``__MACOSX/`` copies and hidden
    files aside."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [
                info.filename
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and not PurePosixPath(info.filename).name.startswith(".")
            ]
    except UNREADABLE as exc:
        raise InputError(
            f"cannot read zip file {path}: {exc}", hint="check the file is whole"
        ) from exc


def _zip_member(path: Path) -> str:
    """The one file of the zip archive ``path`` (`zip_members`); an archive of another number
    of files is an error."""
    members = zip_members(path)
    if len(members) != 1:
        held = f"holds {len(members)} files ({shown_names(members)})" if members else "is empty"
        raise InputError(
            f"zip file {path} {held}: one price file per archive is read",
            hint="unzip it and give the files, or the folder they are in",
        )
    return members[0]


def unpack_zip(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files of the zip archive ``path`` whose names end with one of ``suffixes`` (any
    case), by name: written out, with the archive's folders, under a temporary folder named as
    the archive, which is removed when the process ends (a Kaggle download of one CSV per coin
    is read as a folder of them). A member's ``..`` and leading ``/`` are dropped, as
    `zipfile.ZipFile.extract` does: nothing is written outside that folder."""
    import atexit
    import shutil
    import tempfile

    wanted = [m for m in zip_members(path) if m.lower().endswith(suffixes)]
    folder = Path(tempfile.mkdtemp(prefix="proofmind-zip-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(Path(archive.extract(member, folder / path.name)) for member in wanted)
    except UNREADABLE as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise InputError(
            f"cannot read zip file {path}: {exc}", hint="check the file is whole"
        ) from exc


def data_name(path: Path) -> str:
    """The name of what a price file holds: its own, less a compression suffix
    (``prices.csv.xz`` → ``prices.csv``); a zip archive's one file's (without its folder)."""
    kind = COMPRESSED.get(path.suffix.lower())
    if kind == "zip":
        return PurePosixPath(_zip_member(path)).name
    return path.name[: -len(path.suffix)] if kind else path.name


def is_parquet(path: Path) -> bool:
    """Whether ``path`` holds Parquet (``.parquet``, compressed or in a zip archive or not)."""
    return data_name(path).lower().endswith(".parquet")


@contextmanager
def open_data(path: Path) -> Iterator[IO[bytes]]:
    """A price file open for reading its bytes, decompressed (`COMPRESSED`)."""
    kind = COMPRESSED.get(path.suffix.lower())
    if kind == "zip":
        member = _zip_member(path)
        with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
            yield handle
        return
    if kind == "zstd":
        with pa.input_stream(str(path), compression="zstd") as stream:
            yield stream  # a pyarrow NativeFile: a binary file object
        return
    openers: dict[str | None, Callable[[Path, str], Any]] = {
        "gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open, None: open,
    }  # fmt: skip
    with openers[kind](path, "rb") as handle:
        yield cast(IO[bytes], handle)


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """A price file (compressed or not) open as UTF-8 text, a byte-order mark left out, its
    line ends as they are (as the csv module wants them)."""
    with open_data(path) as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


@contextmanager
def _parquet_source(path: Path) -> Iterator[Any]:
    """What pyarrow reads a Parquet file from: its path, or its decompressed bytes in memory
    (Parquet needs to seek)."""
    if path.suffix.lower() not in COMPRESSED:
        yield path
        return
    with open_data(path) as raw:
        yield pa.BufferReader(raw.read())


def sniff_delimiter(header: str) -> str:
    """A CSV header line's field separator: a comma, or a semicolon or tab when the line holds
    more of those (a spreadsheet's CSV in a locale whose decimal mark is a comma; a TSV)."""
    return max((",", ";", "\t"), key=lambda d: (header.count(d), d == ","))


@contextmanager
def _csv_header(
    path: Path,
) -> Iterator[tuple[list[str], Iterator[list[str]], str, bool, str | None]]:
    """The price CSV (compressed or not) open: its header, a reader of its lines of data, its
    field separator (`sniff_delimiter`), whether it has no header row (a Binance kline file:
    its header is then `KLINE_COLUMNS`, and its first line is data), and the line before the
    header when there is one (`_is_banner`: CryptoDataDownload's files start with its
    address). An empty file is an error. Read errors are the caller's to word."""
    with open_text(path) as handle:
        line = handle.readline()
        banner, rest = None, cast(Iterator[str], handle)
        if _is_banner(line):
            following = handle.readline()
            if not following or _is_banner(following):  # one field a line: not a banner
                rest = itertools.chain([following], handle)
            else:
                banner, line = line.strip(), following
        delimiter = sniff_delimiter(line)
        reader = csv.reader(itertools.chain([line], rest), delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path} is empty", hint=f"write the header {','.join(COLUMNS)}")
        names = _kline_names(header) if delimiter == "," and banner is None else None
        if names is not None:
            yield list(names), itertools.chain([header], reader), delimiter, True, None
        else:
            yield header, reader, delimiter, False, banner


def _is_banner(line: str) -> bool:
    """Whether ``line`` is one field of text and no header: no comma, semicolon or tab in it
    (a price file's header names two columns at least) and not empty; or the separator line
    Excel reads and writes (``sep=;``: the header that follows says the same)."""
    text = line.strip()
    if re.fullmatch(r"sep=.", text):
        return True
    return bool(text) and not any(d in text for d in (",", ";", "\t"))


def _parquet_index_time(schema: pa.Schema) -> str | None:
    """The column pandas writes an unnamed date-time index to, when ``schema`` has one."""
    at = schema.get_field_index(PANDAS_INDEX)
    kind = schema.field(at).type if at >= 0 else None
    return PANDAS_INDEX if kind is not None and (pa.types.is_timestamp(kind)
                                                  or pa.types.is_date(kind)) else None  # fmt: skip


def _csv_layout(path: Path) -> tuple[_Layout, bool]:
    """The CSV's `_layout`, and whether its times are date-time texts (its first time that is
    not empty is one), from one read of its first lines. A first column with no name and a
    date-time in the first line is pandas' unnamed date-time index: the times. A file
    separated by semicolons or tabs whose first prices are written with a decimal comma
    (``0,9987``) is read with that mark."""
    first: str | None = None
    try:
        with _csv_header(path) as (header, rows, delimiter, headerless, banner):
            head = next(rows, None)
            # pandas' unnamed date-time index: a first column with no name, a date-time in it
            stamp = head[0].strip() if head else ""
            unnamed = len(header) > 1 and not _clean_name(header[0])
            index_time = header[0] if unnamed and _is_date_time(stamp) else None
            try:
                layout = _layout(path, header, index_time)
            except InputError as exc:
                if not headerless:
                    raise
                raise InputError(
                    f"{path}: no header row, and its name is not a Binance kline file's, "
                    "so its symbol is unknown",
                    hint="name it as Binance does (USDCUSDT-1h-2023-03.csv), or write the "
                    f"header {','.join(COLUMNS)}",
                ) from exc
            if headerless:
                note = (f"{path.name}: no header row: read as a Binance kline file (its close "
                        "price at its close_time)")  # fmt: skip
                renamed = f"{path.name}: columns read as"  # said by the note
                kept = [n for n in layout.notes if not n.startswith(renamed)]
                layout = replace(layout, columns=tuple(header), notes=(note, *kept))
            at = header.index(str(layout.names["timestamp"]))
            price = layout.names["usd_price"]
            columns = [header.index(a) for a in layout.assets]
            cells = columns or ([header.index(price)] if price is not None else [])
            looked: list[list[str]] = [] if head is None else [head]
            # a read error: the full read says what is wrong, with its line
            with suppress(*UNREADABLE, csv.Error):
                looked += itertools.islice(rows, WIDE_ROWS_LOOKED_AT - len(looked))
            first = next((row[at].strip() for row in looked if len(row) > at
                          and row[at].strip()), None)  # fmt: skip
            values = [row[k].strip() for row in looked for k in cells if k < len(row)]
            if banner is not None:
                note = (
                    f"{path.name}: its first line ({banner[:60]!r}) is no header: read from line 2"
                )
                layout = replace(layout, banner=1, notes=(note, *layout.notes))
            if delimiter != ",":
                comma = any(_DECIMAL_COMMA.fullmatch(v) for v in values)
                named = "a tab" if delimiter == "\t" else repr(delimiter)
                note = f"{path.name}: fields separated by {named}" + (
                    ", numbers with a decimal comma" if comma else ""
                )
                layout = replace(layout, delimiter=delimiter, decimal="," if comma else ".",
                                 notes=(*layout.notes, note))  # fmt: skip
            written = [v for v in values if _GROUPED[layout.decimal].fullmatch(v)]
            if written:
                layout = _as_written(layout, path, written[0])
            priced = not columns or any(_is_number(layout.number(v)) for v in values)
            if not priced:
                raise InputError(
                    f"{path}: missing column(s) symbol, usd_price (and its other columns, "
                    f"{', '.join(layout.assets)}, hold no price in its first "
                    f"{WIDE_ROWS_LOOKED_AT} rows)",
                    hint="write the columns symbol, timestamp, usd_price, or a time column and "
                    "one column of prices per asset, named by its symbol",
                )
    except (*UNREADABLE, csv.Error) as exc:
        raise InputError(
            f"cannot read CSV file {path}: {exc}", hint="check the file is whole"
        ) from exc
    dated = first is not None and _is_date_time(first)
    return layout, dated


def parse_time_ms(text: str, order: str | None = None) -> float | None:
    """A date-time text as Unix milliseconds, UTC when it names no zone; None when it is not
    one. ISO 8601 (``2022-05-09T00:00Z``, ``2022-05-09 00:00:00 UTC``, a date), or as
    spreadsheets and some sites write dates (`_local_moment`): ``05/09/2022 14:00``,
    ``09.05.2022``, ``2022/05/09``, ``May 09, 2022``, ``9-May-22 2:00 PM``. ``order`` (``"mdy"`` or
    ``"dmy"``) says which of day and month comes first in a date of numbers only
    (`date_order`); None accepts a date valid in either."""
    text = _zoned(text.strip())
    if len(text) >= 10 and text[:4].isdigit():  # fromisoformat also takes week dates, numbers
        with suppress(ValueError):
            return iso_moment(text).timestamp() * 1000.0
    for each in (order,) if order else ("mdy", "dmy"):
        moment = _local_moment(text, each)
        if moment is not None:
            return moment.timestamp() * 1000.0
    return None


# the time of day after a date: 14:00, 14:00:05, 14:00:05.250, 2:00 PM; then UTC, GMT or Z
_CLOCK = (
    r"(?:[ T,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d{1,6})?)?"
    r"\s*(?P<half>[AaPp]\.?[Mm]\.?)?)?\s*(?:UTC|GMT|Z|\+00:?00)?"
)
# a date in numbers: two numbers of one or two digits and a year, separated by / . or -
_NUMERIC_DATE = re.compile(
    r"(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second_>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})" + _CLOCK
)
# a date in numbers, year first, as East Asian locales write it: 2022/05/09, 2022.05.09
_YEAR_FIRST = re.compile(
    r"(?P<year>\d{4})(?P<sep>[/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})" + _CLOCK
)
# a date with its month's English name: May 09, 2022 · 9 May 2022 · 9-May-22 · Mon, 09 May 2022
_MONTH_FIRST = re.compile(
    r"(?:[A-Za-z]{3,9},? )?(?P<month>[A-Za-z]{3,9})\.? (?P<day>\d{1,2}),? (?P<year>\d{4})" + _CLOCK
)
_DAY_FIRST = re.compile(
    r"(?:[A-Za-z]{3,9},? )?(?P<day>\d{1,2})[ -](?P<month>[A-Za-z]{3,9})\.?[ -](?P<year>\d{4}|\d{2})"
    + _CLOCK
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _local_moment(text: str, order: str) -> datetime | None:
    """A date that is not ISO 8601 (`parse_time_ms`), UTC; ``order`` for one of numbers only:
    ``"mdy"`` (the US's 05/09/2022, May 9) or ``"dmy"`` (Europe's 09/05/2022 and 09.05.2022)."""
    found = _NUMERIC_DATE.fullmatch(text)
    if found is not None:
        first, second = int(found["first"]), int(found["second_"])
        month, day = (first, second) if order == "mdy" else (second, first)
    elif (found := _YEAR_FIRST.fullmatch(text)) is not None:
        month, day = int(found["month"]), int(found["day"])
    else:
        found = _MONTH_FIRST.fullmatch(text) or _DAY_FIRST.fullmatch(text)
        if found is None or found["month"][:3].lower() not in _MONTHS:
            return None
        month, day = _MONTHS.index(found["month"][:3].lower()) + 1, int(found["day"])
    year = int(found["year"]) + (2000 if len(found["year"]) == 2 else 0)
    hour = int(found["hour"] or 0)
    if found["half"]:  # 12 AM is midnight, 12 PM noon
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if found["half"][0] in "Pp" else 0)
    fraction = float(found["fraction"] or 0)
    try:
        moment = datetime(year, month, day, hour, int(found["minute"] or 0),
                          int(found["second"] or 0), tzinfo=UTC)  # fmt: skip
    except ValueError:  # 31/02, 25:00
        return None
    return moment + timedelta(seconds=fraction)


def date_order(texts: Sequence[str]) -> tuple[str, str | None]:
    """Which of day and month comes first in ``texts``' dates of numbers only (``"mdy"`` or
    ``"dmy"``), and why when the dates alone do not say it. A first number over 12 is a day
    (dmy), a second one over 12 too (mdy); when every date could be either, the order in which
    the rows' times move least (hourly rows in a day-first file read month-first jump a month
    at each midnight); when even that is even (one day's rows), a dot or hyphen is day-first
    as in Europe, a slash month-first as in the US."""
    numeric = [m for m in map(_NUMERIC_DATE.fullmatch, texts) if m is not None]
    if not numeric:
        return "mdy", None
    if any(int(m["first"]) > 12 for m in numeric):
        return "dmy", None
    if any(int(m["second_"]) > 12 for m in numeric):
        return "mdy", None

    def moves(order: str) -> float:
        times = [_local_moment(m[0], order) for m in numeric]
        stamps = [t.timestamp() for t in times if t is not None]
        return float(np.abs(np.diff(stamps)).sum()) if len(stamps) > 1 else 0.0

    month_first, day_first = moves("mdy"), moves("dmy")
    if month_first != day_first:
        order = "mdy" if month_first < day_first else "dmy"
        return order, "no day over 12 tells, but the rows' times move least so"
    order = "mdy" if numeric[0]["sep"] == "/" else "dmy"
    writes = "the US writes" if order == "mdy" else "Europe writes"
    return order, f"nothing in the file tells, so as {writes} dates with {numeric[0]['sep']!r}"


def _zoned(text: str) -> str:
    """``text`` with a trailing `` UTC`` (as CoinGecko's exports write it) as ``+00:00``."""
    return text[:-4] + "+00:00" if text.upper().endswith(" UTC") else text


def iso_moment(text: str) -> datetime:
    """An ISO 8601 text as a moment, UTC when it names no zone (`` UTC`` at its end is UTC
    too); ValueError when it is not one."""
    moment = datetime.fromisoformat(_zoned(text.strip()))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _times_ms(
    column: pa.ChunkedArray | pa.Array,
) -> tuple[NDArray[np.float64], pa.Array, NDArray[np.int64], str | None]:
    """Date-time texts as Unix milliseconds (NaN where a text is not one), each distinct text
    parsed once; the distinct texts with each row's index in them (-1: none), to name a bad
    row; and how dates of numbers only were read (`date_order`; None for none)."""
    encoded = pc.dictionary_encode(column.cast(pa.string()))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary  # in the order the rows first hold them
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    first = [_zoned(t.strip()) for t in distinct[:WIDE_ROWS_LOOKED_AT].to_pylist() if t]
    example = next((t for t in first if _NUMERIC_DATE.fullmatch(t)), None)
    times = None if example is not None else _iso_ms(distinct, zoned=_has_zone(first))
    said = None
    if times is None:  # one at a time: dates as spreadsheets write them, or bad ones
        texts = distinct.to_pylist()
        order, why = "mdy", None
        if example is not None:  # else no order to decide
            order, why = date_order([_zoned(t.strip()) for t in texts if t])
            day_month = "month/day/year" if order == "mdy" else "day/month/year"
            said = f"dates read as {day_month} ({example!r})" + (
                f": {why}; write ISO 8601 dates (2022-05-09) to be sure" if why else ""
            )
        parsed = [parse_time_ms(t, order) for t in texts]
        times = np.array([math.nan if v is None else v for v in parsed], np.float64)
    return np.append(times, math.nan)[codes], distinct, codes, said


def _has_zone(texts: list[str]) -> bool:
    """Whether the first of ``texts`` ends with a zone (Z, +02:00; `_zoned` made UTC one)."""
    return bool(texts) and bool(re.search(r"(?:Z|[+-]\d{2}:?\d{2})$", texts[0], re.IGNORECASE))


def _iso_ms(texts: pa.Array, *, zoned: bool) -> NDArray[np.float64] | None:
    """``texts`` as Unix milliseconds through Arrow's ISO 8601 reader (many times faster than
    one `parse_time_ms` each), when every one is ISO 8601 with no zone, or every one names its
    zone (tried first when ``zoned``); else None (`parse_time_ms` then reads each, and names
    the bad ones)."""
    texts = pc.replace_substring_regex(pc.utf8_trim_whitespace(texts), r"(?i) UTC$", "Z")
    kinds = [pa.timestamp("us"), pa.timestamp("us", tz="UTC")]
    for kind in kinds[::-1] if zoned else kinds:
        with suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            micros = texts.cast(kind).cast(pa.int64())
            return cast(NDArray[np.float64], micros.to_numpy(zero_copy_only=False) / 1000.0)
    return None


def read_prices(path: Path, *, skip_bad: bool = False) -> PriceSeries:
    """The price series in ``path``, sorted by time. A row that is not a price (a field that is
    not a number, a wrong field count, an empty symbol, a price or timestamp ≤ 0, a price of
    1e15 or more, a timestamp from the year 3000 on) is an error
    naming its line, or with ``skip_bad`` is left out and described in ``skipped``; a file
    with no good row is an error either way."""
    if not path.is_file():
        raise InputError(
            f"price file {path} does not exist", hint="give a CSV, Parquet or JSON path"
        )
    lines: NDArray[np.int64] | None = None  # each row's file line, when not row + data_line
    origin: NDArray[np.int64] | None = None  # the file row of each row (one column per asset)
    skipped: list[str] = []
    records: NDArray[np.int64] | None = None  # JSON: the record (or line) of each row
    if is_json(path):
        whole, records, unit = _read_json(path)
        index = PANDAS_INDEX if PANDAS_INDEX in whole.column_names else None
        layout = _layout(path, whole.column_names, index)
        table, origin = _canonical(whole, layout, path)
        records = records if origin is None else records[origin]
    elif is_parquet(path):
        whole = _read_parquet(path)
        layout = _layout(path, whole.column_names, _parquet_index_time(whole.schema))
        table, origin = _canonical(whole, layout, path)
    else:
        layout, dated = _csv_layout(path)
        try:
            read, layout = _read_csv(path, layout, dated)
            table, origin = _canonical(read, layout, path)
            lines = None if origin is None else origin + layout.data_line
        except InputError as exc:
            if not skip_bad:
                raise
            # row by row: slower, names each line (with thousands separators when the file has
            # them)
            layout = exc.layout if isinstance(exc, _UnreadCsv) else layout
            table, lines, skipped = _read_csv_rows(path, layout, dated)
    notes: tuple[str, ...] = layout.notes
    if "chain" in table.column_names:
        kept, said = _one_chain(table, path)
        table = table.drop_columns(["chain"])
        if kept is not None:  # the file rows of the rows kept, wherever a message names them
            table = table.take(kept)
            if records is not None:
                records = records[kept]
            elif lines is not None:
                lines = lines[kept]
            elif origin is not None:
                origin = origin[kept]
            elif is_parquet(path):
                origin = kept
            else:
                lines = kept + layout.data_line
            notes += (said,)
    try:
        symbols = table.column("symbol").cast(pa.string()).combine_chunks().dictionary_encode()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"{path}: symbol must be text ({exc})") from exc
    names = symbols.dictionary.to_pylist()
    codes = symbols.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    quotes: tuple[tuple[str, str], ...] = ()
    if layout.names["symbol"] is not None:
        names, based = _usd_bases(names)
        if based:
            renamed = [f"{n} → {b}" for n, (b, _) in based.items()]
            notes += (
                f"{path.name}: pairs quoted in dollars read as their base, their prices as US "
                f"dollars ({shown_names(renamed)})",
            )
        quotes = tuple((b, q) for b, q in based.values() if q != "USD")
    elif layout.symbol is not None and layout.quote:
        quotes = ((layout.symbol, layout.quote),)
    moments = table.column("timestamp")
    texts: pa.Array | None = None  # date-time texts, to name a bad row by what it holds
    codes_of_text: NDArray[np.int64] | None = None
    if pa.types.is_string(moments.type) or pa.types.is_large_string(moments.type):
        with suppress(pa.ArrowInvalid):  # numbers written as texts (GraphQL's BigInt): numbers
            moments = moments.cast(pa.float64())
    if pa.types.is_timestamp(moments.type) or pa.types.is_date(moments.type):
        # a date-time column (Parquet written from pandas, say): as epoch milliseconds, UTC
        # when it carries no zone
        unit = pa.timestamp("ms", tz=getattr(moments.type, "tz", None))
        moments = moments.cast(unit, safe=False)  # below a millisecond: truncated
        moments = moments.cast(pa.int64())
    elif pa.types.is_string(moments.type) or pa.types.is_large_string(moments.type):
        # ISO 8601 texts (CoinGecko's export, a spreadsheet's): parsed, UTC without a zone
        parsed, texts, codes_of_text, dates = _times_ms(moments)
        moments = pa.array(parsed, pa.float64())
        if dates is not None:
            notes += (f"{path.name}: {dates}",)
    if COMPRESSED.get(path.suffix.lower()) == "zip":
        notes = (f"{path.name}: read {_zip_member(path)} from the archive", *notes)
    try:
        stamp = moments.cast(pa.float64()).to_numpy(zero_copy_only=False)
        price = table.column("usd_price").cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(
            f"{path}: {layout.names['timestamp']!r} must be times and "
            f"{layout.names['usd_price']!r} numbers ({exc})"
        ) from exc
    raw = stamp
    valid = np.isfinite(stamp) & (stamp > 0)
    median = float(np.median(stamp[valid])) if texts is None and valid.any() else None
    if median is not None and median < SECONDS_BELOW:
        # epoch milliseconds this small would be before March 1973: the file is in seconds (the
        # median, so that one stray value does not decide; it then fails as a row)
        stamp = stamp * 1000.0
        notes += (
            f"{path.name}: timestamps read as Unix seconds (they are under 1e11, which in "
            "milliseconds would be before March 1973)",
        )
    elif median is not None and median >= MICROS_FROM:
        # as milliseconds, after the year 5000: microseconds (Binance's klines since 2025) or
        # nanoseconds (pandas' datetime64 as integers)
        unit, per_ms, over = (
            ("nano", 1e6, "1e17") if median >= NANOS_FROM else ("micro", 1e3, "1e14")
        )
        stamp = stamp / per_ms
        notes += (
            f"{path.name}: timestamps read as Unix {unit}seconds (they are over {over}, which "
            "in milliseconds would be after the year 5000)",
        )
    bad = ~np.isfinite(stamp) | ~np.isfinite(price) | (price <= 0) | (stamp <= 0)
    bad |= (stamp >= LAST_TIMESTAMP_MS) | (price >= MAX_PRICE)
    empty = np.array([not name for name in names] + [True], dtype=bool)
    bad |= empty[codes]

    parquet = records is None and is_parquet(path)

    def where(row: int) -> str:
        if records is not None:
            return f"{unit} {int(records[row])}"
        if parquet:
            return f"row {row if origin is None else int(origin[row])}"
        return f"line {row + layout.data_line if lines is None else int(lines[row])}"

    def described(row: int) -> str:
        symbol = names[codes[row]] if codes[row] >= 0 else None
        if texts is not None and codes_of_text is not None and not np.isfinite(stamp[row]):
            time = texts[codes_of_text[row]].as_py() if codes_of_text[row] >= 0 else ""
            return f"{where(row)}: timestamp {time!r} is not a date-time (symbol={symbol!r})"
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
        quotes=quotes,
    )


def _one_chain(table: pa.Table, path: Path) -> tuple[NDArray[np.int64] | None, str]:
    """The rows to keep of a table whose ``chain`` column names each row's chain: for a symbol
    priced on several chains (a token and its bridged copies, interleaved they would read as one
    noisy series), only its rows of the chain with the most (mainnet first among equals); and
    what to tell the user. None: every symbol is on one chain, all rows kept."""
    pairs = pa.table(
        {key: table.column(key).cast(pa.string()).fill_null("") for key in ("symbol", "chain")}
    )
    counts = pairs.group_by(["symbol", "chain"]).aggregate([([], "count_all")]).to_pylist()
    by_symbol: dict[str, list[tuple[int, str]]] = {}
    for row in counts:
        by_symbol.setdefault(row["symbol"], []).append((row["count_all"], row["chain"]))
    several = {s: c for s, c in by_symbol.items() if len(c) > 1}
    if not several:
        return None, ""
    # per symbol, its chain: the most rows, then mainnet, then the first name
    chosen = {
        s: min(c, key=lambda n_c: (-n_c[0], n_c[1].strip().lower() not in MAINNET, n_c[1]))[1]
        for s, c in by_symbol.items()
    }
    keys = pc.binary_join_element_wise(pairs.column("symbol"), pairs.column("chain"), "\x1f")
    wanted = pa.array([f"{s}\x1f{c}" for s, c in chosen.items()], pa.string())
    kept = np.flatnonzero(pc.is_in(keys, value_set=wanted).to_numpy(zero_copy_only=False))
    said = [f"{s} on {chosen[s] or '(none)'} ({len(c)} chains)" for s, c in sorted(several.items())]
    return kept.astype(np.int64), (
        f"{path.name}: symbols priced on several chains read on one each, the chain with the "
        f"most rows ({shown_names(said)}); to watch a bridged copy, give its chain's rows alone"
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
        raise InputError("no price file given", hint="give one or more CSV, Parquet or JSON files")
    if len(paths) == 1:
        return in_dollars(read_prices(paths[0], skip_bad=skip_bad))
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
    series = PriceSeries(
        text[code],
        time[keep],
        price[keep],
        codes=code,
        names=tuple(names),
        skipped=skipped,
        duplicates=int(dropped.sum()),
        notes=_alike_notes(paths, parts),
        quotes=tuple(dict.fromkeys(q for part in parts for q in part.quotes)),
    )
    return in_dollars(series)


QUOTE_STALE_SECONDS = 93_600.0  # a quote's price this old still converts (a daily one, late)


def in_dollars(series: PriceSeries) -> PriceSeries:
    """``series`` with the prices of each symbol read in a dollar stablecoin (its ``quotes``:
    Binance's USDCUSDT is USDC in USDT) turned into US dollars at that coin's own prices in
    the series (USDT's, from another file): each at the quote's latest price at or before it,
    not older than `QUOTE_STALE_SECONDS`; the others are left as read (as dollars), and a note
    says how many were converted. A quote with no prices of its own, or itself quoted in
    another coin, converts nothing: its prices stay read as dollars."""
    quoted = dict(series.quotes)
    price, notes = series.price, list(series.notes)
    for base, quote in quoted.items():
        own = np.flatnonzero(series.symbol == quote)
        rows = np.flatnonzero(series.symbol == base)
        if quote in quoted or not len(own) or not len(rows):
            continue
        times, values = series.time[own], series.price[own]
        at = np.searchsorted(times, series.time[rows], side="right") - 1
        fresh = (at >= 0) & (series.time[rows] - times[np.maximum(at, 0)] <= QUOTE_STALE_SECONDS)
        price = price.copy() if price is series.price else price
        price[rows[fresh]] *= values[at[fresh]]
        left = len(rows) - int(fresh.sum())
        notes.append(
            f"{base}: prices in {quote} turned into US dollars at {quote}'s own prices in the "
            f"input ({int(fresh.sum()):,} of {len(rows):,}"
            + (f"; {left:,} with no {quote} price in the {QUOTE_STALE_SECONDS / 3600:g} hours "
               "before left as read)" if left else ")")
        )  # fmt: skip
    if price is series.price:
        return series
    return replace(series, price=price, notes=tuple(notes))


def _alike_notes(paths: Sequence[Path], parts: Sequence[PriceSeries]) -> tuple[str, ...]:
    """The notes of the files ``paths`` (read as ``parts``), each said once for the files it is
    the same note of but for their names (a year of Binance's daily files: three notes, not
    1,095): the first such file's, its name followed by how many more it stands for."""
    alike: dict[str, list[tuple[str, str]]] = {}
    for path, part in zip(paths, parts, strict=True):
        name, bare = path.name, _bare_name(path)
        for note in part.notes:
            shape = note.replace(name, "\0").replace(bare, "\1") if bare else note
            alike.setdefault(shape, []).append((note, name))
    said = []
    for found in alike.values():
        note, name = found[0]
        if len(found) > 1 and note.startswith(f"{name}: "):
            note = f"{name} (and {len(found) - 1} more files alike): {note[len(name) + 2 :]}"
        said.append(note)
    return tuple(said)


def is_json(path: Path) -> bool:
    """Whether ``path`` holds JSON (``.json``, ``.jsonl``, ``.ndjson``; compressed or in a zip
    archive or not)."""
    return data_name(path).lower().endswith(JSON_SUFFIXES)


def _read_json(path: Path) -> tuple[pa.Table, NDArray[np.int64], str]:
    """A JSON price file as a table of its records' fields, the record each row is (1 on),
    and what a record is called in a bad row's place ("record", or "line" for JSON lines).

    Read: CoinGecko's ``market_chart`` (``{"prices": [[ms, price], …], …}``, the asset named
    by the file), a bare list of ``[time, price]`` pairs (the same), a list of objects (pandas'
    ``to_json(orient="records")``: their keys are the columns), or JSON lines of objects; a
    list of objects in an API's envelope (`_enveloped`); Binance's REST klines (lists of the
    columns of its kline CSVs, `KLINE_COLUMNS`)."""
    lined = data_name(path).lower().endswith((".jsonl", ".ndjson"))
    try:
        with open_text(path) as handle:
            text = handle.read()
    except UNREADABLE as exc:
        raise InputError(
            f"cannot read JSON file {path}: {exc}", hint="check the file is whole"
        ) from exc
    items: list[Any] = []
    numbers: list[int] = []
    try:
        if lined:
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    items.append(json.loads(line))
                    numbers.append(number)
        else:
            data = json.loads(text)
            said = _api_error(data)
            if said is not None:
                raise InputError(
                    f"{path}: an API's error answer, not prices ({said!r})",
                    hint="fetch the prices again (after the limit it names, if any)",
                )
            items = _json_items(data)
            numbers = list(range(1, len(items) + 1))
    except json.JSONDecodeError as exc:
        where = f"line {number}" if lined else f"line {exc.lineno}, column {exc.colno}"
        raise InputError(
            f"{path}, {where}: not JSON ({exc.msg})", hint="fix the file, or give it as CSV"
        ) from exc
    except ValueError as exc:
        raise InputError(f"{path}: JSON that is not a price series", hint=JSON_SHAPES) from exc
    if not items:
        raise InputError(f"{path} holds no price", hint=JSON_SHAPES)
    unit = "line" if lined else "record"
    klines = _kline_names([str(v) for v in items[0]]) if isinstance(items[0], list) else None
    if klines is not None:  # Binance's REST klines: lists of its kline CSV's columns
        items = [dict(zip(klines, i, strict=False)) if isinstance(i, list) else i for i in items]
    pairs = all(isinstance(i, list) for i in items)
    wrong = next((n for n, i in zip(numbers, items, strict=True)
                  if (len(i) != 2 if pairs else not isinstance(i, dict))), None)  # fmt: skip
    if wrong is not None:
        what = "not a [time, price] pair" if pairs else "neither an object nor a [time, price] pair"
        raise InputError(f"{path}, {unit} {wrong}: {what}", hint=JSON_SHAPES)
    try:
        if pairs:
            table = pa.table({"timestamp": pa.array([i[0] for i in items]),
                              "usd_price": pa.array([i[1] for i in items])})  # fmt: skip
        else:
            table = pa.Table.from_pylist(items)
            while any(pa.types.is_struct(t) for t in table.schema.types):
                table = table.flatten()  # nested objects: {"token": {"symbol": …}} as token.symbol
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(
            f"{path}: a field holds values of different kinds ({exc})",
            hint="numbers for prices; numbers or ISO 8601 texts for times",
        ) from exc
    return table, np.array(numbers, dtype=np.int64), unit


def _json_items(data: Any) -> list[Any]:
    """The records of a JSON document: a list as it is; CoinGecko's market_chart's prices;
    pandas' ``to_json`` of a frame in its default orient (``{column: {index: value}}``), or
    ``split`` or ``index``, its index a column when it holds times (not when it holds row
    numbers). ValueError when it is none of these."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise ValueError("not a list or an object")
    if isinstance(data.get("prices"), list):
        return list(data["prices"])  # CoinGecko's market_chart; its other series are not read
    if isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):
        columns, index = data["columns"], data.get("index") or []
        rows = [dict(zip(columns, row, strict=False)) for row in data["data"]]
        return _with_times(rows, [str(i) for i in index])
    records = _enveloped(data)
    if records is not None:
        return records
    if not data or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError("not a frame")
    keys = [str(k) for k in data]
    if _times(keys) or all(k.isdigit() for k in keys):  # orient="index": {row: {column: …}}
        return _with_times(list(data.values()), keys)
    index = list(dict.fromkeys(k for column in data.values() for k in column))
    rows = [{column: data[column].get(k) for column in data} for k in index]
    return _with_times(rows, index)


def _api_error(data: Any) -> str | None:
    """The message of a market-data API's error answer saved as a price file: CoinGecko's
    ``{"status": {"error_code": 429, "error_message": …}}`` (or ``{"error": …}``),
    CryptoCompare's ``{"Response": "Error", "Message": …}``, Binance's ``{"code": -1121,
    "msg": …}``; None for other JSON."""
    if not isinstance(data, dict):
        return None
    status = data.get("status")
    if isinstance(status, dict) and status.get("error_message"):
        return str(status["error_message"])
    if data.get("Response") == "Error" and data.get("Message"):
        return str(data["Message"])
    if isinstance(data.get("code"), int) and data.get("msg"):
        return str(data["msg"])
    error = data.get("error")
    return str(error) if error and isinstance(error, (str, list, dict)) else None


def _enveloped(data: dict[str, Any]) -> list[Any] | None:
    """The records of a market-data API's answer that wraps them (`ENVELOPES`, one level or
    two: CryptoCompare's ``{"Response": "Success", "Data": {"Data": [{"time": …, "close": …},
    …]}}``, Dune's ``{"result": {"rows": […], "metadata": …}}``), when they are a list of
    objects; else None. GraphQL's answer (The Graph's subgraphs) has them under ``data`` and
    the query's one field: ``{"data": {"tokenHourDatas": [{"periodStartUnix": …, "priceUSD":
    …}]}}``."""
    for key in ENVELOPES:
        inner = data.get(key)
        if isinstance(inner, dict):
            lists = [v for v in inner.values() if isinstance(v, list)]
            named = (inner[k] for k in ENVELOPES if isinstance(inner.get(k), list))
            # GraphQL's (The Graph's subgraphs): {"data": {"tokenHourDatas": […]}}
            inner = next(named, lists[0] if len(lists) == 1 and key == "data" else None)
        if isinstance(inner, list) and inner and all(isinstance(i, dict) for i in inner):
            return inner
    return None


def _times(keys: Sequence[str]) -> bool:
    """Whether ``keys`` (a frame's index, as JSON writes it) are times, not row numbers:
    epoch seconds or milliseconds (from 1973 on), or ISO 8601 date-times."""
    return bool(keys) and all(float(k) > 1e8 if _is_number(k) else _is_date_time(k) for k in keys)


def _with_times(rows: list[Any], index: Sequence[str]) -> list[Any]:
    """``rows`` with their index as a column (named as pandas' to_parquet names an unnamed
    index) when it holds times and no column of the rows is a time already."""
    if len(index) != len(rows) or not _times(index):
        return rows
    names = {"timestamp", *PRICE_COLUMNS["timestamp"]}
    first = rows[0] if rows and isinstance(rows[0], dict) else {}
    if any(str(k).strip().lower() in names for k in first):
        return rows
    stamps = [float(k) if _is_number(k) else k for k in index]
    return [
        {PANDAS_INDEX: t, **r} if isinstance(r, dict) else r
        for t, r in zip(stamps, rows, strict=True)
    ]


def _line_of(text: str) -> int:
    """The number in "line 12: …" / "row 3: …", to keep the skipped rows in file order."""
    return int(text.split(":", 1)[0].split()[1])


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        with _parquet_source(path) as source:
            return pq.read_table(source)
    except (*UNREADABLE, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet file {path}: {exc}") from exc


def _canonical(
    table: pa.Table, layout: _Layout, path: Path
) -> tuple[pa.Table, NDArray[np.int64] | None]:
    """``table``'s symbol, timestamp and usd_price columns under those names (a symbol taken
    from the file's name repeated on every row); a table of one column per asset as rows of
    its prices (an empty cell is no price then, not a bad row), with the row each came from."""
    names = layout.names
    if layout.assets:
        return _melt(table, layout, path)
    columns: dict[str, Any] = {
        key: table.column(names[key]) for key in COLUMNS if names[key] is not None
    }
    if names["symbol"] is None:
        columns["symbol"] = pa.array([layout.symbol] * table.num_rows, pa.string())
    canonical = {key: columns[key] for key in COLUMNS}
    if layout.chain is not None:
        canonical["chain"] = table.column(layout.chain)
    return pa.table(canonical), None


def _melt(table: pa.Table, layout: _Layout, path: Path) -> tuple[pa.Table, NDArray[np.int64]]:
    time = table.column(str(layout.names["timestamp"]))
    parts, origins = [], []
    for name in layout.assets:
        prices = table.column(name)
        if not (pa.types.is_floating(prices.type) or pa.types.is_integer(prices.type)
                or pa.types.is_null(prices.type)):  # fmt: skip
            raise InputError(
                f"{path}: column {name.strip()!r} holds {prices.type}, not prices",
                hint="one column of prices per asset, named by its symbol, and a time column",
            )
        rows = np.flatnonzero(prices.is_valid().to_numpy(zero_copy_only=False))
        symbol = _clean_name(name)
        parts.append(
            pa.table(
                {
                    "symbol": pa.array([symbol] * len(rows), pa.string()),
                    "timestamp": time.take(rows),
                    "usd_price": prices.take(rows).cast(pa.float64()),
                }
            )
        )
        origins.append(rows)
    return pa.concat_tables(parts), np.concatenate(origins).astype(np.int64)


def _as_written(layout: _Layout, path: Path, example: str | None) -> _Layout:
    """``layout`` reading prices written as ``example`` is (`_GROUPED`; None: further down
    than the first rows), and saying so."""
    thousands = "," if layout.decimal == "." else "."
    where = f"({example!r})" if example is not None else "(past the first rows)"
    note = f"{path.name}: prices written with a dollar sign or thousands separators {where}"
    return replace(layout, thousands=thousands, notes=(*layout.notes, f"{note}, read as numbers"))


def _read_csv(path: Path, layout: _Layout, dated: bool) -> tuple[pa.Table, _Layout]:
    """The CSV's columns, and its layout: when the prices cannot be read as numbers and the
    file's decimal mark is a point, a second reading takes commas in them as thousands
    separators (a spreadsheet's 1,234.56 past the first rows, where `_csv_layout` looks)."""
    read = layout
    try:
        try:
            return _read_arrow_csv(path, layout, dated), layout
        except pa.ArrowInvalid:
            if layout.written or layout.decimal != ".":
                raise
            read = _as_written(layout, path, None)
            try:
                return _read_arrow_csv(path, read, dated), read
            except _Ambiguous:
                read = layout  # commas that are no proof of thousands: not numbers
                raise
    except pa.ArrowInvalid as exc:
        try:
            _raise_first_bad_line(path, read, dated, exc)
            raise InputError(f"cannot read CSV file {path}: {exc}") from exc
        except InputError as error:
            raise _UnreadCsv(error, read) from exc
    except UNREADABLE as exc:  # a truncated or corrupt compressed stream, a read error
        raise InputError(
            f"cannot read CSV file {path}: {exc}", hint="check the file is whole"
        ) from exc


class _Ambiguous(pa.ArrowInvalid):  # type: ignore[misc]  # pyarrow has no type stubs
    """Prices with commas that may as well be decimal marks (1,000 and no 1,234.5)."""


class _UnreadCsv(InputError):
    """A CSV the columnar reader could not read, and the layout to read its lines with."""

    def __init__(self, error: InputError, layout: _Layout) -> None:
        super().__init__(error.message, hint=error.hint)
        self.layout = layout


def _read_arrow_csv(path: Path, layout: _Layout, dated: bool) -> pa.Table:
    import pyarrow.csv as pcsv

    prices = pa.string() if layout.written else pa.float64()  # cleaned, then cast
    kinds = {"symbol": pa.string(), "timestamp": pa.string() if dated else pa.float64(),
             "usd_price": prices}  # fmt: skip
    types = {name: kinds[key] for key, name in layout.names.items() if name is not None}
    if layout.chain is not None:
        types[layout.chain] = pa.string()
    types.update({name: prices for name in layout.assets})
    parse = pcsv.ParseOptions(delimiter=layout.delimiter)
    convert = pcsv.ConvertOptions(column_types=types, decimal_point=layout.decimal)
    read = pcsv.ReadOptions(column_names=list(layout.columns) or None, skip_rows=layout.banner)
    options = {"read_options": read, "parse_options": parse, "convert_options": convert}
    if COMPRESSED.get(path.suffix.lower()) in (None, "gzip", "bz2", "zstd"):
        # pyarrow decompresses these itself (from the suffix), faster than through Python
        table = pcsv.read_csv(path, **options)
    else:
        with open_data(path) as raw:
            table = pcsv.read_csv(raw, **options)
    if not layout.written:
        return table
    for name in (layout.names["usd_price"], *layout.assets):
        if name is None:
            continue
        text = pc.utf8_trim_whitespace(table.column(name))
        dollars = pc.any(pc.starts_with(text, "$")).as_py()
        text = pc.replace_substring_regex(text, r"^\$\s*", "")
        grouped = pc.match_substring_regex(text, f"^{_IN_GROUPS[layout.decimal]}$")
        proof = pc.match_substring_regex(text, f"^(?:{_GROUPED[layout.decimal].pattern})$")
        if pc.any(grouped).as_py() and not pc.any(proof).as_py() and not dollars:
            # only numbers like 1,000: as likely decimal commas (1.000) as thousands
            raise _Ambiguous(f"{name}: commas that may be decimal marks")
        text = pc.if_else(grouped, pc.replace_substring(text, layout.thousands, ""), text)
        if layout.decimal == ",":
            text = pc.replace_substring(text, ",", ".")
        # an empty cell, or one a spreadsheet fills when there is none: no price, as the CSV
        # reader reads these as numbers
        empty = pc.match_substring_regex(text, r"^(?:|-|n/?a|nan|null)$", ignore_case=True)
        numbers = pc.if_else(empty, pa.scalar(None, pa.string()), text).cast(pa.float64())
        table = table.set_column(table.column_names.index(name), name, numbers)
    return table


def _read_csv_rows(
    path: Path, layout: _Layout, dated: bool
) -> tuple[pa.Table, NDArray[np.int64], list[str]]:
    """The CSV read line by line (when pyarrow's reader fails on a bad line): the rows with the
    header's field count and numbers (or date-times) where they belong, as the columns symbol,
    timestamp and usd_price; each one's line; and what was wrong with each other line."""
    columns: dict[str, list[Any]] = {c: [] for c in (*COLUMNS, "chain")}
    lines: list[int] = []
    skipped: list[str] = []
    for line, values, problem in _csv_lines(path, layout, dated):
        if problem is not None:
            skipped.append(f"line {line}: {problem}")
            continue
        columns["symbol"].append(values[0])
        columns["timestamp"].append(values[1] if dated else float(values[1]))
        columns["usd_price"].append(float(values[2]))
        columns["chain"].append(values[3] if len(values) > 3 else None)
        lines.append(line)
    table = pa.table(
        {
            "symbol": pa.array(columns["symbol"], pa.string()),
            "timestamp": pa.array(columns["timestamp"], pa.string() if dated else pa.float64()),
            "usd_price": pa.array(columns["usd_price"], pa.float64()),
        }
    )
    if layout.chain is not None:
        table = table.append_column("chain", pa.array(columns["chain"], pa.string()))
    return table, np.array(lines, dtype=np.int64), skipped


def _raise_first_bad_line(path: Path, layout: _Layout, dated: bool, cause: Exception) -> None:
    """pyarrow does not say which line failed; scan the file once to say it."""
    for line, _, problem in _csv_lines(path, layout, dated, cause):
        if problem is not None:
            raise InputError(f"{path}, line {line}: {problem}", hint="fix or drop the line")


def _csv_lines(
    path: Path, layout: _Layout, dated: bool, cause: Exception | None = None
) -> Iterator[tuple[int, list[str], str | None]]:
    """Each data line of the CSV: its number, its symbol, timestamp and usd_price fields, and
    what is wrong with it (None: nothing; the fields are then numbers where they should be, or
    a date-time for the timestamp when the file's are ``dated``)."""
    try:
        with _csv_header(path) as (header, reader, *_):
            index = {name: i for i, name in enumerate(header)}
            where = [index[n] if n is not None else None for n in layout.names.values()]
            chain = None if layout.chain is None else index[layout.chain]
            for line, row in enumerate(reader, start=layout.data_line):
                if len(row) != len(header):
                    yield line, [], f"{len(row)} field(s), the header has {len(header)}"
                    continue
                if layout.assets:
                    yield from _wide_cells(line, row, index, layout, dated)
                    continue
                raw = [row[i] if i is not None else str(layout.symbol) for i in where]
                values = [raw[0], raw[1] if dated else layout.number(raw[1]), layout.number(raw[2])]
                if dated and parse_time_ms(values[1]) is None:
                    problem = f"timestamp {values[1]!r} is not a date-time (symbol={values[0]!r})"
                    yield line, [], problem
                    continue
                wrong = [k for k in (1, 2)[dated:] if not _is_number(values[k])]
                if wrong:
                    yield line, [], f"{COLUMNS[wrong[0]]} {raw[wrong[0]]!r} is not a number"
                    continue
                yield line, values if chain is None else [*values, row[chain]], None
    except (*UNREADABLE, csv.Error) as exc:
        raise InputError(
            f"cannot read CSV file {path}: {exc}", hint="check the file is whole"
        ) from (cause or exc)


def _wide_cells(
    line: int, row: list[str], index: dict[str, int], layout: _Layout, dated: bool
) -> Iterator[tuple[int, list[str], str | None]]:
    """`_csv_lines` for a line of one column per asset (``index``: each header name's
    column): a price per asset cell (an empty cell is no price at that time, not a problem)."""
    time = row[index[str(layout.names["timestamp"])]]
    if dated and parse_time_ms(time) is None:
        yield line, [], f"timestamp {time!r} is not a date-time"
        return
    if not dated and not _is_number(time):
        yield line, [], f"timestamp {time!r} is not a number"
        return
    for name in layout.assets:
        cell = row[index[name]]
        symbol = _clean_name(name)
        if not cell.strip():
            continue
        if not _is_number(layout.number(cell)):
            yield line, [], f"{symbol} {cell!r} is not a number"
            continue
        yield line, [symbol, time, layout.number(cell)], None


def _is_date_time(text: str) -> bool:
    """Whether ``text`` is a date-time, not a number (`parse_time_ms`)."""
    return bool(text) and not _is_number(text) and parse_time_ms(text) is not None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
