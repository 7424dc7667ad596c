"""LogReader and ReorgSafeCursor against a real anvil devnet (and a misbehaving proxy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.chain.events import (
    BlockRange,
    BlockRef,
    LogReader,
    Reorg,
    ReorgSafeCursor,
    common_ancestor,
    first_break,
)
from proofmind.chain.rpc import http_web3
from proofmind.errors import ChainError, ReorgDetected
from proofmind.store.state import StateDB
from tests.rpc_proxy import rpc_proxy

pytestmark = pytest.mark.devnet


def mine(chain: Chain, n: int) -> None:
    chain.w3.provider.make_request("anvil_mine", [hex(n)])  # type: ignore[arg-type]


def commit_roots(chain: Chain, count: int, salt: int = 0) -> Any:
    contract, _ = deploy(chain, "MerkleCommitments")
    for i in range(count):
        root = (salt * 1000 + i + 1).to_bytes(32, "big")
        chain.sender().transact(contract.functions.commit(root, i, f"r{i}"))
    return contract


def test_reader_pages_through_many_blocks(chain: Chain) -> None:
    start = chain.w3.eth.block_number + 1
    contract = commit_roots(chain, 25)
    end = chain.w3.eth.block_number
    direct = chain.w3.eth.get_logs(
        {"fromBlock": start, "toBlock": end, "address": contract.address}
    )
    reader = LogReader(chain.w3, max_range=4)
    paged = reader.get_logs(start, end, address=contract.address)
    assert len(paged) == 25
    assert [(log["blockNumber"], log["logIndex"]) for log in paged] == [
        (log["blockNumber"], log["logIndex"]) for log in direct
    ]
    decoded = [contract.events.RootCommitted().process_log(log) for log in paged]
    assert [d["args"]["uri"] for d in decoded] == [f"r{i}" for i in range(25)]


def test_reader_halves_refused_ranges_and_survives_429(chain: Chain) -> None:
    start = chain.w3.eth.block_number + 1
    contract = commit_roots(chain, 20)
    end = chain.w3.eth.block_number
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    expected = chain.w3.eth.get_logs({"fromBlock": start, "toBlock": end})
    with rpc_proxy(upstream, max_log_range=3, throttle=1) as proxy:
        reader = LogReader(http_web3(proxy["url"]), max_range=16, backoff=0.01)
        logs = reader.get_logs(start, end)
        assert proxy["refused"] > 0 and proxy["throttled"] == 1
    assert reader.halvings > 0
    assert [log["transactionHash"] for log in logs] == [log["transactionHash"] for log in expected]
    assert {log["address"] for log in logs} == {contract.address}


def test_reader_gives_up_on_a_refused_single_block(chain: Chain) -> None:
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    mine(chain, 3)
    with rpc_proxy(upstream, max_log_range=0) as proxy:
        reader = LogReader(http_web3(proxy["url"]), max_range=4)
        with pytest.raises(ChainError, match="even for the single block"):
            reader.get_logs(1, 3)


def new_cursor(chain: Chain, path: Path, **kwargs: Any) -> ReorgSafeCursor:
    return ReorgSafeCursor(
        chain.w3, StateDB(path / "state.sqlite"), "test", chain_id=chain.chain_id, **kwargs
    )


def drain(cursor: ReorgSafeCursor, seen: dict[int, str], reorgs: list[Reorg]) -> None:
    """Process everything available, as a consumer would: undo on reorg, record, commit."""
    while (step := cursor.poll()) is not None:
        if isinstance(step, Reorg):
            reorgs.append(step)
            for number in [n for n in seen if n >= step.fork_block]:
                del seen[number]
            continue
        for block in step.blocks:
            assert block.number not in seen, f"block {block.number} handed out twice"
            seen[block.number] = block.hash
        cursor.commit(step)


def canonical(chain: Chain, upto: int) -> dict[int, str]:
    return {n: chain.w3.eth.get_block(n)["hash"].to_0x_hex() for n in range(upto + 1)}


def test_confirmations_hold_back_recent_blocks(chain: Chain, tmp_path: Path) -> None:
    mine(chain, 10)
    cursor = new_cursor(chain, tmp_path, confirmations=3, max_blocks=4)
    seen: dict[int, str] = {}
    drain(cursor, seen, [])
    head = chain.w3.eth.block_number
    assert max(seen) == head - 3
    assert seen == canonical(chain, head - 3)
    assert cursor.poll() is None


def test_reorg_is_detected_rewound_and_replayed(chain: Chain, tmp_path: Path) -> None:
    mine(chain, 3)
    fork_parent = chain.w3.eth.block_number
    snapshot = chain.snapshot()
    commit_roots(chain, 5, salt=1)  # blocks on the branch that will vanish
    cursor = new_cursor(chain, tmp_path)
    seen: dict[int, str] = {}
    reorgs: list[Reorg] = []
    drain(cursor, seen, reorgs)
    old_head = chain.w3.eth.block_number
    assert reorgs == [] and max(seen) == old_head

    chain.revert(snapshot)
    chain.w3.provider.make_request("evm_increaseTime", [7])  # type: ignore[arg-type]
    commit_roots(chain, 7, salt=2)  # a different, longer branch from the same parent
    drain(cursor, seen, reorgs)

    assert len(reorgs) == 1
    assert reorgs[0].fork_block == fork_parent + 1
    assert reorgs[0].depth == old_head - fork_parent
    assert reorgs[0].new_hash is not None and reorgs[0].new_hash != reorgs[0].old_hash
    head = chain.w3.eth.block_number
    assert seen == canonical(chain, head)  # no gap, no duplicate, only canonical blocks


def test_reorg_deeper_than_history_is_an_error(chain: Chain, tmp_path: Path) -> None:
    snapshot = chain.snapshot()
    mine(chain, 6)
    cursor = new_cursor(chain, tmp_path, history=2)
    drain(cursor, {}, [])
    chain.revert(snapshot)
    chain.w3.provider.make_request("evm_increaseTime", [5])  # type: ignore[arg-type]
    mine(chain, 8)
    with pytest.raises(ReorgDetected, match="below the 2 blocks remembered"):
        cursor.poll()


def test_cursor_resumes_and_replays_uncommitted(chain: Chain, tmp_path: Path) -> None:
    mine(chain, 6)
    cursor = new_cursor(chain, tmp_path, max_blocks=3)
    first = cursor.poll()
    assert isinstance(first, BlockRange)
    cursor.commit(first)
    second = cursor.poll()
    assert isinstance(second, BlockRange)
    # crash before commit: a new cursor on the same database hands out the same range
    again = new_cursor(chain, tmp_path, max_blocks=3)
    assert again.next_block == first.end + 1
    replay = again.poll()
    assert replay == second
    with pytest.raises(ChainError, match="commit each range"):
        again.commit(first)


def test_cursor_refuses_another_chain(chain: Chain, tmp_path: Path) -> None:
    new_cursor(chain, tmp_path)
    with pytest.raises(ChainError, match="follows chain 31337"):
        ReorgSafeCursor(chain.w3, StateDB(tmp_path / "state.sqlite"), "test", chain_id=1)


def test_start_latest_skips_history(chain: Chain, tmp_path: Path) -> None:
    mine(chain, 5)
    cursor = new_cursor(chain, tmp_path, start_block="latest")
    assert cursor.poll() is None
    mine(chain, 2)
    step = cursor.poll()
    assert isinstance(step, BlockRange) and step.end == chain.w3.eth.block_number


# -- pure decision functions -------------------------------------------------------------

HASHES = st.lists(
    st.binary(min_size=4, max_size=4).map(lambda b: "0x" + b.hex()),
    min_size=1,
    max_size=30,
    unique=True,
)


def chain_of(hashes: list[str], first: int = 0) -> list[BlockRef]:
    parents = ["0xgenesis", *hashes[:-1]]
    return [BlockRef(first + i, h, p) for i, (h, p) in enumerate(zip(hashes, parents, strict=True))]


@given(HASHES, st.data())
def test_common_ancestor_is_last_shared_block(hashes: list[str], data: st.DataObject) -> None:
    stored = chain_of(hashes)
    keep = data.draw(st.integers(0, len(stored)))
    now: dict[int, str | None] = {ref.number: ref.hash for ref in stored[:keep]}
    now.update({ref.number: ref.hash + "ff" for ref in stored[keep:]})
    ancestor = common_ancestor(stored, now)
    assert ancestor == (stored[keep - 1] if keep else None)


@given(HASHES, st.data())
def test_first_break_finds_the_broken_link(hashes: list[str], data: st.DataObject) -> None:
    headers = chain_of(hashes, first=10)
    assert first_break(None, headers) is None
    if len(headers) > 1:
        k = data.draw(st.integers(1, len(headers) - 1))
        broken = [
            *headers[:k],
            BlockRef(headers[k].number, headers[k].hash, "0xother"),
            *headers[k + 1 :],
        ]
        assert first_break(None, broken) == k
    tip = BlockRef(9, "0xtip", "0x")
    assert first_break(tip, headers) == 0


def test_a_stale_range_above_a_standing_tip_is_read_again(chain: Chain, tmp_path: Path) -> None:
    """A range whose first block does not link to our tip, while the tip itself still stands
    (the range was read from a branch that lost): no rewind, the range is read again."""
    from proofmind.chain.events import BlockRef, fetch_headers_batched

    mine(chain, 4)
    stale = {"on": False}

    def fetch(numbers: list[int]) -> list[BlockRef | None]:
        refs = fetch_headers_batched(chain.w3, numbers)
        if stale["on"] and len(numbers) > 1:  # the range read, not the tip check
            stale["on"] = False
            return [
                BlockRef(r.number, "0x" + "ab" * 32, "0x" + "cd" * 32) if r else r for r in refs
            ]
        return refs

    cursor = ReorgSafeCursor(
        chain.w3, StateDB(tmp_path / "s.sqlite"), "t", chain_id=chain.chain_id, fetch_headers=fetch
    )
    seen: dict[int, str] = {}
    drain(cursor, seen, [])
    mine(chain, 3)
    stale["on"] = True
    assert cursor.poll() is None  # stale read: nothing handed out, nothing rewound
    reorgs: list[Reorg] = []
    drain(cursor, seen, reorgs)
    assert reorgs == [] and seen == canonical(chain, chain.w3.eth.block_number)


def test_a_cursor_that_remembers_another_genesis_reads_on(chain: Chain, tmp_path: Path) -> None:
    """anvil restarted from its saved state at times makes its genesis block again (another
    hash) and keeps every later block; a cursor that had read only genesis took that for a
    reorg below its memory. Genesis is never reorganised: the cursor remembers the new one and
    reads on, rewinding nothing. (`test_devnet` restarts a real devnet until anvil does it.)"""
    mine(chain, 3)
    state = StateDB(tmp_path / "s.sqlite")
    cursor = ReorgSafeCursor(chain.w3, state, "g", chain_id=chain.chain_id, max_blocks=2)
    cursor.commit(BlockRange(0, 0, (BlockRef(0, "0x" + "ab" * 32, "0x" + "00" * 32),)))
    first = cursor.poll()  # block 1 names another genesis: the node's is remembered, read on
    assert isinstance(first, BlockRange) and (first.start, first.end) == (1, 2)
    genesis = chain.w3.eth.get_block(0)
    assert cursor.stored_blocks() == [
        BlockRef(0, genesis["hash"].to_0x_hex(), genesis["parentHash"].to_0x_hex())
    ]
    cursor.commit(first)
    seen: dict[int, str] = {ref.number: ref.hash for ref in first.blocks}
    reorgs: list[Reorg] = []
    drain(cursor, seen, reorgs)
    assert reorgs == [] and cursor.next_block == chain.w3.eth.block_number + 1
    assert seen == {n: h for n, h in canonical(chain, chain.w3.eth.block_number).items() if n}
    state.close()
