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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, BlockEvent, Detector, Event
from proofmind.monitor.watch import _addresses

if TYPE_CHECKING:
    import duckdb

    from proofmind.monitor.blockreplay import BlockBatch

_MISSING = -1.0
# (watched, counterparty, direction, value, asset, tx hash)
_Move = tuple[str, str, str, int, str, str]


def _transfer_move(transfer: Mapping[str, Any]) -> tuple[str, str, int, str, str]:
    """(sender, receiver, value, token, tx hash) of an ERC-20 transfer."""
    return (
        transfer["from_address"],
        transfer["to_address"],
        int(transfer.get("value") or 0),
        str(transfer.get("token", "")),
        str(transfer.get("hash", "")),
    )


class FraudExposureDetector(Detector):
    """Parameters: ``addresses`` (the watched list), ``model`` (a `fraud train` model file),
    ``data`` (the canonical chain tables the features come from), ``threshold`` (0.5),
    ``min_wei`` (ignore smaller ether moves), ``cache`` (scores kept, 50,000)."""

    name: ClassVar[str] = "fraud-exposure"
    positive: ClassVar[frozenset[str]] = frozenset({"cache"})
    fractions: ClassVar[frozenset[str]] = frozenset({"threshold"})
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

    def _connection(self) -> duckdb.DuckDBPyConnection:
        from proofmind.intel.etherscan import connect

        if self._con is None:
            self._con = connect(Path(self.data))  # creating its views opens the files too
        con: duckdb.DuckDBPyConnection = self._con
        return con

    def score(self, address: str) -> float | None:
        """The model's score of ``address`` from the tables, or None if it has no data there."""
        address = address.lower()
        if address in self._cache:
            self._cache.move_to_end(address)
            value = self._cache[address]
            return None if value == _MISSING else value
        import numpy as np

        from proofmind.intel.etherscan import reading_folder
        from proofmind.intel.fraud import address_features, with_data

        def read() -> float:
            con = self._connection()
            if not with_data(con, [address]):
                return _MISSING
            features = address_features(con, [address])
            return float(np.asarray(self._model.predict(features.matrix))[0])

        value = reading_folder(Path(self.data), read)  # the folder may be a live ingestion's
        self._cache[address] = value
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return None if value == _MISSING else value

    def score_many(self, addresses: list[str], *, all_present: bool = False) -> None:
        """Score the addresses not in the cache yet with one query and one model call, and
        cache them (what ``score`` would give each, one by one). ``all_present``: the caller
        knows each has rows in the tables (the check is skipped)."""
        import numpy as np

        from proofmind.intel.etherscan import reading_folder
        from proofmind.intel.fraud import address_features, with_data

        todo = list(dict.fromkeys(a.lower() for a in addresses if a.lower() not in self._cache))
        if not todo:
            return

        def read() -> dict[str, float]:
            con = self._connection()
            present = set(todo) if all_present else with_data(con, todo)
            if not present:
                return {}
            features = address_features(con, sorted(present))
            values = np.asarray(self._model.predict(features.matrix), dtype=np.float64)
            return dict(zip(features.addresses, values.tolist(), strict=True))

        scores = reading_folder(Path(self.data), read)  # the folder may be a live ingestion's
        for address in todo:
            self._cache[address] = float(scores.get(address, _MISSING))
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """Over a replayed chunk: only the rows touching a watched address are read; their
        counterparties are scored together first (one model call), then the moves alerted in
        the loop's order."""
        from proofmind.monitor.blockreplay import BlockBatch

        if not isinstance(events, BlockBatch):
            blocks = [e for e in events if isinstance(e, BlockEvent)]
            self.score_many([move[1] for event in blocks for move in self._moves(event)])
            return super().evaluate_many(events)
        segment = events.segment
        source = segment.source if segment is not None else None
        if source is not None and source is not self._ahead and len(events):
            # the counterparties of the whole rest of the replay, from its tables, in one
            # query and one model call (if they fit the cache; else segment by segment)
            self._ahead = source
            found = source.counterparties(self.addresses, int(events.numbers[0]), self.cache_size)
            # read from the rows of the tables the features come from: each has data there
            same = Path(source.folder).resolve() == Path(self.data).resolve()
            self.score_many(found, all_present=same)
            if len(found) < self.cache_size:
                self._prefetched = segment = None
        elif source is not None and source is self._ahead and self._prefetched is None:
            segment = None  # all cached already
        if segment is not None and segment is not self._prefetched:
            # score the counterparties of the whole segment at once: one feature query and one
            # model call instead of one per chunk (the cache is filled, nothing else changes)
            self._prefetched = segment
            ahead = [move[1] for _, move in self._batch_moves(segment)]
            self.score_many(ahead[: self.cache_size])
        moves = self._batch_moves(events)
        self.score_many([move[1] for _, move in moves])
        alerts: list[Alert] = []
        for i, move in moves:
            alerts.extend(self._alerts([move], int(events.numbers[i]), float(events.times[i])))
        return alerts

    def _batch_moves(self, batch: BlockBatch) -> list[tuple[int, _Move]]:
        """The moves of a replayed chunk with the index of their block, in the loop's order."""
        from proofmind.monitor.watch import WatchDetector, touching_records

        # the columns the watch detector reads (a superset of a move's): one conversion for both
        found: list[tuple[int, _Move]] = []
        columns = WatchDetector.COLUMNS
        for (i, _, _), table, record in touching_records(batch, self._set, columns):
            move = self._tx_move(record) if table == "transactions" else _transfer_move(record)
            if move is not None:
                found.extend((i, m) for m in self._sides(move))
        return found

    def _tx_move(self, tx: Mapping[str, Any]) -> tuple[str, str, int, str, str] | None:
        """(sender, receiver, value, asset, tx hash) of a successful transaction, if counted."""
        if tx["status"] == 0 or tx["to_address"] is None:
            return None
        value = int(tx["value_wei"] or 0)
        if value < self.min_wei and tx["input"] == "0x":
            return None
        return (tx["from_address"], tx["to_address"], value, "ETH", tx["hash"])

    def _sides(self, move: tuple[str, str, int, str, str]) -> list[_Move]:
        """(watched, counterparty, direction, value, asset, tx hash) of a move, per watched side
        whose other side is not watched."""
        sender, receiver, value, asset, tx_hash = move
        found = []
        if receiver in self._set and sender not in self._set:
            found.append((receiver, sender, "received from", value, asset, tx_hash))
        if sender in self._set and receiver not in self._set:
            found.append((sender, receiver, "sent to", value, asset, tx_hash))
        return found

    def _moves(self, event: BlockEvent) -> list[_Move]:
        """(watched, counterparty, direction, value, asset, tx hash) of each successful move."""
        moves = [m for tx in event.transactions if (m := self._tx_move(tx)) is not None]
        moves += [_transfer_move(transfer) for transfer in event.erc20_transfers]
        return [side for move in moves for side in self._sides(move)]

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, BlockEvent):
            return []
        return self._alerts(self._moves(event), event.number, event.time)

    def _alerts(self, moves: list[_Move], number: int, time: float) -> list[Alert]:
        alerts = []
        for watched, other, direction, value, asset, tx_hash in moves:
            score = self.score(other)
            if score is None or score < self.threshold:
                continue
            alerts.append(
                Alert(
                    detector=self.name,
                    severity="critical" if score >= 0.9 else "high",
                    subject=watched,
                    time=time,
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
                    block=number,
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
