"""A derivative whose underlying the price file lacks: its ratio uses the shipped reference."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from proofmind.cli.main import main
from proofmind.monitor.prices import read_prices
from proofmind.monitor.reference import needed_references, reference_prices, with_references

JUNE_12 = datetime(2022, 6, 12, tzinfo=UTC).timestamp()
REPO = Path(__file__).resolve().parents[2]
PRICES = REPO.parent / "shared" / "datasets" / "token_prices" / "prices.csv.gz"


@pytest.mark.skipif(not PRICES.exists(), reason="needs ../shared/datasets/token_prices")
def test_the_shipped_reference_is_what_its_script_cuts(tmp_path: Path) -> None:
    import runpy

    script = runpy.run_path(str(REPO / "scripts/make_reference_prices.py"))
    script["main"](PRICES, tmp_path / "reference.csv.gz")
    shipped = REPO / "src/proofmind/monitor/data/reference_prices.csv.gz"
    assert (tmp_path / "reference.csv.gz").read_bytes() == shipped.read_bytes()


def test_the_reference_is_needed_only_for_a_derivative_without_underlying() -> None:
    assert needed_references(["stETH", "USDC"]) == {"stETH": "WETH"}
    assert needed_references(["stETH", "WETH"]) == {}
    assert needed_references(["stETH", "ETH"]) == {}  # its own underlying, unwrapped
    assert needed_references(["renBTC", "DAI"]) == {"renBTC": "WBTC"}
    assert needed_references(["USDC", "DAI", "WBTC"]) == {}  # WBTC is the file's own
    # a symbol that only ends another's name: ETH is still what each derives from
    assert needed_references(["rsETH", "sETH"]) == {"rsETH": "WETH", "sETH": "WETH"}
    assert needed_references(["stETH"], auto_pairs=False) == {}
    assert needed_references(["XYZ"], {"XYZ": "WBTC"}, auto_pairs=False) == {"XYZ": "WBTC"}
    assert needed_references(["XYZ"], {"XYZ": "NOPE"}) == {}  # not a reference symbol


def _steth_file(path: Path, first: float, last: float, dip: bool) -> Path:
    """stETH as the reference WETH times a ratio near 1 (0.1% noise), priced two minutes
    after each WETH price; with ``dip``, the ratio is 0.94 for four days from 12 June 2022."""
    times, prices = reference_prices()["WETH"]
    keep = (times >= first) & (times <= last)
    times, prices = times[keep], prices[keep]
    ratio = 1 + 0.001 * np.random.default_rng(7).standard_normal(len(times))
    if dip:
        ratio[(times >= JUNE_12) & (times < JUNE_12 + 4 * 86400)] = 0.94
    steth = (prices * ratio).tolist()
    rows = [f"stETH,{int((t + 120) * 1000)},{p:.6f}" for t, p in zip(times, steth, strict=True)]
    path.write_text("symbol,timestamp,usd_price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_discount_is_seen_with_the_shipped_underlying(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of stETH alone: the WETH reference is merged in for the ratio (said on stderr),
    the discount alerts as stETH/WETH and its window is detected; no alert is about WETH itself
    and WETH is not scored. --no-reference leaves it out: the window is missed, with the hint."""
    first = datetime(2022, 4, 1, tzinfo=UTC).timestamp()
    last = datetime(2022, 7, 1, tzinfo=UTC).timestamp()
    steth = _steth_file(tmp_path / "steth.csv", first, last, dip=True)
    events = tmp_path / "events.csv"
    events.write_text("subject,start,end\nSTETH,2022-06-11,2022-06-20\n", encoding="utf-8")
    out, report = tmp_path / "alerts.jsonl", tmp_path / "scores.json"
    args = [str(steth), "--events", str(events), "--out", str(out), "--report", str(report)]
    assert main(["monitor", "replay", *args]) == 0
    captured = capsys.readouterr()
    assert "stETH: no WETH prices in the input; its ratio uses the shipped WETH reference" in (
        captured.err.replace("\n", " ")
    )
    alerts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [a["subject"] for a in alerts if a["detector"] == "ratio"] == ["stETH/WETH"]
    assert not [a for a in alerts if a["subject"] == "WETH"]
    scores = json.loads(report.read_text(encoding="utf-8"))
    assert [a["asset"] for a in scores["assets"]] == ["stETH"]
    assert scores["summary"]["detected"] == 1 and scores["missed"] == []
    [discount] = [a for a in alerts if a["detector"] == "ratio"]
    assert JUNE_12 <= discount["time"] <= JUNE_12 + 3 * 3600  # the third hour below, at most

    assert main(["monitor", "replay", *args, "--no-reference"]) == 0
    captured = capsys.readouterr()
    assert "shipped WETH reference" not in captured.err
    assert "missed: stETH" in captured.out and "no underlying was paired" in captured.out


def test_a_calm_derivative_raises_nothing_against_the_reference(tmp_path: Path) -> None:
    """Three months of stETH at its peg against the reference: no alert at all."""
    first = datetime(2021, 9, 1, tzinfo=UTC).timestamp()
    last = datetime(2021, 12, 1, tzinfo=UTC).timestamp()
    steth = _steth_file(tmp_path / "steth.csv", first, last, dip=False)
    out = tmp_path / "alerts.jsonl"
    assert main(["monitor", "replay", str(steth), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == ""


def test_a_file_outside_the_reference_dates_is_told_so(tmp_path: Path) -> None:
    path = tmp_path / "steth.csv"
    hours = np.arange(30 * 24) * 3600.0 + datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    path.write_text(
        "symbol,timestamp,usd_price\n"
        + "".join(f"stETH,{int(t * 1000)},2300.0\n" for t in hours.tolist()),
        encoding="utf-8",
    )
    series = read_prices(path)
    use = with_references(series, needed_references(series.names or ()))
    assert use.series is series and not use.added and not use.pairs
    [note] = use.notes
    assert "does not cover its dates" in note and "2021-01-01 to 2023-02-25" in note


def test_the_merged_series_keeps_the_file_rows_and_adds_the_span(tmp_path: Path) -> None:
    first = datetime(2022, 4, 1, tzinfo=UTC).timestamp()
    last = datetime(2022, 4, 11, tzinfo=UTC).timestamp()
    series = read_prices(_steth_file(tmp_path / "steth.csv", first, last, dip=False))
    use = with_references(series, {"stETH": "WETH"})
    merged = use.series
    assert use.added == {"WETH"} and use.pairs == {"stETH": "WETH"}
    mine = merged.symbol == "stETH"
    assert merged.time[mine].tolist() == series.time.tolist()
    assert merged.price[mine].tolist() == series.price.tolist()
    assert np.all(np.diff(merged.time) >= 0)
    weth = merged.time[merged.symbol == "WETH"]
    assert weth.min() >= series.time.min() - 86400 and weth.max() <= series.time.max() + 86400
    assert len(weth) >= 10 * 24 * 0.9  # about hourly over the file's ten days
    batch = merged.batch()
    assert batch.subjects == ("stETH", "WETH")
