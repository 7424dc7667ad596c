"""Replay detectors over a price series and score their alerts against labelled event windows.

Scoring (per subject, for the ``depeg`` detector and the ``ratio`` detector's discounts, whose
subject ``STETH/ETH`` counts for the derivative ``STETH``):
- an event window is detected when an alert falls inside ``[start, end]``;
- its delay runs from the window's onset, the first observation in the window outside ±2% of
  the peg whose next observation is outside too (so a lone glitch does not start the clock),
  to the first alert in the window; when that alert is a ratio discount, the observations are
  the ratio's (the derivative's prices over its underlying's latest, at most 15 minutes older);
- the two detectors' alerts on one subject less than 72 hours after a counted alert of the other
  are the same episode, counted once;
- an alert outside every window of its subject is a false alert; the rate is per asset-year of
  observed series (first to last observation of the subject);
- a window with less than ``min_history_days`` of the subject's data before it cannot be
  detected by a detector that learns the peg from history: it is reported, not scored;
- an event's subject is matched to the price file's symbols exactly, or ignoring case when
  that names one symbol (``SUSD`` / ``sUSD``); a window of an asset with no price at all is
  reported, not scored.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, Detector, PriceObservation
from proofmind.monitor.prices import (
    UNREADABLE,
    PriceSeries,
    coin_id,
    coingecko_symbol,
    date_order,
    find_columns,
    iso_moment,
    open_text,
    parse_time_ms,
    sniff_delimiter,
)

YEAR = 365.25 * 86400.0


def replay(series: PriceSeries, detectors: list[Detector]) -> list[Alert]:
    """Every detector over the whole series, through ``Detector.evaluate_many`` with the series
    as one columnar chunk (a ``PriceBatch``): the shipped price detectors then skip, in NumPy,
    the rows that provably cannot change their outcome and run their own ``evaluate`` rules on
    the others. Each detector raises exactly what ``evaluate`` on every price would, and is
    left in the same state. The alerts come in time order, ties in detector order."""
    if not detectors:
        return []
    batch = series.batch()
    found = [(d, detector.evaluate_many(batch)) for d, detector in enumerate(detectors)]
    return _in_time_order(found)


def replay_streaming(series: PriceSeries, detectors: list[Detector]) -> list[Alert]:
    """The reference: one ``PriceObservation`` at a time through every detector's
    ``evaluate``; the same alerts as ``replay``, in the same order."""
    found: list[tuple[int, list[Alert]]] = [(d, []) for d in range(len(detectors))]
    evaluators = [(d.evaluate, found[k][1]) for k, d in enumerate(detectors)]
    for subject, time, price in zip(
        series.symbol.tolist(), series.time.tolist(), series.price.tolist(), strict=True
    ):
        event = PriceObservation(subject, time, price)
        for evaluate, alerts in evaluators:
            raised = evaluate(event)
            if raised:
                alerts.extend(raised)
    return _in_time_order(found)


def _in_time_order(found: list[tuple[int, list[Alert]]]) -> list[Alert]:
    """Merged by alert time; equal times by detector, then in the order raised."""
    merged = [(alert.time, d, k, alert) for d, alerts in found for k, alert in enumerate(alerts)]
    merged.sort(key=lambda item: (item[0], item[1], item[2]))
    return [alert for *_, alert in merged]


def write_alerts(alerts: Iterable[Alert], path: Path) -> int:
    rows = [a.to_dict() for a in alerts]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        for row in rows:
            row["evidence"] = json.dumps(row["evidence"], sort_keys=True)
        pq.write_table(pa.Table.from_pylist(rows), temporary)
    else:
        with temporary.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, sort_keys=True) + "\n")
    temporary.replace(path)  # never a half-written alert file
    return len(rows)


@dataclass(frozen=True)
class EventWindow:
    subject: str
    start: float
    end: float
    source: str


def read_events(path: Path) -> list[EventWindow]:
    """The event windows of a CSV (compressed or zipped, as a price file may be)."""
    try:
        with open_text(path) as handle:
            return _events(path, handle)
    except (*UNREADABLE, csv.Error) as exc:
        raise InputError(
            f"cannot read events file {path}: {exc}",
            hint="a UTF-8 CSV with the columns subject,start,end,source",
        ) from exc


# other names the columns of an events file may go by (any case), read when the column's own
# name is absent: the price file's ``symbol``, and what other tools call a window's bounds
EVENT_COLUMNS = {
    "subject": ("symbol", "asset", "token", "ticker", "coin", "address"),
    "start": ("start_time", "start_date", "begin", "from"),
    "end": ("end_time", "end_date", "stop", "until", "to"),
    "source": ("sources", "url", "reference"),
}


# the words that make a column one of them when neither its name nor a synonym is in the
# header: `window_start`, `Start Date (UTC)`, `startedAt`, `event_end`, `asset_symbol`, `notes`
EVENT_WORDS = {
    "subject": frozenset(
        {"subject", "symbol", "asset", "token", "ticker", "coin", "stablecoin", "name"}
    ),
    "start": frozenset({"start", "started", "starts", "begin", "began", "begins", "from"}),
    "end": frozenset({"end", "ended", "ends", "stop", "stopped", "until", "to", "finish"}),
    "source": frozenset(
        {"source", "sources", "url", "link", "reference", "references", "citation", "notes"}
    ),
}


def _words(name: str) -> set[str]:
    """A column name's words: ``startedAt`` → {started, at}, ``Start Date (UTC)`` → {start,
    date, utc}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return set(re.findall(r"[a-z0-9]+", spaced.lower()))


def _event_header(path: Path, names: list[str]) -> list[str]:
    """The header as `_events` reads it: names stripped; a column named by a synonym of subject,
    start, end or source (any case) renamed to it when no column has that name itself, else
    the one column whose name holds one of its words (`EVENT_WORDS`)."""
    header = [name.strip() for name in names]
    lowered = [name.lower() for name in header]
    twice = sorted({n for n, low in zip(header, lowered, strict=True) if lowered.count(low) > 1})
    if twice:
        raise InputError(
            f"{path}: the column(s) {', '.join(twice)} appear more than once in the header",
            hint="keep one of each: subject, start, end, source",
        )
    found = find_columns(path, header, EVENT_COLUMNS)
    for key, at in found.items():
        if at is not None:
            header[at] = key
    taken = {at for at in found.values() if at is not None}
    for key, words in EVENT_WORDS.items():
        if found[key] is not None:
            continue
        fits = [i for i, name in enumerate(header) if i not in taken and _words(name) & words]
        if len(fits) > 1 and key == "source":  # optional: two candidates make it absent
            continue
        if len(fits) > 1:
            raise InputError(
                f"{path}: the columns {' and '.join(header[i] for i in fits)} could both be "
                f"the {key}",
                hint=f"name the one to use {key}",
            )
        if fits:
            header[fits[0]], found[key] = key, fits[0]
            taken.add(fits[0])
    return header


def _events(path: Path, handle: Iterable[str]) -> list[EventWindow]:
    events = []
    lines = (line for line in handle if not line.startswith("#"))
    first = next(lines, "")
    reader = csv.DictReader(itertools.chain([first], lines), delimiter=sniff_delimiter(first))
    header = _event_header(path, list(reader.fieldnames or []))
    reader.fieldnames = header
    if not {"subject", "start", "end"} <= set(header):
        raise InputError(
            f"{path}: the events file needs the columns subject,start,end (and source); "
            f"its header is {','.join(header)}",
            hint="dates as ISO 8601 in UTC (e.g. 2022-05-09T00:00) or Unix time; subject may "
            "also be called symbol or asset",
        )
    rows = list(reader)
    # a date of numbers only (05/09/2022) is month- or day-first for the whole file, as in a
    # price file (`date_order`)
    order, _ = date_order([(row.get(c) or "").strip() for row in rows for c in ("start", "end")])
    for number, row in enumerate(rows, start=2):
        absent = [c for c in ("subject", "start", "end") if not (row.get(c) or "").strip()]
        if absent:  # a source may be empty (it is printed, not checked)
            raise InputError(
                f"{path}, record {number}: no {', '.join(absent)}",
                hint="each window needs subject,start,end (and a source, e.g. a URL)",
            )
        try:
            start = _instant(row["start"], order=order)
            end = _instant(row["end"], end_of_day=True, order=order)
        except ValueError as exc:
            raise InputError(
                f"{path}, record {number}: {exc}",
                hint="dates as ISO 8601 in UTC (e.g. 2022-05-09T00:00) or Unix time in "
                "seconds or milliseconds",
            ) from exc
        if end < start:
            raise InputError(f"{path}, record {number}: end is before start")
        source = (row.get("source") or "").strip()
        events.append(EventWindow(row["subject"].strip(), start, end, source))
    return events


EPOCH_FROM = 1e9  # a number this large is Unix time (2001-09-09 on); smaller is read as ISO
EPOCH_MS_FROM = 1e11  # a Unix time this large is in milliseconds (1e11 s is the year 5138)


DAY = 86400.0


def _instant(text: str, *, end_of_day: bool = False, order: str = "mdy") -> float:
    """ISO 8601 (UTC unless it says otherwise, ``20220509`` and ``2022-05-09 00:00:00 UTC``
    too), a date as spreadsheets write them (``05/31/2022``, ``31.05.2022``, ``May 31, 2022``;
    ``order`` says whether a date of numbers only is month- or day-first), or Unix time in
    seconds or milliseconds (the price files' unit) from 2001 on. With ``end_of_day``, a date
    with no time of day (a window's end, ``2022-05-31``) is the last second of that day, as a
    person writing a window to the day means it."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if number >= EPOCH_FROM:  # False for NaN, a small number or none
        seconds = number / 1000 if number >= EPOCH_MS_FROM else number
        if seconds >= LAST_SECOND:
            raise ValueError(f"{text!r} is not a time before the year 3000")
        return seconds
    try:
        seconds = iso_moment(text).timestamp()
        whole_day = end_of_day and len(text) in (8, 10)  # 20220531 or 2022-05-31: a date only
    except ValueError:
        local = parse_time_ms(text, order)
        if local is None:
            raise
        seconds, whole_day = local / 1000, end_of_day and ":" not in text
    return seconds + (DAY - 1 if whole_day else 0)


LAST_SECOND = 32_503_680_000  # 3000-01-01 UTC


@dataclass
class SubjectScore:
    subject: str
    years: float
    events: int = 0
    detected: int = 0
    delays_hours: list[float] = field(default_factory=list)
    false_alerts: int = 0
    unscored: list[str] = field(default_factory=list)

    @property
    def false_per_year(self) -> float:
        return self.false_alerts / self.years if self.years else 0.0


@dataclass(frozen=True)
class Detection:
    """A window detected: the first alert in it (or up to `LEAD_SECONDS` before it), the
    onset its delay runs from (None: the window's start), and the delay in hours."""

    window: EventWindow
    alert: Alert
    onset: float | None
    delay_hours: float


@dataclass
class Evaluation:
    subjects: dict[str, SubjectScore]
    missed: list[EventWindow]
    absent: list[EventWindow] = field(default_factory=list)  # no price of the asset at all
    # missed windows in which the price never left ±threshold two observations in a row
    never_outside: list[EventWindow] = field(default_factory=list)
    detected: list[Detection] = field(default_factory=list)  # by subject, then file order
    false: list[Alert] = field(default_factory=list)  # the false alerts, by subject and time

    def summary(self) -> dict[str, Any]:
        """The totals over every asset, with 95% intervals: Wilson's on the recall, the exact
        Poisson (Garwood) one on the false alerts per asset-year."""
        scores = list(self.subjects.values())
        delays = [d for s in scores for d in s.delays_hours]
        years = sum(s.years for s in scores)
        false = sum(s.false_alerts for s in scores)
        events, detected = sum(s.events for s in scores), sum(s.detected for s in scores)
        low, high = wilson(detected, events)
        false_low, false_high = poisson_interval(false)
        return {
            "events": events,
            "detected": detected,
            "recall": detected / max(1, events),
            "recall_95ci": [round(low, 4), round(high, 4)] if events else None,
            "median_delay_hours": statistics.median(delays) if delays else None,
            "max_delay_hours": max(delays) if delays else None,
            "false_alerts": false,
            "asset_years": round(years, 3),
            "false_per_asset_year": false / years if years else 0.0,
            "false_per_asset_year_95ci": (
                [round(false_low / years, 4), round(false_high / years, 4)] if years else None
            ),
        }


SCORED = ("depeg", "ratio")
"""The detectors whose alerts `evaluate_alerts` scores: depegs, and discounts of derivatives."""
EPISODE_SECONDS = 72 * 3600.0
"""Alerts of different detectors on one subject this close to a counted one: the same episode."""
ALIGN_SECONDS = 900.0  # a ratio's legs at most this far apart (the ratio detector's default)
LEAD_SECONDS = 86400.0
"""An alert this long before a window's start counts for the window (an early detection, delay
0), not as a false alert: documented events are dated to the day, in some time zone, and a
depeg often starts to show the evening before its news; one alert per episode means the
detector will not alert again inside the window."""


def scored_subject(alert: Alert) -> str:
    """The asset an alert is scored for: a ratio's derivative (``STETH`` of ``STETH/ETH``)."""
    return alert.subject.split("/", 1)[0] if alert.detector == "ratio" else alert.subject


def is_escalation(alert: Alert) -> bool:
    """An alert that an open episode has deepened (past 5%): it may detect a window (the
    episode's first alert came before it), and is never a false alert of its own — the
    episode's first alert is the one counted."""
    return bool(alert.evidence.get("escalation"))


def one_per_episode(alerts: list[Alert]) -> list[Alert]:
    """``alerts`` of one subject in time order, less those within `EPISODE_SECONDS` after a
    kept alert of another detector (a depeg seen as a depeg and as a discount is one)."""
    kept: list[Alert] = []
    for alert in sorted(alerts, key=lambda a: a.time):
        if not any(
            k.detector != alert.detector and alert.time - k.time <= EPISODE_SECONDS for k in kept
        ):
            kept.append(alert)
    return kept


def evaluate_alerts(
    alerts: list[Alert],
    events: list[EventWindow],
    series: PriceSeries,
    *,
    detectors: tuple[str, ...] = SCORED,
    peg: float = 1.0,
    threshold: float = 0.02,
    min_history_days: float = 14.0,
    subjects: set[str] | None = None,
    lead_seconds: float = LEAD_SECONDS,
    ratios: PriceSeries | None = None,
) -> Evaluation:
    """Event-level scores of the ``detectors``' alerts (one per episode and subject) against
    ``events``: a window is detected by an alert from `lead_seconds` before its start to its
    end; the delay runs from the first two prices in a row outside ±``threshold`` of the peg in
    the window (0 for an early alert); any other alert is a false one. ``ratios``: the series
    the ratio detector replayed, when it holds more than ``series`` (underlyings from the
    shipped reference), for the ratios' onsets."""
    symbols = set(series.symbol.tolist())
    events = match_subjects(events, symbols)
    wanted = subjects if subjects is not None else symbols
    grouped: dict[str, list[Alert]] = {s: [] for s in wanted}
    for alert in alerts:
        if alert.detector in detectors and scored_subject(alert) in grouped:
            grouped[scored_subject(alert)].append(alert)
    by_subject = {s: one_per_episode(own) for s, own in grouped.items()}
    scores: dict[str, SubjectScore] = {}
    missed: list[EventWindow] = []
    quiet: list[EventWindow] = []
    detected: list[Detection] = []
    false: list[Alert] = []
    for subject in sorted(wanted):
        mask = series.symbol == subject
        times, prices = series.time[mask], series.price[mask]
        if len(times) == 0:
            continue
        score = scores[subject] = SubjectScore(subject, (times[-1] - times[0]) / YEAR)
        windows = [e for e in events if e.subject == subject]
        own = by_subject[subject]
        wrong = [
            a
            for a in own
            if not is_escalation(a)
            and not any(w.start - lead_seconds <= a.time <= w.end for w in windows)
        ]
        score.false_alerts = len(wrong)
        false += wrong
        for window in windows:
            if times[0] > window.start - min_history_days * 86400:
                score.unscored.append(window_label(window))
                continue
            score.events += 1
            hits = [a for a in own if window.start - lead_seconds <= a.time <= window.end]
            if not hits:
                missed.append(window)
                if _onset(times, prices, window, peg, threshold) is None:
                    quiet.append(window)
                continue
            score.detected += 1
            if hits[0].detector == "ratio":  # the onset of the ratio series, as a 1.0 peg
                pair = ratio_series(series if ratios is None else ratios, hits[0].subject)
                onset = _onset(pair[0], pair[1], window, 1.0, threshold)
            else:
                onset = _onset(times, prices, window, peg, threshold)
            delay = max(0.0, hits[0].time - (onset or window.start)) / 3600
            score.delays_hours.append(delay)
            detected.append(Detection(window, hits[0], onset, delay))
    absent = [e for e in events if e.subject not in symbols]
    return Evaluation(scores, missed, absent, quiet, detected, false)


RENAMED = (("UST", "USTC"), ("PAX", "USDP"))
"""Pegged coins whose ticker changed (old, new): TerraUSD became TerraClassicUSD (USTC) after
its collapse of May 2022, Paxos Standard (PAX) Pax Dollar (USDP) in 2021. Sources list them
under either, so an events file's one finds the price file's other."""


def match_subjects(events: list[EventWindow], symbols: set[str]) -> list[EventWindow]:
    """``events`` with each subject spelt as in ``symbols``: an exact match first, else the one
    symbol equal to it ignoring case (an events file may write ``SUSD`` for the feed's
    ``sUSD``); a pair ``STETH/ETH`` stands for its derivative, as ratio alerts are scored; a
    CoinGecko id (``usd-coin``), or a coin's name that is one in lower case with hyphens
    (``USD Coin``, ``TerraUSD``, ``Lido Staked ETH`` as CoinMarketCap names it), for its coin's
    symbol; a ticker for its coin's other ticker (`RENAMED`: ``UST`` finds ``USTC``); a coin
    with no series of its own for the one series of its ratio (``stETH`` for a Chainlink
    feed's ``STETH/ETH``); a subject matching none, or several, is left as it is."""
    folded: dict[str, list[str]] = {}
    for symbol in symbols:
        folded.setdefault(symbol.casefold(), []).append(symbol)
    # series named by a pair (a feed of STETH / ETH): by their base, for a subject no symbol is
    based: dict[str, list[str]] = {}
    for symbol in symbols:
        if "/" in symbol:
            based.setdefault(symbol.split("/", 1)[0].strip().casefold(), []).append(symbol)
    matched = []
    for event in events:
        subject = event.subject
        if subject not in symbols and "/" in subject:
            subject = subject.split("/", 1)[0].strip()
        if subject.casefold() not in folded:  # an id (usd-coin), or a name (USD Coin, TerraUSD)
            subject = coingecko_symbol(subject) or coingecko_symbol(coin_id(subject)) or subject
        if subject.casefold() not in folded:  # a renamed ticker: UST is USTC since 2022
            subject = next(
                (other for old, new in RENAMED for a, other in ((old, new), (new, old))
                 if subject.casefold() == a.casefold() and other.casefold() in folded),
                subject,
            )  # fmt: skip
        same = folded.get(subject.casefold(), [])
        if subject not in symbols and len(same) == 1:
            subject = same[0]
        pairs = based.get(subject.casefold(), [])
        if subject not in symbols and len(pairs) == 1:
            subject = pairs[0]
        matched.append(EventWindow(subject, event.start, event.end, event.source))
    return matched


def ratio_series(
    series: PriceSeries, pair: str, align: float = ALIGN_SECONDS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The ratio ``D/U`` of ``pair`` at each price of ``D`` whose underlying's latest price
    is at most ``align`` seconds older: the times and ratios."""
    derivative, _, underlying = pair.partition("/")
    d_mask, u_mask = series.symbol == derivative, series.symbol == underlying
    d_times, d_prices = series.time[d_mask], series.price[d_mask]
    u_times, u_prices = series.time[u_mask], series.price[u_mask]
    if not len(d_times) or not len(u_times):
        return np.empty(0), np.empty(0)
    at = np.searchsorted(u_times, d_times, side="right") - 1
    keep = at >= 0
    at = np.maximum(at, 0)
    keep &= np.abs(d_times - u_times[at]) <= align
    return d_times[keep], (d_prices / u_prices[at])[keep]


def _onset(
    times: NDArray[np.float64],
    prices: NDArray[np.float64],
    window: EventWindow,
    peg: float,
    threshold: float,
) -> float | None:
    inside = np.flatnonzero((times >= window.start) & (times <= window.end))
    outside = np.abs(prices[inside] / peg - 1) > threshold
    for k in range(len(inside) - 1):
        if outside[k] and outside[k + 1]:
            return float(times[inside[k]])
    return None


def window_label(window: EventWindow) -> str:
    day = datetime.fromtimestamp(window.start, UTC).date().isoformat()
    return f"{window.subject} {day}"


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default)."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def poisson_interval(count: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Garwood) interval of a Poisson count: the rates whose tail probability of
    ``count`` is (1 − level) / 2, found by bisection on the Poisson distribution function."""
    tail = (1 - level) / 2
    if count > 300:  # exp(−rate) underflows: the Wilson–Hilferty approximation (error < 0.1%)
        z = statistics.NormalDist().inv_cdf(1 - tail)
        k, m = count, count + 1
        return (
            k * (1 - 1 / (9 * k) - z / (3 * math.sqrt(k))) ** 3,
            m * (1 - 1 / (9 * m) + z / (3 * math.sqrt(m))) ** 3,
        )

    def at_most(k: int, rate: float) -> float:  # P(X ≤ k) for X ~ Poisson(rate)
        term = total = math.exp(-rate)
        for i in range(1, k + 1):
            term *= rate / i
            total += term
        return total

    def solve(target: float, k: int) -> float:  # the rate where P(X ≤ k) = target
        low, high = 0.0, 10.0 + 10.0 * k
        for _ in range(200):
            middle = (low + high) / 2
            if at_most(k, middle) > target:
                low = middle
            else:
                high = middle
        return (low + high) / 2

    lower = 0.0 if count == 0 else solve(1 - tail, count - 1)
    return (lower, solve(tail, count))
