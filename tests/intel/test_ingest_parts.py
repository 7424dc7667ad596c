"""The ingested tables' files: a follower committing a block at a time leaves a bounded number
of Parquet parts (merged as they accumulate), a merge cut short by a crash is finished or
dropped, and a reorg cuts a merged part back."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from proofmind.intel.ingest import _tables
from proofmind.intel.ingest._mapper import TABLES
from proofmind.intel.ingest._tables import (
    FANOUT,
    JOURNAL,
    compact,
    finish_merges,
    tidy,
    undo_from,
    write_range,
)


def follow(out: Path, first: int, last: int) -> None:
    """Commit blocks first..last one at a time, as `ingest --follow` does on a slow chain:
    one row per table and block (two transactions in every third block)."""
    for n in range(first, last + 1):
        rows = {table: [{"block_number": n}] for table in TABLES}
        if n % 3 == 0:
            rows["transactions"].append({"block_number": n, "tx_index": 1})
        write_range(out, n, n, rows)
        compact(out, n)


def blocks_of(out: Path, table: str) -> list[int]:
    con = duckdb.connect()
    return [
        r[0]
        for r in con.execute(
            f"SELECT block_number FROM read_parquet('{out}/{table}/**/*.parquet', "
            "hive_partitioning=true) ORDER BY block_number"
        ).fetchall()
    ]


def parts(out: Path, table: str) -> list[str]:
    return sorted(p.name for p in (out / table).glob("block_range=*/part-*.parquet"))


def test_a_follower_leaves_a_few_merged_parts_not_one_per_block(tmp_path: Path) -> None:
    follow(tmp_path, 0, 299)
    # 300 blocks = 256 + 2 x 16 + 12: one part of 256 blocks, two of 16, twelve of one
    assert parts(tmp_path, "blocks") == [
        "part-000000000000-000000000255.parquet",
        "part-000000000256-000000000271.parquet",
        "part-000000000272-000000000287.parquet",
        *(f"part-{n:012d}-{n:012d}.parquet" for n in range(288, 300)),
    ]
    assert all(len(parts(tmp_path, t)) == 15 for t in TABLES)
    assert blocks_of(tmp_path, "blocks") == list(range(300))  # each once, in order
    assert blocks_of(tmp_path, "transactions") == sorted([*range(300), *range(0, 300, 3)])
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob(JOURNAL))
    # the merged file holds the rows only: no block_range column from the folder's name
    merged = tmp_path / "blocks" / "block_range=0" / "part-000000000000-000000000255.parquet"
    assert "block_range" not in pq.read_schema(merged).names
    assert pq.ParquetFile(merged).metadata.num_row_groups == 1  # not one per block


def test_parts_of_different_sizes_are_not_merged_together(tmp_path: Path) -> None:
    for start, end in [(0, 99), *((n, n) for n in range(100, 115))]:
        write_range(tmp_path, start, end, {t: [] for t in TABLES})
        compact(tmp_path, end)
    assert len(parts(tmp_path, "logs")) == 16  # one of 100 blocks and 15 single blocks
    follow(tmp_path, 115, 115)  # the 16th single block: those 16 merge, the 100 stays
    assert parts(tmp_path, "logs") == [
        "part-000000000000-000000000099.parquet",
        "part-000000000100-000000000115.parquet",
    ]


def test_a_merge_cut_short_before_its_file_was_renamed_in_is_dropped(tmp_path: Path) -> None:
    follow(tmp_path, 0, FANOUT - 2)  # 15 single-block parts: nothing merged yet
    folder = tmp_path / "blocks" / "block_range=0"
    before = parts(tmp_path, "blocks")
    # what a crash after the journal and before the rename leaves: the journal and the
    # temporary merged file; the parts are all still there
    (folder / "part-000000000000-000000000014.tmp").write_bytes(b"half written")
    (folder / "part-000000000015-000000000015.tmp").write_bytes(b"a part half written")
    (folder / JOURNAL).write_text(
        json.dumps({"into": "part-000000000000-000000000014.parquet", "parts": before})
    )
    finish_merges(tmp_path)
    assert parts(tmp_path, "blocks") == before
    assert sorted(p.name for p in folder.iterdir()) == before
    assert blocks_of(tmp_path, "blocks") == list(range(FANOUT - 1))


def test_a_merge_cut_short_after_its_file_was_renamed_in_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(folder: Path) -> None:
        raise KeyboardInterrupt  # killed between the rename and the parts' removal

    monkeypatch.setattr(_tables, "_finish", crash)
    with pytest.raises(KeyboardInterrupt):
        follow(tmp_path, 0, FANOUT - 1)
    assert len(parts(tmp_path, "blocks")) == FANOUT + 1  # the merged file and its parts
    assert len(blocks_of(tmp_path, "blocks")) == 2 * FANOUT  # read twice meanwhile
    monkeypatch.undo()
    finish_merges(tmp_path)  # what the next ingestion does first
    assert parts(tmp_path, "blocks") == ["part-000000000000-000000000015.parquet"]
    assert blocks_of(tmp_path, "blocks") == list(range(FANOUT))
    assert not list(tmp_path.rglob(JOURNAL))


def test_a_reorg_cuts_a_merged_part_back(tmp_path: Path) -> None:
    follow(tmp_path, 0, 40)
    undo_from(tmp_path, 20)  # inside the merged part of blocks 16..31
    assert parts(tmp_path, "transactions") == [
        "part-000000000000-000000000015.parquet",
        "part-000000000016-000000000019.parquet",
    ]
    assert blocks_of(tmp_path, "blocks") == list(range(20))
    cut = tmp_path / "transactions" / "block_range=0" / "part-000000000016-000000000019.parquet"
    assert "block_range" not in pq.read_schema(cut).names
    follow(tmp_path, 20, 40)  # the new branch's blocks
    assert blocks_of(tmp_path, "blocks") == list(range(41))


def test_a_folder_written_before_merging_is_merged_up_to_its_checkpoint(tmp_path: Path) -> None:
    for n in range(99_980, 100_020):  # one part per block, in two buckets, never merged
        write_range(tmp_path, n, n, {table: [{"block_number": n}] for table in TABLES})
    # committed through 100,015: the four parts after it may be an interrupted range's
    assert compact(tmp_path, 100_015, every_bucket=True) == 2 * FANOUT * len(TABLES)
    assert parts(tmp_path, "logs") == [
        "part-000000099980-000000099995.parquet",
        *(f"part-{n:012d}-{n:012d}.parquet" for n in range(99_996, 100_000)),
        "part-000000100000-000000100015.parquet",
        *(f"part-{n:012d}-{n:012d}.parquet" for n in range(100_016, 100_020)),
    ]
    assert blocks_of(tmp_path, "logs") == list(range(99_980, 100_020))


def test_tidy_cuts_what_the_checkpoint_does_not_cover(tmp_path: Path) -> None:
    follow(tmp_path, 0, 40)  # parts 0-15, 16-31 and nine single blocks
    # a reorg's cut of 16-31 from block 20, killed after the cut part was renamed in and
    # before the part it was cut from was removed: both are there, rows 16-19 twice
    folder = tmp_path / "blocks" / "block_range=0"
    whole = folder / "part-000000000016-000000000031.parquet"
    pq.write_table(pq.read_table(whole, partitioning=None).slice(0, 4), whole.with_name(
        "part-000000000016-000000000019.parquet"))  # fmt: skip
    assert blocks_of(tmp_path, "blocks").count(17) == 2
    # and a range written after the checkpoint but not committed (blocks 41-45)
    write_range(tmp_path, 41, 45, {t: [{"block_number": n} for n in range(41, 46)] for t in TABLES})
    assert tidy(tmp_path, 20) == 0  # the checkpoint resumes at block 20
    assert blocks_of(tmp_path, "blocks") == list(range(20))
    assert parts(tmp_path, "blocks") == [
        "part-000000000000-000000000015.parquet",
        "part-000000000016-000000000019.parquet",
    ]
    assert tidy(tmp_path, None) == 0  # a new folder: nothing to cut
    assert blocks_of(tmp_path, "blocks") == list(range(20))
