"""Feed-health detector: a feed that went stale, or that is pinned at its min / max answer.

Stale: the next answer came later than the heartbeat allows. The heartbeat is the feed's own
(``heartbeats[subject]``, e.g. Chainlink's 3600 s or 86400 s) or, when not given, learned as
``stale_factor`` × the median of the feed's recent update intervals (never below
``min_heartbeat``). The alert is dated when a live monitor would have raised it: last answer +
heartbeat. Pinned: ``pinned_count`` answers in a row at or beyond the feed's configured
``bounds[subject] = [min, max]`` answer (the circuit breaker that kept LUNA's Chainlink feed at
$0.10 while the market traded far below), or the same answer repeated ``pinned_count`` times
over ``pinned_seconds`` by a feed whose answers usually move.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from proofmind.monitor.api import Alert, Detector, Event, PriceBatch, PriceObservation, in_row_order


@dataclass
class _Feed:
    last_time: float | None = None
    last_price: float | None = None
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=48))
    repeat: int = 0
    repeat_since: float | None = None
    at_bound: int = 0
    pinned: bool = False


class FeedHealthDetector(Detector):
    name: ClassVar[str] = "feed-health"
    positive: ClassVar[frozenset[str]] = frozenset(
        {"heartbeats", "stale_factor", "min_heartbeat", "pinned_count"}
    )

    def __init__(
        self,
        *,
        heartbeats: dict[str, float] | None = None,
        bounds: dict[str, list[float]] | None = None,
        stale_factor: float = 6.0,
        min_heartbeat: float = 6 * 3600.0,
        pinned_count: int = 24,
        pinned_seconds: float = 12 * 3600.0,
    ) -> None:
        self.heartbeats = dict(heartbeats or {})
        self.bounds = {k: list(v) for k, v in (bounds or {}).items()}
        self.stale_factor = stale_factor
        self.min_heartbeat = min_heartbeat
        self.pinned_count = pinned_count
        self.pinned_seconds = pinned_seconds
        self._feeds: dict[str, _Feed] = {}

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, PriceObservation):
            return []
        feed = self._feeds.setdefault(event.subject, _Feed())
        alerts: list[Alert] = []
        if feed.last_time is not None:
            gap = event.time - feed.last_time
            heartbeat = self._heartbeat(event.subject, feed)
            if heartbeat is not None and gap > heartbeat:
                alerts.append(self._stale(event, feed.last_time, heartbeat, gap))
            if gap > 0:
                feed.intervals.append(gap)
        alerts += self._pinned(event, feed)
        feed.last_time, feed.last_price = event.time, event.price
        return alerts

    def _heartbeat(self, subject: str, feed: _Feed) -> float | None:
        if subject in self.heartbeats:
            return float(self.heartbeats[subject])
        if len(feed.intervals) < 12:  # too little history to know the feed's rhythm
            return None
        return max(self.min_heartbeat, self.stale_factor * statistics.median(feed.intervals))

    def _stale(self, event: PriceObservation, last: float, heartbeat: float, gap: float) -> Alert:
        return Alert(
            detector=self.name,
            kind="stale",
            severity="medium",
            subject=event.subject,
            time=last + heartbeat,
            score=round(gap / heartbeat, 3),
            explanation=(
                f"{event.subject}: no answer for {gap / 3600:.1f} h, beyond its heartbeat of "
                f"{heartbeat / 3600:.1f} h"
            ),
            evidence={
                "last_answer_time": last,
                "next_answer_time": event.time,
                "heartbeat_seconds": heartbeat,
            },
        )

    def _pinned(self, event: PriceObservation, feed: _Feed) -> list[Alert]:
        bound = self.bounds.get(event.subject)
        at_bound = bound is not None and (event.price <= bound[0] or event.price >= bound[1])
        feed.at_bound = feed.at_bound + 1 if at_bound else 0
        if event.price == feed.last_price:
            feed.repeat += 1
        else:
            feed.repeat, feed.repeat_since = 1, event.time
        since = feed.repeat_since if feed.repeat_since is not None else event.time
        repeated = feed.repeat >= self.pinned_count and event.time - since >= self.pinned_seconds
        pinned_now = feed.at_bound >= self.pinned_count or repeated
        if not pinned_now:
            feed.pinned = False
            return []
        if feed.pinned:
            return []
        feed.pinned = True
        reason = (
            f"at its {'minimum' if bound and event.price <= bound[0] else 'maximum'} answer "
            f"{event.price:g} for {feed.at_bound} answers"
            if feed.at_bound >= self.pinned_count
            else f"repeating {event.price:g} for {feed.repeat} answers over "
            f"{(event.time - since) / 3600:.1f} h"
        )
        return [
            Alert(
                detector=self.name,
                kind="pinned",
                severity="high",
                subject=event.subject,
                time=event.time,
                score=float(max(feed.at_bound, feed.repeat)),
                explanation=f"{event.subject} feed is pinned: {reason}",
                evidence={"price": event.price, "bounds": bound, "repeats": feed.repeat},
            )
        ]

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        found = self._alert_rows(events) if isinstance(events, PriceBatch) else None
        return super().evaluate_many(events) if found is None else in_row_order(found)

    def _alert_rows(self, batch: PriceBatch) -> list[tuple[int, Alert]] | None:
        """``evaluate`` on the rows where something can happen: a gap longer than the shortest
        heartbeat the feed can have (its own, else ``min_heartbeat``), a run of at least
        ``pinned_count`` equal answers or answers at a bound, and the rows after one until the
        feed is no longer pinned. Every other row provably raises nothing and changes no state
        but the data (last answer, intervals, run lengths), which is set before each row run."""
        if any(subject in self._feeds for subject in batch.subjects):
            return None  # state from before: row by row
        found: list[tuple[int, Alert]] = []
        for subject, rows, time, price in zip(
            batch.subjects, batch.rows, batch.times, batch.prices, strict=True
        ):
            found += self._walk(subject, rows, time, price)
        return found

    def _walk(
        self,
        subject: str,
        rows: NDArray[np.int64],
        time: NDArray[np.float64],
        price: NDArray[np.float64],
    ) -> list[tuple[int, Alert]]:
        n = len(time)
        index = np.arange(n)
        gap = np.zeros(n)
        gap[1:] = np.diff(time)
        same = np.zeros(n, dtype=bool)
        same[1:] = price[1:] == price[:-1]
        run_start = np.maximum.accumulate(np.where(same, 0, index))
        repeat = index - run_start + 1
        bound = self.bounds.get(subject)
        at = (
            (price <= bound[0]) | (price >= bound[1])
            if bound is not None
            else np.zeros(n, dtype=bool)
        )
        at_bound = index - np.maximum.accumulate(np.where(at, -1, index))
        shortest = float(self.heartbeats.get(subject, self.min_heartbeat))
        active = np.zeros(n, dtype=bool)
        active[1:] = gap[1:] > shortest
        active |= (repeat >= self.pinned_count) | (at_bound >= self.pinned_count)
        positive = np.flatnonzero(gap > 0)
        feed = self._feeds[subject] = _Feed()
        found: list[tuple[int, Alert]] = []
        done = -1

        def forward(k: int) -> None:  # the data ``evaluate`` leaves after row k
            feed.last_time, feed.last_price = float(time[k]), float(price[k])
            upto = int(np.searchsorted(positive, k, side="right"))
            feed.intervals = deque(gap[positive[max(0, upto - 48) : upto]].tolist(), maxlen=48)
            feed.repeat, feed.repeat_since = int(repeat[k]), float(time[run_start[k]])
            feed.at_bound = int(at_bound[k])

        for start in np.flatnonzero(active).tolist():
            if start <= done:
                continue
            i = start
            if done != i - 1 and i > 0:
                forward(i - 1)
            while True:
                event = PriceObservation(subject, float(time[i]), float(price[i]))
                found += [(int(rows[i]), alert) for alert in self.evaluate(event)]
                done = i
                i += 1
                if i >= n or not feed.pinned:
                    break
        if done != n - 1:
            forward(n - 1)
        return found

    def to_state(self) -> dict[str, Any]:
        feeds = {
            subject: {**vars(feed), "intervals": list(feed.intervals)}
            for subject, feed in self._feeds.items()
        }
        params = self.params()
        return {"detector": self.name, "params": params, "feeds": feeds}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(**state["params"])
        for subject, saved in state["feeds"].items():
            feed = _Feed(**{k: v for k, v in saved.items() if k != "intervals"})
            feed.intervals = deque(saved["intervals"], maxlen=48)
            detector._feeds[subject] = feed
        return detector
