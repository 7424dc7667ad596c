"""Following the chain: paginated log reads, and a reorg-safe block cursor.

``LogReader`` reads ``eth_getLogs`` in windows, halving a window the node refuses as too large
and growing it back after successes. ``ReorgSafeCursor`` hands out ranges of confirmed blocks
(``poll``), remembers the hashes of the blocks it handed out once the consumer has processed
them (``commit``), and notices when the chain under those blocks changed: it finds the last
block both chains share, rewinds to the block after it, and reports a ``Reorg``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import LogReceipt, RPCEndpoint

from proofmind.chain.retry import RetryPolicy, with_retries
from proofmind.errors import ChainError, InputError, ReorgDetected
from proofmind.store.state import StateDB

# How providers say "that range is too large" (Geth, Erigon, Alchemy, Infura, QuickNode,
# Ankr, Nethermind, anvil forks): matched case-insensitively against the error message.
RANGE_TOO_LARGE = (
    "query returned more than",
    "block range",
    "range is too large",
    "range too large",
    "exceed maximum block range",
    "exceeds the range",
    "response size exceeded",
    "response size should not",
    "limit exceeded",
    "too many results",
    "query timeout exceeded",
    "logs matched by query exceeds",
    "is greater than the limit",
)


@dataclass(frozen=True)
class BlockRef:
    number: int
    hash: str
    parent_hash: str


@dataclass(frozen=True)
class BlockRange:
    """Blocks ``start``..``end`` (inclusive), all confirmed, to process and then commit."""

    start: int
    end: int
    blocks: tuple[BlockRef, ...]


@dataclass(frozen=True)
class Reorg:
    """The chain changed under processed blocks; everything from ``fork_block`` on is undone."""

    fork_block: int  # the first block number whose content may differ
    depth: int  # how many processed blocks were rolled back
    old_hash: str  # the processed block at fork_block, as we had it
    new_hash: str | None  # the canonical block at fork_block now (None if the chain is shorter)


class LogReader:
    """``eth_getLogs`` over any range, in windows the node accepts."""

    def __init__(
        self,
        w3: Web3,
        *,
        max_range: int = 2_000,
        retries: int = 4,
        backoff: float = 0.25,
    ) -> None:
        if max_range < 1:
            raise InputError(f"max_range must be at least 1, got {max_range}")
        self.w3 = w3
        self.max_range = max_range
        self.retries = retries
        self.backoff = backoff
        self.window = max_range
        self.halvings = 0

    def iter_logs(
        self,
        from_block: int,
        to_block: int,
        *,
        address: str | Sequence[str] | None = None,
        topics: Sequence[Any] | None = None,
    ) -> Iterator[LogReceipt]:
        """Yield the logs of [from_block, to_block] in (block, log index) order."""
        if from_block > to_block:
            raise InputError(f"from_block {from_block} is after to_block {to_block}")
        start = from_block
        while start <= to_block:
            end = min(to_block, start + self.window - 1)
            params: dict[str, Any] = {"fromBlock": start, "toBlock": end}
            if address is not None:
                params["address"] = address
            if topics is not None:
                params["topics"] = list(topics)
            try:
                logs = with_retries(
                    lambda p=params: self.w3.eth.get_logs(p),  # type: ignore[misc]
                    retries=self.retries,
                    backoff=self.backoff,
                )
            except (Web3RPCError, requests.HTTPError, ValueError) as exc:
                if not _is_range_refusal(exc):
                    raise
                if end == start:
                    raise ChainError(
                        f"the node refuses eth_getLogs even for the single block {start} "
                        f"(address={address}, topics={topics}): {_message(exc)}",
                        hint="narrow the filter (address, topics) or use a node without this limit",
                    ) from exc
                self.window = max(1, (end - start + 1) // 2)
                self.halvings += 1
                continue
            yield from sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"]))
            start = end + 1
            self.window = min(self.max_range, self.window * 2)

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        *,
        address: str | Sequence[str] | None = None,
        topics: Sequence[Any] | None = None,
    ) -> list[LogReceipt]:
        return list(self.iter_logs(from_block, to_block, address=address, topics=topics))


def _message(exc: BaseException) -> str:
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        return str(response["error"].get("message", exc))
    return str(exc)


def _is_range_refusal(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code == 413
    text = _message(exc).lower()
    return any(pattern in text for pattern in RANGE_TOO_LARGE)


# -- pure decisions ------------------------------------------------------------------------


def first_break(tip: BlockRef | None, headers: Sequence[BlockRef]) -> int | None:
    """Index of the first header that does not extend the one before it (or ``tip``)."""
    previous = tip
    for i, header in enumerate(headers):
        if previous is not None and (
            header.number != previous.number + 1 or header.parent_hash != previous.hash
        ):
            return i
        previous = header
    return None


def common_ancestor(
    stored: Sequence[BlockRef], canonical: dict[int, str | None]
) -> BlockRef | None:
    """The newest stored block that is still canonical, or None when none of them is."""
    for ref in sorted(stored, key=lambda r: r.number, reverse=True):
        if canonical.get(ref.number) == ref.hash:
            return ref
    return None


# -- the cursor ------------------------------------------------------------------------------


class ReorgSafeCursor:
    """A named, persisted position on one chain.

    >>> cursor = ReorgSafeCursor(w3, state, "oracle", chain_id=31337, confirmations=2)
    >>> while (step := cursor.poll()) is not None:
    ...     if isinstance(step, Reorg):
    ...         undo_from(step.fork_block)  # the consumer's own rollback
    ...     else:
    ...         process(step)               # durably
    ...         cursor.commit(step)         # a crash before this replays the range
    """

    def __init__(
        self,
        w3: Web3,
        state: StateDB,
        name: str,
        *,
        chain_id: int,
        confirmations: int = 0,
        start_block: int | str = 0,
        history: int = 128,
        max_blocks: int = 500,
        fetch_headers: Callable[[Sequence[int]], list[BlockRef | None]] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if confirmations < 0 or history < 1 or max_blocks < 1:
            raise InputError("confirmations ≥ 0, history ≥ 1 and max_blocks ≥ 1 are required")
        self.w3 = w3
        self.state = state
        self.name = name
        self.chain_id = chain_id
        self.confirmations = confirmations
        self.history = history
        self.max_blocks = max_blocks
        self._fetch = fetch_headers or (lambda numbers: fetch_headers_batched(w3, numbers))
        self.retry = retry or RetryPolicy()
        self._load_or_create(start_block)

    @property
    def next_block(self) -> int:
        row = self.state.conn.execute(
            "SELECT next_block FROM cursors WHERE name=?", (self.name,)
        ).fetchone()
        return int(row["next_block"])

    def safe_head(self) -> int:
        head = with_retries(lambda: self.w3.eth.block_number, policy=self.retry)
        return int(head) - self.confirmations

    def poll(self) -> BlockRange | Reorg | None:
        """The next confirmed range to process, a Reorg to handle first, or None (caught up)."""
        tip = self._tip()
        # the genesis block is never reorganised; anvil, restarted from its saved state, makes
        # it again with another timestamp (another hash) and keeps every later block as it was
        if tip is not None and tip.number > 0:
            (now,) = self._fetch([tip.number])
            if now is None or now.hash != tip.hash:
                return self._rewind()
        start = self.next_block
        end = min(self.safe_head(), start + self.max_blocks - 1)
        if end < start:
            return None
        headers = self._fetch(list(range(start, end + 1)))
        present = [h for h in headers if h is not None]
        anchor = tip
        if (
            tip is not None and tip.number == 0 and present and present[0].number == 1
            and present[0].parent_hash != tip.hash
        ):  # fmt: skip
            # genesis is never reorganised, so block 1 follows it whatever hash it names: a
            # restarted devnet makes genesis again (another hash) and keeps its later blocks,
            # whose block 1 names the genesis before. The node's genesis is remembered, and
            # the cursor reads on (it waited for another block 1 for ever)
            (now,) = self._fetch([0])
            if now is not None and now.hash != tip.hash:
                self._replace_genesis(now)
            anchor = BlockRef(0, present[0].parent_hash, tip.parent_hash)
        cut = first_break(anchor, present)
        if cut == 0 and tip is not None:
            # the chain moved between our two reads: rewind only if our tip is gone now
            (now,) = self._fetch([tip.number])
            if now is not None and tip.number == 0 and now.hash != tip.hash:
                self._replace_genesis(now)  # the restarted devnet's new genesis: read on
                return None
            if now is None or now.hash != tip.hash:
                return self._rewind()
            return None  # the range came from a branch that lost; read it again next poll
        if cut is not None:
            present = present[:cut]
        if not present:
            return None
        return BlockRange(present[0].number, present[-1].number, tuple(present))

    def commit(self, processed: BlockRange) -> None:
        """Record ``processed`` as done; only then does the cursor move past it."""
        with self.state.transaction() as conn:
            row = conn.execute(
                "SELECT next_block FROM cursors WHERE name=?", (self.name,)
            ).fetchone()
            if processed.start != row["next_block"]:
                raise ChainError(
                    f"cursor {self.name!r} expects block {row['next_block']} next, "
                    f"but the range committed starts at {processed.start}",
                    hint="commit each range returned by poll() once, in order",
                )
            conn.executemany(
                "INSERT OR REPLACE INTO cursor_blocks(name, number, hash, parent_hash) "
                "VALUES(?,?,?,?)",
                [(self.name, b.number, b.hash, b.parent_hash) for b in processed.blocks],
            )
            conn.execute(
                "DELETE FROM cursor_blocks WHERE name=? AND number<=?",
                (self.name, processed.end - self.history),
            )
            conn.execute(
                "UPDATE cursors SET next_block=?, updated_at=? WHERE name=?",
                (processed.end + 1, time.time(), self.name),
            )

    def rewind_to(self, block: int) -> None:
        """Move the cursor back so that ``block`` is the next one polled (a consumer whose own
        state can only be restored to an earlier block than the fork)."""
        if block > self.next_block:
            raise ChainError(
                f"cursor {self.name!r} cannot rewind forward, to {block} from {self.next_block}"
            )
        with self.state.transaction() as conn:
            conn.execute("DELETE FROM cursor_blocks WHERE name=? AND number>=?", (self.name, block))
            conn.execute(
                "UPDATE cursors SET next_block=?, updated_at=? WHERE name=?",
                (block, time.time(), self.name),
            )

    def stored_blocks(self) -> list[BlockRef]:
        rows = self.state.conn.execute(
            "SELECT number, hash, parent_hash FROM cursor_blocks WHERE name=? ORDER BY number",
            (self.name,),
        ).fetchall()
        return [BlockRef(r["number"], r["hash"], r["parent_hash"]) for r in rows]

    def _tip(self) -> BlockRef | None:
        stored = self.state.conn.execute(
            "SELECT number, hash, parent_hash FROM cursor_blocks WHERE name=? "
            "ORDER BY number DESC LIMIT 1",
            (self.name,),
        ).fetchone()
        return None if stored is None else BlockRef(stored[0], stored[1], stored[2])

    def _replace_genesis(self, genesis: BlockRef) -> None:
        """Remember the chain's genesis as it is now (only a devnet makes it again)."""
        with self.state.transaction() as conn:
            conn.execute(
                "UPDATE cursor_blocks SET hash=?, parent_hash=? WHERE name=? AND number=0",
                (genesis.hash, genesis.parent_hash, self.name),
            )

    def _rewind(self) -> Reorg:
        stored = self.stored_blocks()
        fetched = self._fetch([ref.number for ref in stored])
        canonical = {
            ref.number: (h.hash if h else None) for ref, h in zip(stored, fetched, strict=True)
        }
        ancestor = common_ancestor(stored, canonical)
        if ancestor is None:
            raise ReorgDetected(
                f"cursor {self.name!r}: the chain reorganised below the {len(stored)} blocks "
                f"remembered (from block {stored[0].number})",
                fork_block=stored[0].number,
                hint="reprocess from an earlier block (a new cursor with start_block) or keep "
                "more history",
            )
        fork = ancestor.number + 1
        old_tip = stored[-1]
        first_changed = next(ref for ref in stored if ref.number == fork)
        with self.state.transaction() as conn:
            conn.execute("DELETE FROM cursor_blocks WHERE name=? AND number>=?", (self.name, fork))
            conn.execute(
                "UPDATE cursors SET next_block=?, updated_at=? WHERE name=?",
                (fork, time.time(), self.name),
            )
        return Reorg(
            fork_block=fork,
            depth=old_tip.number - ancestor.number,
            old_hash=first_changed.hash,
            new_hash=canonical.get(fork),
        )

    def _load_or_create(self, start_block: int | str) -> None:
        row = self.state.conn.execute(
            "SELECT chain_id FROM cursors WHERE name=?", (self.name,)
        ).fetchone()
        if row is not None:
            if row["chain_id"] != self.chain_id:
                raise ChainError(
                    f"cursor {self.name!r} follows chain {row['chain_id']}, not {self.chain_id}",
                    hint="use another cursor name for another chain",
                )
            return
        if start_block == "latest":
            first = max(0, self.safe_head() + 1)
        elif isinstance(start_block, int) and start_block >= 0:
            first = start_block
        else:
            raise InputError(
                f"start_block must be a block number ≥ 0 or 'latest', got {start_block!r}"
            )
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO cursors(name, chain_id, next_block, updated_at) VALUES(?,?,?,?)",
                (self.name, self.chain_id, first, time.time()),
            )


def fetch_headers_batched(w3: Web3, numbers: Sequence[int]) -> list[BlockRef | None]:
    """Headers of ``numbers`` in one JSON-RPC batch (None for blocks the node lacks)."""
    if not numbers:
        return []
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
        for i, n in enumerate(numbers)
    ]
    responses: Any = with_retries(
        lambda: w3.provider.make_batch_request([(b["method"], b["params"]) for b in batch]),  # type: ignore[attr-defined]
        retries=4,
        backoff=0.25,
    )
    if isinstance(responses, dict):  # a provider that refuses batches answers with one error
        method = RPCEndpoint("eth_getBlockByNumber")
        responses = [w3.provider.make_request(method, [hex(n), False]) for n in numbers]
    out: list[BlockRef | None] = []
    for response in responses:
        block = response.get("result") if isinstance(response, dict) else None
        if block is None:
            out.append(None)
            continue
        out.append(BlockRef(int(block["number"], 16), block["hash"], block["parentHash"]))
    return out
