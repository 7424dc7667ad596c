"""RPC ingestion on the devnet: generated traffic lands once in every table, reorgs are undone,
a rate-limiting node is waited out, and a restart resumes from the checkpoint."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.intel.ingest import ingest
from tests.rpc_proxy import rpc_proxy

pytestmark = pytest.mark.devnet


def url_of(chain: Chain) -> str:
    return str(chain.backend.record.rpc_url)  # type: ignore[attr-defined]


def traffic(chain: Chain, transfers: int, tokens: int) -> None:
    """ETH transfers and ERC-20 transfers from several accounts, one block each."""
    owner = chain.sender().address
    token, _ = deploy(chain, "RewardToken", "T", "T", owner)
    chain.sender().transact(token.functions.mint(owner, 10**24))
    others = [a.address for a in chain.accounts[1:5]]
    for n in range(transfers):
        chain.sender().send({"to": others[n % 4], "value": 10**15 + n})
    for n in range(tokens):
        chain.sender().transact(token.functions.transfer(others[n % 4], 10**18 + n))


def table(out: Path, name: str) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(
        f"SELECT * FROM read_parquet('{out}/{name}/**/*.parquet', hive_partitioning=true) "
        "ORDER BY block_number"
    ).fetchall()


def test_generated_traffic_is_ingested_once(chain: Chain, tmp_path: Path) -> None:
    first = chain.w3.eth.block_number + 1  # earlier tests' blocks may hold transfers too
    traffic(chain, transfers=12, tokens=6)
    head = chain.w3.eth.block_number
    out = tmp_path / "chain"
    report = ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, range_blocks=7)
    blocks = table(out, "blocks")
    assert [b[0] for b in blocks] == list(range(head + 1))  # no gaps, no duplicates
    assert [b[1] for b in blocks] == [
        chain.w3.eth.get_block(n)["hash"].to_0x_hex() for n in range(head + 1)
    ]
    txs = table(out, "transactions")
    assert len(txs) == sum(b[8] for b in blocks) == report.rows["transactions"]
    assert len({t[2] for t in txs}) == len(txs)
    native, erc20 = table(out, "native_transfers"), table(out, "erc20_transfers")
    assert report.rows["native_transfers"] == len(native)
    assert report.rows["erc20_transfers"] == len(erc20)
    assert sum(1 for t in native if t[0] >= first) == 12
    assert sum(1 for t in erc20 if t[0] >= first) == 7  # the mint and six transfers
    # a second run has nothing left to do
    again = ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id)
    assert again.blocks == 0 and len(table(out, "blocks")) == head + 1


def test_ranges_of_one_block_are_merged_into_few_files(chain: Chain, tmp_path: Path) -> None:
    traffic(chain, transfers=20, tokens=0)
    head = chain.w3.eth.block_number
    out = tmp_path / "chain"
    ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, range_blocks=1)
    blocks = table(out, "blocks")
    assert [b[0] for b in blocks] == list(range(head + 1))
    assert len({t[2] for t in table(out, "transactions")}) == len(table(out, "transactions"))
    files = list((out / "transactions").rglob("part-*.parquet"))
    assert len(files) < 16 + head // 16  # not one per block: merged by 16


def test_a_folder_of_unmerged_parts_is_merged_when_ingestion_starts(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proofmind.intel.ingest import _driver

    traffic(chain, transfers=20, tokens=0)
    out = tmp_path / "chain"
    with monkeypatch.context() as before_merging:  # as an earlier version wrote it
        before_merging.setattr(_driver, "compact", lambda out, through: 0)
        ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, range_blocks=1)
    head = chain.w3.eth.block_number
    assert len(list((out / "logs").rglob("part-*.parquet"))) == head + 1
    again = ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id)
    assert again.blocks == 0
    assert len(list((out / "logs").rglob("part-*.parquet"))) < 16 + head // 16
    assert [b[0] for b in table(out, "blocks")] == list(range(head + 1))


def test_a_reorg_is_undone(chain: Chain, tmp_path: Path) -> None:
    traffic(chain, transfers=3, tokens=0)
    first = chain.w3.eth.block_number + 1  # the blocks the two histories disagree on
    fork = chain.snapshot()
    for n in range(4):
        chain.sender().send({"to": chain.accounts[6].address, "value": 1 + n})
    out = tmp_path / "chain"
    ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id)
    replaced = {t[2] for t in table(out, "transactions")}
    chain.revert(fork)  # the last four blocks are gone; a different history grows longer
    for n in range(6):
        chain.sender().send({"to": chain.accounts[7].address, "value": 100 + n})
    report = ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id)
    assert len(report.reorgs) == 1
    head = chain.w3.eth.block_number
    blocks = table(out, "blocks")
    assert [b[0] for b in blocks] == list(range(head + 1))
    assert [b[1] for b in blocks] == [
        chain.w3.eth.get_block(n)["hash"].to_0x_hex() for n in range(head + 1)
    ]
    hashes = [t[2] for t in table(out, "transactions")]
    assert len(hashes) == len(set(hashes))
    forked = [t for t in table(out, "transactions") if t[0] >= first]
    assert [t[6] for t in forked] == [chain.accounts[7].address.lower()] * 6
    assert replaced - set(hashes)  # the replaced transactions are gone


def test_the_command_says_what_a_reorg_undid(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ingest rpc`'s summary counts what it wrote, the rows a reorg then removed included:
    it says how many blocks the reorgs undid, so the counts do not read as the folder's."""
    from proofmind.cli.main import main

    traffic(chain, transfers=2, tokens=0)
    fork = chain.snapshot()
    first = chain.w3.eth.block_number + 1
    for n in range(3):
        chain.sender().send({"to": chain.accounts[6].address, "value": 1 + n})
    out = tmp_path / "chain"
    assert main(["ingest", "rpc", "--url", url_of(chain), "-o", str(out)]) == 0
    chain.revert(fork)
    for n in range(5):
        chain.sender().send({"to": chain.accounts[7].address, "value": 100 + n})
    capsys.readouterr()
    assert main(["ingest", "rpc", "--url", url_of(chain), "-o", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert f"1 reorg undone (from block {first}, 3 blocks in all)" in said, said
    assert "the rows a reorg then removed included" in said


def test_a_rate_limiting_node_is_waited_out(chain: Chain, tmp_path: Path) -> None:
    traffic(chain, transfers=5, tokens=0)
    with rpc_proxy(url_of(chain), throttle=4) as proxy:
        report = ingest(
            chain.w3, proxy["url"], tmp_path / "chain", chain_id=chain.chain_id, range_blocks=3
        )
    assert report.backoffs >= 4 and proxy["throttled"] == 4
    assert report.blocks == chain.w3.eth.block_number + 1


def test_one_block_and_blocks_only(chain: Chain, tmp_path: Path) -> None:
    traffic(chain, transfers=2, tokens=0)
    head = chain.w3.eth.block_number
    one = ingest(
        chain.w3, url_of(chain), tmp_path / "one", chain_id=chain.chain_id, start=head, end=head
    )
    assert one.blocks == 1 and [b[0] for b in table(tmp_path / "one", "blocks")] == [head]
    bare = ingest(
        chain.w3, url_of(chain), tmp_path / "bare", chain_id=chain.chain_id, receipts=False
    )
    blocks = table(tmp_path / "bare", "blocks")
    txs = table(tmp_path / "bare", "transactions")
    assert bare.rows["logs"] == 0 and len(blocks) == head + 1
    assert bare.rows["transactions"] == sum(b[8] for b in blocks) == len(txs)
    assert all(t[11] is None for t in table(tmp_path / "bare", "transactions"))  # no status


def test_follow_tails_new_blocks_through_a_reorg(chain: Chain, tmp_path: Path) -> None:
    """`--follow`: blocks mined while it runs arrive (confirmations deep), a reorg under the
    followed blocks is undone, and what is stored is exactly the canonical chain."""
    import sqlite3
    import threading
    import time

    out = tmp_path / "chain"
    stop = threading.Event()
    done: list[object] = []

    def run() -> None:
        done.append(
            ingest(
                chain.w3,
                url_of(chain),
                out,
                chain_id=chain.chain_id,
                follow=True,
                confirmations=2,
                range_blocks=5,
                poll_seconds=0.05,
                stop=stop.is_set,
            )
        )

    def stored_up_to() -> int:
        if not (out / "_ingest.sqlite").exists():
            return -1
        with sqlite3.connect(out / "_ingest.sqlite") as con:
            row = con.execute("SELECT next_block FROM cursors WHERE name='ingest'").fetchone()
        return -1 if row is None else int(row[0]) - 1

    def caught_up() -> None:
        target = chain.w3.eth.block_number - 2
        deadline = time.monotonic() + 30
        while stored_up_to() < target:
            assert time.monotonic() < deadline, "follow mode did not catch up"
            time.sleep(0.05)

    first = chain.w3.eth.block_number + 1  # other tests' blocks are not this test's to judge
    follower = threading.Thread(target=run)
    follower.start()
    try:
        traffic(chain, transfers=4, tokens=0)
        caught_up()
        fork = chain.snapshot()
        for n in range(4):  # the follower stores two of these (two stay unconfirmed)
            chain.sender().send({"to": chain.accounts[6].address, "value": 1 + n})
        caught_up()
        chain.revert(fork)
        for n in range(7):  # a longer, different history
            chain.sender().send({"to": chain.accounts[7].address, "value": 100 + n})
        caught_up()
    finally:
        stop.set()
        follower.join(30)
    report = done[0]
    head = chain.w3.eth.block_number - 2
    blocks = table(out, "blocks")
    assert [b[0] for b in blocks] == list(range(head + 1))
    assert [b[1] for b in blocks] == [
        chain.w3.eth.get_block(n)["hash"].to_0x_hex() for n in range(head + 1)
    ]
    assert len(report.reorgs) == 1  # type: ignore[attr-defined]
    receivers = {t[6] for t in table(out, "transactions") if t[0] >= first}
    assert chain.accounts[6].address.lower() not in receivers  # the dropped branch is gone
    assert chain.accounts[7].address.lower() in receivers
