"""Ingest a chain from any JSON-RPC endpoint into the canonical Parquet tables.

Blocks advance through a :class:`~proofmind.chain.events.ReorgSafeCursor` (persisted in
``OUT/_ingest.sqlite``), so ingestion resumes where it stopped and, in follow mode, undoes the
blocks a reorganisation replaced. Each committed range is one Parquet file per table
(``OUT/<table>/block_range=N/part-START-END.parquet``); a range is written first and committed
second, so a crash in between replays it, overwriting its own files: no duplicates, no gaps.

Fetching is asynchronous batched JSON-RPC (``eth_getBlockByNumber`` with full transactions and
``eth_getBlockReceipts``) through the chain layer's :class:`~proofmind.chain.batch.BatchedRpc`:
several batches in flight, the batch size halving when the node refuses or times out and
growing back on success, and HTTP 429 / rate-limit errors answered with exponential backoff
(the chain layer's retry policy; no error message shows the URL's secrets).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq

from proofmind.chain.batch import BULK_RETRY, BatchedRpc
from proofmind.chain.events import BlockRange, BlockRef, Reorg, ReorgSafeCursor
from proofmind.chain.retry import RetryPolicy, with_retries
from proofmind.errors import ChainError, InputError
from proofmind.intel.etherscan import BLOCK_RANGE
from proofmind.intel.tables import arrow_schema
from proofmind.store.state import StateDB

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TABLES = ("blocks", "transactions", "logs", "erc20_transfers", "native_transfers")


@dataclass
class IngestReport:
    blocks: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    reorgs: list[Reorg] = field(default_factory=list)
    backoffs: int = 0
    batch_size: int = 0
    seconds: float = 0.0


# --------------------------------------------------------------------------- rows


def _int(value: str | None) -> int | None:
    return None if value is None else int(value, 16)


def block_rows(
    blocks: list[dict[str, Any]], receipts: list[list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Canonical rows of every table for ``blocks`` and their receipts."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    for block, block_receipts in zip(blocks, receipts, strict=True):
        number, ts = int(block["number"], 16), int(block["timestamp"], 16)
        rows["blocks"].append(
            {
                "block_number": number,
                "hash": block["hash"],
                "parent_hash": block["parentHash"],
                "timestamp": ts,
                "miner": block["miner"].lower(),
                "gas_used": int(block["gasUsed"], 16),
                "gas_limit": int(block["gasLimit"], 16),
                "base_fee": _int(block.get("baseFeePerGas")),
                "tx_count": len(block["transactions"]),
            }
        )
        by_hash = {r["transactionHash"]: r for r in block_receipts}
        for tx in block["transactions"]:
            receipt = by_hash.get(tx["hash"], {})
            value = int(tx["value"], 16)
            status = _int(receipt.get("status"))
            rows["transactions"].append(
                {
                    "block_number": number,
                    "timestamp": ts,
                    "hash": tx["hash"],
                    "tx_index": int(tx["transactionIndex"], 16),
                    "nonce": int(tx["nonce"], 16),
                    "from_address": tx["from"].lower(),
                    "to_address": tx["to"].lower() if tx.get("to") else None,
                    "value_wei": value,
                    "gas": int(tx["gas"], 16),
                    "gas_price": _int(receipt.get("effectiveGasPrice") or tx.get("gasPrice")) or 0,
                    "gas_used": _int(receipt.get("gasUsed")),
                    "status": status,
                    "input": tx["input"],
                    # as Etherscan has it: the selector, or "0x" for a plain transfer
                    "method_id": tx["input"][:10],
                    "contract_address": (receipt.get("contractAddress") or "").lower() or None,
                }
            )
            if value > 0 and status == 1:
                rows["native_transfers"].append(
                    {
                        "block_number": number,
                        "timestamp": ts,
                        "hash": tx["hash"],
                        "from_address": tx["from"].lower(),
                        "to_address": (
                            tx.get("to") or receipt.get("contractAddress") or ""
                        ).lower(),
                        "value_wei": value,
                    }
                )
            for log in receipt.get("logs", []):
                topics = log["topics"]
                rows["logs"].append(
                    {
                        "block_number": number,
                        "hash": tx["hash"],
                        "log_index": int(log["logIndex"], 16),
                        "address": log["address"].lower(),
                        "topic0": topics[0] if topics else None,
                        "topic1": topics[1] if len(topics) > 1 else None,
                        "topic2": topics[2] if len(topics) > 2 else None,
                        "topic3": topics[3] if len(topics) > 3 else None,
                        "data": log["data"],
                    }
                )
                if topics and topics[0] == TRANSFER_TOPIC and len(topics) == 3:
                    rows["erc20_transfers"].append(
                        {
                            "block_number": number,
                            "timestamp": ts,
                            "hash": tx["hash"],
                            "log_index": int(log["logIndex"], 16),
                            "token": log["address"].lower(),
                            "from_address": "0x" + topics[1][-40:],
                            "to_address": "0x" + topics[2][-40:],
                            "value": str(int(log["data"], 16)) if log["data"] != "0x" else "0",
                            "token_decimals": None,
                            "token_name": None,
                            "token_symbol": None,
                        }
                    )
    return rows


SCHEMAS = {table: arrow_schema(table) for table in TABLES}


# --------------------------------------------------------------------------- files


def _part(out: Path, table: str, start: int, end: int) -> Path:
    bucket = start // BLOCK_RANGE * BLOCK_RANGE
    return out / table / f"block_range={bucket}" / f"part-{start:012d}-{end:012d}.parquet"


def _parts(out: Path, table: str) -> list[tuple[int, int, Path]]:
    found = []
    for path in (out / table).glob("block_range=*/part-*.parquet"):
        _, start, end = path.stem.split("-")
        found.append((int(start), int(end), path))
    return sorted(found)


def write_range(out: Path, start: int, end: int, rows: dict[str, list[dict[str, Any]]]) -> None:
    """One file per table for blocks start..end; leftovers of an uncommitted attempt at or
    after ``start`` are removed first. Each file is written to a temp name and renamed."""
    for table in TABLES:
        for s, _, path in _parts(out, table):
            if s >= start:
                path.unlink()
        target = _part(out, table, start, end)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(rows[table], schema=SCHEMAS[table]), tmp)
        tmp.replace(target)


def undo_from(out: Path, fork_block: int) -> None:
    """Remove every row of blocks ≥ ``fork_block`` (a reorg replaced them)."""
    for table in TABLES:
        for start, end, path in _parts(out, table):
            if start >= fork_block:
                path.unlink()
            elif end >= fork_block:
                kept = pq.read_table(path).filter(
                    pa.compute.less(pa.compute.field("block_number"), fork_block)
                )
                tmp = path.with_suffix(".tmp")
                pq.write_table(kept, tmp)
                renamed = path.with_name(f"part-{start:012d}-{fork_block - 1:012d}.parquet")
                tmp.replace(renamed)
                if renamed != path:
                    path.unlink()


# --------------------------------------------------------------------------- driver


def ingest(
    w3: Any,
    url: str,
    out: Path,
    *,
    chain_id: int,
    start: int | None = None,
    end: int | None = None,
    follow: bool = False,
    confirmations: int = 0,
    range_blocks: int = 1000,
    receipts: bool = True,
    poll_seconds: float = 2.0,
    progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    retry: RetryPolicy | None = None,
) -> IngestReport:
    """Ingest blocks ``start``..``end`` (or to the safe head; with ``follow`` keep going) from
    ``url`` into ``out``. Resumes from the checkpoint in ``out/_ingest.sqlite``. Without
    ``receipts``, transactions carry no status or gas used and no logs are read (blocks and
    transactions only, one request per block). ``retry`` says how long requests wait out a
    rate-limiting or overloaded node (default: the bulk requests ``BULK_RETRY``, the cursor's
    block-number reads the chain layer's default).

    ``start`` (default: block 0 in a new folder, the checkpoint in one written before) and
    ``end`` are checked against the chain head and the checkpoint before anything is written,
    so an impossible range fails instead of moving the checkpoint past blocks never read."""
    first = check_range(
        w3, out, start, end, follow=follow, confirmations=confirmations, retry=retry
    )
    out.mkdir(parents=True, exist_ok=True)
    state = StateDB(out / "_ingest.sqlite")
    fetcher = _BlockFetcher(BatchedRpc(url, policy=retry or BULK_RETRY))
    cursor = ReorgSafeCursor(
        w3,
        state,
        "ingest",
        chain_id=chain_id,
        confirmations=confirmations,
        start_block=first,
        max_blocks=range_blocks,
        fetch_headers=fetcher.headers,
        retry=retry,
    )
    report = IngestReport()
    began = time.perf_counter()
    try:
        _drive(cursor, fetcher, out, end, follow, receipts, poll_seconds, report, progress, stop)
    finally:
        fetcher.close()
        state.close()
    (out / "_ingest.json").write_text(
        json.dumps({"chain_id": chain_id, "next_block": cursor.next_block})
    )
    report.backoffs = fetcher.batcher.backoffs
    report.batch_size = fetcher.batcher.batch_size
    report.seconds = time.perf_counter() - began
    return report


def saved_next_block(out: Path) -> int | None:
    """The block the checkpoint in ``out`` resumes at; None when ``out`` has none."""
    path = out / "_ingest.sqlite"
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT next_block FROM cursors WHERE name='ingest'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


def check_range(
    w3: Any,
    out: Path,
    start: int | None,
    end: int | None,
    *,
    follow: bool = False,
    confirmations: int = 0,
    retry: RetryPolicy | None = None,
) -> int:
    """The first block to read; an InputError for a range that is impossible (reversed,
    beyond the chain head) or that disagrees with the checkpoint already in ``out``. The head
    is read with ``retry`` (the chain layer's default policy when None)."""
    if min(start or 0, end or 0) < 0:
        raise InputError("block numbers cannot be negative")
    if start is not None and end is not None and end < start:
        raise InputError(
            f"--to {end} is before --from {start}", hint="give --from ≤ --to (both inclusive)"
        )
    head = int(with_retries(lambda: w3.eth.block_number, policy=retry)) - confirmations
    confirmed = f" ({confirmations} confirmation(s) below the head)" if confirmations else ""
    if not follow:
        for flag, block in (("--to", end), ("--from", start)):
            if block is not None and block > head:
                raise InputError(
                    f"{flag} {block} is beyond the chain's last readable block {head}{confirmed}",
                    hint=f"give blocks up to {head}, or --follow to wait for new blocks",
                )
    saved = saved_next_block(out)
    if saved is None:
        return 0 if start is None else start
    if start is not None and start != saved:
        raise InputError(
            f"{out} already holds blocks up to {saved - 1} and resumes at block {saved}, "
            f"not at --from {start}",
            hint="drop --from to resume there, or ingest that range into a new folder",
        )
    if end is not None and end < saved:
        raise InputError(
            f"{out} already holds blocks up to {saved - 1}: --to {end} asks for nothing new",
            hint="give a later --to, or ingest that range into a new folder",
        )
    return saved


class _BlockFetcher:
    """Full blocks fetched once: the cursor's header checks and the rows use the same answers.

    Requests run on an event loop in a background thread, so the next range can be fetched
    (``prefetch``) while the current one is turned into rows and written.
    """

    def __init__(self, batcher: BatchedRpc) -> None:
        self.batcher = batcher
        self.cache: dict[int, dict[str, Any]] = {}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._session: aiohttp.ClientSession | None = None
        self._pending: list[concurrent.futures.Future[list[Any]]] = []
        self._prefetched: dict[int, dict[str, Any]] = {}

    def call_many(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        return asyncio.run_coroutine_threadsafe(self._call(calls), self.loop).result()

    async def _call(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return await self.batcher.call_many(self._session, calls)

    def prefetch(self, numbers: Sequence[int]) -> None:
        """Start fetching ``numbers`` in the background; :meth:`headers` will use them."""
        calls = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
        self._pending.append(asyncio.run_coroutine_threadsafe(self._call(calls), self.loop))

    def _settle(self) -> None:
        for future in self._pending:
            try:
                blocks = future.result()
            except ChainError:
                continue  # fetched again below, and its error raised there
            self._prefetched.update({int(b["number"], 16): b for b in blocks if b is not None})
        self._pending.clear()

    def headers(self, numbers: Sequence[int]) -> list[BlockRef | None]:
        """Blocks as the node has them: prefetched ones are used once, everything else (the
        cursor's check of its tip, its rewinds) is read afresh."""
        self._settle()
        found = {n: self._prefetched.pop(n) for n in numbers if n in self._prefetched}
        missing = [n for n in numbers if n not in found]
        if missing:
            blocks = self.call_many([("eth_getBlockByNumber", [hex(n), True]) for n in missing])
            found.update({int(b["number"], 16): b for b in blocks if b is not None})
        self.cache.update(found)
        return [_ref(found.get(n)) for n in numbers]

    def forget_through(self, number: int) -> None:
        """Drop cached blocks up to ``number`` (written and committed)."""
        for n in [n for n in self.cache if n <= number]:
            del self.cache[n]

    def forget_all(self) -> None:
        self._settle()
        self._prefetched.clear()
        self.cache.clear()

    def close(self) -> None:
        self._settle()
        if self._session is not None:
            asyncio.run_coroutine_threadsafe(self._session.close(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _prefetch_next(
    cursor: ReorgSafeCursor, fetcher: _BlockFetcher, first: int, end: int | None
) -> None:
    last = min(first + cursor.max_blocks - 1, cursor.safe_head())
    if end is not None:
        last = min(last, end)
    if last >= first:
        fetcher.prefetch(range(first, last + 1))


def _ref(block: dict[str, Any] | None) -> BlockRef | None:
    if block is None:
        return None
    return BlockRef(int(block["number"], 16), block["hash"], block["parentHash"])


def _drive(
    cursor: ReorgSafeCursor,
    fetcher: _BlockFetcher,
    out: Path,
    end: int | None,
    follow: bool,
    receipts: bool,
    poll_seconds: float,
    report: IngestReport,
    progress: Callable[[int], None] | None,
    stop: Callable[[], bool] | None,
) -> None:
    while not (stop and stop()):
        if end is not None and cursor.next_block > end:
            return
        step = cursor.poll()
        if isinstance(step, Reorg):
            fetcher.forget_all()  # prefetched blocks may be of the old branch
            undo_from(out, step.fork_block)
            report.reorgs.append(step)
            continue
        if step is None:
            if not follow:
                return
            time.sleep(poll_seconds)
            continue
        if end is not None and step.end > end:
            step = BlockRange(step.start, end, tuple(b for b in step.blocks if b.number <= end))
        blocks = [fetcher.cache.get(ref.number) for ref in step.blocks]
        if any(
            b is None or b["hash"] != ref.hash for b, ref in zip(blocks, step.blocks, strict=True)
        ):
            continue  # the chain moved while we read: poll again (it rewinds if it must)
        got: list[dict[str, Any]] = [b for b in blocks if b is not None]
        _prefetch_next(cursor, fetcher, step.end + 1, end)
        block_receipts: list[list[dict[str, Any]]] = [[] for _ in got]
        if receipts:
            answers = fetcher.call_many([("eth_getBlockReceipts", [b["number"]]) for b in got])
            block_receipts = [a or [] for a in answers]
        rows = block_rows(got, block_receipts)
        write_range(out, step.start, step.end, rows)
        cursor.commit(step)
        fetcher.forget_through(step.end)
        report.blocks += step.end - step.start + 1
        for table, table_rows in rows.items():
            report.rows[table] += len(table_rows)
        if progress is not None:
            progress(step.end - step.start + 1)
