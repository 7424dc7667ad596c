"""The ingestion driver: checks the requested range against the chain head and the
checkpoint, then moves the reorg-safe cursor range by range — fetch, map to rows, write,
commit — undoing the blocks a reorganisation replaced."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofmind.chain.batch import BULK_RETRY, BatchedRpc
from proofmind.chain.events import BlockRange, Reorg, ReorgSafeCursor
from proofmind.chain.retry import RetryPolicy, with_retries
from proofmind.errors import InputError
from proofmind.intel.ingest._mapper import TABLES, block_rows
from proofmind.intel.ingest._tables import undo_from, write_range
from proofmind.intel.ingest._transport import BlockFetcher
from proofmind.store.state import StateDB


@dataclass
class IngestReport:
    blocks: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    reorgs: list[Reorg] = field(default_factory=list)
    backoffs: int = 0
    batch_size: int = 0
    seconds: float = 0.0


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
    fetcher = BlockFetcher(BatchedRpc(url, policy=retry or BULK_RETRY))
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


def _prefetch_next(
    cursor: ReorgSafeCursor, fetcher: BlockFetcher, first: int, end: int | None
) -> None:
    last = min(first + cursor.max_blocks - 1, cursor.safe_head())
    if end is not None:
        last = min(last, end)
    if last >= first:
        fetcher.prefetch(range(first, last + 1))


def _drive(
    cursor: ReorgSafeCursor,
    fetcher: BlockFetcher,
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
