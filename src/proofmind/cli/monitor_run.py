"""What `proofmind monitor replay` does; imported only when it runs."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from proofmind.cli.consoles import TextConsole
from proofmind.cli.tables import print_table
from proofmind.errors import InputError, NotFound, ProofmindError
from proofmind.monitor.api import Alert, Detector
from proofmind.monitor.depeg import DepegDetector
from proofmind.monitor.prices import PriceSeries, read_price_files, read_prices, shown_names
from proofmind.monitor.ratio import RatioDetector
from proofmind.monitor.reference import needed_references, with_references
from proofmind.monitor.registry import detector_class, load_detectors
from proofmind.monitor.replay import (
    SCORED,
    Detection,
    EventWindow,
    evaluate_alerts,
    read_events,
    replay,
    window_label,
    write_alerts,
)
from proofmind.monitor.volatility import VolatilityDetector
from proofmind.text import count_of

if TYPE_CHECKING:
    from proofmind.app.alerts import AlertFilter
    from proofmind.monitor.pricefeed import FeedHistory
    from proofmind.monitor.store import AlertStore

console = TextConsole(soft_wrap=True)
SHOWN_BAD_ROWS = 5  # malformed price rows listed by line; the rest are counted
SHOWN_DETECTED = 20  # detected windows listed on the terminal; the rest are counted
err = TextConsole(stderr=True, soft_wrap=True)
ALERT_FORMATS = (".jsonl", ".parquet")


def run_replay(
    prices: Sequence[Path],
    events_path: Path | None,
    out: Path | None,
    names: list[str],
    state_path: Path | None,
    subjects: list[str] | None,
    params: str | None = None,
    strict: bool = False,
    report_path: Path | None = None,
    reference: bool = True,
    rounds: FeedHistory | None = None,
) -> None:
    """Replay the price detectors ``names`` over the price files ``prices``, or over
    ``rounds`` (a feed's rounds read from block tables: ``prices`` then names the folder)."""
    if out is not None and out.suffix not in ALERT_FORMATS:
        raise InputError(
            f"cannot tell the alert format of {out} from its suffix",
            hint="name it .jsonl (JSON lines) or .parquet",
        )
    events = read_events(events_path) if events_path is not None else None
    series = rounds.series if rounds is not None else read_price_files(prices, skip_bad=not strict)
    named = ", ".join(str(p) for p in prices)
    for note in series.notes:
        err.print(note, highlight=False)
    if series.duplicates:
        err.print(
            f"{count_of(series.duplicates, 'price row')} of a later file equal to one of an "
            "earlier file (same symbol, time and price) kept once",
            highlight=False,
        )
    if series.skipped:
        shown = "; ".join(series.skipped[:SHOWN_BAD_ROWS])
        more = len(series.skipped) - SHOWN_BAD_ROWS
        err.print(
            f"[yellow]skipped {count_of(len(series.skipped), 'malformed row')} of {named}[/yellow] "
            f"(not replayed; --strict makes them an error): {shown}"
            + (f"; and {more:,} more" if more > 0 else ""),
            markup=True,
            highlight=False,
        )
    unknown = sorted(set(subjects or ()) - set(series.symbol.tolist()))
    if unknown:
        raise InputError(
            f"--subjects names assets with no price in {named}: {', '.join(unknown)}",
            hint="use the symbols of the price file's symbol column",
        )
    chosen_params = _params(params)
    detectors = _restore(state_path, names, chosen_params)
    replayed, added = series, frozenset[str]()
    ratio = next((d for d in detectors if isinstance(d, RatioDetector)), None)
    if reference and ratio is not None:
        needed = needed_references(
            series.names or series.symbol.tolist(), ratio.pairs, auto_pairs=ratio.auto_pairs
        )
        use = with_references(series, needed)
        for note in use.notes:
            err.print(note, highlight=False)
        replayed, added = use.series, use.added
    started = time.perf_counter()
    alerts = replay(replayed, detectors)
    # the reference asset is there for ratios: what is said about it alone is not the user's
    alerts = [a for a in alerts if a.subject not in added]
    if rounds is not None:  # the round behind each alert, as `monitor run --feed` stores it
        alerts = rounds.attach(alerts)
    elapsed = time.perf_counter() - started
    for detector in detectors:
        note = volatility_note(detector, series) if isinstance(detector, VolatilityDetector) else ""
        if note:
            err.print(note, highlight=False)

    def scores() -> ReplayScores | None:
        if events is None:
            return None
        chosen = set(subjects) if subjects else None
        report = evaluate_alerts(alerts, events, series, subjects=chosen, ratios=replayed)
        table = Table("asset", "events", "detected", "delay h", "false alerts", "per asset-year")
        for score in report.subjects.values():
            if not (score.events or score.false_alerts or score.unscored):
                continue
            delays = ", ".join(f"{d:.1f}" for d in score.delays_hours) or "-"
            table.add_row(
                score.subject,
                str(score.events),
                str(score.detected),
                delays,
                str(score.false_alerts),
                f"{score.false_per_year:.2f}",
            )
        notes = []
        others = Counter(f"{a.detector}/{a.kind}" for a in alerts if a.detector not in SCORED)
        if others:
            notes.append(f"not scored: {dict(sorted(others.items()))}")
        for score in report.subjects.values():
            notes += [
                f"not scored (less than 14 days of prices before it): {label}"
                for label in score.unscored
            ]
        notes += [
            f"not scored (no price of {w.subject} in {', '.join(p.name for p in prices)}): "
            f"{window_label(w)}"
            for w in report.absent
            if chosen is None or w.subject in chosen
        ]
        quiet = " (its prices never left ±2% of the peg two in a row inside the window)"
        paired = {d for det in detectors if isinstance(det, RatioDetector) for d in det.watched()}
        unpaired = (
            " (its prices are far from $1 and no underlying was paired with it: give the "
            "underlying's prices too, e.g. as a second file, or name the pair with --params "
            '\'{"ratio": {"pairs": {"DERIVATIVE": "UNDERLYING"}}}\')'
        )

        def why(window: EventWindow) -> str:
            if window in report.never_outside:
                return quiet
            if far_from_dollar(series, window):  # a derivative: the depeg detector's not
                if window.subject not in paired:
                    return unpaired
                return unwatched_ratio(replayed, window, detectors)
            return unwatched(series, window, detectors)

        reasons = {w: why(w) for w in report.missed}  # each replays the prices before w
        missed = [f"{w.subject} {w.source}{reasons[w]}" for w in report.missed]
        detected = [detection_line(d) for d in report.detected]
        heading = "scored: depeg alerts and ratio discounts (as their derivative's)"
        details = {
            "summary": report.summary(),
            "assets": [
                {
                    "asset": score.subject,
                    "years": round(score.years, 4),
                    "events": score.events,
                    "detected": score.detected,
                    "delays_hours": score.delays_hours,
                    "false_alerts": score.false_alerts,
                    "false_per_asset_year": score.false_per_year,
                    "not_scored": score.unscored,
                }
                for score in report.subjects.values()
            ],
            "missed": [
                {
                    **window_json(w),
                    "never_outside": w in report.never_outside,
                    "why": reasons[w].strip(" ()") or None,
                }
                for w in report.missed
            ],
            "detected": [
                {
                    **window_json(d.window),
                    "alert": alert_json(d.alert),
                    "onset": None if d.onset is None else iso(d.onset),
                    "delay_hours": d.delay_hours,
                }
                for d in report.detected
            ],
            "false_alerts": [alert_json(a) for a in report.false],
            "not_scored_no_prices": [window_json(w) for w in report.absent],
            "not_scored_alerts": dict(sorted(others.items())),
        }
        return ReplayScores(table, heading, report.summary(), notes, missed, details, detected)

    print_replay_summary(
        f"{len(series):,} prices",
        len(series),
        "prices",
        alerts,
        elapsed,
        out,
        save=None
        if state_path is None
        else lambda: save_state(
            state_path, detectors, None if rounds is None else {FEEDS_KEY: rounds.last_round}
        ),
        scores=scores,
        report=report_path,
    )


def volatility_note(detector: VolatilityDetector, series: PriceSeries) -> str:
    """What to tell the user of the volatility detector after a replay of ``series``: the
    assets it gave longer windows (prices too sparse for its own: a daily series), with the
    warm-up their history falls short of; and the assets left without a forecast, with the
    option that gives them one."""
    import numpy as np

    longer = detector.sparse_subjects()
    hours, weeks = detector.window_seconds / 3600, detector.sparse_window_seconds / 3600
    notes = []
    if longer:
        rows = np.isin(series.symbol, longer)
        span = float(np.ptp(series.time[rows])) / detector.sparse_window_seconds
        needed = detector.min_history + detector.probe * hours / weeks
        short = (
            f"; its warm-up of {detector.min_history} windows needs about {needed:.0f} of them, "
            f"these prices span {span:.0f}"
            if span < needed
            else ""
        )
        notes.append(
            f"volatility: {shown_names(longer)}: about one price a day or fewer, too few for "
            f"{hours:g} h windows ({detector.min_returns} returns each): {weeks:g} h windows "
            f"(sparse_window_seconds) for them{short}"
        )
    sparse, held = sparse_assets(detector, series)
    left = [(name, n) for name, n in zip(sparse, held, strict=True) if name not in longer]
    if left:
        option = (
            'a longer window: --params \'{"volatility": {"window_seconds": 604800}}\''
            if detector.sparse_window_seconds <= detector.window_seconds
            else "more history, or a longer sparse_window_seconds"
        )
        notes.append(
            f"volatility: no forecast for {shown_names([n for n, _ in left])}: their {hours:g} h "
            f"windows hold a median of {float(np.median([h for _, h in left])):g} price(s), and "
            f"a window needs {detector.min_returns} returns; give them {option}"
        )
    return "\n".join(notes)


def sparse_assets(
    detector: VolatilityDetector, series: PriceSeries
) -> tuple[list[str], list[float]]:
    """The assets of ``series`` too sparse for ``detector``'s windows (at least
    ``min_history`` windows of prices, fewer than that with ``min_returns`` returns), and the
    median count of prices in their windows."""
    import numpy as np

    if not len(series):
        return [], []
    names, codes = np.unique(series.symbol, return_inverse=True)
    window = (series.time // detector.window_seconds).astype(np.int64)
    pairs, counts = np.unique(np.stack([codes.reshape(-1), window - window.min()]), axis=1,
                              return_counts=True)  # fmt: skip
    sparse, per_window = [], []
    for code, name in enumerate(names.tolist()):
        held = counts[pairs[0] == code]
        full = int(np.sum(held > detector.min_returns))  # n prices give about n - 1 returns
        if len(held) >= detector.min_history and full < detector.min_history:
            sparse.append(str(name))
            per_window.append(float(np.median(held)))
    return sparse, per_window


def unwatched(series: PriceSeries, window: EventWindow, detectors: Sequence[Detector]) -> str:
    """Why the depeg detector could not alert in ``window``, as its state at the window's
    start shows (the asset's prices before it replayed into a fresh detector of the same
    parameters): not learnt as pegged, or inside an episode that had alerted already (one
    alert per episode); empty when neither (or no depeg detector ran)."""
    depeg = next((d for d in detectors if isinstance(d, DepegDetector)), None)
    if depeg is None:
        return ""
    probe = DepegDetector(**depeg.params())
    replay(_before(series, window, {window.subject}), [probe])
    pegged, alerted = probe.watching(window.subject)
    return _why_not(probe, pegged, alerted, "its prices", f"its peg ({probe.peg:g})")


def unwatched_ratio(series: PriceSeries, window: EventWindow, detectors: Sequence[Detector]) -> str:
    """`unwatched` for a derivative's window: the ratio detector's state for its pair at the
    window's start (``series``: what the ratio detector replayed, references included)."""
    ratio = next((d for d in detectors if isinstance(d, RatioDetector)), None)
    underlying = None if ratio is None else ratio.watched().get(window.subject)
    if ratio is None or underlying is None:
        return ""
    probe = RatioDetector(**ratio.params())
    replay(_before(series, window, {window.subject, underlying}), [probe])
    _, pegged, alerted = probe.watching(window.subject)
    inner = DepegDetector(**probe.depeg)
    expected = f"the expected ratio ({probe.pegs.get(window.subject, 1.0):g})"
    return _why_not(inner, pegged, alerted, f"its ratios to {underlying}", expected)


def _before(series: PriceSeries, window: EventWindow, subjects: set[str]) -> PriceSeries:
    """The prices of ``subjects`` in ``series`` before ``window`` begins."""
    import numpy as np

    keep = np.isin(series.symbol, list(subjects)) & (series.time < window.start)
    return PriceSeries(series.symbol[keep], series.time[keep], series.price[keep])


def _why_not(probe: DepegDetector, pegged: bool, alerted: float | None, what: str, peg: str) -> str:
    """The words of `unwatched`: not learnt as pegged, or an episode that had alerted."""
    if not pegged:
        return (
            f" (not watched as pegged when it began: in the {probe.window_hours // 24} days "
            f"before it, fewer than {probe.min_near_fraction:.0%} of {what} were within "
            f"±{probe.band:.0%} of {peg}, or too few prices covered them)"
        )
    if alerted is not None:
        when = datetime.fromtimestamp(alerted, UTC).strftime("%Y-%m-%d %H:%M")
        return (
            f" (an episode alerted on {when} UTC was still open when it began: one alert per "
            "episode)"
        )
    return ""


def far_from_dollar(series: PriceSeries, window: EventWindow, band: float = 0.1) -> bool:
    """Whether ``window``'s asset traded more than ``band`` away from $1 inside it (median):
    not a dollar coin, so only a ratio to its underlying can show its discount."""
    import numpy as np

    inside = (
        (series.symbol == window.subject)
        & (series.time >= window.start)
        & (series.time <= window.end)
    )
    return bool(inside.any()) and abs(float(np.median(series.price[inside])) - 1.0) > band


@dataclass
class ReplayScores:
    """A replay scored against labelled event windows: the per-subject table, the heading
    and summary of what was scored, notes on what was not, the windows no alert fell in."""

    table: Table
    heading: str
    summary: dict[str, Any]
    notes: list[str]
    missed: Sequence[str]  # per window no alert fell in: its subject, source and why
    details: dict[str, Any] = field(default_factory=dict)  # all of it, for --report as JSON
    detected: Sequence[str] = ()  # per window detected: by which alert, when, the delay


def iso(moment: float) -> str:
    """Unix seconds as ISO 8601 in UTC."""
    return datetime.fromtimestamp(moment, UTC).isoformat()


def window_json(window: Any) -> dict[str, Any]:
    """An event window as JSON: subject, start and end (ISO 8601, UTC), source."""
    return {
        "subject": window.subject,
        "start": iso(window.start),
        "end": iso(window.end),
        "source": window.source,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    """What a score report says of an alert: detector, kind, subject, time (ISO 8601, UTC),
    score (the alert file has the rest)."""
    return {"detector": alert.detector, "kind": alert.kind, "subject": alert.subject,
            "time": iso(alert.time), "score": alert.score}  # fmt: skip


def detection_line(found: Detection, what: str | None = "prices") -> str:
    """A detected window on the terminal: which, by which alert, when, how long after.
    ``what`` left ±2% for the onset (the prices, or a ratio's; None: block windows, whose
    delay runs from their start)."""
    at = datetime.fromtimestamp(found.alert.time, UTC).strftime("%Y-%m-%d %H:%M")
    what = "ratios" if what and found.alert.detector == "ratio" else what
    if found.onset is None:
        after = f"{found.delay_hours:.1f} h after the window began" + (
            f" (its {what} never left ±2%)" if what else ""
        )
    elif found.alert.time < found.onset:
        after = f"before its {what} left ±2%"
    else:
        after = f"{found.delay_hours:.1f} h after its first two {what} outside ±2%"
    detector, kind = found.alert.detector, found.alert.kind
    kind = detector if kind == detector else f"{detector} {kind}"
    return f"{window_label(found.window)} by the {kind} alert of {at} UTC, {after}"


def print_replay_summary(
    counted: str,
    count: int,
    unit: str,
    alerts: Sequence[Alert],
    elapsed: float,
    out: Path | None,
    *,
    save: Callable[[], None] | None = None,
    after_save: Sequence[str] = (),
    scores: Callable[[], ReplayScores | None] | None = None,
    report: Path | None = None,
) -> None:
    """What `monitor replay` prints when a replay (of prices or of block tables) is done, in
    this order: throughput; the alerts written to ``out``; ``save`` (the detector state)
    called; the ``after_save`` lines; the scores against the events, when there are some."""
    console.print(
        f"{counted}, {count_of(len(alerts), 'alert')} in {elapsed:.2f} s "
        f"({count / max(elapsed, 1e-9):,.0f} {unit}/s)"
    )
    if out is not None:
        write_alerts(alerts, out)
        console.print(f"alerts → {out}")
    if save is not None:
        save()
    for line in after_save:
        console.print(line)
    scored = scores() if scores is not None else None
    if scored is None:
        return
    print_table(console, scored.table)
    console.print(scored.heading)
    console.print(json.dumps(scored.summary, indent=1))
    for line in scored.notes:
        console.print(line)
    for line in scored.detected[:SHOWN_DETECTED]:
        console.print(f"[green]detected[/green]: {line}", highlight=False)
    if len(scored.detected) > SHOWN_DETECTED:
        more = len(scored.detected) - SHOWN_DETECTED
        console.print(f"detected: and {more:,} more windows (--report lists them all)")
    for line in scored.missed:
        console.print(f"[red]missed[/red]: {line}")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        partial = report.with_name(report.name + ".partial")
        partial.write_text(json.dumps(scored.details, indent=1) + "\n", encoding="utf-8")
        partial.replace(report)  # never a half-written report
        console.print(f"scores → {report}")


def _params(text: str | None) -> dict[str, dict[str, Any]]:
    if text is None:
        return {}
    source = "--params"
    try:
        if text.startswith("@"):
            source = text[1:]
            text = Path(source).read_text(encoding="utf-8")
        parsed = json.loads(text)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read detector parameters from {source}: {exc}") from exc
    if not isinstance(parsed, dict) or not all(isinstance(v, dict) for v in parsed.values()):
        raise InputError(
            f"detector parameters from {source} must be a JSON object of objects",
            hint='e.g. {"depeg": {"threshold": 0.03}}',
        )
    return parsed


def _restore(
    path: Path | None, names: list[str], params: dict[str, dict[str, Any]]
) -> list[Detector]:
    if path is None or not path.exists():
        return load_detectors(names, params)
    try:
        saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return [detector_class(name).from_state(saved[name]) for name in names]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"cannot restore detector state from {path}: {exc}",
            hint="delete the file to start fresh, or pass the detectors it was saved with",
        ) from exc


FEEDS_KEY = "@feeds"  # a feed replay's entry in the state file: the last round read per feed


def save_state(path: Path, detectors: list[Detector], own: dict[str, Any] | None = None) -> None:
    """Write the detectors' state, and a replay's ``own`` entries (keys starting with ``@``,
    no detector's name: the last block or the feeds' last rounds), to ``path``: whole or not
    at all."""
    state: dict[str, Any] = {d.name: d.to_state() for d in detectors}
    state.update(own or {})
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(state), encoding="utf-8")
    temporary.replace(path)


def saved_rounds(path: Path | None) -> dict[str, int]:
    """The last round read per feed address that a feed replay saved in the state file
    ``path`` (none when there is no such file or entry)."""
    if path is None or not path.exists():
        return {}
    try:
        saved = json.loads(path.read_text(encoding="utf-8")).get(FEEDS_KEY) or {}
        return {str(address): int(last) for address, last in saved.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise InputError(
            f"cannot read the feeds' rounds from the state file {path}: {exc}",
            hint="delete the file to replay every round afresh",
        ) from exc


def remote_sinks(webhooks: list[str], chats: dict[str, list[str]]) -> list[Any]:
    """The webhook and chat sinks of `monitor run`'s (and `serve --monitor`'s) options, each
    value checked first: ``webhooks`` URLs; ``chats`` by kind, Slack's and Discord's webhook
    URLs and Telegram's chats (the bot's token from its environment variable)."""
    from proofmind.monitor.sinks import TELEGRAM_TOKEN_ENV, ChatSink, WebhookSink

    for hook in webhooks:
        if not hook.startswith(("http://", "https://")):
            raise InputError(f"--webhook {hook!r} is not an http(s) URL")
    chats = dict(chats)
    telegram = chats.pop("telegram", [])
    for chat in telegram:
        if not re.fullmatch(r"-?\d{1,20}|@[A-Za-z]\w{4,31}", chat):
            raise InputError(
                f"--telegram {chat!r} is not a Telegram chat id or channel",
                hint="give a chat id (a number, -100… for a group or channel) or a public "
                "channel's @name (5 to 32 letters, digits or underscores)",
            )
    token = os.environ.get(TELEGRAM_TOKEN_ENV, "").strip()
    if telegram and not re.fullmatch(r"\d+:[\w-]{20,}", token):
        raise InputError(
            f"--telegram needs the bot's token in {TELEGRAM_TOKEN_ENV}"
            + (" (it is not a token: digits, a colon, then the key)" if token else ""),
            hint="create a bot with @BotFather, add it to the chat, and export its token",
        )
    for kind, hooks in chats.items():
        for hook in hooks:
            if not hook.startswith(("http://", "https://")):
                shown = hook if len(hook) <= 24 else hook[:24] + "…"  # the URL is a secret
                raise InputError(
                    f"--{kind} {shown!r} is not an http(s) URL",
                    hint=f"give the channel's incoming webhook URL (https://…), or set "
                    f"PROOFMIND_MONITOR_{kind.upper()}_URL",
                )
    sinks: list[Any] = [WebhookSink(h) for h in webhooks]
    sinks += [ChatSink(kind, h) for kind, hooks in chats.items() for h in hooks]
    return sinks + [ChatSink.telegram(chat, token) for chat in telegram]


SINK_KINDS = ("terminal", "jsonl", "webhook", "slack", "discord", "telegram")


def _per_kind(
    option: str, values: list[str] | None, kinds: list[str], read: Callable[[str], Any], noun: str
) -> dict[str | None, Any]:
    """An option given as ``VALUE`` for every sink (key None) or ``KIND=VALUE`` for one kind
    of sink, which wins over it; each value read by ``read``. ``kinds`` are the sinks' kinds
    this run has, so a value for a sink that is not there is an error, not silently unused."""
    found: dict[str | None, Any] = {}
    for value in values or []:
        kind, _, text = value.rpartition("=")
        key = kind.strip().lower() or None
        if key is not None and key not in SINK_KINDS:
            raise InputError(
                f"{option} {value!r}: {kind!r} is not a kind of sink",
                hint=f"use VALUE, or KIND=VALUE with KIND one of {', '.join(SINK_KINDS)}",
            )
        read_value = read(text.strip())
        if key in found:
            raise InputError(
                f"{option} {value!r} repeats the {noun} "
                + (f"for {key}" if key else "for every sink"),
                hint=f"give each kind of sink one {noun}",
            )
        if key is not None and key not in kinds:
            raise InputError(
                f"{option} {value!r} is for {key} alerts, and this run sends none there",
                hint=f"add a {key} sink (--{key}), or leave the {noun} out",
            )
        found[key] = read_value
    return found


def severity_floors(values: list[str] | None, kinds: list[str]) -> dict[str | None, str]:
    """`--min-severity`'s values checked: ``LEVEL`` for every sink (key None) and
    ``KIND=LEVEL`` for one kind of sink, which wins over it."""
    from proofmind.monitor.api import SEVERITIES

    def level(text: str) -> str:
        if text.lower() not in SEVERITIES:
            raise InputError(
                f"--min-severity {text!r} is not a severity",
                hint=f"use one of {', '.join(SEVERITIES)}",
            )
        return text.lower()

    return _per_kind("--min-severity", values, kinds, level, "floor")


def cooldowns(values: list[str] | None, kinds: list[str]) -> dict[str | None, float]:
    """`--cooldown`'s values checked, in seconds: ``SPAN`` for every sink (key None) and
    ``KIND=SPAN`` for one kind of sink, which wins over it."""
    from proofmind.monitor.store import parse_span

    return _per_kind("--cooldown", values, kinds, lambda t: parse_span(t, "--cooldown"), "cooldown")


def at_least(
    sinks: list[Any],
    floors: dict[str | None, str],
    quiet: dict[str | None, float] | None = None,
) -> list[Any]:
    """``sinks`` each given only the alerts at or above its floor (its kind's, else the one
    for every sink) and, with a cooldown (``quiet``, likewise), not the repeats within it; a
    sink with neither as it is."""
    from proofmind.monitor.sinks import SinkPolicy

    quiet = quiet or {}
    wrapped: list[Any] = []
    for sink in sinks:
        floor = floors.get(sink.kind, floors.get(None))
        cooldown = quiet.get(sink.kind, quiet.get(None, 0.0))
        plain = floor is None and not cooldown
        wrapped.append(sink if plain else SinkPolicy(sink, floor, cooldown))
    return wrapped


def _span_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def described(sinks: list[Any]) -> str:
    """The sinks for a start line: each name (a webhook's without its URL's path or query),
    with its floor and cooldown when it has them."""
    from proofmind.monitor.sinks import SinkPolicy, public_sink_name

    def one(sink: Any) -> str:
        name = public_sink_name(sink.name)
        if not isinstance(sink, SinkPolicy):
            return name
        asks = [f"{sink.severity} and above"] if sink.severity else []
        if sink.cooldown:
            asks.append(f"a detector's repeats on a subject held {_span_text(sink.cooldown)}")
        return f"{name} ({'; '.join(asks)})"

    return ", ".join(one(s) for s in sinks)


def run_live(
    workspace_path: Path | None,
    url: str | None,
    names: list[str],
    params: str | None,
    confirmations: int,
    from_block: str,
    jsonl: Path | None,
    webhooks: list[str],
    terminal: bool,
    http_port: int | None,
    max_blocks: int | None,
    until_block: int | None,
    poll: float,
    max_attempts: int,
    feed_specs: list[str] | None = None,
    feed_read: str = "logs",
    anchor_every: float | None = None,
    chats: dict[str, list[str]] | None = None,
    min_severity: list[str] | None = None,
    cooldown: list[str] | None = None,
    http_host: str = "127.0.0.1",
) -> None:
    import logging
    import signal

    from proofmind.cli.params import check_listen
    from proofmind.monitor.pricefeed import READ_MODES, FeedReader, parse_feeds
    from proofmind.monitor.service import MonitorService, following
    from proofmind.monitor.sinks import JsonlSink, TerminalSink
    from proofmind.monitor.store import ALERTS_FILE, AlertStore
    from proofmind.store.state import StateDB
    from proofmind.workspace import open_workspace

    feeds = parse_feeds(feed_specs or [])
    if feed_read not in READ_MODES:
        raise InputError(f"--feed-read {feed_read!r} is not one of {', '.join(READ_MODES)}")
    detectors = load_detectors(names, _params(params))
    wrong = [d.name for d in detectors if "block" not in d.events]
    if wrong and not feeds:
        raise InputError(
            f"detector(s) {', '.join(wrong)} read prices, not blocks",
            hint="name the price feeds to read with --feed SUBJECT=0xADDRESS, or replay price "
            "series with `monitor replay`",
        )
    start: int | str = "latest"
    if from_block != "latest":
        if not from_block.isdigit():
            raise InputError(
                f"--from-block {from_block!r} is not a block number", hint="a number or latest"
            )
        start = int(from_block)
    remote = remote_sinks(webhooks, chats or {})  # checked up front, with the floors
    local = (["terminal"] if terminal else []) + (["jsonl"] if jsonl is not None else [])
    kinds = local + [sink.kind for sink in remote]
    floors, quiet = severity_floors(min_severity, kinds), cooldowns(cooldown, kinds)
    if http_port is not None:
        check_listen(http_host, http_port, "--http-port")
    workspace = open_workspace(workspace_path)
    if url is not None:
        from proofmind.chain.rpc import http_web3
        from proofmind.errors import ChainError

        w3 = http_web3(url)
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as exc:
            raise ChainError(f"cannot reach {url}: {type(exc).__name__}") from exc
    else:
        chain = workspace.connect()
        w3, chain_id = chain.w3, chain.chain_id
    reader = None
    if feeds:
        reader = FeedReader(feeds, read="rounds" if feed_read == "rounds" else "logs")
        reader.connect(w3)  # a wrong address fails here, before anything is stored
    sinks: list[Any] = [TerminalSink()] if terminal else []
    if jsonl is not None:
        sinks.append(JsonlSink(jsonl))
    sinks = at_least(sinks + remote, floors, quiet)
    folder = workspace.root / "monitor"
    folder.mkdir(parents=True, exist_ok=True)
    following(workspace.root / ALERTS_FILE).check()  # another monitor on this store: say so
    store = AlertStore.for_workspace(workspace.root)
    service = MonitorService(
        w3,
        StateDB(folder / "cursor.sqlite"),
        store,
        detectors,
        sinks,
        chain_id=chain_id,
        confirmations=confirmations,
        start_block=start,
        poll_interval=poll,
        max_attempts=max_attempts,
        feeds=reader,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    if http_port is not None:
        server = service.serve_http(http_host, http_port)
        where = f"{http_host}:{server.server_address[1]}"
        err.print(f"health on http://{where}/health, metrics on /metrics")
    err.print(
        f"monitoring chain {chain_id} from block {service.cursor.next_block} with "
        f"{', '.join(d.name for d in detectors)} → {described(sinks) or 'store'}"
        + (f"; feeds {', '.join(f'{k}={v}' for k, v in feeds.items())}" if feeds else "")
    )
    on_step = None
    if anchor_every is not None:
        on_step = _anchoring(workspace, store, anchor_every)
    stats = service.run(max_blocks=max_blocks, until_block=until_block, on_step=on_step)
    if anchor_every is not None:
        _anchor_now(workspace, store)
    store.close()
    sent = ", ".join(f"{n} {result}" for result, n in stats.deliveries.items() if n) or "none"
    err.print(
        f"stopped at block {service.cursor.next_block}: {count_of(stats.blocks, 'block')}, "
        f"{count_of(stats.rounds, 'feed round')}, "
        f"{count_of(stats.alerts, 'alert')}, {stats.retracted} retracted; deliveries: {sent}",
        highlight=False,
    )


def run_feed_replay(
    workspace_path: Path | None,
    symbol: str,
    prices: Path | None,
    feed_address: str | None,
    warmup: int,
    interval: float,
    limit: int | None,
) -> None:
    import re

    from eth_utils.address import to_checksum_address

    from proofmind.chain.contracts import load_artifact
    from proofmind.monitor.feedreplay import (
        FEED_CONTRACT,
        Pushed,
        deploy_feed,
        one_series,
        push_history,
        sample_path,
    )
    from proofmind.workspace import open_workspace

    if feed_address is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", feed_address):
        raise InputError(f"--feed {feed_address!r} is not a 0x-address")
    times, values = one_series(read_prices(prices or sample_path()), symbol)
    if limit is not None:
        times, values = times[:limit], values[:limit]
    workspace = open_workspace(workspace_path)
    chain = workspace.connect()
    if feed_address is None:
        feed = deploy_feed(chain, f"{symbol} / USD (replay)")
        console.print(f"deployed {FEED_CONTRACT} for {symbol} at {feed.address}")
    else:
        if not chain.w3.eth.get_code(to_checksum_address(feed_address)):
            raise InputError(f"there is no contract at {feed_address} on chain {chain.chain_id}")
        abi = load_artifact(FEED_CONTRACT).abi
        feed = chain.w3.eth.contract(address=to_checksum_address(feed_address), abi=abi)

    def report(pushed: Pushed) -> None:
        if pushed.last > pushed.first or interval:
            console.print(f"rounds {pushed.first}–{pushed.last} → block {pushed.block}")

    done = push_history(chain, feed, times, values, warmup=warmup, interval=interval,
                        on_push=report)  # fmt: skip
    console.print(
        f"pushed {count_of(len(times), f'{symbol} round')} in "
        f"{count_of(len(done), 'transaction')} to {feed.address}"
    )


def _anchor_now(workspace: Any, store: Any) -> None:
    import logging

    from proofmind.services.alert_anchoring import anchor_alerts

    try:
        done = anchor_alerts(workspace, workspace.connect(), store)
    except ProofmindError as exc:  # the monitor goes on; the next attempt anchors the rest
        logging.getLogger("proofmind.monitor").warning("anchoring alerts failed: %s", exc)
        return
    if done.new_batches or done.anchored:
        err.print(
            f"anchored {count_of(done.anchored, 'alert batch', 'alert batches')} "
            f"({count_of(sum(b.count for b in done.new_batches), 'new alert')}), "
            f"{done.waiting} waiting for confirmation"
        )


def _anchoring(workspace: Any, store: Any, every: float) -> Any:
    last = [time.monotonic()]

    def step(_: Any) -> None:
        if time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            _anchor_now(workspace, store)

    return step


def run_anchor(workspace_path: Path | None, max_alerts: int) -> None:
    from proofmind.monitor.store import ALERTS_FILE, AlertStore
    from proofmind.services.alert_anchoring import anchor_alerts
    from proofmind.workspace import open_workspace

    workspace = open_workspace(workspace_path)
    if not (workspace.root / ALERTS_FILE).exists():
        console.print("Nothing to anchor: this workspace has no alert store yet.")
        return
    store = AlertStore.for_workspace(workspace.root)
    if not store.last_id():
        console.print("Nothing to anchor: the alert store is empty.")
        return
    done = anchor_alerts(workspace, workspace.connect(), store, max_alerts=max_alerts)
    new = sum(b.count for b in done.new_batches)
    console.print(
        f"{count_of(len(done.new_batches), 'new batch', 'new batches')} of "
        f"{count_of(new, 'alert')}; {count_of(done.anchored, 'batch record')} anchored now "
        f"({done.gas_used:,} gas)"
    )
    for batch, record in zip(store.batches(), done.records, strict=True):
        console.print(
            f"  batch {batch.batch}: alerts {batch.first_id}–{batch.last_id} root {batch.root} "
            f"{record.state} {record.record_id or ''}"
        )
    if done.waiting:
        console.print(
            f"[yellow]{count_of(done.waiting, 'record')} sent but not yet confirmed[/yellow]; run "
            "`proofmind monitor anchor` again to settle them"
        )


@dataclass(frozen=True)
class AlertQuery:
    """`monitor alerts`' filters as given on the command line."""

    detector: str | None = None
    subject: str | None = None
    severity: str | None = None
    status: str | None = None
    since: str | None = None
    until: str | None = None

    def checked(self) -> AlertFilter:
        """The store's filter: the severity checked here (the API lets an unknown one match
        nothing), the rest by `AlertFilter.given`."""
        from proofmind.app.alerts import AlertFilter
        from proofmind.monitor.api import SEVERITIES

        if self.severity is not None and self.severity not in SEVERITIES:
            raise InputError(
                f"unknown severity {self.severity!r}", hint=f"use one of {', '.join(SEVERITIES)}"
            )
        return AlertFilter.given(
            self.detector, self.subject, self.severity, self.status, self.since, self.until,
            option="--",
        )  # fmt: skip


FOLLOW_POLL_SECONDS = 0.5


def run_alerts(
    workspace_path: Path | None,
    alert_id: int | None,
    query: AlertQuery,
    limit: int,
    json_lines: bool,
    follow: bool = False,
) -> None:
    from proofmind.app.alerts import get_alert, list_alerts
    from proofmind.monitor.store import ALERTS_FILE, AlertStore
    from proofmind.workspace import open_workspace

    if follow and alert_id is not None:
        raise InputError(
            "--follow shows alerts as they come, not one alert",
            hint="leave out the alert id, or --follow",
        )
    filters = query.checked()
    workspace = open_workspace(workspace_path)
    if not (workspace.root / ALERTS_FILE).exists():
        if alert_id is not None:
            raise NotFound(
                f"no alert {alert_id}: this workspace has no alert store yet",
                hint="alerts are stored by `proofmind monitor run`",
            )
        err.print("No alerts: this workspace has no alert store yet (`proofmind monitor run`).")
        if not follow:
            return
        try:
            while not (workspace.root / ALERTS_FILE).exists():
                time.sleep(FOLLOW_POLL_SECONDS)
        except KeyboardInterrupt:
            err.print("stopped following")
            return
    store = AlertStore.for_workspace(workspace.root)
    if follow:
        _follow_alerts(store, filters, limit, json_lines)
        return
    if alert_id is not None:
        found = get_alert(store, alert_id).to_dict()
        if json_lines:
            print(json.dumps(found, sort_keys=True, default=str))
        else:
            console.print_json(json.dumps(found, default=str))
            for line in _where_it_went(store, alert_id):
                err.print(line)
        return
    page = list_alerts(store, filters, limit=limit)
    if json_lines:
        for stored in page.items:
            print(json.dumps(stored.to_dict(), sort_keys=True, default=str))
        return
    total = store.count(**filters.__dict__)
    if not page.items:
        err.print("No alert matches these filters." if store.last_id() else "No alerts yet.")
        return
    table = Table(title=f"{len(page.items)} of {count_of(total, 'alert')}, newest first")
    for column in ("id", "time (UTC)", "block", "detector", "severity", "subject"):
        table.add_column(column, no_wrap=column in ("id", "time (UTC)", "subject"))
    table.add_column("explanation", min_width=24)
    for stored in page.items:
        alert = stored.alert
        moment = datetime.fromtimestamp(alert.time, UTC).strftime("%Y-%m-%d %H:%M")
        shown = "–" if alert.block is None else str(alert.block)
        subject = short_subject(alert.subject)  # in full with the alert's id, or --json
        said = escape(alert.explanation)
        if stored.status == "retracted":  # raised on a block a reorg dropped
            said = f"[yellow]retracted:[/yellow] {said}"
        table.add_row(str(stored.id), moment, shown, alert.detector, alert.severity, subject, said)
    print_table(console, table)
    if total > len(page.items):
        err.print(f"{total - len(page.items)} more: raise --limit, or narrow with filters")


def _follow_alerts(store: Any, filters: AlertFilter, limit: int, json_lines: bool) -> None:
    """The last ``limit`` matching alerts, oldest first, then each one stored from now on and
    each retraction (of an alert that matches), as lines, until Ctrl-C."""
    from proofmind.app.alerts import alerts_after, list_alerts
    from proofmind.chain.base import utc
    from proofmind.monitor.sinks import TerminalSink

    terminal = None if json_lines else TerminalSink()
    told: set[int] = set()  # alerts whose retraction was shown

    def show(stored: Any) -> None:
        retracted = stored.status == "retracted"
        if retracted:
            told.add(stored.id)
        if terminal is None:
            print(json.dumps(stored.to_dict(), sort_keys=True, default=str), flush=True)
        else:
            terminal.deliver(stored.id, "retraction" if retracted else "alert", stored)

    watched_from = time.time()
    last = store.last_id()
    listed = list_alerts(store, filters, limit=limit).items  # may hold some stored after last
    for stored in reversed(listed):
        show(stored)
    shown = {stored.id for stored in listed if stored.id > last}
    err.print("following new alerts and retractions (Ctrl-C to stop)")
    try:
        while True:
            now = time.time()
            if store.reopen_if_replaced():  # a monitor started again on a new store
                last = store.last_id_stored_until(watched_from)  # ids start again at 1
                shown.clear()
                told.clear()
                err.print(
                    f"the alert store was replaced: following it from its alerts stored "
                    f"since {utc(watched_from)}"
                )
            for stored in alerts_after(store, last, filters):
                last = stored.id
                if stored.id not in shown:
                    show(stored)
            # retractions stamped since the last look (a second's margin for the writer's
            # clock and transaction); those already shown are skipped
            for stored in store.retracted_since(watched_from - 1.0):
                if stored.id <= last and stored.id not in told and filters.matches(stored):
                    show(stored)
            watched_from = now
            time.sleep(FOLLOW_POLL_SECONDS)
    except KeyboardInterrupt:
        err.print("stopped following")
    finally:
        store.close()


def run_verify(workspace_path: Path | None, alert_id: int, json_out: Path | None) -> int:
    from proofmind.chain.base import utc
    from proofmind.monitor.store import ALERTS_FILE, AlertStore
    from proofmind.services.alert_anchoring import prove_alert
    from proofmind.workspace import open_workspace

    workspace = open_workspace(workspace_path)
    if not (workspace.root / ALERTS_FILE).exists():
        raise InputError(
            f"no alert {alert_id}: this workspace has no alert store yet",
            hint="alerts are stored by `proofmind monitor run`",
        )
    store = AlertStore.for_workspace(workspace.root)
    result = prove_alert(workspace, workspace.connect(), store, alert_id)
    if json_out is not None:
        temporary = json_out.with_name(json_out.name + ".partial")
        temporary.write_text(json.dumps(result.to_json(), indent=1), encoding="utf-8")
        temporary.replace(json_out)
    if result.ok:
        console.print(
            f"[green]alert {alert_id} verified[/green]: in batch {result.batch} (root "
            f"{result.root}), anchored on chain {result.chain_id} as record {result.record_id} "
            f"(block {result.block_number}); proof of {len(result.proof)} node(s)"
        )
        stored = store.get(alert_id)
        if stored is not None and stored.status == "retracted":
            when = "" if stored.retracted_at is None else f" at {utc(stored.retracted_at)}"
            console.print(
                f"  retracted{when}: its block left the chain in a reorg (proven as raised, "
                "not as standing)"
            )
        return 0
    for problem in result.problems:
        console.print(f"[red]alert {alert_id} not verified[/red]: {problem}")
    return 1


def short_subject(subject: str, head: int = 8, tail: int = 6) -> str:
    """An address or a hash shortened for a table (``0xab5801…9aec9b``); a shorter subject,
    such as an asset, as it is."""
    return f"{subject[:head]}…{subject[-tail:]}" if len(subject) > head + tail + 6 else subject


def _where_it_went(store: AlertStore, alert_id: int) -> list[str]:
    """A line per delivery of an alert and its retraction, oldest first: to which sink, and
    how it went."""
    from proofmind.monitor.sinks import public_sink_name

    lines = []
    for d in reversed(store.deliveries(alert_id=alert_id, limit=1000)):
        how = d.status
        if d.status == "dead":
            how = f"dead after {d.attempts} tries ({d.last_error}): `monitor redeliver {d.id}`"
        elif d.status == "pending" and d.attempts:
            how = f"pending, {d.attempts} tries so far ({d.last_error})"
        sink = public_sink_name(d.sink)
        lines.append(f"{d.event} → {escape(sink)}: {escape(how)} (delivery {d.id})")
    return lines or ["not queued for any sink (stored by a replay, or before any sink)"]


def run_mute(
    workspace_path: Path | None,
    subject: str,
    span: str,
    detector: str | None,
    reason: str,
    json_out: bool,
) -> None:
    from proofmind.app.alerts import checked_mute
    from proofmind.monitor.store import AlertStore
    from proofmind.workspace import open_workspace

    request = checked_mute(subject, span, detector, reason)  # before a store is made
    workspace = open_workspace(workspace_path)
    store = AlertStore.for_workspace(workspace.root)
    try:
        mute = store.mute(**request)
    finally:
        store.close()
    if json_out:
        print(json.dumps(mute.to_dict(), sort_keys=True))
        return
    from proofmind.monitor.store import is_pattern

    whose = f"{detector}'s alerts" if detector else "alerts"
    on = mute.subject if not is_pattern(mute.subject) else f"subjects matching {mute.subject}"
    on = "every subject" if mute.subject == "*" else on
    err.print(
        f"mute {mute.id}: {whose} on {escape(on)} stored until {mute.to_dict()['until']} "
        "are kept and listed, not delivered "
        f"(`proofmind monitor unmute {mute.id}` ends it sooner)"
    )


def run_mutes(workspace_path: Path | None, every: bool, json_out: bool) -> None:
    from proofmind.monitor.store import AlertStore
    from proofmind.workspace import open_workspace

    store = AlertStore.existing(open_workspace(workspace_path).root)
    if store is None:
        err.print("No mutes: this workspace has no alert store yet.")
        return
    mutes = store.mutes(active_at=None if every else time.time())
    store.close()
    if json_out:
        for mute in mutes:
            print(json.dumps(mute.to_dict(), sort_keys=True))
        return
    if not mutes:
        err.print("No mutes." if every else "No mute holds now (--all lists the ended ones).")
        return
    now = time.time()
    table = Table(title=count_of(len(mutes), "mute") + ("" if every else " holding now"))
    for column in ("id", "subject", "detector", "until (UTC)"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", min_width=12)
    for mute in mutes:
        until = datetime.fromtimestamp(mute.until, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            str(mute.id),
            escape(short_subject(mute.subject)),  # in full with --json
            mute.detector or "any",
            until + ("" if mute.until > now else " (ended)"),
            escape(mute.reason),
        )
    print_table(console, table)


def run_unmute(workspace_path: Path | None, mute_id: int) -> None:
    from proofmind.app.alerts import end_mute
    from proofmind.monitor.store import AlertStore
    from proofmind.workspace import open_workspace

    store = AlertStore.existing(open_workspace(workspace_path).root)  # none made to end none
    try:
        mute = end_mute(store, mute_id)
    finally:
        if store is not None:
            store.close()
    err.print(
        f"mute {mute_id} ended: alerts on {mute.subject} stored from now on are delivered "
        "(those stored while it held stay undelivered)"
    )
