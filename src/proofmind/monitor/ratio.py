"""Discount of a derivative against its underlying (stETH/ETH, WBTC/BTC…), as a ratio series.

Each pair's ratio is an observation of its own subject ("STETH/ETH") fed to an inner
:class:`DepegDetector`, so the same rules hold: the ratio must first hold its peg for the
learning window, glitches are voted down by a median, one alert per episode. Feeds of the two
assets do not tick together: a ratio is formed only when the other leg's latest price is at most
``align_seconds`` (15 minutes) apart, since a ratio of two moments carries the underlying's
move between them as a false discount; it is refreshed on an update of either leg.

Pairs come from ``pairs`` and, unless ``auto_pairs`` is off, from the symbols themselves
(`symbol_pairs`): a symbol that ends or starts with another asset's symbol, or with what that
symbol wraps (``WETH`` wraps ``ETH``), is paired with it (``STETH``/``ETH``, ``RENBTC``/``WBTC``)
and watched for a discount against a ratio of 1 (``pegs`` sets another). Most such pairs never
hold a ratio of 1 for the learning window (``WSTETH``/``STETH``, ``XSUSHI``/``SUSHI``: they
accrue), so the learning rule keeps them quiet. An automatic pair is not formed while its
underlying trades within 10% of $1: a dollar coin and what derives from it are watched against
$1 by the depeg detector already.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from proofmind.monitor.api import Alert, Detector, Event, PriceBatch, PriceObservation, in_row_order
from proofmind.monitor.depeg import DepegDetector, Group, run_groups
from proofmind.monitor.registry import check_params

DOLLAR_BAND = 0.1
"""An automatic pair forms no ratio while its underlying trades within this of $1."""


def symbol_pairs(subjects: Iterable[str]) -> dict[str, str]:
    """Derivative → underlying, read from the symbols: ``D`` derives from ``U`` when ``D``
    ends or starts with ``U``'s base (``U`` itself, or what it wraps: ``WETH`` → ``ETH``), the
    base has at least 3 letters, and ``D`` is neither ``U`` nor the base. Of several
    underlyings a suffix beats a prefix (``RENBTC`` → ``WBTC``, not ``REN``), then the one
    ``D`` wraps (``W`` and its base: ``WSTETH`` → ``STETH``, not ``ETH``), then the shortest
    base (``ANKRETH`` and ``RSETH`` → ``ETH``, not ``RETH`` or ``SETH``, which only end their
    names), then the unwrapped one (``STETH`` → ``ETH`` when both ``ETH`` and ``WETH`` are
    there), then the first in order. Case is ignored; pairs come sorted by derivative."""
    pairs: dict[str, str] = {}
    seen: list[str] = []
    for subject in sorted(set(subjects)):
        add_symbol(pairs, seen, subject)
    return dict(sorted(pairs.items()))


def add_symbol(pairs: dict[str, str], seen: list[str], subject: str) -> None:
    """Update the `symbol_pairs` ``pairs`` of the symbols ``seen`` with one more symbol, in
    time linear in the symbols (the new one as a derivative, and as a better underlying)."""
    best = min((r for u in seen if (r := _rank(subject, u)) is not None), default=None)
    if best is not None:
        pairs[subject] = best[-1]
    for derivative in seen:
        rank = _rank(derivative, subject)
        if rank is None:
            continue
        current = pairs.get(derivative)
        held = _rank(derivative, current) if current is not None else None
        if held is None or rank < held:
            pairs[derivative] = subject
    seen.append(subject)


def _rank(derivative: str, underlying: str) -> tuple[int, int, int, int, str] | None:
    """How well ``underlying`` fits as ``derivative``'s (lower is better); None: it does not."""
    d, u = derivative.upper(), underlying.upper()
    base = u[1:] if u.startswith("W") and len(u) > 3 else u
    if len(base) < 3 or d in (u, base) or not (d.endswith(base) or d.startswith(base)):
        return None
    wraps = d == "W" + base  # WSTETH wraps STETH, WEETH wraps EETH
    return (int(not d.endswith(base)), int(not wraps), len(base), int(u != base), underlying)


class RatioDetector(Detector):
    name: ClassVar[str] = "ratio"
    positive: ClassVar[frozenset[str]] = frozenset({"pegs", "align_seconds"})

    def __init__(
        self,
        *,
        pairs: dict[str, str] | None = None,
        pegs: dict[str, float] | None = None,
        align_seconds: float = 900.0,
        depeg: dict[str, Any] | None = None,
        auto_pairs: bool = True,
    ) -> None:
        self.pairs = dict(pairs or {})  # derivative -> underlying
        self.pegs = dict(pegs or {})  # derivative -> expected ratio (1.0 when absent)
        self.align_seconds = align_seconds
        self.depeg = dict(depeg or {})
        self.auto_pairs = auto_pairs
        check_params(DepegDetector, self.depeg, "detector 'ratio' (its depeg parameters)")
        self._inner = DepegDetector(**self.depeg)
        self._latest: dict[str, list[float]] = {}  # subject -> [time, price]
        self._auto: dict[str, str] = {}  # the automatic pairs of the subjects seen so far
        self._seen: list[str] = []  # the subjects they were read from

    def watched(self) -> dict[str, str]:
        """Every pair watched now: the given ones, then the automatic ones of the subjects
        seen so far (a derivative given in ``pairs`` keeps its given underlying)."""
        return {**self.pairs, **{d: u for d, u in self._auto.items() if d not in self.pairs}}

    def watching(self, derivative: str) -> tuple[str | None, bool, float | None]:
        """The underlying ``derivative`` is paired with now (None: none), whether their
        ratio is learnt as pegged, and when the alert of its episode still open was raised
        (None: no episode open), as `DepegDetector.watching` tells them."""
        underlying = self.watched().get(derivative)
        if underlying is None:
            return None, False, None
        return underlying, *self._inner.watching(f"{derivative}/{underlying}")

    def _discover(self, subjects: Iterable[str]) -> None:
        """The automatic pairs of ``subjects`` (all subjects seen so far), from scratch."""
        self._auto, self._seen = {}, []
        if self.auto_pairs:
            for subject in sorted(set(subjects)):
                add_symbol(self._auto, self._seen, subject)
            self._auto = dict(sorted(self._auto.items()))

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, PriceObservation):
            return []
        if event.subject not in self._latest and self.auto_pairs:
            add_symbol(self._auto, self._seen, event.subject)  # linear, not a fresh search
            self._auto = dict(sorted(self._auto.items()))  # the array path's order
        self._latest[event.subject] = [event.time, event.price]
        alerts: list[Alert] = []
        for derivative, underlying in self.watched().items():
            if event.subject not in (derivative, underlying):
                continue
            legs = self._latest.get(derivative), self._latest.get(underlying)
            if legs[0] is None or legs[1] is None:
                continue
            if abs(legs[0][0] - legs[1][0]) > self.align_seconds:
                continue  # one leg is stale: a ratio of two moments is not a discount
            if self._dollar(derivative, legs[1][1]):
                continue
            ratio = legs[0][1] / legs[1][1] / self.pegs.get(derivative, 1.0)
            pair = PriceObservation(f"{derivative}/{underlying}", event.time, ratio)
            alerts += [self._relabel(a) for a in self._inner.evaluate(pair)]
        return alerts

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        found = self._alert_rows(events) if isinstance(events, PriceBatch) else None
        return super().evaluate_many(events) if found is None else in_row_order(found)

    def _alert_rows(self, batch: PriceBatch) -> list[tuple[int, Alert]] | None:
        """Each pair's ratio series is formed in NumPy exactly as ``evaluate`` forms it (the
        latest price of each leg up to and including the row, both legs within
        ``align_seconds``), then the inner depeg detector's batched path runs over all pairs
        at once (its common-mode rule looks across them). Ordered by row, then pair."""
        if self._latest or self._inner._assets or any(d == u for d, u in self.pairs.items()):
            return None  # state from before: row by row
        self._discover(batch.subjects)
        index = {subject: k for k, subject in enumerate(batch.subjects)}
        pairs = list(self.watched().items())
        groups: list[Group] = []
        for position, (derivative, underlying) in enumerate(pairs):
            if derivative not in index or underlying not in index:
                continue
            d, u = index[derivative], index[underlying]
            rows = np.union1d(batch.rows[d], batch.rows[u])
            legs = []
            for k in (d, u):
                at = np.searchsorted(batch.rows[k], rows, side="right") - 1
                safe = np.maximum(at, 0)
                legs.append((at >= 0, batch.times[k][safe], batch.prices[k][safe]))
            (seen_d, time_d, price_d), (seen_u, time_u, price_u) = legs
            keep = seen_d & seen_u & (np.abs(time_d - time_u) <= self.align_seconds)
            if derivative not in self.pairs:  # automatic: not while the underlying is ~$1
                keep &= np.abs(price_u - 1.0) > DOLLAR_BAND
            if not keep.any():
                continue  # no ratio formed: the inner detector never sees the pair
            at_d = np.maximum(np.searchsorted(batch.rows[d], rows, side="right") - 1, 0)
            is_d = batch.rows[d][at_d] == rows  # the row is the derivative's own
            time = np.where(is_d, time_d, time_u)[keep]
            ratio = (price_d / price_u / self.pegs.get(derivative, 1.0))[keep]
            keys = rows[keep] * len(pairs) + position
            groups.append((f"{derivative}/{underlying}", keys.astype(np.int64), time, ratio))
        raised = sorted(run_groups(self._inner, groups), key=lambda pair: pair[0])
        found = [(key // len(pairs), self._relabel(alert)) for key, alert in raised]
        for subject, time, price in zip(batch.subjects, batch.times, batch.prices, strict=True):
            self._latest[subject] = [float(time[-1]), float(price[-1])]
        return found

    def _dollar(self, derivative: str, underlying_price: float) -> bool:
        """An automatic pair whose underlying trades within `DOLLAR_BAND` of $1."""
        return derivative not in self.pairs and abs(underlying_price - 1.0) <= DOLLAR_BAND

    def _relabel(self, alert: Alert) -> Alert:
        return Alert(
            detector=self.name,
            kind="escalation" if alert.kind == "escalation" else "discount",
            severity=alert.severity,
            subject=alert.subject,
            time=alert.time,
            score=alert.score,
            explanation=alert.explanation.replace("trades", "ratio trades", 1),
            evidence=alert.evidence,
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "params": self.params(),
            "inner": self._inner.to_state(),
            "latest": {k: list(v) for k, v in self._latest.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(**state["params"])
        detector._inner = DepegDetector.from_state(state["inner"])
        detector._latest = {k: list(v) for k, v in state["latest"].items()}
        detector._discover(detector._latest)  # the automatic pairs follow from the subjects
        return detector
