"""The detector interface: what a detector sees, what it emits, and how its state persists.

A detector follows Forta's bot shape, ``evaluate(event) -> list[Alert]``. It keeps only bounded
state of its own (no module globals), which ``to_state()`` turns into a JSON-able dict and
``from_state()`` turns back into a detector that continues exactly where the first one stopped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Self

import numpy as np
from numpy.typing import NDArray

Severity = Literal["info", "low", "medium", "high", "critical"]


@dataclass(frozen=True, slots=True)
class PriceObservation:
    """One price of one asset: ``time`` in Unix seconds (UTC), ``price`` in the quote currency."""

    subject: str
    time: float
    price: float


@dataclass(frozen=True, slots=True)
class BlockEvent:
    """One confirmed block as canonical rows (the tables of `proofmind ingest`): its
    ``transactions`` (``status`` 0 for a reverted one), ``logs``, ``erc20_transfers`` and
    ``native_transfers`` (successful value transfers only)."""

    number: int
    hash: str
    time: float
    transactions: tuple[dict[str, Any], ...] = ()
    logs: tuple[dict[str, Any], ...] = ()
    erc20_transfers: tuple[dict[str, Any], ...] = ()
    native_transfers: tuple[dict[str, Any], ...] = ()


Event = PriceObservation | BlockEvent


@dataclass(frozen=True)
class PriceBatch:
    """A whole price series in columns, split per subject, for a detector's batched path.

    Rows are numbered in replay order (time order across subjects, ties in file order);
    ``rows[k]``, ``times[k]`` and ``prices[k]`` are subject ``subjects[k]``'s rows (ascending),
    times and prices. ``size`` is the number of rows in all."""

    subjects: tuple[str, ...]
    rows: tuple[NDArray[np.int64], ...]
    times: tuple[NDArray[np.float64], ...]
    prices: tuple[NDArray[np.float64], ...]
    size: int

    def observations(self) -> list[tuple[int, PriceObservation]]:
        """Every row as ``(row, PriceObservation)``, in replay order."""
        subject = np.empty(self.size, dtype=np.int64)
        time = np.empty(self.size, dtype=np.float64)
        price = np.empty(self.size, dtype=np.float64)
        for k, rows in enumerate(self.rows):
            subject[rows], time[rows], price[rows] = k, self.times[k], self.prices[k]
        names = self.subjects
        return [
            (row, PriceObservation(names[s], t, p))
            for row, (s, t, p) in enumerate(
                zip(subject.tolist(), time.tolist(), price.tolist(), strict=True)
            )
        ]


@dataclass(frozen=True, slots=True)
class Alert:
    """What a detector raises. ``score`` orders alerts of one detector (higher is worse)."""

    detector: str
    severity: Severity
    subject: str
    time: float
    score: float
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)
    block: int | None = None
    kind: str = ""

    @property
    def key(self) -> tuple[str, str, str, float]:
        """Identifies the alert: the same condition seen twice gives the same key."""
        return (self.detector, self.kind, self.subject, self.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Detector(ABC):
    """Base of every detector. Subclasses set ``name`` and implement the three methods.

    ``__init__`` takes only keyword parameters and stores them; ``to_state()`` must include
    whatever ``from_state()`` needs to rebuild the detector, parameters included.
    """

    name: ClassVar[str]
    # which events the detector wants: "price" (PriceObservation), "block" (BlockEvent)
    events: ClassVar[tuple[str, ...]] = ("price",)

    @abstractmethod
    def evaluate(self, event: Event) -> list[Alert]:
        """Look at one event (in time order per subject) and return the alerts it raises."""

    def evaluate_batch(self, batch: PriceBatch) -> list[tuple[int, Alert]]:
        """All alerts that ``evaluate`` raises over ``batch`` in replay order, each with the
        row that raised it, in the order ``evaluate`` raises them; afterwards the detector's
        state is what ``evaluate`` leaves. This default calls ``evaluate`` on every row; a
        detector may override it with a faster path that gives exactly the same result."""
        return stream_batch(self, batch)

    @abstractmethod
    def to_state(self) -> dict[str, Any]:
        """The detector's parameters and bounded state as a JSON-able dict."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """A detector that continues from ``state`` (what ``to_state()`` returned)."""


def stream_batch(detector: Detector, batch: PriceBatch) -> list[tuple[int, Alert]]:
    """``evaluate`` on every row of ``batch`` in replay order: the reference batched path."""
    found: list[tuple[int, Alert]] = []
    evaluate = detector.evaluate
    for row, observation in batch.observations():
        alerts = evaluate(observation)
        if alerts:
            found.extend((row, alert) for alert in alerts)
    return found
