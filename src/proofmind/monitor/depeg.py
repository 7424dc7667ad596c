"""Depeg detector: a pegged asset trades below its peg, confirmed, not a one-point glitch.

Whether an asset is pegged is learned from its own history, never from its symbol: it becomes
pegged after a window (14 days by default) in which nearly every observation sat within ±1% of
the peg and the window was well covered: prices in half its hours, or, for a feed with at most
four prices a day (a daily series), on nine in ten of its days. It stops being pegged when that
window holds almost no observation within ±10% of the peg any more (``unpeg_band``: a collapsed
coin, or a token that only passed by $1), so it does not alert for ever after; a coin a few
percent off its peg for weeks is a depeg in progress and stays watched. Confirmation: the median
of the last three observations must be below ``peg × (1 - threshold)`` for ``confirm``
observations in a row spanning at least ``confirm_seconds``, and the latest observation itself
must be outside the threshold (``confirm_latest``): one bad print moves neither the median nor
the alert, and a dip that is already over does not alert. Thin, noisy feeds need more: when at
least ``noisy_fraction`` of the learning window's prices (before the current run of prices
outside) were outside ±threshold, the median must also have accumulated ``noisy_area`` of depth
beyond the threshold × hours since it left the band (0.02: a drop of about 3% or more gets there
in the two hours a quiet feed needs, a 2.5% dip about five; on the median, so one print back at
the peg in the middle of a depeg does not restart it) — the routine dips of up to about 2.8% for
one to three hours such a feed prints stay under it. One alert per episode, and one escalation
when the episode deepens past ``escalate`` (5%) and to 1.5 times its first alert's depth; an
episode ends when the median is back within ``band`` of the peg for ``recover_seconds``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from proofmind.monitor.api import Alert, Detector, Event, PriceBatch, PriceObservation, in_row_order

HOUR = 3600.0
SPARSE_PER_DAY = 4
"""A feed with at most this many prices a day on average (one every six hours or fewer) has its
learning window's coverage counted in days, not hours."""
DEEPEN = 1.5
"""An episode's escalation needs the depeg at least this many times as deep as its first alert
(and past ``escalate``)."""


@dataclass
class _Asset:
    # [hour, near-peg count, count, count outside ±threshold, count within ±unpeg_band]
    buckets: deque[list[int]] = field(default_factory=deque)
    near: int = 0
    total: int = 0
    off: int = 0
    kept: int = 0  # within ±unpeg_band: a depeg in progress, not a coin that left its peg
    days: int = 0  # the days (UTC) the buckets fall on: a daily feed's coverage
    run: int = 0  # consecutive prices outside ±threshold, up to the latest
    area: float = 0.0  # the median's depth beyond the threshold x hours, while it is outside
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=3))
    pegged: bool = False
    below_count: int = 0
    below_since: float | None = None
    first_outside: float | None = None
    in_episode: bool = False
    recovered_since: float | None = None
    last_time: float = 0.0
    last_median: float = 0.0
    # the episode's escalation: raised (or not needed: the first alert was that deep already),
    # and the run of medians past ``escalate`` confirming it
    escalated: bool = False
    deep_count: int = 0
    deep_since: float | None = None
    alert_time: float | None = None  # the episode's first alert, for the escalation's words
    alert_median: float = 0.0


class DepegDetector(Detector):
    name: ClassVar[str] = "depeg"
    positive: ClassVar[frozenset[str]] = frozenset(
        {
            "peg",
            "threshold",
            "band",
            "window_hours",
            "min_near_fraction",
            "min_coverage",
            "confirm",
            "common_mode_min",
            "align_seconds",
        }
    )
    fractions: ClassVar[frozenset[str]] = frozenset(
        {
            "threshold",
            "band",
            "min_near_fraction",
            "min_coverage",
            "min_day_coverage",
            "unpeg_fraction",
            "escalate",
            "unpeg_band",
        }
    )

    def __init__(
        self,
        *,
        peg: float = 1.0,
        threshold: float = 0.02,
        band: float = 0.01,
        window_hours: int = 14 * 24,
        min_near_fraction: float = 0.95,
        min_coverage: float = 0.5,
        min_day_coverage: float = 0.9,
        unpeg_fraction: float = 0.2,
        unpeg_band: float = 0.1,
        confirm: int = 2,
        confirm_seconds: float = 1800.0,
        recover_seconds: float = 72 * HOUR,
        premium: bool = False,
        common_mode_min: int = 3,
        align_seconds: float = 2 * HOUR,
        common_mode_seconds: float = 1.5 * HOUR,
        confirm_latest: bool = True,
        noisy_fraction: float = 0.01,
        noisy_area: float = 0.02,
        escalate: float = 0.05,
    ) -> None:
        self.peg = peg
        self.threshold = threshold
        self.band = band
        self.window_hours = window_hours
        self.min_near_fraction = min_near_fraction
        self.min_coverage = min_coverage
        self.min_day_coverage = min_day_coverage
        self.unpeg_fraction = unpeg_fraction
        self.unpeg_band = unpeg_band
        self.confirm = confirm
        self.confirm_seconds = confirm_seconds
        self.recover_seconds = recover_seconds
        self.premium = premium
        self.common_mode_min = common_mode_min
        self.align_seconds = align_seconds
        self.common_mode_seconds = common_mode_seconds
        self.confirm_latest = confirm_latest
        self.noisy_fraction = noisy_fraction
        self.noisy_area = noisy_area
        self.escalate = escalate
        self._assets: dict[str, _Asset] = {}
        self._batch_peers: Callable[[str], list[tuple[bool, float, float]]] | None = None

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, PriceObservation):
            return []
        asset = self._assets.get(event.subject)
        if asset is None:
            asset = self._assets[event.subject] = _Asset()
        deviation = event.price / self.peg - 1.0
        size = abs(deviation)
        off = size > self.threshold
        self._update_window(asset, event.time, size <= self.band, off, size <= self.unpeg_band)
        asset.run = asset.run + 1 if off else 0
        asset.recent.append(deviation)
        median = sorted(asset.recent)[len(asset.recent) // 2]
        outside = median < -self.threshold or (self.premium and median > self.threshold)
        if outside:
            hours = min(event.time - asset.last_time, 2 * HOUR) / HOUR
            asset.area += (abs(median) - self.threshold) * hours
        elif asset.area:
            asset.area = 0.0
        asset.last_time, asset.last_median = event.time, median
        if not asset.pegged:
            return []
        if asset.in_episode:
            self._track_recovery(asset, event.time, median)
            return self._escalation(event, asset, deviation, median)
        if off:
            if asset.first_outside is None:
                asset.first_outside = event.time
        elif not outside:
            asset.first_outside = None
        if not outside:
            asset.below_count, asset.below_since = 0, None
            return []
        if asset.below_since is None:
            asset.below_since = event.time
        asset.below_count += 1
        if (
            asset.below_count < self.confirm
            or event.time - asset.below_since < self.confirm_seconds
        ):
            return []
        if self.confirm_latest and not off:
            return []  # the latest price is back inside: the alert would say what is no longer so
        if (
            asset.total
            and asset.off - asset.run >= self.noisy_fraction * asset.total
            and asset.area < self.noisy_area
        ):
            return []
        onset = asset.first_outside if asset.first_outside is not None else asset.below_since
        common = self._common_mode(event.subject, event.time, median)
        if common and event.time - onset < self.common_mode_seconds:
            return []  # wait: a quote glitch ends within hours, a shared depeg does not
        asset.in_episode, asset.recovered_since = True, None
        asset.below_count, asset.below_since, asset.first_outside = 0, None, None
        asset.escalated = not self.escalate or abs(median) >= self.escalate
        asset.deep_count, asset.deep_since = 0, None
        asset.alert_time, asset.alert_median = event.time, median
        return [self._alert(event, median, onset, common, asset)]

    def _escalation(
        self, event: PriceObservation, asset: _Asset, deviation: float, median: float
    ) -> list[Alert]:
        """One more alert in an episode whose first alert was under ``escalate`` (5%) deep,
        when it deepens past it and to `DEEPEN` times the first alert's depth (a depeg that
        hovers at 5% does not say "deeper" at 5.1%): the median of three beyond that level at
        ``confirm`` prices in a row over ``confirm_seconds``, and the latest price too. A 2%
        depeg that becomes a collapse (UST in May 2022) or a discount that deepens weeks
        later (stETH in June 2022, while the May episode was still open) is said again, once
        per episode."""
        if asset.escalated or not asset.in_episode or asset.alert_time is None:
            return []  # (no first alert on record: an episode restored from an older state)
        side = -1.0 if asset.alert_median < 0 else 1.0
        level = max(self.escalate, DEEPEN * abs(asset.alert_median))
        if median * side < level:
            asset.deep_count, asset.deep_since = 0, None
            return []
        if asset.deep_since is None:
            asset.deep_since = event.time
        asset.deep_count += 1
        if asset.deep_count < self.confirm or event.time - asset.deep_since < self.confirm_seconds:
            return []
        if self.confirm_latest and deviation * side < level:
            return []
        asset.escalated = True
        onset, asset.deep_count, asset.deep_since = asset.deep_since, 0, None
        first = asset.alert_time
        alert = self._alert(event, median, onset, False, asset)
        when = datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return [
            replace(
                alert,
                kind="escalation",  # a policy acting once per depeg matches kind "depeg"
                severity="critical",
                explanation=(
                    f"{event.subject} trades {abs(median):.1%} {'below' if side < 0 else 'above'}"
                    f" its peg of {self.peg:g} (median of the last 3 prices), past "
                    f"{level:.1%}, confirmed over {(event.time - onset) / HOUR:.1f} h: "
                    f"the episode alerted at {abs(asset.alert_median):.1%} on {when} has "
                    "deepened"
                ),
                evidence={
                    **alert.evidence,
                    "escalation": True,
                    "episode_alert_time": first,
                    "episode_alert_deviation": round(asset.alert_median, 6),
                },
            )
        ]

    def _common_mode(self, subject: str, time: float, median: float) -> bool:
        """Most other pegged assets moved the same way at the same time: the quote (the
        aggregator's USD reference) moved, not this asset's peg. Timestamps of different feeds
        do not align, so "the same time" is each one's latest price within ``align_seconds``."""
        others = [
            last_median
            for pegged, last_time, last_median in self._peers(subject)
            if pegged and time - last_time <= self.align_seconds
        ]
        if len(others) < self.common_mode_min:
            return False
        same = sum(m * median > 0 and abs(m) > self.threshold / 2 for m in others)
        return same * 2 >= len(others)

    def _peers(self, subject: str) -> list[tuple[bool, float, float]]:
        """``(pegged, last_time, last_median)`` of every other asset, as of now."""
        if self._batch_peers is not None:  # the batched path knows them from its arrays
            return self._batch_peers(subject)
        return [
            (a.pegged, a.last_time, a.last_median) for s, a in self._assets.items() if s != subject
        ]

    def _alert(
        self, event: PriceObservation, median: float, onset: float, common: bool, asset: _Asset
    ) -> Alert:
        side = "below" if median < 0 else "above"
        before = (asset.off - asset.run) / asset.total  # off the peg in the window, this run aside
        return Alert(
            detector=self.name,
            kind="depeg",
            severity="critical" if abs(median) >= 0.05 else "high",
            subject=event.subject,
            time=event.time,
            score=round(abs(median), 6),
            explanation=(
                f"{event.subject} trades {abs(median):.1%} {side} its peg of {self.peg:g} "
                f"(median of the last 3 prices), confirmed over "
                f"{(event.time - onset) / HOUR:.1f} h; in the {self.window_hours // 24} days "
                f"before, it was within {self.threshold:.0%} of the peg "
                f"{math.floor(100 * (1 - before))}% of the time"  # 100% only if all of it
                + ("; most other pegged assets moved with it" if common else "")
            ),
            evidence={
                "price": event.price,
                "median_deviation": round(median, 6),
                "peg": self.peg,
                "threshold": self.threshold,
                "first_outside_time": onset,
                "shared_with_other_pegged_assets": common,
                "window_off_peg_fraction": round(before, 6),
                "depth_hours": round(asset.area, 6),
            },
        )

    def _update_window(self, asset: _Asset, time: float, near: bool, off: bool, kept: bool) -> None:
        hour = int(time // HOUR)
        if asset.buckets and asset.buckets[-1][0] == hour:
            bucket = asset.buckets[-1]
        else:
            if not asset.buckets or asset.buckets[-1][0] // 24 != hour // 24:
                asset.days += 1
            bucket = [hour, 0, 0, 0, 0]
            asset.buckets.append(bucket)
        bucket[1] += near
        bucket[2] += 1
        bucket[3] += off
        bucket[4] += kept
        asset.near += near
        asset.total += 1
        asset.off += off
        asset.kept += kept
        while asset.buckets and asset.buckets[0][0] <= hour - self.window_hours:
            old_hour, old_near, old_total, old_off, old_kept = asset.buckets.popleft()
            if not asset.buckets or asset.buckets[0][0] // 24 != old_hour // 24:
                asset.days -= 1
            asset.near -= old_near
            asset.total -= old_total
            asset.off -= old_off
            asset.kept -= old_kept
        if not asset.pegged:
            covered = self._covered(len(asset.buckets), asset.days, asset.total)
            spans = hour - asset.buckets[0][0] >= 0.9 * self.window_hours
            fraction = asset.near / asset.total
            asset.pegged = covered and spans and fraction >= self.min_near_fraction
        elif asset.kept / asset.total < self.unpeg_fraction:
            asset.pegged = asset.in_episode = False
            asset.below_count, asset.below_since, asset.first_outside = 0, None, None

    def _covered(self, hours: Any, days: Any, total: Any) -> Any:
        """Whether a learning window with ``total`` prices in this many hours and days
        (numbers or arrays) is well covered. A feed that updates more than `SPARSE_PER_DAY`
        times a day on average is judged by its hours (``min_coverage`` of them: a thin hourly
        feed with gaps of days is not); a sparser one, such as a daily feed (CoinGecko's
        exports), by its days (``min_day_coverage`` of them)."""
        sparse = total <= SPARSE_PER_DAY * days
        return (hours >= self.min_coverage * self.window_hours) | (
            sparse & (days >= self.min_day_coverage * self.window_hours / 24)
        )

    def _track_recovery(self, asset: _Asset, time: float, median: float) -> None:
        if abs(median) > self.band:
            asset.recovered_since = None
        elif asset.recovered_since is None:
            asset.recovered_since = time
        elif time - asset.recovered_since >= self.recover_seconds:
            asset.in_episode, asset.recovered_since = False, None

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        found = self._alert_rows(events) if isinstance(events, PriceBatch) else None
        return super().evaluate_many(events) if found is None else in_row_order(found)

    def _alert_rows(self, batch: PriceBatch) -> list[tuple[int, Alert]] | None:
        groups = list(zip(batch.subjects, batch.rows, batch.times, batch.prices, strict=True))
        return run_groups(self, groups)

    def watching(self, subject: str) -> tuple[bool, float | None]:
        """Whether ``subject`` is learnt as pegged now, and when the alert of its episode
        still open was raised (None: no episode open)."""
        asset = self._assets.get(subject)
        if asset is None:
            return False, None
        return asset.pegged, asset.alert_time if asset.in_episode else None

    def to_state(self) -> dict[str, Any]:
        assets = {}
        for subject, asset in self._assets.items():
            state = asdict(asset)
            state["buckets"] = [list(b) for b in asset.buckets]
            state["recent"] = list(asset.recent)
            assets[subject] = state
        return {"detector": self.name, "params": self.params(), "assets": assets}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(**state["params"])
        for subject, saved in state["assets"].items():
            asset = _Asset(**{k: v for k, v in saved.items() if k not in ("buckets", "recent")})
            # older states: 3 fields (no off count), then 4 (no kept count: all kept)
            asset.buckets = deque(_bucket(b) for b in saved["buckets"])
            if "kept" not in saved:
                asset.kept = sum(b[4] for b in asset.buckets)
            asset.days = _days(asset.buckets)
            asset.recent = deque(saved["recent"], maxlen=3)
            detector._assets[subject] = asset
        return detector


def _days(buckets: Iterable[list[int]]) -> int:
    """The days (UTC) learning-window buckets fall on."""
    return len({bucket[0] // 24 for bucket in buckets})


def _bucket(saved: list[int]) -> list[int]:
    """A saved learning-window bucket with every field of the current format."""
    bucket = [*saved, 0][:4] if len(saved) < 4 else list(saved[:5])
    return bucket if len(bucket) == 5 else [*bucket, bucket[2]]


# -- batched path ---------------------------------------------------------------------------
#
# The rules live in ``evaluate`` above and nowhere else. The batched path computes in NumPy only
# what is pure data (the learning window's counts, the median of three, the pegged flag that
# ``_update_window`` derives from them) and calls ``evaluate`` itself on every row where the
# episode state can move: a row of a pegged asset whose price or median is outside the
# threshold, a row where the pegged flag flips, and every row after those until the asset is
# back in its resting state. On the rows it skips, ``evaluate`` provably returns nothing and
# leaves the episode state as it was; before each row it does run, the asset's window, median
# and last price are set to exactly what ``evaluate`` would have left there.

Group = tuple[str, NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


@dataclass
class _Arrays:
    keys: NDArray[np.int64]
    time: NDArray[np.float64]
    price: NDArray[np.float64]
    deviation: NDArray[np.float64]
    near: NDArray[np.bool_]
    off: NDArray[np.bool_]
    kept: NDArray[np.bool_]
    run_start: NDArray[np.int64]  # first row of the run of prices outside ±threshold (-1: none)
    area_start: NDArray[np.int64]  # first row of the run of medians outside (-1: none)
    steps: NDArray[np.float64]  # what each median outside adds to the depth x hours
    hour: NDArray[np.int64]
    start: NDArray[np.int64]  # first row of the learning window, per row
    median: NDArray[np.float64]
    pegged: NDArray[np.bool_]  # after the row's window update


def _median3(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sorted(last three)[len // 2]`` per row, as ``evaluate`` takes it (a selection)."""
    out = values.copy()
    if len(values) > 1:
        out[1] = max(values[0], values[1])
    if len(values) > 2:
        a, b, c = values[:-2], values[1:-1], values[2:]
        out[2:] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return out


class _BatchedDepeg:
    """Runs one :class:`DepegDetector` over groups (subject, keys, times, prices); keys order
    the rows of all groups as ``evaluate`` would see them."""

    def __init__(self, detector: DepegDetector, groups: list[Group]) -> None:
        self.d = detector
        self.arrays = {subject: self._prepare(k, t, p) for subject, k, t, p in groups}
        self.key = 0

    def _prepare(
        self, keys: NDArray[np.int64], time: NDArray[np.float64], price: NDArray[np.float64]
    ) -> _Arrays:
        d = self.d
        deviation = price / d.peg - 1.0
        size = np.abs(deviation)
        near = size <= d.band
        off = size > d.threshold
        kept = size <= d.unpeg_band
        index = np.arange(len(time))
        run_start = np.maximum.accumulate(np.where(off, -1, index))  # last row inside, or -1
        run_start = np.where(off, run_start + 1, -1)
        median = _median3(deviation)
        outside = median < -d.threshold
        if d.premium:
            outside |= median > d.threshold
        area_start = np.maximum.accumulate(np.where(outside, -1, index))
        area_start = np.where(outside, area_start + 1, -1)
        previous = np.zeros(len(time))  # a new asset's last_time is 0
        previous[1:] = time[:-1]
        steps = (np.abs(median) - d.threshold) * (np.minimum(time - previous, 2 * HOUR) / HOUR)
        hour = (time // HOUR).astype(np.int64)
        start = np.searchsorted(hour, hour - d.window_hours, side="right").astype(np.int64)
        total = index + 1 - start
        near_sum = np.cumsum(near)
        near_count = near_sum - np.where(start > 0, near_sum[start - 1], 0)
        kept_sum = np.cumsum(kept)
        kept_count = kept_sum - np.where(start > 0, kept_sum[start - 1], 0)
        new_hour = np.ones(len(hour), dtype=bool)
        new_hour[1:] = hour[1:] != hour[:-1]
        hours_sum = np.cumsum(new_hour)
        buckets = hours_sum - hours_sum[start] + 1
        day = hour // 24
        new_day = np.ones(len(day), dtype=bool)
        new_day[1:] = day[1:] != day[:-1]
        days_sum = np.cumsum(new_day)
        fraction = near_count / total
        covered = d._covered(buckets, days_sum - days_sum[start] + 1, total)
        spans = hour - hour[start] >= 0.9 * d.window_hours
        peg = covered & spans & (fraction >= d.min_near_fraction)
        unpeg = kept_count / total < d.unpeg_fraction
        pegged = np.zeros(len(time), dtype=bool)
        if (peg & unpeg).any():  # parameters where one row can both peg and unpeg
            state = False
            for i in range(len(time)):
                state = (not unpeg[i]) if state else bool(peg[i])
                pegged[i] = state
        else:
            marks = np.flatnonzero(peg | unpeg)
            if len(marks):
                last = np.full(len(time), -1, dtype=np.int64)
                last[marks] = marks
                last = np.maximum.accumulate(last)
                pegged = np.where(last >= 0, peg[np.maximum(last, 0)], False)
        return _Arrays(
            keys, time, price, deviation, near, off, kept, run_start, area_start, steps, hour,
            start, median, pegged,
        )  # fmt: skip

    def peers(self, subject: str) -> list[tuple[bool, float, float]]:
        found = []
        for other, a in self.arrays.items():
            if other == subject:
                continue
            k = int(np.searchsorted(a.keys, self.key, side="left")) - 1
            if k >= 0:
                found.append((bool(a.pegged[k]), float(a.time[k]), float(a.median[k])))
        for other, asset in self.d._assets.items():  # restored assets this batch has no rows of
            if other != subject and other not in self.arrays:
                found.append((asset.pegged, asset.last_time, asset.last_median))
        return found

    def run(self) -> list[tuple[int, Alert]]:
        found: list[tuple[int, Alert]] = []
        self.d._batch_peers = self.peers
        try:
            for subject, a in self.arrays.items():
                found += self._walk(subject, a)
        finally:
            self.d._batch_peers = None
        return found

    def _walk(self, subject: str, a: _Arrays) -> list[tuple[int, Alert]]:
        d = self.d
        asset = d._assets[subject] = _Asset()
        n = len(a.time)
        outside = a.median < -d.threshold
        if d.premium:
            outside |= a.median > d.threshold
        flips = np.zeros(n, dtype=bool)
        flips[0] = a.pegged[0]
        flips[1:] = a.pegged[1:] != a.pegged[:-1]
        active = (a.pegged & (a.off | outside)) | flips
        found: list[tuple[int, Alert]] = []
        done = -1  # the last row whose state ``asset`` holds
        for start in np.flatnonzero(active).tolist():
            if start <= done:
                continue
            i = start
            if done != i - 1:
                self._forward(asset, a, i - 1)
            while True:
                self.key = key = int(a.keys[i])
                event = PriceObservation(subject, float(a.time[i]), float(a.price[i]))
                found += [(key, alert) for alert in d.evaluate(event)]
                done = i
                i += 1
                if i >= n or (
                    not asset.in_episode
                    and asset.below_count == 0
                    and asset.below_since is None
                    and asset.first_outside is None
                ):
                    break
        if done != n - 1:
            self._forward(asset, a, n - 1)
        return found

    def _forward(self, asset: _Asset, a: _Arrays, k: int) -> None:
        """Set the data part of ``asset`` to what ``evaluate`` leaves after row ``k``."""
        if k < 0:
            return
        lo = int(a.start[k])
        hours, first = np.unique(a.hour[lo : k + 1], return_index=True)
        near = np.add.reduceat(a.near[lo : k + 1].astype(np.int64), first)
        off = np.add.reduceat(a.off[lo : k + 1].astype(np.int64), first)
        kept = np.add.reduceat(a.kept[lo : k + 1].astype(np.int64), first)
        counts = np.diff(np.append(first, k + 1 - lo))
        asset.buckets = deque(
            list(bucket)
            for bucket in zip(
                hours.tolist(), near.tolist(), counts.tolist(), off.tolist(), kept.tolist(),
                strict=True,
            )
        )  # fmt: skip
        asset.near, asset.total, asset.off = int(near.sum()), int(counts.sum()), int(off.sum())
        asset.kept = int(kept.sum())
        asset.days = _days(asset.buckets)
        start = int(a.run_start[k])
        asset.run = k - start + 1 if start >= 0 else 0
        # the median's depth x hours while outside, added one price at a time as ``evaluate``
        start = int(a.area_start[k])
        asset.area = float(np.cumsum(a.steps[start : k + 1])[-1]) if start >= 0 else 0.0
        asset.recent = deque(a.deviation[max(0, k - 2) : k + 1].tolist(), maxlen=3)
        asset.pegged = bool(a.pegged[k])
        asset.last_time, asset.last_median = float(a.time[k]), float(a.median[k])


def run_groups(detector: DepegDetector, groups: list[Group]) -> list[tuple[int, Alert]]:
    """The depeg rules over groups of rows (see ``_BatchedDepeg``); a subject that already has
    state (restored, or seen before) is run row by row through ``evaluate`` instead."""
    if not groups:
        return []
    if any(subject in detector._assets for subject, *_ in groups):
        keys = np.concatenate([g[1] for g in groups])
        order = np.argsort(keys, kind="stable")
        subject = np.concatenate([np.full(len(g[1]), k) for k, g in enumerate(groups)])[order]
        time = np.concatenate([g[2] for g in groups])[order].tolist()
        price = np.concatenate([g[3] for g in groups])[order].tolist()
        found: list[tuple[int, Alert]] = []
        for key, s, t, p in zip(keys[order].tolist(), subject.tolist(), time, price, strict=True):
            found += [(key, x) for x in detector.evaluate(PriceObservation(groups[s][0], t, p))]
        return found
    return _BatchedDepeg(detector, groups).run()
