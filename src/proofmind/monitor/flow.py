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
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

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
    positive: ClassVar[frozenset[str]] = frozenset(
        {"window_size", "threshold", "n_trees", "height"}
    )
    fractions: ClassVar[frozenset[str]] = frozenset({"threshold"})
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
        self._arrays: _ArrayTrees | None = None  # the trees as arrays while replaying in batches

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
        if self._arrays is not None:  # the batched path's masses, back into river's nodes
            self._arrays.store()
            self._arrays = None
        features = block_features(event)[0]
        warm = self._seen >= 2 * self.window_size
        score = float(self._trees().score_one(features)) if warm else 0.0
        self._learn(features)
        if not warm or score < self.threshold:
            return []
        if self._last_alert is not None and event.number - self._last_alert < self.cooldown_blocks:
            return []
        self._last_alert = event.number
        return [self._alert(event, score)]

    def _alert(self, event: BlockEvent, score: float) -> Alert:
        features, top, evidence = block_features(event)
        return self._flow_alert(event.number, event.time, score, features, top, evidence)

    def _flow_alert(
        self,
        number: int,
        time: float,
        score: float,
        features: dict[str, float],
        top: str | None,
        evidence: dict[str, Any],
    ) -> Alert:
        """The alert of block ``number``, from the per-event and the batched path alike."""
        return Alert(
            detector=self.name,
            kind="flow",
            severity="high" if score >= 0.9 else "medium",
            subject=top or f"block:{number}",
            time=time,
            score=round(score, 6),
            explanation=(
                f"block {number}: value flow unlike the last {self.window_size} blocks "
                f"(anomaly score {score:.2f}): {evidence['native_transfers']} ether "
                f"transfer(s) moving {_ether(evidence['ether_moved'])} ETH, largest fan-out "
                f"{evidence['top_fan_out']}"
            ),
            evidence={**evidence, "features": {k: round(v, 4) for k, v in features.items()}},
            block=number,
        )

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """Over a replayed chunk: the features of all its blocks at once, and the trees scored
        and taught a window segment at a time (the reference masses only change at the end of
        a window), with the same integer masses as river's one-row-at-a-time path, hence the
        same scores and alerts; the river model is left as the loop would leave it."""
        from proofmind.monitor.blockreplay import BlockBatch

        if not isinstance(events, BlockBatch) or not len(events):
            return super().evaluate_many(events)
        alerts: list[Alert] = []
        start = 0
        if not self._trees().trees:  # river builds the trees on the first row it learns
            alerts += self.evaluate(events[0])
            start = 1
        x = batch_features(events)[start:]
        if self._arrays is None:
            self._arrays = _ArrayTrees(self._trees())
        trees = self._arrays
        model, window = self._trees(), self.window_size
        counter, first_window = int(model.counter), bool(model._first_window)
        paths = trees.paths(x)
        scores = np.zeros(len(x), dtype=np.float64)
        row = 0
        while row < len(x):
            end = min(len(x), row + window - counter)
            warm_from = min(end, max(row, row + 2 * window - self._seen))
            if warm_from < end:
                scores[warm_from:end] = trees.scores(paths[warm_from:end])
            trees.learn(paths[row:end])
            self._seen += end - row
            counter += end - row
            if counter == window:
                trees.pivot()
                counter, first_window = 0, False
            row = end
        # the masses stay in the arrays until a row-by-row call needs the river model's
        model.counter, model._first_window = counter, first_window
        keep = self.window_size + self._seen % self.window_size
        self._recent = (self._recent + x[-keep:].tolist())[-keep:]
        raised = []
        for k in np.flatnonzero(scores >= self.threshold).tolist():
            number = int(events.numbers[start + k])
            if self._last_alert is not None and number - self._last_alert < self.cooldown_blocks:
                continue
            self._last_alert = number
            raised.append(k)
        if raised:
            evidence = _Evidence(events, [start + k for k in raised])
            alerts += [self._alert_at(events, start + k, x[k], float(scores[k]), evidence)
                       for k in raised]  # fmt: skip
        return alerts

    def _alert_at(
        self, batch: Any, i: int, row: NDArray[np.float64], score: float, found: _Evidence
    ) -> Alert:
        """``_alert`` of block ``i`` of a replayed chunk from its columns: the features are
        ``row`` (``batch_features``' numbers, the same as ``block_features``'), the evidence
        from the block's rows (the same sums in the same order)."""
        number, time = int(batch.numbers[i]), float(batch.times[i])
        features = dict(zip(LIMITS, row.tolist(), strict=True))
        top, evidence = found.at(i)
        return self._flow_alert(number, time, score, features, top, evidence)

    def to_state(self) -> dict[str, Any]:
        params = self.params()
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


class _Evidence:
    """``block_features``' evidence of single blocks of a replayed chunk, from its columns
    (converted to Python values once per chunk, and only the columns it needs)."""

    def __init__(self, batch: Any, blocks: list[int]) -> None:
        import pyarrow as pa

        self.batch = batch
        self.rows: dict[str, dict[str, list[Any]]] = {}
        self.start: dict[str, dict[int, int]] = {}  # block → its first row in ``rows``
        for name, columns in (("native_transfers", ("from_address", "to_address", "value_wei")),
                              ("erc20_transfers", ("from_address", "to_address"))):  # fmt: skip
            lo, hi = batch.offsets[name][blocks], batch.offsets[name][np.asarray(blocks) + 1]
            counts = hi - lo
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            take = np.repeat(lo - starts, counts) + np.arange(int(counts.sum()), dtype=np.int64)
            chosen = batch.tables[name].select(list(columns)).take(pa.array(take, pa.int64()))
            self.rows[name] = {c: chosen.column(c).to_pylist() for c in columns}
            self.start[name] = dict(zip(blocks, starts.tolist(), strict=True))

    def at(self, i: int) -> tuple[str | None, dict[str, Any]]:
        offsets = self.batch.offsets
        counts = {name: int(offsets[name][i + 1] - offsets[name][i]) for name in self.rows}
        n0 = self.start["native_transfers"][i]
        n1 = n0 + counts["native_transfers"]
        e0 = self.start["erc20_transfers"][i]
        e1 = e0 + counts["erc20_transfers"]
        native, erc20 = self.rows["native_transfers"], self.rows["erc20_transfers"]
        out_eth: dict[str, float] = defaultdict(float)
        recipients_of: dict[str, set[str]] = defaultdict(set)
        values = []
        for sender, receiver, wei in zip(native["from_address"][n0:n1],
                                         native["to_address"][n0:n1],
                                         native["value_wei"][n0:n1], strict=True):  # fmt: skip
            value = int(wei or 0) / 1e18
            values.append(value)
            out_eth[sender] += value
            recipients_of[sender].add(receiver)
        for sender, receiver in zip(erc20["from_address"][e0:e1], erc20["to_address"][e0:e1],
                                    strict=True):  # fmt: skip
            recipients_of[sender].add(receiver)
        total = sum(values)
        top = max(out_eth, key=lambda a: out_eth[a]) if out_eth else None
        transactions = offsets["transactions"]
        return top, {
            "transactions": int(transactions[i + 1] - transactions[i]),
            "native_transfers": n1 - n0,
            "erc20_transfers": e1 - e0,
            "ether_moved": round(total, 6),
            "top_sender": top,
            "top_sender_ether": round(out_eth[top], 6) if top else 0.0,
            "top_fan_out": max((len(r) for r in recipients_of.values()), default=0),
        }


class _ArrayTrees:
    """The Half-Space Trees of a river model as arrays (nodes in heap order), to score and learn
    many rows at once with the same integer masses, hence the same scores, as river's
    ``score_one`` / ``learn_one`` one row at a time; ``store()`` writes the masses back."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.height = int(model.height)
        size = 2 ** (self.height + 1) - 1
        columns = {name: k for k, name in enumerate(LIMITS)}
        self.nodes: list[list[Any]] = []
        trees = len(model.trees)
        self.feature = np.zeros((trees, size), dtype=np.int64)
        self.threshold = np.zeros((trees, size), dtype=np.float64)
        self.l_mass = np.zeros((trees, size), dtype=np.int64)
        self.r_mass = np.zeros((trees, size), dtype=np.int64)
        for t, root in enumerate(model.trees):
            order: list[Any] = [None] * size
            stack = [(root, 0)]
            while stack:
                node, h = stack.pop()
                order[h] = node
                self.l_mass[t, h], self.r_mass[t, h] = node.l_mass, node.r_mass
                if hasattr(node, "feature"):
                    self.feature[t, h] = columns[node.feature]
                    self.threshold[t, h] = node.threshold
                    stack += [(node.children[0], 2 * h + 1), (node.children[1], 2 * h + 2)]
            self.nodes.append(order)

    def paths(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        """(rows, trees, height + 1) heap indexes of the nodes each row walks through."""
        rows, (trees, size) = x.shape[0], self.feature.shape
        feature, threshold = self.feature.ravel(), self.threshold.ravel()
        base = (np.arange(trees, dtype=np.int64) * size)[None, :]
        values = np.ascontiguousarray(x).ravel()
        row_base = (np.arange(rows, dtype=np.int64) * x.shape[1])[:, None]
        out = np.zeros((rows, trees, self.height + 1), dtype=np.int64)
        index = np.zeros((rows, trees), dtype=np.int64)
        for depth in range(self.height):
            node = base + index
            value = values.take(row_base + feature.take(node))
            index = 2 * index + 1 + (value >= threshold.take(node))
            out[:, :, depth + 1] = index
        return out

    def scores(self, paths: NDArray[np.int64]) -> NDArray[np.float64]:
        """river's score_one of each row against the current reference masses."""
        model = self.model
        trees, size = self.r_mass.shape
        base = (np.arange(trees, dtype=np.int64) * size)[None, :, None]
        mass = self.r_mass.ravel().take(base + paths)  # (rows, trees, depth)
        weights = 2 ** np.arange(self.height + 1, dtype=np.int64)
        below = mass < model.size_limit
        # a node counts up to and including the first one under the size limit
        last = np.where(below.any(axis=2), below.argmax(axis=2), self.height)
        counted = np.arange(self.height + 1)[None, None, :] <= last[:, :, None]
        total = np.asarray((mass * weights * counted).sum(axis=(1, 2)), dtype=np.float64)
        scores: NDArray[np.float64] = 1.0 - total / float(model._max_score)
        return scores

    def learn(self, paths: NDArray[np.int64]) -> None:
        trees, size = self.l_mass.shape
        flat = (np.arange(trees)[None, :, None] * size + paths).ravel()
        self.l_mass += np.bincount(flat, minlength=trees * size).reshape(trees, size)

    def pivot(self) -> None:
        self.r_mass = self.l_mass
        self.l_mass = np.zeros_like(self.r_mass)

    def store(self) -> None:
        for t, order in enumerate(self.nodes):
            for h, node in enumerate(order):
                node.l_mass, node.r_mass = int(self.l_mass[t, h]), int(self.r_mass[t, h])


def _log1p(values: NDArray[Any]) -> NDArray[np.float64]:
    """``math.log1p`` of each value (NumPy's may differ in the last bit), once per distinct
    value."""
    if values.dtype.kind in "iu" and len(values) and values.min() >= 0 and values.max() < 65_536:
        # small counts: a table of math.log1p(k), indexed (no sort)
        table = np.array([math.log1p(k) for k in range(int(values.max()) + 1)], dtype=np.float64)
        out: NDArray[np.float64] = table[values]
        return out
    unique, inverse = np.unique(values, return_inverse=True)
    return np.array([math.log1p(v) for v in unique.tolist()], dtype=np.float64)[inverse]


def batch_features(batch: Any) -> NDArray[np.float64]:
    """``block_features`` of every block of a ``BlockBatch`` at once: the same numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(batch)
    txs, native, erc20 = (batch.tables[t] for t in ("transactions", "native_transfers",
                                                      "erc20_transfers"))  # fmt: skip
    tx_block = batch.block_of_rows("transactions")
    native_block = batch.block_of_rows("native_transfers")
    erc20_block = batch.block_of_rows("erc20_transfers")
    counts = {name: np.diff(batch.offsets[name]) for name in batch.offsets}
    status = txs.column("status").fill_null(-1).to_numpy(zero_copy_only=False)
    reverted = np.bincount(tx_block[status == 0], minlength=n)
    wei = native.column("value_wei").fill_null(0).cast(pa.string())
    ether = pc.cast(wei, pa.float64()).to_numpy(zero_copy_only=False) / 1e18
    total = np.zeros(n, dtype=np.float64)
    largest = np.zeros(n, dtype=np.float64)
    if len(ether):
        start = batch.offsets["native_transfers"][:-1]
        present = counts["native_transfers"] > 0
        largest[present] = np.maximum.reduceat(ether, start[present])
        single = counts["native_transfers"] == 1
        total[single] = ether[start[single]]
        values = ether.tolist()
        for i in np.flatnonzero(counts["native_transfers"] > 1).tolist():
            lo, hi = int(start[i]), int(start[i] + counts["native_transfers"][i])
            total[i] = sum(values[lo:hi])  # as block_features adds them
    # one code per address across the columns (null is its own code, -1)
    columns = [txs.column("from_address"), native.column("from_address"),
               native.column("to_address"), erc20.column("from_address"),
               erc20.column("to_address")]  # fmt: skip
    # one array first: encoding a chunked array gives each chunk its own dictionary, and
    # unifying them costs ten times the encoding
    parts = [a for c in columns for a in c.cast(pa.string()).chunks]
    joined = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    codes = pc.dictionary_encode(joined).indices
    code = codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    sizes = np.cumsum([0] + [len(c) for c in columns])
    tx_from, nat_from, nat_to, erc_from, erc_to = (code[sizes[k] : sizes[k + 1]]
                                                   for k in range(5))  # fmt: skip
    width = int(code.max()) + 1 if len(code) else 1

    def distinct_per_block(block: NDArray[np.int64], key: NDArray[np.int64]) -> NDArray[np.int64]:
        pairs = np.unique(block * width + key)
        return np.bincount(pairs // width, minlength=n)

    senders = distinct_per_block(tx_block, tx_from)
    recipients = distinct_per_block(
        np.concatenate([native_block, erc20_block]), np.concatenate([nat_to, erc_to])
    )
    fan_out = np.zeros(n, dtype=np.int64)
    block = np.concatenate([native_block, erc20_block])
    if len(block):
        triples = np.unique(
            (block * width + np.concatenate([nat_from, erc_from])) * width
            + np.concatenate([nat_to, erc_to])
        )
        per_sender, count = np.unique(triples // width, return_counts=True)
        np.maximum.at(fan_out, per_sender // width, count)
    raw = [counts["transactions"], reverted, counts["native_transfers"], total, largest,
           counts["erc20_transfers"], senders, recipients, fan_out]  # fmt: skip
    return np.stack([_log1p(np.asarray(r)) for r in raw], axis=1)


def _ether(amount: float) -> str:
    """An amount of ether to the microether, without an exponent: ``57.9``, ``1234567.5``."""
    return f"{amount:.6f}".rstrip("0").rstrip(".")
