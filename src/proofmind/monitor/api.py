"""The detector interface: what a detector sees, what it emits, and how its state persists.

A detector follows Forta's bot shape, ``evaluate(event) -> list[Alert]``. It keeps only bounded
state of its own (no module globals), which ``to_state()`` turns into a JSON-able dict and
``from_state()`` turns back into a detector that continues exactly where the first one stopped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal, Self, get_args

import numpy as np
from numpy.typing import NDArray

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)  # lowest first


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


@dataclass(frozen=True, eq=False)
class PriceBatch(Sequence[PriceObservation]):
    """A whole price series as a sequence of ``PriceObservation`` in replay order (time order
    across subjects, ties in file order), held in columns per subject, so that a detector's
    ``evaluate_many`` can work on arrays.

    ``rows[k]``, ``times[k]`` and ``prices[k]`` are subject ``subjects[k]``'s row numbers
    (ascending), times and prices; ``size`` is the number of rows in all."""

    subjects: tuple[str, ...]
    rows: tuple[NDArray[np.int64], ...]
    times: tuple[NDArray[np.float64], ...]
    prices: tuple[NDArray[np.float64], ...]
    size: int

    def __len__(self) -> int:
        return self.size

    @cached_property
    def _columns(self) -> tuple[list[int], list[float], list[float]]:
        subject = np.empty(self.size, dtype=np.int64)
        time = np.empty(self.size, dtype=np.float64)
        price = np.empty(self.size, dtype=np.float64)
        for k, rows in enumerate(self.rows):
            subject[rows], time[rows], price[rows] = k, self.times[k], self.prices[k]
        return subject.tolist(), time.tolist(), price.tolist()

    def __getitem__(self, index: int) -> PriceObservation:  # type: ignore[override]
        subject, time, price = self._columns
        return PriceObservation(self.subjects[subject[index]], time[index], price[index])

    def __iter__(self) -> Iterator[PriceObservation]:
        names = self.subjects
        for s, t, p in zip(*self._columns, strict=True):
            yield PriceObservation(names[s], t, p)


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
    # parameters checked when the detector is loaded by name (every number in a parameter must
    # be finite and ≥ 0, and of the annotated type): these must be > 0, these ≤ 1
    positive: ClassVar[frozenset[str]] = frozenset()
    fractions: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def evaluate(self, event: Event) -> list[Alert]:
        """Look at one event (in time order per subject) and return the alerts it raises."""

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """The alerts of ``events`` (in order), exactly as ``evaluate`` on each in turn would
        raise them. Replay calls this with a chunk of events; a detector may override it with a
        faster path (columnar, cached) whose alerts and state after the chunk are the same."""
        alerts: list[Alert] = []
        for event in events:
            alerts.extend(self.evaluate(event))
        return alerts

    def params(self) -> dict[str, Any]:
        """The keyword parameters the detector was built with: its public attributes, as
        ``__init__`` stores them (state lives in ``_``-prefixed ones)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @abstractmethod
    def to_state(self) -> dict[str, Any]:
        """The detector's parameters and bounded state as a JSON-able dict."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """A detector that continues from ``state`` (what ``to_state()`` returned)."""


def in_row_order(found: list[tuple[int, Alert]]) -> list[Alert]:
    """Alerts found with the row that raised them, in the order ``evaluate`` raises them: by
    row, a row's alerts in the order found."""
    found.sort(key=lambda pair: pair[0])
    return [alert for _, alert in found]
