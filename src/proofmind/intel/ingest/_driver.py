"""The ingestion driver: checks the requested range against the chain head and the
checkpoint, then moves the reorg-safe cursor range by range — fetch, map to rows, write,
commit — undoing the blocks a reorganisation replaced.

It is an asyncio coroutine (:func:`ingest_async`, a service for the shared runner: it returns at
a range boundary once its shutdown event is set); :func:`ingest` runs it to its end for a
synchronous caller. Requests run on the caller's loop; the synchronous parts (the cursor and
its SQLite checkpoint, mapping rows and writing Parquet) run on one worker thread, so the next
range is fetched while the current one is written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from proofmind.chain.batch import BULK_RETRY, BatchedRpc
from proofmind.chain.events import BlockRange, Reorg, ReorgSafeCursor
from proofmind.chain.retry import Outage, RetryPolicy, with_retries
from proofmind.errors import InputError
from proofmind.intel.ingest._mapper import TABLES, block_rows
from proofmind.intel.ingest._tables import compact, tidy, undo_from, write_range
from proofmind.intel.ingest._transport import BlockFetcher
from proofmind.store.lock import ServiceLock
from proofmind.store.state import StateDB
from proofmind.text import count_of

T = TypeVar("T")
log = logging.getLogger("proofmind.ingest")


@dataclass
class IngestReport:
    """What ingestion did: blocks and rows written, reorgs undone, and (filled as it goes, so
    a service can report it live) the next block to write, the last block it may read (the
    head less the confirmations, as last seen) and when it last committed a range. Given to
    `ingest_async` again, it counts on across runs (a hosted ingestion's restarts)."""

    blocks: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    reorgs: list[Reorg] = field(default_factory=list)
    backoffs: int = 0
    batch_size: int = 0
    seconds: float = 0.0
    next_block: int | None = None
    safe_head: int | None = None
    committed_at: float | None = None


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
    """:func:`ingest_async` run to its end on an event loop of its own (for a synchronous
    caller; ``stop`` is asked at every range boundary and between polls in follow mode)."""
    return asyncio.run(
        ingest_async(
            w3, url, out, chain_id=chain_id, start=start, end=end, follow=follow,
            confirmations=confirmations, range_blocks=range_blocks, receipts=receipts,
            poll_seconds=poll_seconds, progress=progress, stop=stop, retry=retry,
        )
    )  # fmt: skip


async def ingest_async(
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
    shutdown: asyncio.Event | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Ingest blocks ``start``..``end`` (or to the safe head; with ``follow`` keep going) from
    ``url`` into ``out``. Resumes from the checkpoint in ``out/_ingest.sqlite``. Without
    ``receipts``, transactions carry no status or gas used and no logs are read (blocks and
    transactions only, one request per block). ``retry`` says how long requests wait out a
    rate-limiting or overloaded node (default: the bulk requests ``BULK_RETRY``, the cursor's
    block-number reads the chain layer's default).

    ``start`` (default: block 0 in a new folder, the checkpoint in one written before) and
    ``end`` are checked against the chain head and the checkpoint before anything is written,
    so an impossible range fails instead of moving the checkpoint past blocks never read.

    Once ``shutdown`` is set (or ``stop()`` answers true) it returns at the next range
    boundary: the range being written is finished and committed first, and a follow-mode
    wait for new blocks ends at once. Cancelled instead, it leaves the range being written
    uncommitted (the next run writes it again, over its own files).

    ``report`` (default: a new one) is filled as ingestion goes and returned."""
    loop = asyncio.get_running_loop()
    with (
        contextlib.ExitStack() as held,
        ThreadPoolExecutor(1, thread_name_prefix="proofmind-ingest") as worker,
    ):

        def off(work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
            return loop.run_in_executor(worker, work, *args)

        first = await off(
            lambda: check_range(
                w3,
                out,
                start,
                end,
                follow=follow,
                confirmations=confirmations,
                retry=retry,
                chain_id=chain_id,
            )
        )
        out.mkdir(parents=True, exist_ok=True)
        held.enter_context(  # released after the worker has finished
            ServiceLock(
                out / "_ingest.lock",
                f"ingesting into {out}",
                hint="stop that ingestion first (`ingest rpc --follow` or `serve --ingest`): "
                "two ingestions into one folder share its checkpoint and tables; or write to "
                "another folder",
            ).held()
        )
        await off(_tidy, out)
        state = await off(lambda: StateDB(out / "_ingest.sqlite"))
        fetcher = BlockFetcher(BatchedRpc(url, policy=retry or BULK_RETRY), loop)
        report = IngestReport() if report is None else report
        began = time.perf_counter()
        finished = False
        try:
            cursor = await off(
                lambda: ReorgSafeCursor(
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
            )
            report.next_block = cursor.next_block
            run = _Run(cursor, fetcher, out, end, follow, receipts, report, progress, off)
            await run.drive(poll_seconds, lambda: bool(stop and stop()), shutdown)
            finished = True
        finally:
            # the worker finishes what it is doing (a write, a commit) before anything closes
            await asyncio.shield(off(lambda: None))
            await fetcher.close()

            def close() -> None:
                if finished:
                    (out / "_ingest.json").write_text(
                        json.dumps({"chain_id": chain_id, "next_block": cursor.next_block})
                    )
                state.close()

            await off(close)
    report.backoffs += fetcher.batcher.backoffs
    report.batch_size = fetcher.batcher.batch_size
    report.seconds += time.perf_counter() - began
    return report


def _tidy(out: Path) -> None:
    """The folder's files as its checkpoint says (see `tidy`)."""
    merged = tidy(out, saved_next_block(out))
    if merged:
        log.info("merged %s of earlier runs in %s", count_of(merged, "part"), out)


def saved_next_block(out: Path) -> int | None:
    """The block the checkpoint in ``out`` resumes at; None when ``out`` has none."""
    return _saved(out, "next_block")


def _saved(out: Path, column: str) -> int | None:
    path = out / "_ingest.sqlite"
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute(f"SELECT {column} FROM cursors WHERE name='ingest'").fetchone()
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
    chain_id: int | None = None,
) -> int:
    """The first block to read; an InputError for a range that is impossible (reversed,
    beyond the chain head) or that disagrees with the checkpoint already in ``out`` (its
    blocks, or with ``chain_id`` given, its chain). The head is read with ``retry`` (the chain
    layer's default policy when None)."""
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
    saved_chain = _saved(out, "chain_id")
    if chain_id is not None and saved_chain is not None and saved_chain != chain_id:
        raise InputError(
            f"{out} holds blocks of chain {saved_chain}, not of chain {chain_id} (the node's)",
            hint="ingest this chain into another folder, or point --url at chain "
            f"{saved_chain}'s node",
        )
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


@dataclass
class _Run:
    """One ingestion run: the cursor loop over the synchronous parts (on the ``off`` worker)
    and the fetcher (on the loop)."""

    cursor: ReorgSafeCursor
    fetcher: BlockFetcher
    out: Path
    end: int | None
    follow: bool
    receipts: bool
    report: IngestReport
    progress: Callable[[int], None] | None
    off: Callable[..., asyncio.Future[Any]]

    async def drive(
        self, poll_seconds: float, stop: Callable[[], bool], shutdown: asyncio.Event | None
    ) -> None:
        """Ranges until ``end`` (or, following, until ``stop`` / ``shutdown``). Following, a
        node that stops answering is waited for (a warning, then rounds doubling to a minute
        apart) and ingestion goes on from the last committed range; a one-off run stops."""
        outage = Outage(log, base=max(1.0, poll_seconds))
        while not (stop() or (shutdown is not None and shutdown.is_set())):
            try:
                done = await self._round(poll_seconds, shutdown)
            except Outage.ERRORS as exc:
                if not self.follow:
                    raise
                wait = outage.retry_after(exc)
                await self.fetcher.forget_all()  # what was fetched may be of another branch now
                await _pause(wait, shutdown)
                continue
            outage.ok()
            if done:
                return

    async def _round(self, poll_seconds: float, shutdown: asyncio.Event | None) -> bool:
        """One range fetched and written (or a reorg undone, or a wait for new blocks); True
        when there is nothing more to do."""
        cursor, fetcher, end, report = self.cursor, self.fetcher, self.end, self.report
        if end is not None and await self.off(lambda: cursor.next_block > end):
            return True
        step = await self.off(cursor.poll)
        if isinstance(step, Reorg):
            await fetcher.forget_all()  # prefetched blocks may be of the old branch
            await self.off(undo_from, self.out, step.fork_block)
            report.reorgs.append(step)
            report.next_block = step.fork_block
            return False
        if step is None:
            report.safe_head = cursor.next_block - 1  # caught up: nothing beyond it to read
            if not self.follow:
                return True
            await _pause(poll_seconds, shutdown)
            return False
        if end is not None and step.end > end:
            step = BlockRange(step.start, end, tuple(b for b in step.blocks if b.number <= end))
        blocks = [fetcher.cache.get(ref.number) for ref in step.blocks]
        if any(
            b is None or b["hash"] != ref.hash for b, ref in zip(blocks, step.blocks, strict=True)
        ):
            return False  # the chain moved while we read: poll again (it rewinds if it must)
        got: list[dict[str, Any]] = [b for b in blocks if b is not None]
        await self._prefetch_next(step.end + 1)
        block_receipts: list[list[dict[str, Any]]] = [[] for _ in got]
        if self.receipts:
            answers = await fetcher.call([("eth_getBlockReceipts", [b["number"]]) for b in got])
            block_receipts = [a or [] for a in answers]
        await self.off(self._write, step, got, block_receipts)
        fetcher.forget_through(step.end)
        if self.progress is not None:
            self.progress(step.end - step.start + 1)
        return False

    def _write(
        self,
        step: BlockRange,
        got: list[dict[str, Any]],
        block_receipts: list[list[dict[str, Any]]],
    ) -> None:
        """Rows of ``step``, written, then committed (on the worker; the next range is
        being fetched on the loop meanwhile)."""
        rows = block_rows(got, block_receipts)
        write_range(self.out, step.start, step.end, rows)
        self.cursor.commit(step)
        compact(self.out, step.end)  # committed parts only: an uncommitted one is rewritten
        report = self.report
        report.blocks += step.end - step.start + 1
        for table, table_rows in rows.items():
            report.rows[table] += len(table_rows)
        report.next_block, report.committed_at = step.end + 1, time.time()
        report.safe_head = max(report.safe_head or 0, step.end)

    async def _prefetch_next(self, first: int) -> None:
        cursor = self.cursor
        head = await self.off(cursor.safe_head)
        self.report.safe_head = head
        last = min(first + cursor.max_blocks - 1, head)
        if self.end is not None:
            last = min(last, self.end)
        if last >= first:
            self.fetcher.prefetch(range(first, last + 1))


async def _pause(seconds: float, shutdown: asyncio.Event | None) -> None:
    """Wait ``seconds`` for new blocks, or less when ``shutdown`` is set meanwhile."""
    if shutdown is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(shutdown.wait(), seconds)
