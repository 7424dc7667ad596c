"""The detector interface: what a detector sees, what it emits, and how its state persists.

A detector follows Forta's bot shape, ``evaluate(event) -> list[Alert]``. It keeps only bounded
state of its own (no module globals), which ``to_state()`` turns into a JSON-able dict and
``from_state()`` turns back into a detector that continues exactly where the first one stopped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Self

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

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """The alerts of ``events`` (in order), exactly as ``evaluate`` on each in turn would
        raise them. Replay calls this with a chunk of events; a detector may override it with a
        faster path (columnar, cached) whose alerts and state after the chunk are the same."""
        alerts: list[Alert] = []
        for event in events:
            alerts.extend(self.evaluate(event))
        return alerts

    @abstractmethod
    def to_state(self) -> dict[str, Any]:
        """The detector's parameters and bounded state as a JSON-able dict."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """A detector that continues from ``state`` (what ``to_state()`` returned)."""
