"""Reading price files, `proofmind monitor replay`, and the depeg guard on the real dev prices."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proofmind.cli.main import main
from proofmind.errors import InputError
from proofmind.monitor import DepegDetector
from proofmind.monitor.prices import PriceSeries, read_prices
from proofmind.monitor.ratio import RatioDetector
from proofmind.monitor.replay import EventWindow, evaluate_alerts, read_events, replay

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src/proofmind/monitor/data"
PRICES = REPO.parent / "shared" / "datasets" / "token_prices" / "prices.csv.gz"
GOOD = "symbol,timestamp,usd_price\nUSDX,1672531200000,1.0\nUSDX,1672534800000,0.999\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("USDX,1672538400000,abc", r"bad\.csv, line 4: usd_price 'abc' is not a number"),
        ("USDX,1672538400000,-1", r"bad\.csv, line 4: bad price row"),
        ("USDX,1672538400000", r"bad\.csv, line 4: 2 field\(s\), the header has 3"),
        (",1672538400000,1.0", r"bad\.csv, line 4: bad price row"),
        ("USDX,yesterday,1.0", r"bad\.csv, line 4: timestamp 'yesterday' is not a number"),
        ("USDX,1e300,1.0", r"bad\.csv, line 4: bad price row"),  # was an internal IndexError
        ("USDX,1672538400000,1e300", r"bad\.csv, line 4: bad price row"),  # overflowed
    ],
)
def test_a_malformed_row_is_reported_with_file_and_line(
    tmp_path: Path, row: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(GOOD + row + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_prices(path)
    assert read_prices(path, skip_bad=True).price.tolist() == [1.0, 0.999]  # the others stay


def test_a_broken_file_is_a_clear_error_not_an_internal_one(tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("symbol,symbol,timestamp,usd_price\nUSDX,Y,1672531200000,1.0\n")
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress((GOOD * 50).encode())[:60])
    for skip in (False, True):
        with pytest.raises(InputError, match="symbol appear more than once"):
            read_prices(twice, skip_bad=skip)
        with pytest.raises(InputError, match=r"cannot read CSV file .*cut\.csv\.gz"):
            read_prices(cut, skip_bad=skip)


def test_gzip_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    gz = tmp_path / "p.csv.gz"
    gz.write_bytes(gzip.compress(GOOD.encode()))
    parquet = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "symbol": ["USDX", "USDX"],
                "timestamp": [1672534800000, 1672531200000],
                "usd_price": [0.999, 1.0],
            }
        ),
        parquet,
    )
    a, b = read_prices(gz), read_prices(parquet)
    assert a.time.tolist() == b.time.tolist() == [1672531200.0, 1672534800.0]
    assert a.price.tolist() == b.price.tolist() == [1.0, 0.999]
    # a date-time column (as pandas writes one), with or without a zone: the same instants
    for zone in (None, "UTC", "Europe/Paris"):
        moments = pa.array([1672531200000, 1672534800000], pa.timestamp("ms")).cast(
            pa.timestamp("ns", tz=zone)
        )
        table = {"symbol": ["USDX"] * 2, "timestamp": moments, "usd_price": [1.0, 0.999]}
        pq.write_table(pa.table(table), parquet)
        assert read_prices(parquet).time.tolist() == a.time.tolist(), zone
    pq.write_table(pa.table({"symbol": ["USDX"], "timestamp": [1], "amount": [1.0]}), parquet)
    with pytest.raises(InputError, match=r"missing column\(s\) usd_price"):
        read_prices(parquet)


def test_cli_replay_scores_the_shipped_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "alerts.jsonl"
    argv = [
        "monitor",
        "replay",
        str(DATA / "sample_prices.csv"),
        "--out",
        str(out),
        "--events",
        str(DATA / "sample_events.csv"),
    ]
    assert main(argv) == 0
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(a["kind"] for a in alerts) == ["depeg", "escalation", "pinned", "stale"]
    # USDX's 3.4% depeg deepens to 6.8% within hours: one escalation, not a false alert
    first, deeper = (a for a in alerts if a["detector"] == "depeg")
    assert first["severity"] == "high" and "escalation" not in first["evidence"]
    assert deeper["severity"] == "critical" and deeper["evidence"]["escalation"] is True
    assert deeper["evidence"]["episode_alert_time"] == first["time"]
    printed = capsys.readouterr().out
    assert '"recall": 1.0' in printed and '"false_alerts": 0' in printed


def test_cli_replay_scores_events_of_other_spellings_and_says_what_it_cannot_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An events file written by someone else: a subject in another case is the price file's
    symbol; a window of an asset with no price is listed as not scored (not dropped without a
    word); a missed window whose prices never left the band says so."""
    events = tmp_path / "events.csv"
    events.write_text(
        "subject,start,end,source\n"
        "usdx,2023-01-31T00:00,2023-02-03T00:00,https://example.org/depeg\n"
        "NOPE,2023-01-20,2023-01-21,https://example.org/absent\n"
        "USDY,2023-01-20,2023-01-21,https://example.org/quiet\n",
        encoding="utf-8",
    )
    report = tmp_path / "scores.json"
    argv = ["monitor", "replay", str(DATA / "sample_prices.csv"), "--events", str(events),
            "--report", str(report)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{") : out.index("}") + 1])
    assert (summary["events"], summary["detected"]) == (2, 1)
    assert summary["recall_95ci"] == [0.0945, 0.9055]  # Wilson, 1 of 2
    low, high = summary["false_per_asset_year_95ci"]
    assert low <= summary["false_per_asset_year"] <= high
    assert "not scored (no price of NOPE in sample_prices.csv): NOPE 2023-01-20" in out
    assert "missed: USDY https://example.org/quiet (its prices never left ±2%" in out
    assert "missed: USDX" not in out and "missed: usdx" not in out
    # --report: the same scores as JSON, every asset, for a script to read
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["summary"] == summary
    assert sorted(a["asset"] for a in written["assets"]) == ["FEEDZ", "TOKA", "USDX", "USDY"]
    [usdx] = [a for a in written["assets"] if a["asset"] == "USDX"]
    assert (usdx["events"], usdx["detected"], len(usdx["delays_hours"])) == (1, 1, 1)
    assert written["missed"] == [
        {"subject": "USDY", "start": "2023-01-20T00:00:00+00:00",
         "end": "2023-01-21T23:59:59+00:00", "source": "https://example.org/quiet",
         "never_outside": True,
         "why": "its prices never left ±2% of the peg two in a row inside the window"}
    ]  # fmt: skip
    assert [w["subject"] for w in written["not_scored_no_prices"]] == ["NOPE"]
    assert set(written["not_scored_alerts"]) == {"feed-health/pinned", "feed-health/stale"}
    # the window detected: by which alert, when, and the delay from the onset it counts from
    [found] = written["detected"]
    assert found["subject"] == found["alert"]["subject"] == "USDX"
    assert found["alert"]["detector"] == "depeg" and found["onset"] <= found["alert"]["time"]
    assert found["delay_hours"] == usdx["delays_hours"][0]
    assert f"detected: USDX 2023-01-31 by the depeg alert of {found['alert']['time'][:10]}" in out
    assert written["false_alerts"] == []


def test_a_ratio_feeds_discount_is_scored_for_its_coin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Chainlink STETH / ETH feed exported from Dune is the series STETH/ETH; an events file
    naming the coin (stETH) scores that series' alerts: its discount is the window's detection."""
    start = datetime(2022, 5, 1, tzinfo=UTC)
    noise = np.random.default_rng(7).normal(0, 0.0008, 24 * 30)
    lines = ["block_time,feed_name,oracle_price"]
    for hour, wobble in enumerate(noise):
        ratio = (0.999 if hour < 24 * 25 else 0.95) + wobble
        when = (start + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S.000 UTC")
        lines.append(f"{when},STETH / ETH,{ratio:.6f}")
    prices = tmp_path / "feeds.csv"
    prices.write_text("\n".join(lines) + "\n")
    events = tmp_path / "events.csv"
    events.write_text("subject,start,end\nstETH,2022-05-26,2022-05-30\n")
    assert main(["monitor", "replay", str(prices), "--events", str(events)]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{") : out.index("}") + 1])
    assert (summary["events"], summary["detected"], summary["false_alerts"]) == (1, 1, 0)
    assert "detected: STETH/ETH 2022-05-26 by the depeg alert of 2022-05-26" in out


def test_events_files_as_spreadsheets_write_them(tmp_path: Path) -> None:
    """A byte-order mark, CRLF line ends, spaces around names, no source column: read; a
    record without an end is an error naming it (was an internal error)."""
    events = tmp_path / "events.csv"
    events.write_bytes(b"\xef\xbb\xbfsubject, start, end\r\n USDX ,2023-01-31,2023-02-03\r\n")
    [window] = read_events(events)
    assert (window.subject, window.source) == ("USDX", "")
    assert window.end - window.start == 4 * 86400 - 1  # an end date alone: the whole day
    prices = tmp_path / "p.csv"
    prices.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"USDX,1672538400000,abc\n")
    assert read_prices(prices, skip_bad=True).price.tolist() == [1.0, 0.999]
    events.write_text("subject,start,end,source\nUSDX,2023-01-31\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"events\.csv, record 2: no end"):
        read_events(events)
    # a header naming a column twice (the last one would win, silently); not text at all
    events.write_text("subject,subject,start,end\nUSDX,Y,2023-01-01,2023-01-02\n")
    with pytest.raises(InputError, match="subject appear more than once"):
        read_events(events)
    events.write_bytes(b"\x00\xff\xfe\x01")
    with pytest.raises(InputError, match="cannot read events file"):
        read_events(events)
    # dates as a spreadsheet writes them: day-first in the whole file (a 31 tells), an end
    # with a time of day ends there; month names
    events.write_text(
        "subject,start,end\nUSDX,09/05/2022,31/05/2022\nUSDY,01/05/2022 10:00,02/05/2022 12:00\n"
        'USDZ,"May 9, 2022","May 31, 2022"\n'
    )
    day_first, timed, named = read_events(events)
    may_9 = datetime(2022, 5, 9, tzinfo=UTC).timestamp()
    assert (day_first.start, day_first.end) == (may_9, may_9 + 23 * 86400 - 1)
    may_1 = datetime(2022, 5, 1, tzinfo=UTC).timestamp()
    assert (timed.start, timed.end) == (may_1 + 10 * 3600, may_1 + 86400 + 12 * 3600)
    assert (named.start, named.end) == (day_first.start, day_first.end)
    events.write_text("subject,start,end\nUSDX,13/13/2022,31/05/2022\n")
    with pytest.raises(InputError, match="record 2"):
        read_events(events)


def _series(legs: dict[str, tuple[np.ndarray, float]], start: float) -> PriceSeries:
    hours = len(next(iter(legs.values()))[0])
    symbols = np.concatenate([[name] * hours for name in legs])
    time = np.concatenate([start + np.arange(hours) * 3600.0 + off for _, off in legs.values()])
    price = np.concatenate([p for p, _ in legs.values()])
    order = np.argsort(time, kind="stable")
    return PriceSeries(symbols[order], time[order], price[order])


def test_a_derivative_discount_is_scored_for_the_derivative() -> None:
    """A ratio alert on stETH/WETH counts for stETH: its window is detected, the delay runs
    from the ratio's first two observations outside ±2% (stETH's own dollar price is never
    near $1); a depeg seen by both the depeg and the ratio detector is one false alert."""
    rng = np.random.default_rng(3)
    start = datetime(2022, 5, 1, tzinfo=UTC).timestamp()
    n = 40 * 24
    weth = 2000 * np.exp(np.cumsum(0.01 * rng.standard_normal(n)))
    steth = weth * (1 + 0.0005 * rng.standard_normal(n))
    steth[25 * 24 : 27 * 24] *= 0.95  # 26 May, from 00:00
    dai = 1 + 0.0005 * rng.standard_normal(n)
    adai = dai.copy()
    adai[30 * 24 : 31 * 24] *= 0.95
    series = _series(
        {"WETH": (weth, 60.0), "stETH": (steth, 300.0), "DAI": (dai, 90.0), "ADAI": (adai, 400.0)},
        start,
    )
    window = EventWindow("STETH", start + 25 * 86400 - 3600, start + 28 * 86400, "constructed")
    ratio = RatioDetector(pairs={"ADAI": "DAI"})
    alerts = replay(series, [DepegDetector(), ratio])
    assert sorted((a.detector, a.subject) for a in alerts) == [
        ("depeg", "ADAI"), ("ratio", "ADAI/DAI"), ("ratio", "stETH/WETH")
    ]  # fmt: skip
    report = evaluate_alerts(alerts, [window], series)
    pair = EventWindow("STETH/WETH", window.start, window.end, window.source)
    assert evaluate_alerts(alerts, [pair], series).subjects["stETH"].detected == 1
    steth_score, adai_score = report.subjects["stETH"], report.subjects["ADAI"]
    assert (steth_score.events, steth_score.detected, steth_score.false_alerts) == (1, 1, 0)
    assert 1.9 <= steth_score.delays_hours[0] <= 2.1  # the ratio's onset, not the window's
    assert adai_score.false_alerts == 1  # one episode, two detectors
    assert evaluate_alerts(alerts, [window], series, detectors=("depeg",)).missed == [
        EventWindow("stETH", window.start, window.end, window.source)
    ]


def test_cli_replay_of_a_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "USDX,1672538400000,abc\n", encoding="utf-8")
    assert main(["monitor", "replay", str(bad), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 4" in err and "Traceback" not in err


def test_cli_replay_skips_malformed_rows_by_line_and_replays_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real feeds have the odd empty or zero price: by default such a row is left out with a
    warning naming its line and reason, and the replay of every other row is the replay of the
    file without it (same alerts); every kind of bad row at once, in a file pyarrow's reader
    rejects (a short line) and in one it reads (zero and empty prices only)."""
    rows = (DATA / "sample_prices.csv").read_text(encoding="utf-8").splitlines()
    header, body = rows[0], rows[1:]
    bad = {
        10: "USDX,1672538400000,abc",
        500: "USDX,1672538400000",
        1000: "USDX,1672538400000,0",
        1500: ",1672538400000,1.0",
        2000: "USDX,1672538400000,",
    }
    mixed = list(body)
    for at, row in sorted(bad.items(), reverse=True):
        mixed.insert(at, row)
    clean, dirty, readable = tmp_path / "clean.csv", tmp_path / "dirty.csv", tmp_path / "z.csv"
    clean.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    dirty.write_text("\n".join([header, *mixed]) + "\n", encoding="utf-8")
    zeros = [r for r in mixed if r not in (bad[10], bad[500])]
    readable.write_text("\n".join([header, *zeros]) + "\n", encoding="utf-8")
    outs = []
    for path in (clean, dirty, readable):
        out = tmp_path / f"{path.stem}.jsonl"
        assert main(["monitor", "replay", str(path), "--out", str(out)]) == 0
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] == outs[2] and outs[0]
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "malformed" in line]
    assert len(warnings) == 2 and "skipped 5 malformed rows" in warnings[0]
    # line 1 is the header; each bad row sits after the ones inserted before it
    lines = [at + k + 2 for k, at in enumerate(sorted(bad))]
    assert [f"line {n}:" in warnings[0] for n in lines] == [True] * 5
    assert "usd_price 'abc' is not a number" in warnings[0]
    assert "2 field(s), the header has 3" in warnings[0]
    assert "skipped 3 malformed rows" in warnings[1]
    assert read_prices(dirty, skip_bad=True).skipped[0].startswith(f"line {lines[0]}:")
    with pytest.raises(InputError, match=f"line {lines[0]}"):
        read_prices(dirty)


@pytest.mark.slow
@pytest.mark.skipif(not PRICES.is_file(), reason="../shared/datasets/token_prices is absent")
def test_depeg_guard_on_the_dev_price_set() -> None:
    series = read_prices(PRICES)
    alerts = replay(series, [DepegDetector()])
    report = evaluate_alerts(alerts, read_events(DATA / "depeg_events.csv"), series)
    summary = report.summary()
    assert summary["recall"] == 1.0 and report.missed == []
    assert summary["median_delay_hours"] <= 3
    assert summary["false_per_asset_year"] <= 1
    # assets far from $1, and AMPL (which floats around $1 by design), never alert as depegs
    pegged = {"BUSD", "DAI", "FEI", "FRAX", "GUSD", "LUSD", "sUSD", "TUSD", "USDC", "USDP", "USDT"}
    assert {a.subject for a in alerts} <= pegged
    # the 2022-01-21 23:00 print that every stablecoin shows at once is CoinGecko's, not a depeg
    assert not [a for a in alerts if 1642806000 <= a.time <= 1642820400]


def test_every_event_window_cites_a_public_source_by_url() -> None:
    # a window without a source would turn a false alert into a "detection"
    for window in read_events(DATA / "depeg_events.csv"):
        assert "https://" in window.source, window
        assert window.start < window.end


@pytest.mark.slow
@pytest.mark.skipif(not PRICES.is_file(), reason="../shared/datasets/token_prices is absent")
def test_the_per_asset_table_in_the_docs_is_what_eval_depeg_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import runpy

    script = runpy.run_path(str(REPO / "benchmarks/eval_depeg.py"))
    script["table"](read_prices(PRICES), read_events(DATA / "depeg_events.csv"))
    printed = capsys.readouterr().out
    assert printed.startswith("| asset | split |")
    assert printed in (REPO / "docs/monitor.md").read_text(encoding="utf-8")


def test_the_shipped_sample_is_what_its_script_makes(tmp_path: Path) -> None:
    import runpy

    made = tmp_path / "sample.csv"
    script = runpy.run_path(str(REPO / "scripts/make_monitor_sample.py"))
    script["main"](str(made))
    assert made.read_bytes() == (DATA / "sample_prices.csv").read_bytes()


def test_cli_detector_parameters_reach_the_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = str(DATA / "sample_prices.csv")
    out = tmp_path / "a.jsonl"
    params = '{"depeg": {"threshold": 0.5}}'
    assert (
        main(["monitor", "replay", sample, "-d", "depeg", "--params", params, "-o", str(out)]) == 0
    )
    assert out.read_text() == ""  # USDX's 7% dip is under a 50% threshold
    assert main(["monitor", "replay", sample, "--params", "[1]"]) == 2
    assert "must be a JSON object of objects" in capsys.readouterr().err


def test_a_bad_parquet_row_is_reported_by_row(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    table = {"symbol": ["USDX", "USDX"], "timestamp": [1, 2], "usd_price": [1.0, float("nan")]}
    pq.write_table(pa.table(table), path)
    with pytest.raises(InputError, match=r"p\.parquet, row 1: bad price row"):
        read_prices(path)


def _csv(path: Path, symbol: str, start: float, prices: np.ndarray, offset: float) -> Path:
    rows = [f"{symbol},{int((start + h * 3600 + offset) * 1000)},{p!r}" for h, p in
            enumerate(prices.tolist())]  # fmt: skip
    path.write_text("symbol,timestamp,usd_price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_several_price_files_replay_as_one_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A derivative's prices in one file and its underlying's in another (as a per-asset export
    gives them) are paired by symbol and replayed as one file holding both would be; a row that
    an overlapping later file repeats is kept once and counted; a bad row is named with its
    file; a folder of block tables cannot be mixed with price files."""
    from proofmind.monitor.prices import read_price_files

    rng = np.random.default_rng(5)
    start = datetime(2022, 5, 1, tzinfo=UTC).timestamp()
    n = 40 * 24
    weth = 2000 * np.exp(np.cumsum(0.01 * rng.standard_normal(n)))
    steth = weth * (1 + 0.0005 * rng.standard_normal(n))
    steth[25 * 24 : 27 * 24] *= 0.95
    a = _csv(tmp_path / "steth_usd.csv", "stETH", start, steth, 300.0)
    b = _csv(tmp_path / "weth_usd.csv", "WETH", start, weth, 60.0)
    both = tmp_path / "both.csv"
    both.write_text(
        a.read_text(encoding="utf-8") + "".join(b.read_text(encoding="utf-8").splitlines(True)[1:]),
        encoding="utf-8",
    )
    # the last 100 WETH hours again, in a second export that also has a bad row
    tail = b.read_text(encoding="utf-8").splitlines(True)
    again = tmp_path / "weth_recent.csv"
    again.write_text(tail[0] + "WETH,1651500000000,abc\n" + "".join(tail[-100:]), encoding="utf-8")

    merged = read_price_files([a, b, again], skip_bad=True)
    one = read_prices(both)
    assert merged.duplicates == 100 and len(merged) == len(one) == 2 * n
    assert merged.symbol.tolist() == one.symbol.tolist()
    assert merged.time.tolist() == one.time.tolist() and merged.price.tolist() == one.price.tolist()
    assert merged.skipped == ("weth_recent.csv line 2: usd_price 'abc' is not a number",)
    with pytest.raises(InputError, match=r"weth_recent\.csv, line 2"):
        read_price_files([a, again])

    outs = []
    for paths in ([both], [a, b, again]):
        out = tmp_path / f"alerts{len(paths)}.jsonl"
        assert main(["monitor", "replay", *map(str, paths), "--out", str(out)]) == 0
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] and '"stETH/WETH"' in outs[0]
    err = capsys.readouterr().err
    assert "100 price rows of a later file equal to one of an earlier file" in err
    assert "skipped 1 malformed row of" in err and "weth_recent.csv line 2:" in err

    # the derivative alone: its window is missed, and the note says what would show it
    events = tmp_path / "events.csv"
    day = int(start + 25 * 86400)
    events.write_text(f"symbol,start,end\nSTETH,{day},{day + 3 * 86400}\n", encoding="utf-8")
    for paths in ([a], [a, b]):  # (without the shipped WETH, which would pair it)
        args = [*map(str, paths), "--events", str(events), "--no-reference"]
        assert main(["monitor", "replay", *args]) == 0
        out = capsys.readouterr().out
        hint = "far from $1 and no underlying was paired with it: give the underlying's prices"
        assert (hint in out) == (len(paths) == 1) and ("missed: stETH" in out) == (len(paths) == 1)

    tables = tmp_path / "tables" / "transactions"
    tables.mkdir(parents=True)
    pq.write_table(pa.table({"block_number": [1]}), tables / "part.parquet")
    assert main(["monitor", "replay", str(tmp_path / "tables"), str(a)]) == 2
    err = capsys.readouterr().err
    assert "give one folder of block tables, not 2 inputs" in err and "Traceback" not in err


def test_events_files_of_other_tools_are_read(tmp_path: Path) -> None:
    """The price file's ``symbol`` for the subject, other names for the bounds, any case, and
    Unix times in seconds or milliseconds read as the same windows as the documented form; a
    column that could be either of two is an error naming both."""
    events = tmp_path / "events.csv"
    events.write_text(
        "subject,start,end,source\nUSDX,2023-01-31T00:00,2023-02-03T12:00,https://e.org/a\n",
        encoding="utf-8",
    )
    documented = read_events(events)
    for header, start, end in [
        ("Symbol,Start_Time,End_Time,URL", "1675123200", "1675425600"),
        ("asset,begin,until,reference", "1675123200000", "1675425600000"),
        ("token,START,STOP,Sources", "2023-01-31T00:00:00Z", "2023-02-03 12:00:00+00:00"),
        ("subject,start,end,source", "20230131", "2023-02-03T13:00+01:00"),
        ("subject,start,end,source", "2023-01-31 00:00:00 UTC", "2023-02-03 12:00:00 utc"),
        ("Subject,start,end,source,address", "1675123200", "2023-02-03T12:00"),
        ("asset,window_start,window_end,notes", "1675123200", "1675425600"),
        ("asset_symbol,Start Date (UTC),End Date (UTC),Link", "1675123200", "1675425600"),
        ("coinName,startedAt,endedAt,source", "1675123200", "1675425600"),
        ("subject,start_ts,end_ts,source_url", "1675123200", "1675425600"),
    ]:
        extra = ",0xab" if header.endswith("address") else ""
        events.write_text(f"{header}\nUSDX,{start},{end},https://e.org/a{extra}\n")
        assert read_events(events) == documented, header
    # a spreadsheet's semicolons (a locale with a decimal comma), a TSV
    for sep in (";", "\t"):
        row = sep.join(["USDX", "2023-01-31T00:00", "2023-02-03T12:00", "https://e.org/a"])
        events.write_text(sep.join(["subject", "start", "end", "source"]) + f"\n{row}\n")
        assert read_events(events) == documented, repr(sep)
    # a window written to the day, as people date events: its end date is the whole day
    events.write_text("Ticker,from,to,url\nUSDX,2023-01-31,2023-02-03,https://e.org/a\n")
    [window] = read_events(events)
    assert (window.start, window.end) == (1675123200, 1675468799)  # 2023-02-03 23:59:59
    events.write_text("coin,start_date,end_date\nUSDX,20230131,20230203\n")
    assert read_events(events)[0].end == 1675468799
    events.write_text("name,symbol,start,end\nUSD X,USDX,1675123200,1675425600\n")
    assert read_events(events)[0].subject == "USDX"  # a synonym before a word
    events.write_text("asset,event_start,window_start,end\nUSDX,1,1675123200,1675425600\n")
    with pytest.raises(InputError, match="event_start and window_start could both be the start"):
        read_events(events)
    events.write_text("asset,start,end,notes,link\nUSDX,1675123200,1675425600,a,b\n")
    assert read_events(events)[0].source == ""  # two candidates for the optional source
    events.write_text("event,when,until\nUSDX,1675123200,1675425600\n")
    with pytest.raises(InputError, match="its header is event,when,end"):
        read_events(events)
    events.write_text("symbol,asset,start,end\nUSDX,USDX,1675123200,1675425600\n")
    with pytest.raises(InputError, match="the columns symbol and asset could both be the subject"):
        read_events(events)
    for bad in ("-5", "nan", "inf", "4e13", "tomorrow"):
        events.write_text(f"subject,start,end\nUSDX,{bad},1675425600\n")
        with pytest.raises(InputError, match=r"events\.csv, record 2"):
            read_events(events)


def test_an_alert_shortly_before_a_documented_start_detects_the_window() -> None:
    """Documented events are dated to the day: an alert up to a day before a window's start is
    an early detection (delay 0, not false); one earlier than that is a false alert, and the
    window, in which the detector does not alert again (one alert per episode), is missed."""
    rng = np.random.default_rng(11)
    start = datetime(2022, 5, 1, tzinfo=UTC).timestamp()
    usdx = 1 + 0.0005 * rng.standard_normal(40 * 24)
    usdx[25 * 24 + 20 :] = 0.9  # from the evening of day 25 on
    series = _series({"USDX": (usdx, 120.0)}, start)
    alerts = replay(series, [DepegDetector()])
    [alert] = alerts
    day = start + 26 * 86400  # the documented start: the next day, 00:00
    assert day - 4 * 3600 < alert.time < day
    report = evaluate_alerts(alerts, [EventWindow("USDX", day, day + 5 * 86400, "doc")], series)
    score = report.subjects["USDX"]
    assert (score.detected, score.false_alerts, score.delays_hours) == (1, 0, [0.0])
    [found] = report.detected  # early: before its prices left ±2% inside the window
    assert (found.alert, found.delay_hours) == (alert, 0.0) and found.onset is not None
    assert found.alert.time < found.onset and report.false == []
    late = EventWindow("USDX", alert.time + 86400 + 60, day + 5 * 86400, "doc")
    report = evaluate_alerts(alerts, [late], series)
    assert (report.subjects["USDX"].false_alerts, report.missed) == (1, [late])
    assert (report.false, report.detected) == ([alert], [])


def test_a_file_in_unix_seconds_is_read_as_seconds_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Many exports write Unix seconds: read as milliseconds they would all fall in January
    1970 and the detectors' hours would be seconds. A file whose timestamps are all under 1e11
    is read as seconds (one line says so) and replays as its milliseconds twin does."""
    rows = (DATA / "sample_prices.csv").read_text(encoding="utf-8").splitlines()
    seconds = [rows[0]]
    for row in rows[1:]:
        symbol, stamp, price = row.split(",")
        seconds.append(f"{symbol},{int(stamp) / 1000:.3f},{price}")
    path = tmp_path / "seconds.csv"
    path.write_text("\n".join(seconds) + "\n", encoding="utf-8")
    stray = tmp_path / "stray.csv"  # one row in milliseconds: a bad row, not the file's unit
    stray.write_text("\n".join([*seconds, "USDX,1675000000000,1.0"]) + "\n", encoding="utf-8")
    assert read_prices(stray, skip_bad=True).time.tolist() == read_prices(path).time.tolist()
    ms, s = read_prices(DATA / "sample_prices.csv"), read_prices(path)
    assert np.allclose(ms.time, s.time, rtol=0, atol=1e-3) and ms.price.tolist() == s.price.tolist()
    assert ms.notes == () and "read as Unix seconds" in s.notes[0]
    outs = []
    for source in (DATA / "sample_prices.csv", path):
        out = tmp_path / f"{source.stem}.jsonl"
        assert main(["monitor", "replay", str(source), "--out", str(out)]) == 0
        outs.append([json.loads(line)["kind"] for line in out.read_text().splitlines()])
    assert outs[0] == outs[1] and outs[0]
    assert "seconds.csv: timestamps read as Unix seconds" in capsys.readouterr().err


def test_a_missed_window_says_why_the_depeg_detector_could_not_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A coin that traded 1.5% under its peg for weeks was never learnt as pegged; a window
    that starts days into a depeg the detector had already alerted (one alert per episode):
    each missed window says so, on the terminal and in --report."""

    def prices(hour: int) -> dict[str, float]:
        return {"USDA": _off_then_lower(hour), "USDB": _held_then_down(hour)}

    out, why = _missed_reasons(tmp_path, capsys, prices)
    assert (
        "missed: USDA https://example.org/USDA (not watched as pegged when it began: in the 14 "
        "days before it, fewer than 95% of its prices were within ±1% of its peg (1)" in out
    )
    assert (
        "missed: USDB https://example.org/USDB (an episode alerted on 2023-01-21 02:01 UTC was "
        "still open when it began: one alert per episode)" in out
    )
    assert why["USDB"].startswith("an episode alerted on 2023-01-21")


def test_a_missed_derivative_window_says_why_the_ratio_detector_could_not_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same for derivatives, on their ratio to the underlying: stETH 1.5% under ETH for
    weeks was never learnt as pegged to it; rETH's window began inside an episode that had
    alerted already."""

    def prices(hour: int) -> dict[str, float]:
        eth = 1500.0 + 50.0 * np.sin(hour / 37.0)
        return {"stETH": eth * _off_then_lower(hour), "rETH": eth * _held_then_down(hour),
                "ETH": eth}  # fmt: skip

    out, why = _missed_reasons(tmp_path, capsys, prices)
    assert (
        "missed: stETH https://example.org/stETH (not watched as pegged when it began: in the 14 "
        "days before it, fewer than 95% of its ratios to ETH were within ±1% of the expected "
        "ratio (1)" in out
    )
    assert (
        "missed: rETH https://example.org/rETH (an episode alerted on 2023-01-21 02:02 UTC was "
        "still open when it began: one alert per episode)" in out
    )
    assert why["stETH"].startswith("not watched as pegged")


def _off_then_lower(hour: int) -> float:
    """1.5% under the peg for 30 days, never near it, then 5% under."""
    return 0.985 if hour < 30 * 24 else 0.95


def _held_then_down(hour: int) -> float:
    """Within ±0.1% of the peg for 20 days, then 5% under."""
    return 1.0 + 0.0005 * ((hour % 5) - 2) if hour < 20 * 24 else 0.95


def _missed_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prices: Callable[[int], dict[str, float]]
) -> tuple[str, dict[str, str]]:
    """`monitor replay --events` of 40 days of hourly ``prices(hour)`` from 2023-01-01 (each
    asset a minute after the one before it), its first asset's window from day 30 and its
    second's from day 25: the terminal's words in one line, and each missed window's `why`
    in --report."""
    start = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    rows = [
        f"{symbol},{int((start + hour * 3600 + 60 * k) * 1000)},{price}"
        for hour in range(40 * 24)
        for k, (symbol, price) in enumerate(prices(hour).items())
    ]
    path = tmp_path / "p.csv"
    path.write_text("symbol,timestamp,usd_price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    late, early = list(prices(0))[:2]
    events = tmp_path / "events.csv"
    events.write_text(
        "subject,start,end,source\n"
        f"{late},2023-01-31,2023-02-05,https://example.org/{late}\n"
        f"{early},2023-01-26,2023-02-05,https://example.org/{early}\n",
        encoding="utf-8",
    )
    report = tmp_path / "scores.json"
    argv = ["monitor", "replay", str(path), "--events", str(events), "--report", str(report)]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    return out, {w["subject"]: w["why"] for w in json.loads(report.read_text())["missed"]}


def test_the_terminal_lists_twenty_detected_windows_and_counts_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rich.table import Table

    from proofmind.cli.monitor_run import ReplayScores, print_replay_summary

    lines = [f"W{k} by the depeg alert" for k in range(25)]
    scored = ReplayScores(Table(), "scored", {}, [], [], {}, lines)
    print_replay_summary("25 prices", 25, "prices", [], 1.0, None, scores=lambda: scored)
    out = capsys.readouterr().out
    assert "detected: W19 by the depeg alert" in out and "W20" not in out
    assert "detected: and 5 more windows (--report lists them all)" in out


def test_events_may_name_coins_by_symbol_id_or_name() -> None:
    """An events file written by someone else: symbols in another case, CoinGecko ids, coins'
    names as CoinGecko or CoinMarketCap write them; a name of no known coin is left as it is
    (and reported as having no prices)."""
    from proofmind.monitor.replay import match_subjects

    symbols = {"UST", "USDC", "stETH", "DAI", "USDT", "MIM", "USDN"}
    given = ["ust", "usd-coin", "USD Coin", "TerraUSD", "Lido Staked ETH", "Dai", "Tether",
             "Magic Internet Money", "Neutrino USD", "Some Other Coin"]  # fmt: skip
    windows = [EventWindow(name, 0.0, 1.0, "") for name in given]
    assert [w.subject for w in match_subjects(windows, symbols)] == [
        "UST", "USDC", "USDC", "UST", "stETH", "DAI", "USDT", "MIM", "USDN", "Some Other Coin"
    ]  # fmt: skip
    # a ticker that changed: the events file's old one finds the price file's new one, and back
    renamed = [EventWindow(name, 0.0, 1.0, "") for name in ("UST", "terrausd", "USDP", "usdc")]
    assert [w.subject for w in match_subjects(renamed, {"USTC", "PAX", "USDC"})] == [
        "USTC", "USTC", "PAX", "USDC"
    ]  # fmt: skip
