"""Replay block detectors over ingested chain tables (the folder `proofmind ingest etherscan|rpc`
writes): the same ``BlockEvent``s the live monitor sees, rebuilt from the canonical rows.

Rows are grouped per block, blocks in ascending order; within a block, transactions by
``tx_index`` and transfers by ``log_index`` (then hash). A reverted transaction keeps ``status``
0 and moves nothing: the ether transfers of a block are its successful transactions with a
value, as `ingest rpc` derives them (read from the ``native_transfers`` table when one was
written). The ``blocks`` table, when present, gives every block (empty ones too) and its hash;
without it, the blocks are those with a transaction or a transfer, and their hash is empty.

Blocks come in chunks (``BlockBatch``): a sequence of ``BlockEvent``s built lazily from Arrow
columns. A detector's ``evaluate_many`` gets the whole chunk and may use the columns directly;
the alerts of a chunk are then put in the order the block-by-block loop raises them (block, then
detector), so both paths give the same list.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, overload

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, BlockEvent, Detector
from proofmind.monitor.replay import Detection, EventWindow, poisson_interval, wilson

TABLES = ("transactions", "erc20_transfers")
_ORDER = {
    "transactions": "block_number, tx_index, hash",
    "erc20_transfers": "block_number, log_index, hash, token, from_address, to_address, value",
    "native_transfers": "block_number, hash, from_address, to_address",
    "logs": "block_number, log_index, hash",
}

T = TypeVar("T")


def native_from_transactions(transactions: pa.Table) -> pa.Table:
    """The ether transfers of blocks when no native_transfers table was written: their
    successful transactions with a value (the rows `ingest rpc` derives from the receipts),
    ``to_address`` the contract created when there is no recipient, sorted as the table is
    read (block, hash, sender, recipient)."""
    value = transactions.column("value_wei")
    moved = pc.and_(
        pc.equal(transactions.column("status"), 1),
        pc.greater(value, pa.scalar(0, value.type)),
    )
    wanted = ["block_number", "timestamp", "hash", "from_address", "to_address",
              "contract_address", "value_wei"]  # fmt: skip
    rows = transactions.select(wanted).filter(moved)  # not the other columns (input is large)
    recipient = pc.coalesce(rows["to_address"], rows["contract_address"], pa.scalar(""))
    native = pa.table(
        {
            "block_number": rows["block_number"],
            "timestamp": rows["timestamp"],
            "hash": rows["hash"],
            "from_address": rows["from_address"],
            "to_address": recipient,
            "value_wei": rows["value_wei"],
        }
    )
    keys = [(k, "ascending") for k in _ORDER["native_transfers"].split(", ")]
    return native.take(pc.sort_indices(native, keys)).combine_chunks()


def prefer_steady_allocator() -> pa.MemoryPool | None:
    """Switch Arrow's default memory pool from mimalloc (pyarrow's default) to jemalloc (or
    the system's allocator), unless ``ARROW_DEFAULT_MEMORY_POOL`` chose one; the pool it
    replaced, for the caller to put back (None: nothing changed). Measured on the eth_fraud
    block tables (docs/benchmarks.md): with mimalloc, filtering and taking a segment's rows
    took 0.3–0.6 s a time instead of 0.01–0.03 s, varying from run to run, which made block
    replay 15–40% slower; price replay was unaffected. An array keeps the pool it was
    allocated from, so putting the old one back later is safe."""
    import os

    previous = pa.default_memory_pool()
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or previous.backend_name != "mimalloc":
        return None
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return previous


def is_block_tables(path: Path) -> bool:
    """Whether ``path`` is a folder of ingested tables (transactions or ERC-20 transfers)."""
    return path.is_dir() and any(any((path / t).glob("**/*.parquet")) for t in TABLES)


@dataclass
class BlockBatch(Sequence[BlockEvent]):
    """Consecutive blocks as Arrow tables sorted by block, with each block's row offsets."""

    numbers: NDArray[np.int64]
    times: NDArray[np.float64]
    hashes: list[str]
    tables: dict[str, pa.Table]
    offsets: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    # the batch of consecutive blocks this one was cut from (read in one query), if any: a
    # detector may look ahead in it to fill a cache (never to raise alerts)
    segment: BlockBatch | None = None
    base: int = 0  # the index of this batch's first block in ``segment``
    # the ``BlockTables`` a segment was read from: a detector may query them ahead (to fill a
    # cache, never to raise alerts)
    source: Any = None
    _memo: dict[int, BlockEvent] = field(default_factory=dict, repr=False)
    # what detectors derive from the chunk and may share (keyed by what was derived)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, table in self.tables.items():
            blocks = table.column("block_number").to_numpy()
            found = np.searchsorted(blocks, self.numbers, side="left")
            self.offsets[name] = np.append(found, len(blocks)).astype(np.int64)

    def __len__(self) -> int:
        return len(self.numbers)

    def rows(self, table: str) -> int:
        return self.tables[table].num_rows if table in self.tables else 0

    def block_of_rows(self, table: str) -> NDArray[np.int64]:
        """For each row of ``table``, the index of its block in this batch."""
        counts = np.diff(self.offsets[table])
        return np.repeat(np.arange(len(self), dtype=np.int64), counts)

    @cached_property
    def _dicts(self) -> dict[str, list[dict[str, Any]]]:
        return {name: table.to_pylist() for name, table in self.tables.items()}

    def _event(self, i: int, rows: Callable[[str, int, int], list[dict[str, Any]]]) -> BlockEvent:
        parts: dict[str, tuple[dict[str, Any], ...]] = {}
        for name in ("transactions", "logs", "erc20_transfers", "native_transfers"):
            if name in self.tables:
                lo, hi = int(self.offsets[name][i]), int(self.offsets[name][i + 1])
                parts[name] = tuple(rows(name, lo, hi)) if hi > lo else ()
        return BlockEvent(int(self.numbers[i]), self.hashes[i], float(self.times[i]), **parts)

    @cached_property
    def events(self) -> list[BlockEvent]:
        """Every block of the batch as a ``BlockEvent`` (the rows converted once)."""
        dicts = self._dicts
        return [self._event(i, lambda n, lo, hi: dicts[n][lo:hi]) for i in range(len(self))]

    def event(self, i: int) -> BlockEvent:
        """Block ``i`` alone (converts only its rows)."""
        if "events" in self.__dict__:
            return self.events[i]
        return self._event(i, lambda n, lo, hi: self.tables[n].slice(lo, hi - lo).to_pylist())

    def events_at(self, indexes: Sequence[int]) -> list[BlockEvent]:
        """The blocks at ``indexes`` (ascending), their rows converted in one go; a block
        converted once (for another detector, or through the segment) is not converted again."""
        if "events" in self.__dict__:
            return [self.events[i] for i in indexes]
        if self.segment is not None:
            return self.segment.events_at([self.base + i for i in indexes])
        todo = sorted({i for i in indexes if i not in self._memo})
        for i, event in zip(todo, self._convert(todo), strict=True):
            self._memo[i] = event
        return [self._memo[i] for i in indexes]

    def _convert(self, indexes: Sequence[int]) -> list[BlockEvent]:
        if not indexes:
            return []
        chosen = np.asarray(indexes, dtype=np.int64)
        rows: dict[str, list[dict[str, Any]]] = {}
        starts: dict[str, NDArray[np.int64]] = {}
        for name, table in self.tables.items():
            lo, hi = self.offsets[name][chosen], self.offsets[name][chosen + 1]
            counts = hi - lo
            take = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
            take += np.arange(int(counts.sum()), dtype=np.int64)
            rows[name] = table.take(pa.array(take, pa.int64())).to_pylist()
            starts[name] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out = []
        for k, i in enumerate(chosen.tolist()):

            def part(name: str, lo: int, hi: int, k: int = k) -> list[dict[str, Any]]:
                a, b = int(starts[name][k]), int(starts[name][k + 1])
                return rows[name][a:b]

            out.append(self._event(i, part))
        return out

    @overload
    def __getitem__(self, index: int) -> BlockEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BlockEvent]: ...

    def __getitem__(self, index: int | slice) -> BlockEvent | Sequence[BlockEvent]:
        if isinstance(index, slice):
            return self.events[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.event(index)

    def __iter__(self) -> Iterator[BlockEvent]:
        return iter(self.events)


def lru_replay(
    codes: NDArray[np.int64], start: int, capacity: int
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """A least-recently-used memory of ``capacity`` keys, replayed over a sequence of accesses
    at once. ``codes`` are the keys (integers): first the ``start`` keys the memory holds
    (oldest first), then the accesses. Returns, for each access, whether its key was held just
    before it, and the positions in ``codes`` of the keys held after the last access (oldest
    first).

    Such a memory always holds the ``capacity`` most recently accessed distinct keys, so a key
    is held at access t, last accessed at p, when fewer than ``capacity`` distinct keys were
    accessed between p and t: surely when t − p − 1 < capacity; otherwise counted (the
    accesses in between that are the first of their key since p)."""
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    same = codes[order[1:]] == codes[order[:-1]]
    prev = np.full(n, -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    at = np.arange(start, n, dtype=np.int64)
    last = prev[start:]
    held = (last >= 0) & (at - last - 1 < capacity)
    counted = np.flatnonzero((last >= 0) & ~held)
    if int((at[counted] - last[counted]).sum()) > LRU_COUNT_BUDGET * max(n, 1):
        # counting would cost more than the memory itself: keep it, access by access
        return _lru_loop(codes, start, capacity)
    for k in counted.tolist():
        p, t = int(last[k]), start + k
        held[k] = int(np.count_nonzero(prev[p + 1 : t] < p)) < capacity
    final = np.ones(n, dtype=np.bool_)
    final[order[:-1][same]] = False  # a key accessed again later is not its last access
    return held, np.flatnonzero(final)[-capacity:]


LRU_COUNT_BUDGET = 64
"""`lru_replay` counts the distinct keys between a key's accesses when they are more than the
capacity apart; when these spans add up to more than this many times the accesses (keys that
come back long after, as on a busy chain), it keeps the memory access by access instead."""


def _lru_loop(
    codes: NDArray[np.int64], start: int, capacity: int
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """`lru_replay` by keeping the memory itself (an ordered dict of key → its last position)."""
    from collections import OrderedDict

    memory: OrderedDict[int, int] = OrderedDict()
    keys = codes.tolist()
    for position, key in enumerate(keys[:start]):
        memory[key] = position
    while len(memory) > capacity:
        memory.popitem(last=False)
    held = np.zeros(len(keys) - start, dtype=np.bool_)
    for position in range(start, len(keys)):
        key = keys[position]
        if key in memory:
            held[position - start] = True
            memory.move_to_end(key)
        memory[key] = position
        if len(memory) > capacity:
            memory.popitem(last=False)
    return held, np.fromiter(memory.values(), dtype=np.int64, count=len(memory))


def string_codes(
    *columns: pa.Array | pa.ChunkedArray,
) -> tuple[pa.Array, list[NDArray[np.int64]]]:
    """One integer code per distinct string across ``columns`` (no nulls): the distinct
    strings (an Arrow array, indexed by code), and each column's codes."""
    parts: list[pa.Array] = []
    for column in columns:
        if isinstance(column, pa.ChunkedArray):
            parts.extend(c.cast(pa.string()) for c in column.chunks)
        else:
            parts.append(column.cast(pa.string()))
    joined = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    encoded = pc.dictionary_encode(joined)
    code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    sizes = np.cumsum([0] + [len(c) for c in columns])
    return encoded.dictionary, [code[sizes[k] : sizes[k + 1]] for k in range(len(columns))]


class BlockTables:
    """The ingested tables under ``folder``, read as ``BlockBatch``es of ``chunk`` blocks; the
    memory held is about ``chunk × segment`` blocks' rows."""

    def __init__(self, folder: Path, *, chunk: int = 20_000, segment: int = 10) -> None:
        from proofmind.intel.etherscan import connect

        if not folder.is_dir():
            raise InputError(
                f"{folder} is not a folder of block tables",
                hint="write one with `proofmind ingest etherscan FILES -o DIR` or `ingest rpc`",
            )
        if not is_block_tables(folder):
            raise InputError(
                f"{folder} holds no ingested block tables (transactions/ or erc20_transfers/ "
                "with Parquet files)",
                hint="write them with `proofmind ingest etherscan FILES -o DIR` or `ingest rpc`",
            )
        if chunk < 1 or segment < 1:
            raise InputError(f"chunk and segment must be ≥ 1, got {chunk} and {segment}")
        self.folder, self.chunk, self.segment = folder, chunk, segment
        try:
            self.con = connect(folder)
            present = {r[0] for r in self.con.execute("SHOW TABLES").fetchall()}
            self.has = {t: t in present for t in ("blocks", "logs", "native_transfers")}
            self._blocks = self._block_list()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0][:200]
            raise InputError(f"cannot read the block tables in {folder}: {first}") from exc

    def _block_list(self) -> tuple[NDArray[np.int64], NDArray[np.float64], list[str]]:
        if self.has["blocks"]:
            sql = (
                "SELECT block_number, any_value(timestamp), any_value(hash) FROM blocks "
                "GROUP BY 1 ORDER BY 1"
            )
        else:
            sql = (
                "SELECT block_number, min(timestamp), '' FROM (SELECT block_number, timestamp "
                "FROM transactions UNION ALL SELECT block_number, timestamp FROM erc20_transfers) "
                "GROUP BY 1 ORDER BY 1"
            )
        table = self._query(lambda: self.con.execute(sql).to_arrow_table())
        numbers = table.column(0).to_numpy().astype(np.int64)
        times = table.column(1).cast(pa.float64()).fill_null(0.0).to_numpy()
        return numbers, times.astype(np.float64), [str(h) for h in table.column(2).to_pylist()]

    @property
    def numbers(self) -> NDArray[np.int64]:
        """The block numbers, ascending."""
        return self._blocks[0]

    @property
    def block_count(self) -> int:
        return len(self._blocks[0])

    def row_count(self, after: int | None = None) -> int:
        where = "" if after is None else f" WHERE block_number > {int(after)}"
        counts = " + ".join(f"(SELECT count(*) FROM {table}{where})" for table in TABLES)
        found = self._query(lambda: self.con.execute(f"SELECT {counts}").fetchone())
        return int(found[0]) if found else 0

    def first_last_time(self) -> tuple[float, float] | None:
        times = self._blocks[1]
        return (float(times.min()), float(times.max())) if len(times) else None

    def counterparties(self, addresses: Sequence[str], first: int, limit: int) -> list[str]:
        """The addresses that moved ether or tokens to or from one of ``addresses`` (lower-case)
        from block ``first`` on, by the first block they did so in, at most ``limit``."""
        wanted = "(SELECT unnest($1::VARCHAR[]))"
        part = (
            "SELECT CASE WHEN from_address IN {w} THEN to_address ELSE from_address END AS c, "
            "block_number FROM {t} WHERE block_number >= $2 "
            "AND (from_address IN {w} OR to_address IN {w})"
        )
        sql = (
            f"SELECT c FROM ({part.format(w=wanted, t='transactions')} UNION ALL "
            f"{part.format(w=wanted, t='erc20_transfers')}) WHERE c IS NOT NULL "
            "GROUP BY c ORDER BY min(block_number), c LIMIT $3"
        )
        args = [list(addresses), int(first), int(limit)]
        rows = self._query(lambda: self.con.execute(sql, args).fetchall())
        return [str(r[0]) for r in rows]

    def _query(self, run: Callable[[], T]) -> T:
        """``run``; again when one of the folder's files went away meanwhile (a live
        ingestion's folder merges its parts: see `reading_folder`)."""
        from proofmind.intel.etherscan import reading_folder

        return reading_folder(self.folder, run)

    def _read(self, name: str, first: int, last: int) -> pa.Table:
        sql = f"SELECT * FROM {name} WHERE block_number BETWEEN {first} AND {last} ORDER BY "
        return self._query(
            lambda: self.con.execute(sql + _ORDER[name]).to_arrow_table().combine_chunks()
        )

    def _segment(self, first: int, last: int) -> dict[str, pa.Table]:
        """The rows of blocks ``first`` to ``last``, per table, sorted."""
        tables = {name: self._read(name, first, last) for name in TABLES}
        if self.has["native_transfers"]:
            tables["native_transfers"] = self._read("native_transfers", first, last)
        else:
            tables["native_transfers"] = native_from_transactions(tables["transactions"])
        if self.has["logs"]:
            tables["logs"] = self._read("logs", first, last)
        return tables

    def batches(self, after: int | None = None) -> Iterator[BlockBatch]:
        """The blocks after block ``after`` (all when None), ``chunk`` at a time. The tables
        are read ``segment`` chunks per query (one scan), then sliced without copying. While
        the batches are being read, Arrow's default pool is `prefer_steady_allocator`'s; the
        process's own comes back when they are done (or the iteration is closed)."""
        previous = prefer_steady_allocator()
        try:
            yield from self._batches(after)
        finally:
            if previous is not None:
                pa.set_memory_pool(previous)

    def _batches(self, after: int | None) -> Iterator[BlockBatch]:
        numbers, times, hashes = self._blocks
        start = 0 if after is None else int(np.searchsorted(numbers, after, side="right"))
        step = self.chunk * self.segment
        for seg_lo in range(start, len(numbers), step):
            seg_hi = min(seg_lo + step, len(numbers))
            tables = self._segment(int(numbers[seg_lo]), int(numbers[seg_hi - 1]))
            whole = BlockBatch(numbers[seg_lo:seg_hi], times[seg_lo:seg_hi],
                               hashes[seg_lo:seg_hi], tables, source=self)  # fmt: skip
            for lo in range(0, seg_hi - seg_lo, self.chunk):
                hi = min(lo + self.chunk, seg_hi - seg_lo)
                parts = {}
                for name, table in tables.items():
                    a, b = int(whole.offsets[name][lo]), int(whole.offsets[name][hi])
                    parts[name] = table.slice(a, b - a)
                yield BlockBatch(whole.numbers[lo:hi], whole.times[lo:hi],
                                 whole.hashes[lo:hi], parts, segment=whole,
                                 base=lo)  # fmt: skip


def replay_blocks(
    batches: Iterator[BlockBatch] | Sequence[BlockBatch],
    detectors: list[Detector],
    *,
    batched: bool = True,
    on_batch: Callable[[BlockBatch], None] | None = None,
) -> list[Alert]:
    """The alerts of the block detectors over ``batches``, in the order of a block-by-block
    loop (for each block, each detector in turn). With ``batched``, each detector sees a whole
    batch through ``evaluate_many``; without, ``evaluate`` block by block (the reference)."""
    wanted = [d for d in detectors if "block" in d.events]
    alerts: list[Alert] = []
    for batch in batches:
        if not batched:
            for event in batch:
                for detector in wanted:
                    alerts.extend(detector.evaluate(event))
        else:
            found: list[tuple[int, int, int, Alert]] = []
            for position, detector in enumerate(wanted):
                for k, alert in enumerate(detector.evaluate_many(batch)):
                    found.append((alert.block if alert.block is not None else -1, position, k,
                                  alert))  # fmt: skip
            found.sort(key=lambda item: item[:3])
            alerts.extend(item[3] for item in found)
        if on_batch is not None:
            on_batch(batch)
    return alerts


# --------------------------------------------------------------------------- scoring


@dataclass
class BlockEvaluation:
    """Event-level scores of block alerts against windows of subjects (addresses, tokens)."""

    events: int
    detected: int
    delays_hours: list[float]
    false_alerts: int
    months: float
    missed: list[EventWindow]
    per_detector: dict[str, dict[str, int]]
    found: list[Detection] = field(default_factory=list)  # each detected window's first alert

    def summary(self) -> dict[str, Any]:
        low, high = wilson(self.detected, self.events)
        false_low, false_high = poisson_interval(self.false_alerts)
        per_month = self.false_alerts / self.months if self.months else 0.0
        return {
            "events": self.events,
            "detected": self.detected,
            "recall": self.detected / self.events if self.events else None,
            "recall_95ci": [round(low, 4), round(high, 4)] if self.events else None,
            "median_delay_hours": statistics.median(self.delays_hours)
            if self.delays_hours
            else None,
            "max_delay_hours": max(self.delays_hours) if self.delays_hours else None,
            "false_alerts": self.false_alerts,
            "months": round(self.months, 3),
            "false_per_month": per_month,
            "false_per_month_95ci": [
                round(false_low / self.months, 4) if self.months else None,
                round(false_high / self.months, 4) if self.months else None,
            ],
            "per_detector": self.per_detector,
        }


def evaluate_block_alerts(
    alerts: list[Alert], events: list[EventWindow], span: tuple[float, float] | None
) -> BlockEvaluation:
    """A window is detected when an alert on its subject (any block detector) falls inside it;
    the delay runs from the window's start to that first alert. An alert on no window of its
    subject is a false alert; the rate is per month (30.44 days) of replayed history."""
    windows: dict[str, list[EventWindow]] = {}
    for window in events:
        windows.setdefault(window.subject.lower(), []).append(window)
    by_subject: dict[str, list[Alert]] = {}
    per_detector: dict[str, dict[str, int]] = {}
    false = 0
    for alert in alerts:
        subject = alert.subject.lower()
        by_subject.setdefault(subject, []).append(alert)
        inside = any(w.start <= alert.time <= w.end for w in windows.get(subject, []))
        counts = per_detector.setdefault(alert.detector, {"alerts": 0, "false": 0})
        counts["alerts"] += 1
        if not inside:
            counts["false"] += 1
            false += 1
    delays, missed, found = [], [], []
    for subject, own in windows.items():
        ordered = sorted(by_subject.get(subject, []), key=lambda a: a.time)
        for window in own:
            hits = [a for a in ordered if window.start <= a.time <= window.end]
            if hits:
                delays.append(max(0.0, hits[0].time - window.start) / 3600)
                found.append(Detection(window, hits[0], None, delays[-1]))
            else:
                missed.append(window)
    months = (span[1] - span[0]) / (30.44 * 86400) if span else 0.0
    return BlockEvaluation(
        events=len(events),
        detected=len(events) - len(missed),
        delays_hours=delays,
        false_alerts=false,
        months=months,
        missed=missed,
        per_detector=per_detector,
        found=found,
    )
