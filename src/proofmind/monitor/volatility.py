"""Volatility forecast per asset, and an alert when realised volatility breaks out of it.

Volatility of a window (a day by default) is the realised volatility of the asset's log returns
inside it, ``sqrt(sum r²)``. Returns are taken on the median of the last three prices, so one bad
print (a glitch) does not count as two large moves. The forecast is of the next window's log
realised volatility, by simple exponential smoothing whose smoothing weight is chosen online from
a grid (``ALPHAS``): every weight's level and its exponentially forgotten sum of squared
one-step errors are updated in closed form at each window's end (a few dozen float operations),
and the weight with the smallest error sum gives the forecast; its error gives the prediction
interval. This is the model statsforecast's AutoETS fits to such a series (simple exponential
smoothing, "ZNN"), without refitting it from scratch every day (~4 ms a fit). The interval's
half-width, widened by ``width``, is the alert threshold: realised volatility has fatter tails
than the Gaussian interval. The detector alerts as soon as the running realised volatility of
the current window passes the bound (it only grows within a window, so the window's end need
not be awaited), once per window, after a warm-up of ``min_history`` windows.

An asset whose prices are too sparse for its windows (a daily series: one return a day, where
a window needs ``min_returns``) gets longer ones, per asset: when most of its first
`PROBE_WINDOWS` windows held too few returns, its windows become ``sparse_window_seconds``
long (a week) from then on, its history forgotten (it had no forecast yet). So a daily feed is
forecast week by week beside hourly ones, live and in replay. A silence longer than a long
window, or a long window dense enough for short ones, makes them decided anew.

``backtest`` scores the forecast against AutoETS refitted every window (the reference it
replaces) and two naive baselines on the same windows: the rolling standard deviation of the
last week's returns, and RiskMetrics' EWMA (λ = 0.94 per return).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import (
    Alert,
    Detector,
    Event,
    PriceBatch,
    PriceObservation,
    in_row_order,
)

Z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96, 0.98: 2.3263, 0.99: 2.5758}
PROBE_WINDOWS = 7  # an asset's first windows that decide whether its windows are too short
# the smoothing weights the forecast chooses from
ALPHAS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85)


def forecast_log_vol(history: list[float], level: int, width: float = 1.0) -> tuple[float, float]:
    """AutoETS forecast of the next value of ``history`` (log realised volatilities): the
    mean and the upper bound of the ``level``% prediction interval, its half-width times
    ``width``. The reference the detector's online forecast is backtested against."""
    from statsforecast.models import AutoETS  # ~1-2 s to import: only when a backtest runs

    y = np.asarray(history, dtype=np.float64)
    found = AutoETS(season_length=1, model="ZNN").forecast(y=y, h=1, level=[level])
    mean = float(found["mean"][0])
    return mean, mean + width * (float(found[f"hi-{level}"][0]) - mean)


@dataclass
class Smoother:
    """Simple exponential smoothing of one series for every weight in ``ALPHAS`` at once.

    ``update(x)`` is the closed-form step; ``forecast`` picks the weight whose exponentially
    forgotten (factor ``1 - 1/memory``) sum of squared one-step errors is smallest and
    returns its level and the root mean of those errors."""

    level: list[float] = field(default_factory=list)
    sse: list[float] = field(default_factory=list)
    weight: float = 0.0  # the forgotten count of one-step errors
    count: int = 0  # values seen since the start (or the last reset)

    def update(self, x: float, memory: float) -> None:
        if self.count == 0:
            self.level, self.sse, self.weight = [x] * len(ALPHAS), [0.0] * len(ALPHAS), 0.0
        else:
            keep = 1.0 - 1.0 / memory
            errors = [x - level for level in self.level]
            self.sse = [keep * sse + e * e for sse, e in zip(self.sse, errors, strict=True)]
            self.level = [
                level + alpha * e
                for level, alpha, e in zip(self.level, ALPHAS, errors, strict=True)
            ]
            self.weight = keep * self.weight + 1.0
        self.count += 1

    def forecast(self) -> tuple[float, float]:
        """The next value's forecast and the one-step error's standard deviation."""
        best = self.sse.index(min(self.sse))
        return self.level[best], math.sqrt(self.sse[best] / max(self.weight, 1.0))

    def reset(self) -> None:
        self.level, self.sse, self.weight, self.count = [], [], 0.0, 0


@dataclass
class _Asset:
    window: int | None = None  # index of the current window (time // window_seconds)
    prices: deque[float] = field(default_factory=lambda: deque(maxlen=3))
    last_median: float | None = None
    sum_sq: float = 0.0
    returns: int = 0
    model: Smoother = field(default_factory=Smoother)  # of the log realised vol of past windows
    forecast: list[float] | None = None  # [window, mean, upper] for the current window
    alerted: int | None = None  # the window of the last alert
    sparse: bool = False  # its windows are ``sparse_window_seconds`` long
    probed: int = 0  # of its first windows (up to the probe), how many ended
    thin: int = 0  # ... and how many of those held fewer than ``min_returns`` returns


@dataclass
class _Windows:
    """One asset's rows cut into windows, for the batched path."""

    subject: str
    rows: NDArray[np.int64]
    time: NDArray[np.float64]
    price: NDArray[np.float64]
    index: NDArray[np.int64]  # per window: time // window_seconds
    starts: NDArray[np.int64]
    ends: NDArray[np.int64]
    firsts: NDArray[np.int64]  # the window's first row with a return
    lengths: NDArray[np.int64]  # returns in the window
    totals: NDArray[np.float64]  # sum of squared returns over the window
    running: NDArray[np.float64]  # per row: the window's sum of squared returns so far
    last_median: float
    last_prices: list[float]  # the asset's last three prices (before any cut)
    sparse: bool
    probed: int
    thin: int
    mean: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    upper: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    ready: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    model: Smoother = field(default_factory=Smoother)


class VolatilityDetector(Detector):
    """Realised volatility above the upper bound of the forecast interval (see the module)."""

    name: ClassVar[str] = "volatility"
    positive: ClassVar[frozenset[str]] = frozenset(
        {"window_seconds", "level", "width", "min_history", "max_history", "min_returns"}
    )

    def __init__(
        self,
        *,
        window_seconds: float = 86400.0,
        level: int = 99,
        width: float = 1.2,
        min_history: int = 21,
        max_history: int = 90,
        min_returns: int = 6,
        sparse_window_seconds: float = 7 * 86400.0,
    ) -> None:
        if not 0 < level < 100:
            raise InputError(
                f"bad parameters for detector 'volatility': level must be between 0 and 100 "
                f"(a percentage), got {level}",
                hint="e.g. 99 for the 99% interval",
            )
        self.window_seconds = window_seconds
        self.level = level
        self.width = width
        self.min_history = min_history
        self.max_history = max_history  # the errors' memory, in windows
        self.min_returns = min_returns
        # windows for an asset too sparse for ``window_seconds`` (0: none, never switch)
        self.sparse_window_seconds = sparse_window_seconds
        self._assets: dict[str, _Asset] = {}

    @property
    def probe(self) -> int:
        """How many of an asset's first windows decide whether they are too short (fewer
        than its warm-up, so no forecast is lost when they are)."""
        return min(PROBE_WINDOWS, self.min_history)

    def seconds(self, subject: str) -> float:
        """The length of ``subject``'s windows."""
        asset = self._assets.get(subject)
        return self._length(asset is not None and asset.sparse)

    def _length(self, sparse: bool) -> float:
        """The length of an asset's windows, longer ones (``sparse``) or not."""
        return self.sparse_window_seconds if sparse else self.window_seconds

    @property
    def _switches(self) -> bool:
        """Whether an asset's windows can become longer (``sparse_window_seconds`` is)."""
        return self.sparse_window_seconds > self.window_seconds

    def sparse_subjects(self) -> list[str]:
        """The assets given ``sparse_window_seconds`` windows, by name."""
        return sorted(subject for subject, asset in self._assets.items() if asset.sparse)

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, PriceObservation) or event.price <= 0:
            return []
        asset = self._assets.setdefault(event.subject, _Asset())
        window = int(event.time // self.seconds(event.subject))
        if asset.window is None:
            asset.window = window
        elif window != asset.window:
            window = self._close(asset, window, event.time)
        asset.prices.append(event.price)
        median = sorted(asset.prices)[len(asset.prices) // 2]
        if asset.last_median is not None and len(asset.prices) == 3:
            log_return = math.log(median / asset.last_median)
            asset.sum_sq += log_return * log_return
            asset.returns += 1
        asset.last_median = median
        return self._check(event, asset, window)

    def _close(self, asset: _Asset, window: int, time: float) -> int:
        """The window ended: keep its realised volatility, forecast the next window's; the
        next window's index (another when the asset's windows just became longer)."""
        jump = window - (asset.window or window)
        if self._restarts(jump, self._length(asset.sparse)) or (
            asset.sparse and self._dense(asset.returns)
        ):
            # a silence longer than a long window, or a long window dense enough for short
            # ones: what the feed is now is decided anew (its history kept if it keeps its
            # windows)
            if asset.sparse:
                asset.sparse, asset.probed, asset.thin = False, 0, 0
                return self._restart(asset, int(time // self.window_seconds))
            asset.probed, asset.thin = 0, 0
        elif not asset.sparse and asset.probed < self.probe:
            asset.probed += 1
            asset.thin += asset.returns < self.min_returns
            if self._too_thin(asset.probed, asset.thin):
                asset.sparse = True
                return self._restart(asset, int(time // self.sparse_window_seconds))
        if asset.returns >= self.min_returns and asset.sum_sq > 0:
            asset.model.update(0.5 * math.log(asset.sum_sq), self.max_history)
        elif jump > 1:
            asset.model.reset()  # a gap in the feed: the history no longer describes it
        asset.window, asset.sum_sq, asset.returns = window, 0.0, 0
        asset.forecast = None
        if asset.model.count >= self.min_history:
            mean, sigma = asset.model.forecast()
            z = Z.get(self.level / 100, 2.5758)
            asset.forecast = [float(window), mean, mean + self.width * z * sigma]
        return window

    def _restart(self, asset: _Asset, window: int) -> int:
        """The asset's windows change length from ``window`` on: its history is forgotten."""
        asset.model.reset()
        asset.window, asset.sum_sq, asset.returns, asset.forecast = window, 0.0, 0, None
        return window

    def _restarts(self, jump: Any, seconds: float) -> Any:
        """Whether windows ``jump`` apart (of ``seconds``; a number or an array) are a silence
        longer than a long window, after which an asset's windows are decided anew (when they
        can change)."""
        return (jump * seconds > self.sparse_window_seconds) & self._switches

    def _dense(self, returns: Any) -> Any:
        """Whether a long window that held ``returns`` returns (a number or an array) held
        enough for every short window in it: the feed has become dense, and its windows are
        decided anew."""
        return returns >= self.min_returns * self.sparse_window_seconds / self.window_seconds

    def _too_thin(self, probed: int, thin: int) -> bool:
        """Whether an asset whose first ``probed`` windows held ``thin`` too few returns
        gets longer windows: decided when the probe is done, most of them thin."""
        return self._switches and probed == self.probe and 2 * thin > probed

    def _check(self, event: PriceObservation, asset: _Asset, window: int) -> list[Alert]:
        if asset.forecast is None or asset.alerted == window or asset.sum_sq <= 0:
            return []
        realised = 0.5 * math.log(asset.sum_sq)
        _, mean, upper = asset.forecast
        if realised <= upper:
            return []
        asset.alerted = window
        seconds = self._length(asset.sparse)
        vol, expected, bound = math.exp(realised), math.exp(mean), math.exp(upper)
        return [
            Alert(
                detector=self.name,
                kind="volatility",
                severity="high" if vol > 2 * bound else "medium",
                subject=event.subject,
                time=event.time,
                score=round(realised - upper, 6),
                explanation=(
                    f"{event.subject}: realised volatility {vol:.2%} so far this "
                    f"{seconds / 3600:g} h window, above the {self.level}% forecast "
                    f"bound {bound:.2%} (forecast {expected:.2%})"
                ),
                evidence={
                    "realised_volatility": vol,
                    "forecast_volatility": expected,
                    "upper_bound": bound,
                    "level": self.level,
                    "window_start": window * seconds,
                    "returns": asset.returns,
                },
            )
        ]

    def forecast(self, subject: str) -> tuple[float, float] | None:
        """The current window's forecast volatility and its upper bound (None in warm-up):
        what a risk limit can be set from."""
        asset = self._assets.get(subject)
        if asset is None or asset.forecast is None:
            return None
        return math.exp(asset.forecast[1]), math.exp(asset.forecast[2])

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        found = self._alert_rows(events) if isinstance(events, PriceBatch) else None
        return super().evaluate_many(events) if found is None else in_row_order(found)

    def _alert_rows(self, batch: PriceBatch) -> list[tuple[int, Alert]] | None:
        """The same alerts and state as ``evaluate`` row by row, in bulk: per asset, the
        returns (``math.log``, as ``evaluate`` takes them) and each window's running sum of
        their squares, added one by one; then every asset's window ends at once, the
        forecast's closed-form update (``Smoother.update``) done in NumPy for all assets side
        by side with the same float operations; then ``_check`` on every row of each window
        whose final realised volatility comes within 1e-9 of its bound (the running sum only
        grows within a window, so no other window can alert)."""
        if any(subject in self._assets for subject in batch.subjects):
            return None  # state from before: row by row
        found: list[tuple[int, Alert]] = []
        assets: list[_Windows] = []
        for subject, rows, time, price in zip(
            batch.subjects, batch.rows, batch.times, batch.prices, strict=True
        ):
            if (price <= 0).any():  # evaluate skips such rows: take the row-by-row path
                for row, t, p in zip(rows.tolist(), time.tolist(), price.tolist(), strict=True):
                    found += [(row, a) for a in self.evaluate(PriceObservation(subject, t, p))]
            elif len(time):
                assets += self._segments(subject, rows, time, price)
        if assets:
            self._smooth(assets)
        for windows in assets:  # an asset's runs in order, on one state
            if windows.subject not in self._assets:
                self._assets[windows.subject] = _Asset()
            found += self._checks(windows, self._assets[windows.subject])
        return found

    def _segments(
        self,
        subject: str,
        rows: NDArray[np.int64],
        time: NDArray[np.float64],
        price: NDArray[np.float64],
    ) -> list[_Windows]:
        """One asset's rows cut into runs of windows of one length, as ``evaluate`` changes
        them (`_close`): a run ends where the probe makes them longer, or where a long silence
        or a dense long window ends longer ones; each run starts with a fresh model."""
        n = len(time)
        median = price.copy()
        if n > 1:
            median[1] = max(price[0], price[1])
        if n > 2:
            a, b, c = price[:-2], price[1:-1], price[2:]
            median[2:] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
        logs = np.zeros(n)
        logs[2:] = list(map(math.log, (median[2:] / median[1:-1]).tolist()))  # rows 0, 1: none
        squares = logs * logs
        tail = (float(median[-1]), price[-3:].tolist())
        runs: list[_Windows] = []
        begin, sparse, probed, thin = 0, False, 0, 0
        while True:
            seconds = self._length(sparse)
            index = (time[begin:] // seconds).astype(np.int64)
            at = np.flatnonzero(index[1:] != index[:-1]) + 1  # where each window ends
            jumps = index[at] - index[at - 1]
            ended = begin + at  # the rows where windows end, and the returns each held
            held = np.maximum(ended - np.maximum(np.concatenate(([begin], ended[:-1])), 2), 0)
            restart = self._restarts(jumps, seconds) | (sparse & self._dense(held))
            # the boundaries `_close` acts on: restarts, and (short windows) the probe's
            starts = np.flatnonzero(restart).tolist()
            end, change = n, None
            k = 0
            while k < len(ended):
                if sparse or probed >= self.probe:  # on to the next restart
                    later = bisect.bisect_left(starts, k)
                    if later == len(starts):
                        break
                    k = starts[later]
                if restart[k]:
                    if sparse:
                        end, change = int(ended[k]), False
                        break
                    probed, thin = 0, 0
                else:
                    probed += 1
                    thin += int(held[k]) < self.min_returns
                    if self._too_thin(probed, thin):
                        end, change = int(ended[k]), True
                        break
                k += 1
            runs.append(self._windows(subject, rows, time, price, squares, begin, end, sparse,
                                      probed, thin, tail))  # fmt: skip
            if change is None:
                return runs
            begin, sparse = end, change
            if not change:
                probed, thin = 0, 0

    def _windows(
        self,
        subject: str,
        rows: NDArray[np.int64],
        time: NDArray[np.float64],
        price: NDArray[np.float64],
        squares: NDArray[np.float64],
        begin: int,
        end: int,
        sparse: bool,
        probed: int,
        thin: int,
        tail: tuple[float, list[float]],
    ) -> _Windows:
        """Rows ``begin`` to ``end`` of one asset (``squares``: its squared returns, 0 at rows
        0 and 1) cut into windows of one length."""
        seconds = self._length(sparse)
        rows, time, price = rows[begin:end], time[begin:end], price[begin:end]
        squares = squares[begin:end]
        n = end - begin
        window = (time // seconds).astype(np.int64)
        cuts = np.flatnonzero(window[1:] != window[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [n]))
        # each window's running sums of squared returns, per row (0 before the window's first
        # return), added one by one as ``evaluate`` adds them: in a grid of a row per window,
        # left-aligned and zero-padded, cumsum running along the rows; or, when one window
        # holds far more prices than the others (the grid would be large), window by window
        firsts = np.maximum(starts, 2 - begin)
        lengths = np.maximum(ends - firsts, 0)
        column = np.arange(n) - np.repeat(firsts, ends - starts)
        inside = column >= 0
        running = np.zeros(n)
        widest = max(1, int(lengths.max()))
        if len(starts) * widest <= 4 * n + 100_000:
            grid = np.zeros((len(starts), widest))
            which = np.repeat(np.arange(len(starts)), ends - starts)[inside]
            grid[which, column[inside]] = squares[inside]
            running[inside] = np.cumsum(grid, axis=1)[which, column[inside]]
        else:
            for first, stop in zip(firsts.tolist(), ends.tolist(), strict=True):
                if first < stop:
                    running[first:stop] = np.cumsum(squares[first:stop])
        totals = np.where(lengths > 0, running[ends - 1], 0.0)
        return _Windows(
            subject, rows, time, price, window[starts], starts, ends, firsts, lengths, totals,
            running, tail[0], tail[1], sparse, probed, thin,
        )  # fmt: skip

    def _smooth(self, assets: list[_Windows]) -> None:
        """``_close`` at every window end of every asset: the model's updates and resets, and
        each window's forecast (``mean``, ``upper``; ``ready`` where not in warm-up)."""
        count, steps = len(assets), max(len(w.index) for w in assets)
        op = np.zeros((count, steps), dtype=np.int8)  # 1 update, 2 reset (at the window's start)
        value = np.zeros((count, steps))
        for a, w in enumerate(assets):
            if len(w.index) < 2:
                continue
            returns, totals = w.lengths[:-1], w.totals[:-1]
            update = (returns >= self.min_returns) & (totals > 0)
            previous = w.index[:-1]
            gap = np.where(previous == 0, 0, w.index[1:] - previous)
            op[a, 1 : len(w.index)] = np.where(update, 1, np.where(gap > 1, 2, 0))
            value[a, 1 : len(w.index)][update] = [
                0.5 * math.log(t) for t in totals[update].tolist()
            ]
        alphas = np.array(ALPHAS)
        level = np.zeros((count, len(ALPHAS)))
        sse = np.zeros((count, len(ALPHAS)))
        weight = np.zeros(count)
        seen = np.zeros(count, dtype=np.int64)
        lengths = np.array([len(w.index) for w in assets])
        keep = 1.0 - 1.0 / self.max_history
        spread = self.width * Z.get(self.level / 100, 2.5758)
        mean = np.zeros((count, steps))
        upper = np.zeros((count, steps))
        ready = np.zeros((count, steps), dtype=bool)
        for j in range(1, steps):
            update, x = op[:, j] == 1, value[:, j]
            later, first = update & (seen > 0), update & (seen == 0)
            if later.any():
                error = x[later, None] - level[later]
                sse[later] = keep * sse[later] + error * error
                level[later] = level[later] + alphas * error
                weight[later] = keep * weight[later] + 1.0
            if first.any():
                level[first], sse[first], weight[first] = x[first, None], 0.0, 0.0
            seen[update] += 1
            reset = op[:, j] == 2
            if reset.any():
                level[reset], sse[reset], weight[reset], seen[reset] = 0.0, 0.0, 0.0, 0
            now = (seen >= self.min_history) & (j < lengths)
            if now.any():
                best = np.argmin(sse[now], axis=1)
                chosen = np.flatnonzero(now)
                m = level[chosen, best]
                sigma = np.sqrt(sse[chosen, best] / np.maximum(weight[chosen], 1.0))
                mean[chosen, j], upper[chosen, j] = m, m + spread * sigma
                ready[chosen, j] = True
        for a, w in enumerate(assets):
            size = len(w.index)
            w.mean, w.upper, w.ready = mean[a, :size], upper[a, :size], ready[a, :size]
            model = Smoother()
            if seen[a]:
                model = Smoother(level[a].tolist(), sse[a].tolist(), float(weight[a]), int(seen[a]))
            w.model = model

    def _checks(self, w: _Windows, asset: _Asset) -> list[tuple[int, Alert]]:
        asset.sparse, asset.probed, asset.thin = w.sparse, w.probed, w.thin
        found: list[tuple[int, Alert]] = []
        with np.errstate(divide="ignore"):
            realised = 0.5 * np.log(w.totals)
        candidates = np.flatnonzero(w.ready & (w.totals > 0) & (realised > w.upper - 1e-9))
        for k in candidates.tolist():
            window = int(w.index[k])
            asset.window = window
            asset.forecast = [float(window), float(w.mean[k]), float(w.upper[k])]
            first = int(w.firsts[k])
            for i in range(int(w.starts[k]), int(w.ends[k])):
                asset.returns = max(0, i - first + 1)
                asset.sum_sq = float(w.running[i])
                event = PriceObservation(w.subject, float(w.time[i]), float(w.price[i]))
                found += [(int(w.rows[i]), alert) for alert in self._check(event, asset, window)]
                if asset.alerted == window:
                    break
        last = len(w.index) - 1
        asset.window = int(w.index[last])
        asset.sum_sq, asset.returns = float(w.totals[last]), int(w.lengths[last])
        asset.forecast = (
            [float(asset.window), float(w.mean[last]), float(w.upper[last])]
            if w.ready[last]
            else None
        )
        asset.model = w.model
        asset.prices = deque(w.last_prices, maxlen=3)
        asset.last_median = w.last_median
        return found

    def to_state(self) -> dict[str, Any]:
        params = self.params()
        assets = {}
        for subject, asset in self._assets.items():
            state = asdict(asset)
            state["prices"] = list(asset.prices)
            assets[subject] = state
        return {"params": params, "assets": assets}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(**state["params"])
        for subject, saved in state["assets"].items():
            rest = {k: v for k, v in saved.items() if k not in ("prices", "model")}
            asset = _Asset(**rest)
            asset.prices = deque(saved["prices"], maxlen=3)
            asset.model = Smoother(**saved["model"])
            detector._assets[subject] = asset
        return detector


# -- backtest -------------------------------------------------------------------------------


def window_log_vols(
    times: NDArray[np.float64],
    prices: NDArray[np.float64],
    window_seconds: float = 86400.0,
    min_returns: int = 6,
) -> tuple[NDArray[np.int64], NDArray[np.float64], list[NDArray[np.float64]]]:
    """Per window with enough returns: its index, its log realised volatility, and its
    returns (on the median of the last three prices, as the detector takes them)."""
    medians = np.array(
        [np.median(prices[max(0, i - 2) : i + 1]) for i in range(len(prices))], dtype=np.float64
    )
    returns = np.log(medians[3:] / medians[2:-1])
    index = (times[3:] // window_seconds).astype(np.int64)
    windows, vols, groups = [], [], []
    for w in np.unique(index):
        r = returns[index == w]
        if len(r) >= min_returns and np.any(r != 0):
            windows.append(int(w))
            vols.append(0.5 * math.log(float(np.sum(r**2))))
            groups.append(r)
    return np.array(windows, dtype=np.int64), np.array(vols), groups


@dataclass
class MethodScore:
    """Scores of one forecast method over the windows after the warm-up."""

    method: str
    windows: int = 0
    sq_error: float = 0.0  # sum of squared errors of log volatility
    qlike: float = 0.0  # sum of QLIKE losses on variance (robust to noisy realised variance)
    breaches: int = 0  # windows whose realised volatility passed the upper bound

    def summary(self) -> dict[str, Any]:
        n = max(1, self.windows)
        return {
            "method": self.method,
            "windows": self.windows,
            "rmse_log_vol": round(math.sqrt(self.sq_error / n), 4),
            "qlike": round(self.qlike / n, 4),
            "breach_rate": round(self.breaches / n, 4),
        }


def backtest(
    times: NDArray[np.float64],
    prices: NDArray[np.float64],
    *,
    window_seconds: float = 86400.0,
    level: int = 99,
    width: float = 1.2,
    min_history: int = 21,
    max_history: int = 90,
    lookback_windows: int = 7,
    ewma_lambda: float = 0.94,
    min_returns: int = 6,
    reference: bool = True,
    reference_width: float = 1.2,
) -> dict[str, MethodScore]:
    """One asset's one-window-ahead forecasts of log realised volatility, scored: the
    detector's online smoothing (``smoothing``), AutoETS refitted on the last ``max_history``
    windows at every window (``autoets``, the model it replaces; ``reference=False`` leaves it
    out, it takes ~4 ms a window), the rolling standard deviation of the last
    ``lookback_windows`` windows' returns, and RiskMetrics EWMA. Each baseline's interval is its
    forecast plus z × the standard deviation of its own past log errors (same level), so breach
    rates compare."""
    windows, vols, groups = window_log_vols(times, prices, window_seconds, min_returns)
    z = Z.get(level / 100, 2.5758)
    methods = ("smoothing", "autoets", "rolling_std", "ewma") if reference else (
        "smoothing", "rolling_std", "ewma"
    )  # fmt: skip
    scores = {m: MethodScore(m) for m in methods}
    errors: dict[str, list[float]] = {"rolling_std": [], "ewma": []}
    ewma_var: float | None = None
    model = Smoother()
    for k in range(len(windows)):
        per_window = len(groups[k])
        forecasts: dict[str, tuple[float, float, float]] = {}  # mean, upper, width used
        if k >= min_history and windows[k] - windows[k - 1] == 1:
            mean, sigma = model.forecast()
            forecasts["smoothing"] = (mean, mean + width * z * sigma, width)
            if reference:
                history = vols[max(0, k - max_history) : k]
                found = forecast_log_vol(list(history), level, reference_width)
                forecasts["autoets"] = (*found, reference_width)
            past = np.concatenate(groups[max(0, k - lookback_windows) : k])
            rolling = 0.5 * math.log(float(np.var(past)) * per_window + 1e-30)
            assert ewma_var is not None
            ewma = 0.5 * math.log(ewma_var * per_window + 1e-30)
            for name, mean in (("rolling_std", rolling), ("ewma", ewma)):
                spread = float(np.std(errors[name][-max_history:])) if errors[name] else 1.0
                forecasts[name] = (mean, mean + z * spread, 0.0)
        for name, (mean, upper, widened) in forecasts.items():
            score = scores[name]
            score.windows += 1
            score.sq_error += (vols[k] - mean) ** 2
            variance_mean = 2 * mean
            if widened:  # a forecast of log volatility: the variance's mean is higher
                variance_mean += 2 * ((upper - mean) / widened / z) ** 2
            ratio = math.exp(2 * vols[k] - variance_mean)  # realised / forecast variance
            score.qlike += ratio - math.log(ratio) - 1
            score.breaches += vols[k] > upper
        model.update(float(vols[k]), max_history)
        if k >= 1:  # the baselines' errors, kept from the start so their intervals exist
            past = np.concatenate(groups[max(0, k - lookback_windows) : k])
            rolling = 0.5 * math.log(float(np.var(past)) * per_window + 1e-30)
            errors["rolling_std"].append(vols[k] - rolling)
            if ewma_var is not None:
                errors["ewma"].append(vols[k] - 0.5 * math.log(ewma_var * per_window + 1e-30))
        for r in groups[k]:
            ewma_var = (
                r * r if ewma_var is None else ewma_lambda * ewma_var + (1 - ewma_lambda) * r * r
            )
    return scores
