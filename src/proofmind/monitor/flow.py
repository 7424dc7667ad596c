"""Abnormal value flow: an online anomaly model (river's Half-Space Trees) over per-block flow
features, with a warm-up and a bounded alert rate.

Each confirmed block becomes a feature vector of how value moved in it: transactions, reverted
ones, ether transfers and the ether they moved (total and largest, log scale), ERC-20 transfers,
distinct senders and recipients, and the largest fan-out of one sender. Half-Space Trees score
the block against the blocks of the last window (``window_size``) before learning from it:
scores near 1 are blocks unlike the recent past. An alert needs a score of at least
``threshold`` after the warm-up (two windows: the trees have no reference before), and at most
one alert per ``cooldown_blocks``, so a new regime raises one alert, not one per block.

Feature ranges are fixed (``LIMITS``), not learned: the trees are then a function of the seed
and of the last one or two windows of blocks only, so the state is those blocks' features (a
bounded, JSON-able list) and a restored detector is the same model exactly, by replaying them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable
from typing import Any, ClassVar, Self

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, BlockEvent, Detector, Event

LIMITS: dict[str, tuple[float, float]] = {
    "transactions": (0.0, 8.0),  # log1p counts: up to e^8 ≈ 3,000 per block
    "reverted": (0.0, 6.0),
    "native_transfers": (0.0, 8.0),
    "log_eth": (0.0, 12.0),  # log1p(ether): up to ≈ 160,000 ETH
    "log_max_eth": (0.0, 12.0),
    "erc20_transfers": (0.0, 8.0),
    "senders": (0.0, 8.0),
    "recipients": (0.0, 8.0),
    "fan_out": (0.0, 7.0),
}


def block_features(event: BlockEvent) -> tuple[dict[str, float], str | None, dict[str, Any]]:
    """The block's features, the address that moved the most ether in it, and evidence."""
    out_eth: dict[str, float] = defaultdict(float)
    recipients_of: dict[str, set[str]] = defaultdict(set)
    values = []
    for transfer in event.native_transfers:
        value = int(transfer.get("value_wei") or 0) / 1e18
        values.append(value)
        out_eth[transfer["from_address"]] += value
        recipients_of[transfer["from_address"]].add(transfer["to_address"])
    for transfer in event.erc20_transfers:
        recipients_of[transfer["from_address"]].add(transfer["to_address"])
    senders = {tx["from_address"] for tx in event.transactions}
    recipients = {t["to_address"] for t in (*event.native_transfers, *event.erc20_transfers)}
    total = sum(values)
    features = {
        "transactions": math.log1p(len(event.transactions)),
        "reverted": math.log1p(sum(tx["status"] == 0 for tx in event.transactions)),
        "native_transfers": math.log1p(len(event.native_transfers)),
        "log_eth": math.log1p(total),
        "log_max_eth": math.log1p(max(values, default=0.0)),
        "erc20_transfers": math.log1p(len(event.erc20_transfers)),
        "senders": math.log1p(len(senders)),
        "recipients": math.log1p(len(recipients)),
        "fan_out": math.log1p(max((len(r) for r in recipients_of.values()), default=0)),
    }
    top = max(out_eth, key=lambda a: out_eth[a]) if out_eth else None
    evidence = {
        "transactions": len(event.transactions),
        "native_transfers": len(event.native_transfers),
        "erc20_transfers": len(event.erc20_transfers),
        "ether_moved": round(total, 6),
        "top_sender": top,
        "top_sender_ether": round(out_eth[top], 6) if top else 0.0,
        "top_fan_out": max((len(r) for r in recipients_of.values()), default=0),
    }
    return features, top, evidence


class FlowAnomalyDetector(Detector):
    """Blocks whose value flow is unlike the recent blocks' (see the module's docstring)."""

    name: ClassVar[str] = "flow-anomaly"
    events: ClassVar[tuple[str, ...]] = ("block",)

    def __init__(
        self,
        *,
        window_size: int = 250,
        threshold: float = 0.75,
        cooldown_blocks: int = 50,
        n_trees: int = 15,
        height: int = 8,
        seed: int = 13,
    ) -> None:
        for label, value in (("window_size", window_size), ("cooldown_blocks", cooldown_blocks),
                             ("n_trees", n_trees), ("height", height)):  # fmt: skip
            if not isinstance(value, int) or value < 1:
                raise InputError(f"flow-anomaly: {label} must be an integer ≥ 1, got {value!r}")
        if not 0 < threshold <= 1:
            raise InputError(f"flow-anomaly: threshold must be in (0, 1], got {threshold!r}")
        self.window_size = window_size
        self.threshold = threshold
        self.cooldown_blocks = cooldown_blocks
        self.n_trees = n_trees
        self.height = height
        self.seed = seed
        self._model: Any = None
        self._seen = 0
        self._recent: list[list[float]] = []  # features since the previous window began
        self._last_alert: int | None = None

    def _trees(self) -> Any:
        if self._model is None:
            from river import anomaly  # ~1 s to import: only when the first block arrives

            limits: dict[Hashable, tuple[float, float]] = {k: v for k, v in LIMITS.items()}
            self._model = anomaly.HalfSpaceTrees(
                n_trees=self.n_trees,
                height=self.height,
                window_size=self.window_size,
                limits=limits,
                seed=self.seed,
            )
        return self._model

    def _learn(self, features: dict[str, float]) -> None:
        self._trees().learn_one(features)
        self._seen += 1
        self._recent.append([features[k] for k in LIMITS])
        keep = self.window_size + self._seen % self.window_size
        if len(self._recent) > keep:
            del self._recent[: len(self._recent) - keep]

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, BlockEvent):
            return []
        features, top, evidence = block_features(event)
        warm = self._seen >= 2 * self.window_size
        score = float(self._trees().score_one(features)) if warm else 0.0
        self._learn(features)
        if not warm or score < self.threshold:
            return []
        if self._last_alert is not None and event.number - self._last_alert < self.cooldown_blocks:
            return []
        self._last_alert = event.number
        return [
            Alert(
                detector=self.name,
                kind="flow",
                severity="high" if score >= 0.9 else "medium",
                subject=top or f"block:{event.number}",
                time=event.time,
                score=round(score, 6),
                explanation=(
                    f"block {event.number}: value flow unlike the last {self.window_size} blocks "
                    f"(anomaly score {score:.2f}): {evidence['native_transfers']} ether "
                    f"transfer(s) moving {evidence['ether_moved']:g} ETH, largest fan-out "
                    f"{evidence['top_fan_out']}"
                ),
                evidence={**evidence, "features": {k: round(v, 4) for k, v in features.items()}},
                block=event.number,
            )
        ]

    def to_state(self) -> dict[str, Any]:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {
            "params": params,
            "seen": self._seen,
            "recent": self._recent,
            "last_alert": self._last_alert,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(**state["params"])
        recent = [list(map(float, row)) for row in state["recent"]]
        # a fresh model that learns the kept blocks is the saved model: the trees depend on
        # the seed and the fixed limits, the masses on the current and the previous window
        for row in recent:
            detector._trees().learn_one(dict(zip(LIMITS, row, strict=True)))
        detector._seen = int(state["seen"])
        detector._recent = recent
        detector._last_alert = state["last_alert"]
        return detector
