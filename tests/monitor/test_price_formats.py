"""Price files as other tools export them: other column names, date-time texts, one asset per
file named by the file (the upstream files of the dev price set, CoinGecko's CSV export)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proofmind.cli.main import main
from proofmind.errors import InputError
from proofmind.monitor.prices import (
    KLINE_COLUMNS,
    parse_time_ms,
    read_prices,
    symbol_from_file_name,
)

CANONICAL = "symbol,timestamp,usd_price\nUSDX,1672531200000,1.0\nUSDX,1672534800000,0.999\n"
JAN_1 = 1672531200.0  # 2023-01-01T00:00Z


def test_the_upstream_header_and_spreadsheet_headers_read_as_the_documented_one(
    tmp_path: Path,
) -> None:
    """bhemen/aave-data writes ``USD_price``; a spreadsheet adds a byte-order mark, capitals
    and spaces: the same series, and nothing to say about it."""
    reference = tmp_path / "canonical.csv"
    reference.write_text(CANONICAL, encoding="utf-8")
    upstream = tmp_path / "USDX_usd.csv"
    upstream.write_text(CANONICAL.replace("usd_price", "USD_price"), encoding="utf-8")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "\ufeff Symbol , Timestamp ,USD_Price\r\n"
        + CANONICAL.split("\n", 1)[1].replace("\n", "\r\n"),
        encoding="utf-8",
    )
    want = read_prices(reference)
    for path in (upstream, sheet):
        got = read_prices(path)
        assert got.symbol.tolist() == want.symbol.tolist() == ["USDX", "USDX"]
        assert got.time.tolist() == want.time.tolist() and got.price.tolist() == [1.0, 0.999]
        assert got.notes == (), path


def test_a_coingecko_export_is_one_asset_named_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / "steth-usd-max.csv"
    path.write_text(
        "snapped_at,price,market_cap,total_volume\n"
        "2023-01-01 00:00:00 UTC,1190.5,1.0e9,2.0e7\n"
        "2023-01-02 00:00:00 UTC,1201.25,1.1e9,2.1e7\n",
        encoding="utf-8",
    )
    series = read_prices(path)
    assert series.symbol.tolist() == ["steth", "steth"]
    assert series.time.tolist() == [JAN_1, JAN_1 + 86400]
    assert series.price.tolist() == [1190.5, 1201.25]
    assert series.notes == (
        "steth-usd-max.csv: columns read as timestamp ← 'snapped_at', usd_price ← 'price'",
        "steth-usd-max.csv: no symbol column; its prices are read as steth's (the file's name)",
    )


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("UST_usd.csv", "UST"),
        ("stETH_usd.csv.gz", "stETH"),
        ("sUSD_usd.csv", "sUSD"),  # the tail needs its separator: sUSD stays sUSD
        ("terrausd-usd-max.csv", "UST"),  # CoinGecko's id for UST
        ("usd-coin.json", "USDC"),
        ("staked-ether.json.gz", "stETH"),
        ("ustc-usd-max.csv", "ustc"),  # not an id that differs from its symbol: as written
        ("weth_prices.parquet", "WETH"),  # an id that is its symbol: spelt as the coin
        ("rai.csv", "RAI"),
        ("RAI.csv", "RAI"),
        ("prices.csv", None),
        ("data.parquet", None),
        ("_usd.csv", None),
        ("my prices (1).csv", None),
        ("USDCUSDT-1h-2023-03.csv", "USDC"),  # Binance: the base of a pair quoted in dollars
        ("BTCFDUSD-1m-2024-01-05.csv.xz", "BTC"),
        ("WBETHETH-1d-2023-03.csv", "WBETHETH"),  # quoted in ETH: the pair
        ("klines.csv", None),
        ("BTCUSDT.csv", "BTC"),  # an exchange's pair in capitals, quoted in a dollar coin
        ("USDCUSDT_1h_klines.json", "USDC"),  # its kind and interval aside
        ("ETHFDUSD-1h.csv", "ETH"),
        ("AUSDT.csv", "AUSDT"),  # Aave's aUSDT: a base of one letter is no pair
        ("TUSD.csv", "TUSD"),
        ("LUSD_usd.csv", "LUSD"),  # plain USD is no quote split off (LUSD, sUSD, GUSD)
        ("btcusdt.csv", "btcusdt"),  # not in capitals: as written
        ("USDC_histohour.json", "USDC"),
        ("DAI-1d.csv", "DAI"),
    ],
)
def test_the_symbol_a_file_name_gives(name: str, symbol: str | None) -> None:
    assert symbol_from_file_name(Path(name)) == symbol


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2023-01-01", JAN_1),
        ("2023-01-01T01:00Z", JAN_1 + 3600),
        ("2023-01-01 01:00:00 UTC", JAN_1 + 3600),
        ("2023-01-01T03:00:00+02:00", JAN_1 + 3600),  # a zone is honoured
        ("2023-01-01T01:00:00.250", JAN_1 + 3600.25),  # no zone: UTC
        ("yesterday", None),
        ("1672531200000", None),  # a number is not a date-time
        ("2023-13-01", None),
        ("", None),
        # as spreadsheets and sites write dates (a date of numbers only: either order here)
        ("01/01/2023 01:00", JAN_1 + 3600),
        ("1/1/23 1:00 AM", JAN_1 + 3600),
        ("1/1/2023 12:00 AM", JAN_1),  # midnight
        ("12/31/2022 1:00 PM", JAN_1 - 11 * 3600),
        ("31.12.2022 13:00:00", JAN_1 - 11 * 3600),
        ("2023/01/01 01:00", JAN_1 + 3600),
        ("2023.1.1", JAN_1),
        ("2023/13/01", None),
        ("Jan 01, 2023", JAN_1),
        ("1 January 2023 01:00 UTC", JAN_1 + 3600),
        ("1-Jan-23", JAN_1),
        ("Sun, 01 Jan 2023 01:00:00 GMT", JAN_1 + 3600),
        ("13/13/2023", None),
        ("Feb 30, 2023", None),
        ("Foo 01, 2023", None),
        ("1/1/2023 13:00 PM", None),
    ],
)
def test_date_time_texts(text: str, seconds: float | None) -> None:
    got = parse_time_ms(text)
    assert got == (None if seconds is None else seconds * 1000.0)


def test_date_times_with_a_bad_one_name_its_line(tmp_path: Path) -> None:
    path = tmp_path / "USDX_usd.csv"
    path.write_text(
        "time,price\n2023-01-01T00:00Z,1.0\nnot a time,0.5\n2023-01-01T01:00Z,0.999\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"USDX_usd\.csv, line 3: timestamp 'not a time' is not a"):
        read_prices(path)
    series = read_prices(path, skip_bad=True)
    assert series.time.tolist() == [JAN_1, JAN_1 + 3600] and series.price.tolist() == [1.0, 0.999]
    assert series.skipped == ("line 3: timestamp 'not a time' is not a date-time (symbol='USDX')",)
    # a line pyarrow cannot read either (a wrong field count): the same words, row by row
    path.write_text(path.read_text() + "2023-01-01T02:00Z,1.0,extra\n", encoding="utf-8")
    series = read_prices(path, skip_bad=True)
    assert series.skipped == (
        "line 3: timestamp 'not a time' is not a date-time (symbol='USDX')",
        "line 5: 3 field(s), the header has 2",
    )
    # the same in Parquet: the row is named by its number and what it holds
    dates = ["2023-01-01T00:00Z", "soon", "2023-01-01T01:00Z"]
    table = pa.table({"Asset": ["USDX"] * 3, "Date": dates, "Close": [1.0, 0.5, 0.999]})
    parquet = tmp_path / "candles.parquet"
    pq.write_table(table, parquet)
    with pytest.raises(InputError, match=r"row 1: timestamp 'soon' is not a date-time"):
        read_prices(parquet)
    series = read_prices(parquet, skip_bad=True)
    assert series.symbol.tolist() == ["USDX", "USDX"] and series.time.tolist()[1] == JAN_1 + 3600
    assert series.notes == (
        "candles.parquet: columns read as symbol ← 'Asset', timestamp ← 'Date', "
        "usd_price ← 'Close'",
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "symbol,timestamp,price,close",
            r"the columns price and close could both be the usd_price",
        ),
        ("Symbol,symbol,timestamp,usd_price", r"the column\(s\) symbol appear more than once"),
        ("timestamp,usd_price", r"prices\.csv: missing column\(s\) symbol"),
        ("symbol,when,usd_price", r"missing column\(s\) timestamp"),
    ],
)
def test_headers_that_cannot_be_read_say_why(tmp_path: Path, header: str, message: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(header + "\nUSDX,1672531200000,1.0,1.0\n", encoding="utf-8")
    for skip in (False, True):
        with pytest.raises(InputError, match=message):
            read_prices(path, skip_bad=skip)


def test_cli_replays_one_asset_files_and_says_how_it_read_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three weeks on the peg, then 5% below: the depeg alert is about the asset the file is
    named after, and stderr says how the file was read."""
    rows = [f"{moment:%Y-%m-%d %H:%M:%S} UTC,{price}" for moment, price in _peg_then_depeg()]
    path = tmp_path / "USDX_usd.csv"
    path.write_text("snapped_at,price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    depegs = _depegs(tmp_path, path)
    assert [a["subject"] for a in depegs] == ["USDX"]
    assert depegs[0]["time"] - (JAN_1 + 21 * 24 * 3600) <= 3 * 3600
    err = capsys.readouterr().err
    assert "USDX_usd.csv: columns read as timestamp ← 'snapped_at', usd_price ← 'price'" in err
    assert "no symbol column; its prices are read as USDX's" in err


def test_cli_replays_a_folder_of_price_files_and_leaves_out_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder laid out as upstream's data/usd_prices: one *_usd.csv per asset and an
    errors.csv that holds no prices. The price files replay as one series; the other file is
    left out with a line that says why; a folder with no price file is an error."""
    folder = tmp_path / "usd_prices"
    folder.mkdir()
    start = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)
    for symbol in ("USDX", "USDY"):
        rows = [f"{symbol},{start + hour * 3_600_000},1.0" for hour in range(48)]
        (folder / f"{symbol}_usd.csv").write_text(
            "symbol,timestamp,USD_price\n" + "\n".join(rows) + "\n", encoding="utf-8"
        )
    (folder / "errors.csv").write_text("symbol,timestamp,error\nUSDX,1,timeout\n")
    (folder / "notes.txt").write_text("not a price file either, and not a .csv\n")
    out = tmp_path / "alerts.jsonl"
    assert main(["monitor", "replay", str(folder), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "96 prices" in captured.out
    assert f"left out {folder / 'errors.csv'} (not a price file: missing column(s) usd_price)" in (
        captured.err
    )
    (folder / "USDX_usd.csv").unlink()
    (folder / "USDY_usd.csv").unlink()
    assert main(["monitor", "replay", str(folder)]) == 2
    assert f"no file in {folder} is a price file" in capsys.readouterr().err
    (folder / "errors.csv").unlink()
    assert main(["monitor", "replay", str(folder)]) == 2
    assert "neither ingested block tables" in capsys.readouterr().err


def test_cli_replays_a_zip_of_several_price_files_as_the_folder_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Kaggle download: one CSV per coin (its columns SNo,Name,Symbol,Date,…,Close) in a
    folder of a zip, beside a README, an errors.csv and macOS's copies. It replays as the
    folder of those files does (the same alerts, byte for byte), alone or inside a folder; the
    other files are left out, a member named with ``..`` is written under the temporary folder
    only, and an archive with no price file is an error that says so."""
    import zipfile

    folder = tmp_path / "coins"
    folder.mkdir()
    day = datetime(2022, 1, 1, tzinfo=UTC)
    for name, symbol in (("USD Coin", "USDX"), ("Ether", "ETHX")):
        rows = []
        for k in range(90):
            price = (0.9 if 70 <= k < 75 else 1.0) if symbol == "USDX" else 3000.0 + 10 * k
            date = (day + timedelta(days=k)).strftime("%Y-%m-%d 23:59:59")
            rows.append(f"{k + 1},{name},{symbol},{date},{price},{price},{price},{price},1,1")
        header = "SNo,Name,Symbol,Date,High,Low,Open,Close,Volume,Marketcap\n"
        (folder / f"coin_{symbol}.csv").write_text(header + "\n".join(rows) + "\n")
    errors = "symbol,timestamp,error\nUSDX,1,timeout\n"
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(folder.iterdir()):
            zipped.write(file, f"crypto/{file.name}")
            zipped.writestr(f"__MACOSX/crypto/._{file.name}", "resource fork")
        zipped.writestr("crypto/errors.csv", errors)
        zipped.writestr("README.md", "one file per coin\n")
        zipped.writestr("../escape.csv", errors)
    unzipped, zipped_out = tmp_path / "unzipped.jsonl", tmp_path / "zipped.jsonl"
    assert main(["monitor", "replay", str(folder), "--out", str(unzipped)]) == 0
    capsys.readouterr()
    assert main(["monitor", "replay", str(archive), "--out", str(zipped_out)]) == 0
    captured = capsys.readouterr()
    assert "180 prices" in captured.out
    assert zipped_out.read_bytes() == unzipped.read_bytes()
    assert '"subject": "USDX"' in unzipped.read_text()
    read = "archive.zip: read 4 price file(s) from the archive (coin_ETHX.csv, coin_USDX.csv, "
    assert read + "errors.csv, escape.csv)" in captured.err
    assert "errors.csv (not a price file: missing column(s) usd_price)" in captured.err
    assert not (tmp_path / "escape.csv").exists()
    outer = tmp_path / "downloads"
    outer.mkdir()
    archive.rename(outer / archive.name)
    assert main(["monitor", "replay", str(outer), "--out", str(zipped_out)]) == 0
    assert zipped_out.read_bytes() == unzipped.read_bytes()
    capsys.readouterr()
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as zipped:
        zipped.writestr("README.md", "no prices here\n")
        zipped.writestr("errors.csv", errors)
    assert main(["monitor", "replay", str(tmp_path / "notes.zip")]) == 2
    assert "no file in" in capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "docs.zip", "w") as zipped:
        zipped.writestr("README.md", "no prices here\n")
        zipped.writestr("LICENSE", "text\n")
    assert main(["monitor", "replay", str(tmp_path / "docs.zip")]) == 2
    assert "docs.zip holds no price file" in capsys.readouterr().err


def test_cli_scores_a_folder_of_daily_coingecko_exports(tmp_path: Path) -> None:
    """CoinGecko's exports are daily, one coin per file named by its symbol: a dollar coin's
    depeg and a derivative's discount against its underlying (both in the folder) are found
    on one price a day, and scored against windows written to the day."""
    import numpy as np

    rng = np.random.default_rng(3)
    days = 60
    eth = 1500 * np.exp(np.cumsum(0.03 * rng.standard_normal(days)))
    ratio = 1 + 0.001 * rng.standard_normal(days)
    ratio[30:36] = 0.94  # 31 January to 5 February
    usdx = 1 + 0.001 * rng.standard_normal(days)
    usdx[45:50] = [0.96, 0.95, 0.93, 0.95, 0.97]  # 15 to 19 February
    folder = tmp_path / "coingecko"
    folder.mkdir()
    start = datetime(2023, 1, 1, tzinfo=UTC)
    for symbol, prices in (("eth", eth), ("steth", eth * ratio), ("usdx", usdx)):
        rows = ["snapped_at,price,market_cap,total_volume"] + [
            f"{start + timedelta(days=d):%Y-%m-%d %H:%M:%S} UTC,{p:.6f},0,0"
            for d, p in enumerate(prices)
        ]
        (folder / f"{symbol}-usd-max.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    events = tmp_path / "events.csv"
    events.write_text(
        "Symbol,Start,End,URL\n"
        "STETH,2023-01-31,2023-02-05,https://example.org/steth\n"
        "USDX,2023-02-15,2023-02-19,https://example.org/usdx\n",
        encoding="utf-8",
    )
    summary = _scores(tmp_path, folder, events)["summary"]
    assert (summary["events"], summary["detected"], summary["false_alerts"]) == (2, 2, 0)
    assert summary["max_delay_hours"] <= 48


def test_a_table_of_one_column_per_asset_is_read_as_their_prices(tmp_path: Path) -> None:
    """pandas' pivot: a time column and a column of prices per asset, named by its symbol. An
    empty cell is no price at that time; a cell that is not a number is a bad row named by its
    line and asset; stderr says how the file was read."""
    path = tmp_path / "prices.csv"
    path.write_text(
        "date,USDC,DAI,stETH\n"
        "2023-01-01T00:00,1.0,0.999,1200\n"
        "2023-01-01T01:00,1.001,,1201\n"
        "2023-01-01T02:00,0.999,1.0,\n",
        encoding="utf-8",
    )
    series = read_prices(path)
    assert series.symbol.tolist() == ["USDC", "DAI", "stETH", "USDC", "stETH", "USDC", "DAI"]
    assert series.time.tolist() == [JAN_1] * 3 + [JAN_1 + 3600] * 2 + [JAN_1 + 7200] * 2
    assert series.price.tolist() == [1.0, 0.999, 1200, 1.001, 1201, 0.999, 1.0]
    assert series.notes == ("prices.csv: one column per asset (USDC, DAI, stETH), times in 'date'",)
    # pandas' to_csv without index=False: an unnamed first column of row numbers, not an asset
    path.write_text(",timestamp,USDC,DAI\n0,1672531200000,1.0,0.999\n", encoding="utf-8")
    assert read_prices(path).symbol.tolist() == ["USDC", "DAI"]
    # pandas' to_csv of a pivot whose date-time index has no name: the times have no name
    path.write_text(",USDC,DAI\n2023-01-01 00:00:00,1.0,0.999\n2023-01-01 01:00:00,,1.0\n")
    unnamed = read_prices(path)
    assert unnamed.symbol.tolist() == ["USDC", "DAI", "DAI"]
    assert unnamed.time.tolist() == [JAN_1, JAN_1, JAN_1 + 3600]
    note = "prices.csv: one column per asset (USDC, DAI), times in pandas' index"
    assert unnamed.notes == (note,)
    path.write_text(",USDC,DAI\n0,1.0,0.999\n")  # row numbers are not times
    with pytest.raises(InputError, match="missing column"):
        read_prices(path)
    # one asset's column in a file named otherwise: a known symbol is the asset (another name
    # is a question: below)
    path.write_text("date,USDC\n2023-01-01,0.999\n")
    assert read_prices(path).symbol.tolist() == ["USDC"]
    path.write_text("date,DAI\n2023-01-01,0.999\n")  # a coin whose CoinGecko id is its symbol
    assert read_prices(path).symbol.tolist() == ["DAI"]
    (tmp_path / "crvusd.csv").write_text("date,price\n2023-01-01,0.999\n")
    assert read_prices(tmp_path / "crvusd.csv").symbol.tolist() == ["crvUSD"]
    # first rows with no price at all (an outer join of the assets' times) are fine
    path.write_text("date,USDC,DAI\n2022-12-31,,\n2023-01-01,1.0,\n", encoding="utf-8")
    assert read_prices(path).symbol.tolist() == ["USDC"]
    path.write_text("timestamp,USDC,DAI\n1672531200000,1.0,abc\n1672534800000,0,1\n")
    with pytest.raises(InputError, match=r"prices\.csv, line 2: DAI 'abc' is not a number"):
        read_prices(path)
    lenient = read_prices(path, skip_bad=True)
    assert lenient.symbol.tolist() == ["USDC", "DAI"] and lenient.price.tolist() == [1.0, 1.0]
    assert lenient.skipped == (
        "line 2: DAI 'abc' is not a number",
        "line 3: bad price row (symbol='USDC', timestamp=1672534800000.0, usd_price=0.0)",
    )
    table = pa.table({"time": pa.array([JAN_1, JAN_1 + 3600]), "USDC": [1.0, None],
                      "DAI": [0.999, 1.0]})  # fmt: skip
    pq.write_table(table, tmp_path / "wide.parquet")
    wide = read_prices(tmp_path / "wide.parquet")
    assert wide.symbol.tolist() == ["USDC", "DAI", "DAI"]
    # pandas' to_parquet of such a pivot: its unnamed date-time index in __index_level_0__
    moments = pa.array([JAN_1 * 1000, JAN_1 * 1000 + 3_600_000], pa.timestamp("ms"))
    indexed = table.drop_columns(["time"]).append_column("__index_level_0__", moments)
    pq.write_table(indexed, tmp_path / "indexed.parquet")
    assert read_prices(tmp_path / "indexed.parquet").time.tolist() == [JAN_1, JAN_1, JAN_1 + 3600]
    pq.write_table(table.append_column("note", pa.array(["a", "b"])), tmp_path / "text.parquet")
    with pytest.raises(InputError, match="missing column"):
        read_prices(tmp_path / "text.parquet")  # a column of notes: not one asset's prices
    pq.write_table(table.append_column("LUSD", pa.array(["a", "b"])), tmp_path / "text.parquet")
    with pytest.raises(InputError, match="column 'LUSD' holds string, not prices"):
        read_prices(tmp_path / "text.parquet")
    # one column of another name in a file named by its asset: is it an asset called "value"?
    # an error that says both answers
    (tmp_path / "UST_usd.csv").write_text("timestamp,value\n1672531200000,1.0\n")
    with pytest.raises(InputError, match=r"is its column 'value' the prices of UST .* or value's"):
        read_prices(tmp_path / "UST_usd.csv")
    # a file of a folder whose other columns hold no numbers is no price file
    (tmp_path / "log.csv").write_text("timestamp,comment,by\n1672531200000,restarted,ops\n")
    from proofmind.monitor.prices import not_a_price_file

    assert "hold no price in its first 100 rows" in str(not_a_price_file(tmp_path / "log.csv"))
    assert not_a_price_file(tmp_path / "prices.csv") is None


def test_cli_finds_a_depeg_in_a_table_of_one_column_per_asset(tmp_path: Path) -> None:
    rows = [
        f"{moment:%Y-%m-%dT%H:%M}Z,{price},{1500 + hour}"
        for hour, (moment, price) in enumerate(_peg_then_depeg())
    ]
    path = tmp_path / "pivot.csv"
    path.write_text("time,USDX,ETH\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert [a["subject"] for a in _depegs(tmp_path, path)] == ["USDX"]


@pytest.mark.parametrize(
    ("header", "stamp"),
    [
        ("minute,blockchain,contract_address,symbol,price,decimals", "2023-01-01 00:00:00.000 UTC"),
        ("hour,symbol,price", "2023-01-01 00:00"),
        ("day,symbol,price_close", "2023-01-01"),
        ("block_time,symbol,close_price", "2023-01-01T00:00:00Z"),
    ],
)
def test_dune_exports_and_other_price_and_time_names(
    tmp_path: Path, header: str, stamp: str
) -> None:
    """Dune's prices tables name their time ``minute``, ``hour`` or ``day`` (texts ending in
    `` UTC``), trades ``block_time``; other APIs call a candle's close ``price_close`` or
    ``close_price``."""
    path = tmp_path / "export.csv"
    fields = {"symbol": "USDC", "price": "0.97", "price_close": "0.97", "close_price": "0.97",
              "decimals": "6", "blockchain": "ethereum", "contract_address": "0xa0b8"}  # fmt: skip
    names = header.split(",")
    path.write_text(header + "\n" + ",".join(fields.get(n, stamp) for n in names) + "\n")
    series = read_prices(path)
    assert (series.symbol.tolist(), series.price.tolist()) == (["USDC"], [0.97])
    assert series.time.tolist() == [JAN_1]


def test_a_symbol_on_several_chains_is_read_on_one(tmp_path: Path) -> None:
    """Dune's prices tables list a token's bridged copies on other chains under its symbol:
    interleaved they would read as one noisy series, so each symbol is read on the chain with
    the most rows (mainnet among equals) and stderr says so; a symbol on one chain keeps all its
    rows; a bad row keeps its own line number in the line-by-line reading; Parquet and JSON
    alike."""
    hours = [f"2023-03-11 {h:02d}:00:00.000 UTC" for h in range(4)]
    rows = [(h, "ethereum", "USDC", 0.9 + k / 100) for k, h in enumerate(hours)]
    rows += [(h, "arbitrum", "USDC", 0.5) for h in hours]
    rows += [(h, "polygon", "USDC", 0.4) for h in hours[:2]]
    rows += [(h, "optimism", "DAI", 1.0) for h in hours[:3]]
    path = tmp_path / "dune.csv"
    lines = [f"{h},{c},{s},{p}" for h, c, s, p in rows]
    path.write_text("hour,blockchain,symbol,price\n" + "\n".join(lines) + "\n")
    series = read_prices(path)
    usdc = series.price[series.symbol == "USDC"].tolist()
    assert usdc == [0.9, 0.91, 0.92, 0.93]  # ethereum before arbitrum: as many rows
    assert (series.symbol == "DAI").sum() == 3
    (note,) = [n for n in series.notes if "chains" in n]
    assert "USDC on ethereum (3 chains)" in note and "DAI" not in note

    table = pa.table(
        {
            name: [row[k] for row in rows]
            for k, name in enumerate(("hour", "blockchain", "symbol", "price"))
        }
    )
    pq.write_table(table, tmp_path / "dune.parquet")
    (tmp_path / "dune.json").write_text(json.dumps({"result": {"rows": table.to_pylist()}}))
    for other in ("dune.parquet", "dune.json"):
        again = read_prices(tmp_path / other)
        assert again.price[again.symbol == "USDC"].tolist() == usdc, other

    # more rows on arbitrum, with a bad price (line 16): named by its own line, as read by
    # pyarrow (n/a is an empty price) or line by line (abc is no number)
    extra = [f"2023-03-11 {h:02d}:00:00.000 UTC,arbitrum,USDC,0.5" for h in range(4, 9)]
    for bad, said in (("n/a", r"line 16: bad price row \(symbol='USDC'"),
                      ("abc", r"line 16: usd_price 'abc' is not a number")):  # fmt: skip
        extra[1] = extra[1].rsplit(",", 1)[0] + "," + bad
        path.write_text("hour,blockchain,symbol,price\n" + "\n".join(lines + extra) + "\n")
        with pytest.raises(InputError, match=said):
            read_prices(path)
        series = read_prices(path, skip_bad=True)
        assert series.price[series.symbol == "USDC"].tolist() == [0.5] * 8
        assert len(series.skipped) == 1 and re.match(said, series.skipped[0])


def test_dates_as_spreadsheets_and_sites_write_them(tmp_path: Path) -> None:
    """Investing.com's export: quoted fields, newest row first, month/day/year, prices with
    thousands separators. A date of numbers only is read month-first or day-first for the
    whole file: a day over 12 tells; else the order in which the rows' times move least
    (hourly rows across midnight); else the separator (a dot as Europe writes dates). stderr
    says which, and how sure."""
    path = tmp_path / "ETH.csv"
    path.write_text(
        '"Date","Price","Open","High","Low","Vol.","Change %"\n'
        '"05/10/2022","2,345.10","2,400.00","2,410.00","2,300.00","1.2M","-2.5%"\n'
        '"05/09/2022","2,405.55","2,500.00","2,510.00","2,390.00","-","-3.0%"\n'
    )
    series = read_prices(path)
    may_9 = datetime(2022, 5, 9, tzinfo=UTC).timestamp()
    assert series.time.tolist() == [may_9, may_9 + 86400]
    assert series.price.tolist() == [2405.55, 2345.1]
    assert "ETH.csv: prices written with a dollar sign or thousands separators ('2,345.10'), " \
        "read as numbers" in series.notes  # fmt: skip
    assert any("dates read as month/day/year ('05/10/2022'): no day over 12 tells, but the " in n
               for n in series.notes)  # fmt: skip

    def hours(text: str, start: datetime, count: int) -> list[float]:
        rows = [(start + timedelta(hours=h)).strftime(text) for h in range(count)]
        path.write_text("time,price\n" + "".join(f"{r},1.0\n" for r in rows))
        return read_prices(path).time.tolist()

    def expected(start: datetime, count: int) -> list[float]:
        return [(start + timedelta(hours=h)).timestamp() for h in range(count)]

    start = datetime(2022, 5, 2, 20, tzinfo=UTC)  # across two midnights, every day under 13
    assert hours("%d/%m/%Y %H:%M", start, 30) == expected(start, 30)
    assert hours("%m/%d/%Y %H:%M", start, 30) == expected(start, 30)
    late = datetime(2022, 5, 12, 20, tzinfo=UTC)  # the 13th tells
    assert hours("%d/%m/%Y %H:%M", late, 30) == expected(late, 30)
    assert not any("move least" in n for n in read_prices(path).notes)
    one_day = datetime(2022, 5, 2, tzinfo=UTC)
    assert hours("%d.%m.%Y %H:%M", one_day, 5) == expected(one_day, 5)  # a dot: day first
    assert any("as Europe writes dates with '.'" in n for n in read_prices(path).notes)
    assert hours("%m/%d/%Y %H:%M", one_day, 5) == expected(one_day, 5)  # a slash: month first
    path.write_text("time,price\n05/13/2022,1.0\n13/05/2022,1.0\n")  # no order fits both
    with pytest.raises(InputError, match=r"line 2: timestamp '05/13/2022' is not a date-time"):
        read_prices(path)


def test_prices_with_thousands_separators_and_dollar_signs(tmp_path: Path) -> None:
    """A spreadsheet's formatted prices ($1,234.56, quoted in a CSV; 1.234,56 with semicolons
    and a decimal comma) are numbers, also when the first one appears past the first rows the
    format is guessed from; a comma elsewhere (0,9987 in a comma-separated file) is still no
    number, and a bad price is named by its line."""
    path = tmp_path / "WBTC.csv"
    days = [(datetime(2022, 1, 1, tzinfo=UTC) + timedelta(days=d)).date() for d in range(130)]
    prices = [f"{900 + d}" for d in range(120)] + ['"$1,020.5"', '"1,021"', "$ 1022.75"]
    rows = [f"{day},{price}" for day, price in zip(days, prices, strict=False)]
    path.write_text("date,close\n" + "\n".join(rows) + "\n")
    series = read_prices(path)
    assert series.price.tolist()[-4:] == [1019.0, 1020.5, 1021.0, 1022.75]
    assert series.time[-1] == datetime(2022, 5, 3, tzinfo=UTC).timestamp()
    said = "WBTC.csv: prices written with a dollar sign or thousands separators (past the first "
    assert said + "rows), read as numbers" in series.notes
    path.write_text("date,close\n" + "\n".join([*rows, f'{days[125]},"0,9987"']) + "\n")
    with pytest.raises(InputError, match=r"line 125: usd_price '0,9987' is not a number"):
        read_prices(path)
    assert len(read_prices(path, skip_bad=True).skipped) == 1
    # quoted decimal commas in a comma-separated file are no thousands groups: 0,999 and 1,000
    # (which could be either, with nothing in the file to tell) are not read as 999 and 1000
    for rows in (['"0,999"', '"1,0012"'], ['"1,000"', '"1,001"'], ['"1,000"', '"0,9987"']):
        lines = [f"2023-01-0{k + 1},{price}" for k, price in enumerate(rows)]
        path.write_text("date,close\n" + "\n".join(lines) + "\n")
        with pytest.raises(InputError, match=rf"line 2: usd_price '{rows[0][1:-1]}' is not a"):
            read_prices(path)
        with pytest.raises(InputError, match="no good price row"):
            read_prices(path, skip_bad=True)
    path.write_text("date;close\n2023-01-01;$ 16.500,25\n2023-01-02;16.600,5\n2023-01-03;x\n")
    with pytest.raises(InputError, match=r"line 4: usd_price 'x' is not a number"):
        read_prices(path)
    assert read_prices(path, skip_bad=True).price.tolist() == [16500.25, 16600.5]


def test_a_subgraphs_answer_and_other_spellings_of_column_names(tmp_path: Path) -> None:
    """The Graph's GraphQL answer (records under data and the query's one field, nested
    objects, numbers as texts, camelCase names; priceUSD taken over the candle's close, the
    same price); column names in camelCase or with spaces are the documented ones."""
    hours = [1652054400, 1652058000]
    token = {"symbol": "UST", "id": "0xa47c8bf37f92abed4a126bda807a7b7498661acd"}
    rows = [{"periodStartUnix": str(t), "priceUSD": p, "close": p, "token": token}
            for t, p in zip(hours, ("0.98", "0.95"), strict=True)]  # fmt: skip
    path = tmp_path / "subgraph.json"
    path.write_text(json.dumps({"data": {"tokenHourDatas": rows}}))
    series = read_prices(path)
    assert series.symbol.tolist() == ["UST", "UST"] and series.price.tolist() == [0.98, 0.95]
    assert series.time.tolist() == [float(t) for t in hours]
    assert (
        "symbol ← 'token.symbol', timestamp ← 'periodStartUnix', usd_price ← 'priceUSD'"
        in (series.notes[0])
    )
    # two lists under data: which one holds the prices is not guessed
    path.write_text(json.dumps({"data": {"tokenHourDatas": rows, "pools": rows}}))
    with pytest.raises(InputError):
        read_prices(path)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Symbol,Updated At,USD Price\nUSDC,1672531200000,0.999\n")
    assert read_prices(sheet).price.tolist() == [0.999]
    sheet.write_text("symbol,updatedAt,price,close\nUSDC,1672531200000,0.999,0.999\n")
    with pytest.raises(InputError, match="the columns price and close could both be"):
        read_prices(sheet)  # neither is a USD price by its name


def test_dunes_chainlink_price_feeds_export(tmp_path: Path) -> None:
    """Dune's chainlink.price_feeds: the feed's name (USDC / USD) as the symbol, read as its
    base; oracle_price the price; an ETH-quoted feed (STETH / ETH) a ratio named as one word."""
    path = tmp_path / "feeds.csv"
    header = "blockchain,block_time,block_number,feed_name,oracle_price,underlying_token_address"
    rows = [f"ethereum,2023-03-11 0{h}:00:00.000 UTC,{16_800_000 + h},{name},{price},0xa0b8"
            for h, (name, price) in enumerate([("USDC / USD", 0.97), ("STETH / ETH", 0.998),
                                               ("USDC / USD", 0.88)])]  # fmt: skip
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    series = read_prices(path)
    assert series.symbol.tolist() == ["USDC", "STETH/ETH", "USDC"]
    assert series.price.tolist() == [0.97, 0.998, 0.88]
    assert (
        "symbol ← 'feed_name', timestamp ← 'block_time', usd_price ← 'oracle_price'"
        in (series.notes[0])
    )


def test_json_as_market_data_apis_answer(tmp_path: Path) -> None:
    """CryptoCompare's histohour (its records under ``Data``, or ``Data.Data`` in v2: ``time``
    in seconds, ``close``) and Binance's REST klines (lists of its kline CSV's columns, prices
    as texts) read as the same series; the file names' kind and interval left out of the
    symbol; an envelope of no records is still no price series."""
    hours = [1678579200 + 3600 * k for k in range(3)]
    closes = [0.97, 0.98, 0.99]
    rows = [{"time": t, "high": 1.0, "low": 0.9, "open": 1.0, "volumefrom": 10.0,
             "volumeto": 9.8, "close": c, "conversionType": "direct"}
            for t, c in zip(hours, closes, strict=True)]  # fmt: skip
    v2 = tmp_path / "USDC_histohour.json"
    inner = {"Aggregated": False, "TimeFrom": hours[0], "Data": rows}
    v2.write_text(json.dumps({"Response": "Success", "HasWarning": False, "Data": inner}))
    v1 = tmp_path / "USDC-1h.json"
    v1.write_text(json.dumps({"Response": "Success", "Data": rows}))
    klines = tmp_path / "USDC_1h_klines.json"
    klines.write_text(json.dumps([
        [t * 1000 - 3_600_000, "1.0", "1.0", "0.9", str(c), "100.0", t * 1000 - 1, "98.0", 3,
         "5.0", "5.0", "0"] for t, c in zip(hours, closes, strict=True)
    ]))  # fmt: skip
    dune = tmp_path / "dune_usdc.json"  # Dune's API: rows under result, times as texts
    texts = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.000 UTC") for t in hours]
    found = [{"hour": t, "symbol": "USDC", "price": c} for t, c in zip(texts, closes, strict=True)]
    answer = {"state": "QUERY_STATE_COMPLETED", "result": {"rows": found, "metadata": {}}}
    dune.write_text(json.dumps(answer))
    for path in (v2, v1, klines, dune):
        series = read_prices(path)
        assert series.symbol.tolist() == ["USDC"] * 3, path.name
        assert series.price.tolist() == closes
        assert [round(t) for t in series.time] == hours
    assert "usd_price ← 'close'" in read_prices(klines).notes[0]
    empty = tmp_path / "USDT_histohour.json"
    empty.write_text(json.dumps({"Response": "Success", "Data": {}}))
    with pytest.raises(InputError, match="JSON that is not a price series"):
        read_prices(empty)
    # an API's error answer saved in place of prices: its own message
    for answer, said in [
        ({"Response": "Error", "Message": "You are over your rate limit", "Data": {}},
         "You are over your rate limit"),
        ({"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}},
         "You've exceeded the Rate Limit."),
        ({"code": -1121, "msg": "Invalid symbol."}, "Invalid symbol."),
        ({"error": "coin not found"}, "coin not found"),
    ]:  # fmt: skip
        empty.write_text(json.dumps(answer))
        with pytest.raises(
            InputError, match=re.escape(f"an API's error answer, not prices ({said!r})")
        ):
            read_prices(empty)


def test_json_as_coingecko_api_and_pandas_write_it(tmp_path: Path) -> None:
    """CoinGecko's market_chart (one asset, named by the file), pandas' to_json of a pivot
    (its default orient, the date-time index as keys), JSON lines with a bad line; broken
    JSON and JSON of another shape are errors saying where and what is read."""
    chart = {"prices": [[JAN_1 * 1000, 1.0001], [JAN_1 * 1000 + 3_600_000, 0.999]],
             "market_caps": [[JAN_1 * 1000, 5e9]], "total_volumes": []}  # fmt: skip
    (tmp_path / "usdc.json").write_text(json.dumps(chart))
    series = read_prices(tmp_path / "usdc.json")
    assert series.symbol.tolist() == ["usdc", "usdc"]
    assert (series.time.tolist(), series.price.tolist()) == ([JAN_1, JAN_1 + 3600], [1.0001, 0.999])
    ms = str(int(JAN_1 * 1000))
    pivot = {"USDC": {ms: 1.0, str(int(JAN_1 * 1000) + 3_600_000): 1.001}, "DAI": {ms: 0.999}}
    (tmp_path / "pivot.json").write_text(json.dumps(pivot))
    wide = read_prices(tmp_path / "pivot.json")
    assert wide.symbol.tolist() == ["USDC", "DAI", "USDC"]
    assert wide.time.tolist() == [JAN_1, JAN_1, JAN_1 + 3600]
    assert wide.notes == ("pivot.json: one column per asset (USDC, DAI), times in pandas' index",)
    lines = tmp_path / "prices.jsonl"
    lines.write_text(
        '{"symbol": "DAI", "timestamp": "2023-01-01T00:00Z", "price": 1.0}\n\n'
        '{"symbol": "DAI", "timestamp": "2023-01-01T01:00Z", "price": 0}\n'
    )
    with pytest.raises(InputError, match=r"prices\.jsonl, line 3: bad price row"):
        read_prices(lines)
    assert read_prices(lines, skip_bad=True).skipped == (
        "line 3: bad price row (symbol='DAI', timestamp=1672534800000.0, usd_price=0.0)",
    )
    (tmp_path / "broken.json").write_text('{"prices": [[1672531200000, 1.0],')
    with pytest.raises(InputError, match=r"broken\.json, line 1, column 34: not JSON"):
        read_prices(tmp_path / "broken.json")
    (tmp_path / "status.json").write_text('{"status": "ok"}')
    with pytest.raises(InputError, match="JSON that is not a price series") as caught:
        read_prices(tmp_path / "status.json")
    assert "market_chart" in caught.value.hint
    from proofmind.monitor.prices import not_a_price_file

    assert not_a_price_file(tmp_path / "status.json") == "JSON that is not a price series"


def test_a_spreadsheet_csv_with_semicolons_and_a_decimal_comma(tmp_path: Path) -> None:
    """A spreadsheet in a locale whose decimal mark is a comma saves CSV with semicolons
    (``0,9987``): read so, said on stderr; a bad cell is still named by its line. Tabs too."""
    path = tmp_path / "prices.csv"
    path.write_text(
        "symbol;timestamp;usd_price\n"
        "USDC;2023-01-01T00:00;0,9987\n"
        "USDC;2023-01-01T01:00;1,0012\n"
        "USDC;2023-01-01T02:00;1\n"
    )
    series = read_prices(path)
    assert series.price.tolist() == [0.9987, 1.0012, 1.0]
    assert series.notes == ("prices.csv: fields separated by ';', numbers with a decimal comma",)
    path.write_text("date;USDC;DAI\n2023-01-01;0,9987;1\n2023-01-02;;0,98\n2023-01-03;x;1\n")
    with pytest.raises(InputError, match=r"prices\.csv, line 4: USDC 'x' is not a number"):
        read_prices(path)
    wide = read_prices(path, skip_bad=True)
    assert (wide.symbol.tolist(), wide.price.tolist()) == (["USDC", "DAI", "DAI", "DAI"],
                                                           [0.9987, 1.0, 0.98, 1.0])  # fmt: skip
    path.write_text(
        "symbol;timestamp;usd_price\nUSDC;1672531200000;0,9987\nUSDC;1672534800000;1,x\n"
    )
    with pytest.raises(InputError, match=r"line 3: usd_price '1,x' is not a number"):
        read_prices(path)  # named as the file writes it
    path.write_text("date;USDC\n2023-01-01;0.9987\n")  # semicolons, decimal points
    assert read_prices(path).price.tolist() == [0.9987]
    tabs = tmp_path / "usdc.tsv"
    tabs.write_text("timestamp\tprice\n1672531200000\t0.9987\n")
    series = read_prices(tabs)
    assert series.symbol.tolist() == ["usdc"] and series.price.tolist() == [0.9987]
    assert "usdc.tsv: fields separated by a tab" in series.notes
    # a comma-separated file's quoted decimal comma is not a number: a bad row, as before
    path.write_text('symbol,timestamp,usd_price\nUSDC,2023-01-01T00:00,"0,9987"\n')
    with pytest.raises(InputError, match="usd_price '0,9987' is not a number"):
        read_prices(path)


def test_a_cryptodatadownload_file_its_address_line_and_dollar_pairs(tmp_path: Path) -> None:
    """CryptoDataDownload's hourly files: the site's address on the first line, then the
    header; newest row first; the symbol a pair (``USDC/USDT``). Read from line 2, the pair as
    its base with its prices as dollars, stderr saying both; a bad row is named by its line
    in the file. Two markets of one coin in one file stay apart; other pairs keep their
    names. Two lines of one field each are no banner (a file with no header)."""
    path = tmp_path / "Binance_USDCUSDT_1h.csv"
    rows = [f"{1678579200000 - k * 3_600_000},2023-03-12 {23 - k:02d}:00:00,USDC/USDT,1,1,1,"
            f"{0.97 + k / 1000},100,98,10" for k in range(4)]  # fmt: skip
    header = "unix,date,symbol,open,high,low,close,Volume USDC,Volume USDT,tradecount"
    path.write_text("https://www.CryptoDataDownload.com\n" + header + "\n" + "\n".join(rows))
    series = read_prices(path)
    assert series.symbol.tolist() == ["USDC"] * 4
    assert series.price.tolist() == [0.973, 0.972, 0.971, 0.97]  # in time order
    assert series.notes[0] == (
        "Binance_USDCUSDT_1h.csv: its first line ('https://www.CryptoDataDownload.com') is no "
        "header: read from line 2"
    )
    assert series.notes[-1] == (
        "Binance_USDCUSDT_1h.csv: pairs quoted in dollars read as their base, their prices as "
        "US dollars (USDC/USDT → USDC)"
    )
    path.write_text(path.read_text().replace("USDT,1,1,1,0.972", "USDT,1,1,1,abc"))
    with pytest.raises(InputError, match=r"Binance_USDCUSDT_1h\.csv, line 5: usd_price 'abc'"):
        read_prices(path)
    assert read_prices(path, skip_bad=True).skipped == ("line 5: usd_price 'abc' is not a number",)
    mixed = tmp_path / "markets.csv"
    mixed.write_text(
        "symbol,timestamp,usd_price\nUSDC/USDT,1672531200000,1.0\nUSDC-USD,1672531200000,0.99\n"
        "DAI-USD,1672531200000,1.0\nSTETH/ETH,1672531200000,0.99\nusd-coin,1672531200000,1\n"
    )
    read = read_prices(mixed)
    assert sorted(set(read.symbol.tolist())) == ["DAI", "STETH/ETH", "USDC-USD", "USDC/USDT",
                                                 "usd-coin"]  # fmt: skip
    excel = tmp_path / "sheet.csv"  # Excel's separator line before the header
    excel.write_text("sep=;\nsymbol;timestamp;usd_price\nUSDC;1672531200000;0,99\n")
    assert read_prices(excel).price.tolist() == [0.99]
    one_field = tmp_path / "USDX_usd.csv"
    one_field.write_text("price\n1.0\n")
    with pytest.raises(InputError, match="missing column"):
        read_prices(one_field)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("Lido Staked ETH_6_1_2022-6_30_2022_historical_data_coinmarketcap.csv", "stETH"),
        ("Tether USDt_20.06.2023-21.08.2023_historical_data_coinmarketcap.csv", "USDT"),
        ("Bitcoin_weekly_historical_data_coinmarketcap.csv", "BTC"),
        ("Dai_historical_data_coinmarketcap.csv", "DAI"),  # dai: its id is its symbol
        ("dYdX_01_01_2023-02_01_2023_historical_data_coinmarketcap.csv", "dYdX"),
    ],
)
def test_a_coinmarketcap_export_is_named_by_its_coin(
    tmp_path: Path, name: str, symbol: str
) -> None:
    """CoinMarketCap's CSV export: semicolons, its ``name`` column a number (not the coin), the
    coin's name and the dates in the file's name. The coin is the symbol its name stands for
    (a CoinGecko id, or a name of the shipped table), else its name (dYdX)."""
    path = tmp_path / name
    path.write_text(
        "timeOpen;timeClose;timeHigh;timeLow;name;open;high;low;close;volume;marketCap;timestamp\n"
        '"2022-06-13T00:00:00.000Z";"2022-06-13T23:59:59.999Z";"2022-06-13T01:00:00.000Z";'
        '"2022-06-13T20:00:00.000Z";"2781";1.0;1.0;0.93;0.95;1e6;1e9;"2022-06-13T23:59:59.999Z"\n'
    )
    series = read_prices(path)
    assert series.symbol.tolist() == [symbol] and series.price.tolist() == [0.95]
    assert series.time.tolist() == [datetime(2022, 6, 13, 23, 59, 59, 999000, UTC).timestamp()]
    coin = name.split("_", maxsplit=1)[0]
    assert f"(the file's name: CoinMarketCap's export of '{coin}')" in series.notes[1]
    assert symbol_from_file_name(tmp_path / name.replace(".csv", ".csv.gz")) == symbol


def test_prices_in_a_stablecoin_are_turned_into_dollars_at_its_own_prices(
    tmp_path: Path,
) -> None:
    """Binance's USDCUSDT is USDC in USDT. When USDT's own dollar prices are in the input too,
    USDC's are turned into dollars at them (the latest USDT price at or before each, at most
    26 hours old): USDT's dip shows as USDT's, not as a premium of USDC. Alone, or after
    USDT's last price, USDC's are left as read."""
    from proofmind.monitor.prices import read_price_files

    hours = 80
    usdt = [0.95 if 30 <= h < 34 else 1.0 for h in range(hours)]
    klines = []
    for h in range(hours):
        opened = 1677628800000 + h * 3_600_000
        close = round(1.0 / usdt[h], 6)  # USDC holds $1: in USDT it rises as USDT falls
        klines.append(f"{opened},1,1,1,{close},10.0,{opened + 3_599_999},10.0,3,5.0,5.0,0")
    binance = tmp_path / "USDCUSDT-1h-2023-03.csv"
    binance.write_text("\n".join(klines) + "\n")
    own = tmp_path / "USDT_usd.csv"
    rows = [f"{1677628800000 + h * 3_600_000 + 3_599_999},{usdt[h]}" for h in range(40)]
    own.write_text("timestamp,price\n" + "\n".join(rows) + "\n")
    alone = read_price_files([binance])
    assert max(alone.price) > 1.05  # USDT's dip read as a premium of USDC
    both = read_price_files([binance, own])
    usdc = both.price[both.symbol == "USDC"]
    assert usdc[:40] == pytest.approx(1.0, abs=1e-6)  # in dollars, through USDT's dip
    assert usdc[40:66] == pytest.approx(1.0, abs=1e-6)  # at USDT's last price, a day on
    assert usdc[66:].tolist() == alone.price[66:].tolist()  # as read after that
    assert both.notes[-1] == (
        "USDC: prices in USDT turned into US dollars at USDT's own prices in the input (66 of "
        "80; 14 with no USDT price in the 26 hours before left as read)"
    )
    dips = both.price[both.symbol == "USDT"]
    assert dips.tolist() == usdt[:40]  # USDT itself: as it is, its dip its own


def test_the_same_note_of_many_files_is_said_once(tmp_path: Path) -> None:
    """A month of Binance's daily kline files: each would say the same three things but for
    its name; they are said once each, by the first file, with how many more files they stand
    for. Notes that differ (another symbol) stay apart."""
    from proofmind.monitor.prices import read_price_files

    lines = _klines(depeg_from=10_000, hours=24 * 30)
    paths = []
    for day in range(30):
        path = tmp_path / f"USDCUSDT-1h-2023-03-{day + 1:02d}.csv"
        path.write_text("\n".join(lines[24 * day : 24 * day + 24]) + "\n")
        paths.append(path)
    other = tmp_path / "DAI_usd.csv"
    other.write_text("timestamp,price\n1677628800000,1.0\n")
    series = read_price_files([*paths, other])
    assert len(series) == 24 * 30 + 1
    assert series.notes == (
        "USDCUSDT-1h-2023-03-01.csv (and 29 more files alike): no header row: read as a Binance "
        "kline file (its close price at its close_time)",
        "USDCUSDT-1h-2023-03-01.csv (and 29 more files alike): no symbol column; its prices are "
        "read as USDC's (the file's name; the pair USDCUSDT, its prices in USDT read as US "
        "dollars)",
        "DAI_usd.csv: columns read as usd_price ← 'price'",
        "DAI_usd.csv: no symbol column; its prices are read as DAI's (the file's name)",
    )


def _klines(depeg_from: int, hours: int, *, micro: bool = False) -> list[str]:
    """Lines of a Binance hourly kline CSV from 2023-03-01 (no header): $1 ± 0.05%, then
    $0.92 from hour ``depeg_from``; times in ms, or µs as Binance's spot files since 2025."""
    unit = 1000 if micro else 1
    lines = []
    for hour in range(hours):
        opened = (1677628800000 + hour * 3_600_000) * unit
        close = 0.92 if hour >= depeg_from else 1 + 0.0005 * ((hour % 3) - 1)
        closed = opened + 3_600_000 * unit - 1
        lines.append(f"{opened},1.0,1.0,{close},{close},10.0,{closed},10.0,3,5.0,5.0,0")
    return lines


@pytest.mark.parametrize("micro", [False, True])
def test_a_binance_kline_file_without_a_header(tmp_path: Path, micro: bool) -> None:
    """Binance's public klines (data.binance.vision): no header row, the pair and interval in
    the file's name. Read as the close price at the close time, the base asset of a pair quoted
    in dollars named as the symbol; a bad line is named by its own line (the first is data)."""
    lines = _klines(20 * 24, 21 * 24 + 6, micro=micro)
    path = tmp_path / "USDCUSDT-1h-2023-03.csv"
    path.write_text("\n".join(lines) + "\n")
    series = read_prices(path)
    assert set(series.symbol.tolist()) == {"USDC"}
    assert len(series) == len(lines)
    assert series.time[0] == pytest.approx(1677628800 + 3600, abs=0.002)  # the last ms or µs
    assert series.price[-1] == 0.92
    assert series.notes[0] == (
        "USDCUSDT-1h-2023-03.csv: no header row: read as a Binance kline file (its close price "
        "at its close_time)"
    )
    assert "the pair USDCUSDT, its prices in USDT read as US dollars" in series.notes[1]
    assert ("timestamps read as Unix microseconds" in " ".join(series.notes)) is micro
    depegs = _depegs(tmp_path, path)
    assert [a["subject"] for a in depegs] == ["USDC"]
    assert depegs[0]["time"] - (1677628800 + 20 * 24 * 3600) <= 3 * 3600
    cells = lines[2].split(",")
    cells[4] = "x"  # the close
    path.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    with pytest.raises(InputError, match="line 3: usd_price 'x' is not a number"):
        read_prices(path)
    assert read_prices(path, skip_bad=True).skipped[0].startswith("line 3: ")
    nameless = tmp_path / "klines.csv"
    nameless.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="no header row, and its name is not a Binance kline"):
        read_prices(nameless)


def test_a_binance_kline_file_with_its_header_and_zipped(tmp_path: Path) -> None:
    """Binance's newer files have a header row: the close price is read at close_time; a
    monthly zip as downloaded is read as its file."""
    text = ",".join(KLINE_COLUMNS) + "\n" + "\n".join(_klines(10, 12)) + "\n"
    zipped = _compressed(tmp_path / "USDCUSDT-1h-2023-03.zip", "zip", text.encode(),
                         "USDCUSDT-1h-2023-03.csv")  # fmt: skip
    series = read_prices(zipped)
    assert series.symbol.tolist() == ["USDC"] * 12
    assert series.price.tolist()[-2:] == [0.92, 0.92]
    assert series.time[0] == pytest.approx(1677628800 + 3600 - 0.001, abs=1e-5)
    assert "columns read as timestamp ← 'close_time', usd_price ← 'close'" in series.notes[1]


@pytest.mark.parametrize(("scale", "unit"), [(1_000, "micro"), (1_000_000, "nano")])
def test_timestamps_in_microseconds_or_nanoseconds(tmp_path: Path, scale: int, unit: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        f"symbol,timestamp,usd_price\nUSDX,{1672531200000 * scale},1.0\n"
        f"USDX,{1672534800000 * scale},0.999\n"
    )
    series = read_prices(path)
    assert series.time.tolist() == [JAN_1, JAN_1 + 3600]
    assert series.notes == (f"prices.csv: timestamps read as Unix {unit}seconds (they are over "
                            f"1e{14 if unit == 'micro' else 17}, which in milliseconds would be "
                            "after the year 5000)",)  # fmt: skip


def _compressed(path: Path, kind: str, data: bytes, member: str = "") -> Path:
    """``data`` written to ``path`` compressed as ``kind`` (a zip archive: as ``member``)."""
    import bz2
    import gzip
    import lzma
    import zipfile

    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, data)
    elif kind == "zst":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    else:
        path.write_bytes({"gz": gzip, "bz2": bz2, "xz": lzma}[kind].compress(data))
    return path


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_compressed_price_files_read_as_the_plain_ones(tmp_path: Path, kind: str) -> None:
    """CSV, JSON and Parquet compressed with gzip, bzip2, xz or Zstandard read as they read
    plain; a one-asset file is named by what it holds (``UST_usd.csv.xz`` is UST's)."""
    (tmp_path / "prices.csv").write_text(CANONICAL)
    plain = read_prices(tmp_path / "prices.csv")
    csv_path = _compressed(tmp_path / f"prices.csv.{kind}", kind, CANONICAL.encode())
    records = json.dumps(
        [
            {"symbol": "USDX", "timestamp": 1672531200000, "usd_price": 1.0},
            {"symbol": "USDX", "timestamp": 1672534800000, "usd_price": 0.999},
        ]
    )
    json_path = _compressed(tmp_path / f"prices.json.{kind}", kind, records.encode())
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"symbol": ["USDX"] * 2, "timestamp": [1672531200000, 1672534800000],
                             "usd_price": [1.0, 0.999]}), buffer)  # fmt: skip
    parquet = _compressed(tmp_path / f"prices.parquet.{kind}", kind, buffer.getvalue().to_pybytes())
    for path in (csv_path, json_path, parquet):
        series = read_prices(path)
        assert series.symbol.tolist() == plain.symbol.tolist(), path.name
        assert series.time.tolist() == plain.time.tolist(), path.name
        assert series.price.tolist() == plain.price.tolist(), path.name
    one = _compressed(tmp_path / f"UST_usd.csv.{kind}", kind, b"timestamp,price\n1672531200,1.0\n")
    assert read_prices(one).symbol.tolist() == ["UST"]
    assert symbol_from_file_name(one) == "UST"


def test_a_zip_archive_of_one_price_file_is_read_as_that_file(tmp_path: Path) -> None:
    """As Kaggle's downloads come: the archive's one file (macOS's ``__MACOSX`` copies aside)
    is read, named by its own name, and stderr says which; an archive of several files, an
    empty one, or a file that is not a zip is a clear error."""
    import zipfile

    path = tmp_path / "download.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data/UST_usd.csv", "timestamp,price\n1672531200,1.0\n1672534800,0.9\n")
        archive.writestr("__MACOSX/data/._UST_usd.csv", "resource fork")
    series = read_prices(path)
    assert series.symbol.tolist() == ["UST", "UST"]
    assert series.notes[0] == "download.zip: read data/UST_usd.csv from the archive"
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("data/LUNA_usd.csv", "timestamp,price\n1672531200,80\n")
    with pytest.raises(InputError, match=r"holds 2 files \(data/UST_usd.csv, data/LUNA_usd.csv"):
        read_prices(path)
    zipfile.ZipFile(path, "w").close()
    with pytest.raises(InputError, match=r"download\.zip is empty: one price file per archive"):
        read_prices(path)
    path.write_text(CANONICAL)
    with pytest.raises(
        InputError, match=r"cannot read zip file .*download\.zip: File is not a zip"
    ):
        read_prices(path)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst", "zip"])
def test_a_truncated_compressed_file_is_an_error_that_says_so(tmp_path: Path, kind: str) -> None:
    rows = "".join(f"USDX,{1672531200000 + k * 3_600_000},1.0{k % 10}\n" for k in range(20_000))
    whole = _compressed(
        tmp_path / f"whole.{kind}", kind, ("symbol,timestamp,usd_price\n" + rows).encode(), "p.csv"
    )
    cut = tmp_path / f"prices.csv.{kind}" if kind != "zip" else tmp_path / "prices.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for skip in (False, True):
        with pytest.raises(InputError, match=f"cannot read (CSV|zip) file .*{cut.name}") as caught:
            read_prices(cut, skip_bad=skip)
        assert caught.value.hint == "check the file is whole"


def test_cli_reads_compressed_files_in_a_folder_and_compressed_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of an xz CSV and a zipped JSON replays as one series; an events file may be
    compressed too."""
    folder = tmp_path / "prices"
    folder.mkdir()
    rows = [f"USDX,{int(m.timestamp() * 1000)},{p}" for m, p in _peg_then_depeg()]
    text = "symbol,timestamp,usd_price\n" + "\n".join(rows) + "\n"
    _compressed(folder / "usdx.csv.xz", "xz", text.encode())
    chart = {"prices": [[m.timestamp() * 1000, 1.0] for m, _ in _peg_then_depeg()]}
    _compressed(folder / "usdy.zip", "zip", json.dumps(chart).encode(), "USDY.json")
    events = _compressed(
        tmp_path / "events.csv.gz",
        "gz",
        b"subject,start,end,source\nUSDX,2023-01-22,2023-01-23,x\n",
    )
    summary = _scores(tmp_path, folder, events)["summary"]
    assert f"{2 * len(rows):,} prices" in capsys.readouterr().out
    assert (summary["events"], summary["detected"], summary["false_alerts"]) == (1, 1, 0)


def test_cli_scores_coingecko_api_files_named_by_coin_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CoinGecko's API names coins by id: files so named (staked-ether.json beside
    ethereum.json, usd-coin.json) are read as the coins' symbols, so stETH pairs with ETH; an
    events file may name a coin by its symbol or by its id."""
    import numpy as np

    rng = np.random.default_rng(5)
    hours = 30 * 24
    start = datetime(2023, 1, 1, tzinfo=UTC)
    eth = 1500 * np.exp(np.cumsum(0.004 * rng.standard_normal(hours)))
    ratio = 1 + 0.0005 * rng.standard_normal(hours)
    ratio[25 * 24 :] = 0.95  # from 26 January
    usdc = 1 + 0.0005 * rng.standard_normal(hours)
    usdc[22 * 24 :] = 0.94  # from 23 January
    folder = tmp_path / "coingecko"
    folder.mkdir()
    for coin, prices in (("ethereum", eth), ("staked-ether", eth * ratio), ("usd-coin", usdc)):
        stamps = [(start + timedelta(hours=h)).timestamp() * 1000 for h in range(hours)]
        chart = {"prices": [[t, float(p)] for t, p in zip(stamps, prices, strict=True)]}
        (folder / f"{coin}.json").write_text(json.dumps(chart))
    events = tmp_path / "events.csv"
    events.write_text(
        "subject,start,end,source\n"
        "STETH,2023-01-26,2023-01-30,https://example.org/steth\n"
        "usd-coin,2023-01-23,2023-01-30,https://example.org/usdc\n",
        encoding="utf-8",
    )
    scores = _scores(tmp_path, folder, events)
    err = capsys.readouterr().err
    assert (
        "usd-coin.json: no symbol column; its prices are read as USDC's (the file's name, "
        "CoinGecko's id for USDC)"
    ) in err
    summary = scores["summary"]
    assert (summary["events"], summary["detected"], summary["false_alerts"]) == (2, 2, 0)
    assert {d["subject"] for d in scores["detected"]} == {"stETH", "USDC"}


def test_cli_finds_a_depeg_in_a_coingecko_market_chart(tmp_path: Path) -> None:
    chart = {"prices": [[m.timestamp() * 1000, p] for m, p in _peg_then_depeg()]}
    folder = tmp_path / "charts"
    folder.mkdir()
    (folder / "USDX.json").write_text(json.dumps(chart))
    assert [a["subject"] for a in _depegs(tmp_path, folder)] == ["USDX"]


def _peg_then_depeg() -> list[tuple[datetime, float]]:
    """Hourly from 2023-01-01: three weeks within ±0.2% of $1, then six hours at $0.95."""
    start = datetime(2023, 1, 1, tzinfo=UTC)
    return [
        (start + timedelta(hours=h), (1.0 + 0.001 * ((h % 5) - 2)) if h < 21 * 24 else 0.95)
        for h in range(21 * 24 + 6)
    ]


def _scores(tmp_path: Path, prices: Path, events: Path) -> dict[str, Any]:
    """The --report of `monitor replay` over ``prices`` scored against ``events``."""
    report = tmp_path / "scores.json"
    argv = ["monitor", "replay", str(prices), "--events", str(events), "--report", str(report)]
    assert main(argv) == 0
    scores: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return scores


def _depegs(tmp_path: Path, path: Path) -> list[dict[str, Any]]:
    """The depeg alerts of `monitor replay` over ``path``."""
    out = tmp_path / "alerts.jsonl"
    assert main(["monitor", "replay", str(path), "--out", str(out)]) == 0
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    return [a for a in alerts if a["detector"] == "depeg"]
