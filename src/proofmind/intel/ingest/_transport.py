"""Fetching blocks for ingestion: batched asynchronous JSON-RPC on the caller's event loop, so
the next range is fetched while the current one is written (on a worker thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp

from proofmind.chain.batch import BatchedRpc
from proofmind.chain.events import BlockRef
from proofmind.errors import ChainError

T = TypeVar("T")


class BlockFetcher:
    """Full blocks fetched once: the cursor's header checks and the rows use the same answers.

    Every request and all of the fetcher's state live on ``loop`` (the ingesting coroutine's
    own): ``prefetch`` starts fetching the next range as a task while the current one is turned
    into rows and written. The reorg-safe cursor is synchronous and runs on a worker thread; its
    reads (:meth:`headers`) are handed to the loop and waited for there.
    """

    def __init__(self, batcher: BatchedRpc, loop: asyncio.AbstractEventLoop) -> None:
        self.batcher = batcher
        self.loop = loop
        self.cache: dict[int, dict[str, Any]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._pending: list[asyncio.Task[list[Any]]] = []
        self._prefetched: dict[int, dict[str, Any]] = {}

    async def call(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Answers of ``calls`` (JSON-RPC method, params) in order; on the loop."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return await self.batcher.call_many(self._session, calls)

    def prefetch(self, numbers: Sequence[int]) -> None:
        """Start fetching ``numbers`` as a task on the loop; :meth:`headers` will use them."""
        calls = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
        self._pending.append(self.loop.create_task(self.call(calls)))

    async def _settle(self) -> None:
        pending, self._pending = self._pending, []
        for task in pending:
            try:
                blocks = await task
            except ChainError:
                continue  # fetched again below, and its error raised there
            self._prefetched.update({int(b["number"], 16): b for b in blocks if b is not None})

    async def fetch_headers(self, numbers: Sequence[int]) -> list[BlockRef | None]:
        """Blocks as the node has them: prefetched ones are used once, everything else (the
        cursor's check of its tip, its rewinds) is read afresh. Kept in :attr:`cache`."""
        await self._settle()
        found = {n: self._prefetched.pop(n) for n in numbers if n in self._prefetched}
        missing = [n for n in numbers if n not in found]
        if missing:
            blocks = await self.call([("eth_getBlockByNumber", [hex(n), True]) for n in missing])
            found.update({int(b["number"], 16): b for b in blocks if b is not None})
        self.cache.update(found)
        return [_ref(found.get(n)) for n in numbers]

    def headers(self, numbers: Sequence[int]) -> list[BlockRef | None]:
        """:meth:`fetch_headers` for a synchronous caller on another thread (the cursor)."""
        return self._on_loop(self.fetch_headers(numbers))

    def _on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            work.close()
            raise RuntimeError("BlockFetcher.headers() blocks: call it from a worker thread")
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def forget_through(self, number: int) -> None:
        """Drop cached blocks up to ``number`` (written and committed)."""
        for n in [n for n in self.cache if n <= number]:
            del self.cache[n]

    async def forget_all(self) -> None:
        await self._settle()
        self._prefetched.clear()
        self.cache.clear()

    async def close(self) -> None:
        """Cancel what is still being fetched and close the HTTP session."""
        pending, self._pending = self._pending, []
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


def _ref(block: dict[str, Any] | None) -> BlockRef | None:
    if block is None:
        return None
    return BlockRef(int(block["number"], 16), block["hash"], block["parentHash"])
