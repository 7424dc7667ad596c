"""Fetching blocks for ingestion: batched asynchronous JSON-RPC on an event loop in a
background thread, so the next range is fetched while the current one is written."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Sequence
from typing import Any

import aiohttp

from proofmind.chain.batch import BatchedRpc
from proofmind.chain.events import BlockRef
from proofmind.errors import ChainError


class BlockFetcher:
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


def _ref(block: dict[str, Any] | None) -> BlockRef | None:
    if block is None:
        return None
    return BlockRef(int(block["number"], 16), block["hash"], block["parentHash"])
