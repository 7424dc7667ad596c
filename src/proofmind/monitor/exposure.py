"""Fraud / phishing exposure: a watched address receives from or sends to an address the fraud
model scores above a threshold.

The counterparty is scored with the trained fraud model (`proofmind fraud train`) on its
features from the canonical chain tables (`proofmind ingest`), the same features and model as
`fraud score`. An address with no row in the tables gets no score and raises nothing (an empty
feature vector would be scored confidently and wrongly). Scores are cached (bounded, least
recently used first out); the cache is not part of the state: it is rebuilt from the tables.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, BlockEvent, Detector, Event
from proofmind.monitor.watch import _addresses

_MISSING = -1.0


class FraudExposureDetector(Detector):
    """Parameters: ``addresses`` (the watched list), ``model`` (a `fraud train` model file),
    ``data`` (the canonical chain tables the features come from), ``threshold`` (0.5),
    ``min_wei`` (ignore smaller ether moves), ``cache`` (scores kept, 50,000)."""

    name: ClassVar[str] = "fraud-exposure"
    events: ClassVar[tuple[str, ...]] = ("block",)

    def __init__(
        self,
        *,
        addresses: list[str],
        model: str,
        data: str,
        threshold: float = 0.5,
        min_wei: int = 0,
        cache: int = 50_000,
    ) -> None:
        from proofmind.intel.fraud import load_model, require_data

        self.addresses = _addresses(addresses, "fraud-exposure: addresses")
        if not isinstance(threshold, int | float) or not 0.0 < float(threshold) < 1.0:
            raise InputError(f"fraud-exposure: threshold must be in (0, 1), got {threshold!r}")
        if not isinstance(min_wei, int) or min_wei < 0:
            raise InputError(f"fraud-exposure: min_wei must be an integer ≥ 0, got {min_wei!r}")
        if not isinstance(cache, int) or cache < 1:
            raise InputError(f"fraud-exposure: cache must be an integer ≥ 1, got {cache!r}")
        self.model_path, self.data = str(model), str(data)
        self.threshold, self.min_wei, self.cache_size = float(threshold), min_wei, cache
        self._model = load_model(Path(self.model_path))
        require_data(Path(self.data))
        self._set = set(self.addresses)
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._con: Any = None
        self._prefetched: Any = None  # the replayed segment whose counterparties are cached
        self._ahead: Any = None  # the replayed tables whose counterparties are all cached

    def score(self, address: str) -> float | None:
        """The model's score of ``address`` from the tables, or None if it has no data there."""
        address = address.lower()
        if address in self._cache:
            self._cache.move_to_end(address)
            value = self._cache[address]
            return None if value == _MISSING else value
        import numpy as np

        from proofmind.intel.etherscan import connect
        from proofmind.intel.fraud import address_features, with_data

        if self._con is None:
            self._con = connect(Path(self.data))
        value = _MISSING
        if with_data(self._con, [address]):
            features = address_features(self._con, [address])
            value = float(np.asarray(self._model.predict(features.matrix))[0])
        self._cache[address] = value
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return None if value == _MISSING else value

    def score_many(self, addresses: list[str]) -> None:
        """Score the addresses not in the cache yet with one query and one model call, and
        cache them (what ``score`` would give each, one by one)."""
        import numpy as np

        from proofmind.intel.etherscan import connect
        from proofmind.intel.fraud import address_features, with_data

        todo = list(dict.fromkeys(a.lower() for a in addresses if a.lower() not in self._cache))
        if not todo:
            return
        if self._con is None:
            self._con = connect(Path(self.data))
        present = with_data(self._con, todo)
        scores: dict[str, float] = {}
        if present:
            features = address_features(self._con, sorted(present))
            values = np.asarray(self._model.predict(features.matrix), dtype=np.float64)
            scores = dict(zip(features.addresses, values.tolist(), strict=True))
        for address in todo:
            self._cache[address] = float(scores.get(address, _MISSING))
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """Over a replayed chunk: only the blocks touching a watched address are built; their
        counterparties are scored together first (one model call), then each block evaluated."""
        from proofmind.monitor.blockreplay import BlockBatch
        from proofmind.monitor.watch import _blocks, touching

        batch = events if isinstance(events, BlockBatch) else None
        segment = batch.segment if batch is not None else None
        source = segment.source if segment is not None else None
        if batch is not None and source is not None and source is not self._ahead and len(batch):
            # the counterparties of the whole rest of the replay, from its tables, in one
            # query and one model call (if they fit the cache; else segment by segment)
            self._ahead = source
            found = source.counterparties(self.addresses, int(batch.numbers[0]), self.cache_size)
            self.score_many(found)
            if len(found) < self.cache_size:
                self._prefetched = segment = None
        elif source is not None and source is self._ahead and self._prefetched is None:
            segment = None  # all cached already
        if segment is not None and segment is not self._prefetched:
            # score the counterparties of the whole segment at once: one feature query and one
            # model call instead of one per chunk (the cache is filled, nothing else changes)
            self._prefetched = segment
            ahead = _blocks(segment, touching(segment, self._set))
            counterparties = [
                m[1] for e in ahead if isinstance(e, BlockEvent) for m in self._moves(e)
            ]
            self.score_many(counterparties[: self.cache_size])
        chosen = _blocks(events, touching(events, self._set))
        blocks = [e for e in chosen if isinstance(e, BlockEvent)]
        self.score_many([m[1] for e in blocks for m in self._moves(e)])
        alerts: list[Alert] = []
        for event in blocks:
            alerts.extend(self.evaluate(event))
        return alerts

    def _moves(self, event: BlockEvent) -> list[tuple[str, str, str, int, str, str]]:
        """(watched, counterparty, direction, value, asset, tx hash) of each successful move."""
        moves = []
        for tx in event.transactions:
            if tx["status"] == 0 or tx["to_address"] is None:
                continue
            value = int(tx["value_wei"] or 0)
            if value < self.min_wei and tx["input"] == "0x":
                continue
            moves.append((tx["from_address"], tx["to_address"], value, "ETH", tx["hash"]))
        for transfer in event.erc20_transfers:
            moves.append(
                (
                    transfer["from_address"],
                    transfer["to_address"],
                    int(transfer.get("value") or 0),
                    str(transfer.get("token", "")),
                    str(transfer.get("hash", "")),
                )
            )
        found = []
        for sender, receiver, value, asset, tx_hash in moves:
            if receiver in self._set and sender not in self._set:
                found.append((receiver, sender, "received from", value, asset, tx_hash))
            if sender in self._set and receiver not in self._set:
                found.append((sender, receiver, "sent to", value, asset, tx_hash))
        return found

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, BlockEvent):
            return []
        alerts = []
        for watched, other, direction, value, asset, tx_hash in self._moves(event):
            score = self.score(other)
            if score is None or score < self.threshold:
                continue
            alerts.append(
                Alert(
                    detector=self.name,
                    severity="critical" if score >= 0.9 else "high",
                    subject=watched,
                    time=event.time,
                    score=round(score, 6),
                    explanation=(
                        f"{watched} {direction} {other}, which the fraud model scores "
                        f"{score:.2f} (threshold {self.threshold:g})"
                    ),
                    evidence={
                        "hash": tx_hash,
                        "counterparty": other,
                        "direction": direction,
                        "asset": asset,
                        "value": str(value),
                        "model": self.model_path,
                    },
                    block=event.number,
                    kind=f"exposure:{tx_hash}:{other}",
                )
            )
        return alerts

    def to_state(self) -> dict[str, Any]:
        return {
            "addresses": self.addresses,
            "model": self.model_path,
            "data": self.data,
            "threshold": self.threshold,
            "min_wei": self.min_wei,
            "cache": self.cache_size,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(**state)
