"""Dataset commitments: the encoding, the tree, proofs, and bad input."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proofmind.crypto.merkle import MerkleTree, verify_proof
from proofmind.errors import InputError
from proofmind.provenance.dataset import (
    check_dataset,
    commit_dataset,
    row_bytes,
    row_leaf,
)

cell = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], quote_all: bool = False
) -> Path:
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n", quoting=quoting).writerows([header, *rows])
    return path


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=40))
def test_csv_root_equals_reference_tree(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    # quoted, so that cells holding commas, quotes, "\r" and "\n" survive the round trip
    tmp = tmp_path_factory.mktemp("csv")
    data = write_csv(tmp / "d.csv", ["a", "b", "c"], rows, quote_all=True)
    committed = commit_dataset(data, tmp / "out", workers=1)
    leaves = [row_leaf(i, r) for i, r in enumerate(rows)]
    tree = MerkleTree.of(leaves, sort_leaves=False)
    assert committed.manifest.root == tree.root_hex
    assert committed.manifest.rows == len(rows)
    for i in {0, len(rows) // 2, len(rows) - 1}:
        proof = committed.proof(i)
        assert proof.leaf == leaves[i]
        assert proof.proof == tree.get_proof(i)
        assert verify_proof(committed.root, proof.leaf, proof.proof)


@given(
    a=st.lists(st.one_of(st.none(), cell), min_size=1, max_size=4),
    b=st.lists(st.one_of(st.none(), cell), min_size=1, max_size=4),
)
def test_row_encoding_is_injective(a: list[str | None], b: list[str | None]) -> None:
    assert (row_bytes(a) == row_bytes(b)) == (a == b)


def test_parquet_nulls_numbers_and_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    table = pa.table({"n": [1, None, -3], "x": [0.5, 1e20, None], "s": ["a\x1fb", "c\\d", None]})
    pq.write_table(table.slice(0, 2), folder / "a.parquet")
    pq.write_table(table.slice(2), folder / "b.parquet")
    committed = commit_dataset(folder, tmp_path / "out", workers=1)
    expected = [["1", "0.5", "a\x1fb"], [None, "1e+20", "c\\d"], ["-3", None, None]]
    leaves = [row_leaf(i, r) for i, r in enumerate(expected)]
    assert committed.manifest.root == MerkleTree.of(leaves, sort_leaves=False).root_hex
    assert [f.path for f in committed.manifest.files] == ["a.parquet", "b.parquet"]
    assert [f.first_row for f in committed.manifest.files] == [0, 2]


def test_gzip_csv_and_parallel_hashing_give_the_same_root(tmp_path: Path) -> None:
    rows = [[f"0x{i:040x}", str(i * 10**18)] for i in range(300_000)]
    plain = write_csv(tmp_path / "d.csv", ["account", "value"], rows)
    packed = tmp_path / "d.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    one = commit_dataset(plain, tmp_path / "o1", workers=1)
    two = commit_dataset(packed, tmp_path / "o2", workers=2)
    assert one.manifest.root == two.manifest.root
    assert one.proof(299_999).leaf == row_leaf(299_999, rows[-1])


def test_a_verified_dataset_and_a_changed_last_row(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["a", "b"], [[str(i), "x"] for i in range(50)])
    committed = commit_dataset(data, tmp_path / "out", workers=1)
    assert check_dataset(data, committed, workers=1).ok
    data.write_text(data.read_text().replace("49,x", "49,y"))
    check = check_dataset(data, committed, workers=1)
    assert not check.ok and check.changed_rows == [49]
    assert "row 49 differs (line 51 of d.csv, data row 49)" in check.problems


def test_appended_rows_are_reported(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["a"], [[str(i)] for i in range(5)])
    committed = commit_dataset(data, tmp_path / "out", workers=1)
    data.write_text(data.read_text() + "5\n6\n")
    check = check_dataset(data, committed, workers=1)
    assert "row count is 7, committed 5" in check.problems
    assert "rows 5–6 were added at the end" in check.problems
    assert check.changed_rows == []


# ------------------------------------------------------------------------ bad input


def test_schema_drift_between_files_names_the_file_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "a.csv", ["account", "value"], [["1", "2"]])
    write_csv(folder / "b.csv", ["account", "amount"], [["1", "2"]])
    with pytest.raises(
        InputError, match=r"b\.csv: schema drift — missing value; unexpected amount"
    ):
        commit_dataset(folder, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())  # nothing half-written


def test_parquet_type_drift(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.table({"v": [1, 2]}), folder / "a.parquet")
    pq.write_table(pa.table({"v": [1.5]}), folder / "b.parquet")
    with pytest.raises(InputError, match="v is double, was int64"):
        commit_dataset(folder, tmp_path / "out")


def test_a_malformed_csv_row_names_its_line(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match=r"d\.csv, line 3: expected 2 columns, got 3"):
        commit_dataset(data, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("d.csv", b"", "is empty: a CSV file needs a header row"),
        ("d.csv", b"a,b\n", "has no rows"),
        ("d.csv", b"a,b\n\xff\xfe,1\n", "cannot read"),
        ("d.txt", b"a\n1\n", "is not a CSV or Parquet file"),
        ("d.parquet", b"not parquet", "cannot read"),
    ],
)
def test_unreadable_input(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    data = tmp_path / name
    data.write_bytes(content)
    with pytest.raises(InputError, match=message):
        commit_dataset(data, tmp_path / "out")


def test_nested_columns_are_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"v": [[1, 2]]}), tmp_path / "d.parquet")
    with pytest.raises(InputError, match="column 'v' has type list"):
        commit_dataset(tmp_path / "d.parquet", tmp_path / "out")


def test_a_row_out_of_range(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["a"], [["1"]])
    with pytest.raises(InputError, match="row 1 is out of range: d has 1 row — "):
        commit_dataset(data, tmp_path / "out").proof(1)


@pytest.mark.parametrize("count", [1, 2, 3, 999, 1000, 2047])
def test_many_small_batches_match_the_reference_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """Batches of odd sizes: leaf pairs that straddle two batches are joined correctly."""
    from proofmind.provenance.dataset import _reading

    monkeypatch.setattr(_reading, "_BLOCK", 997)  # a few dozen rows a batch, sizes vary
    rows = [[str(i), "x" * (i % 13)] for i in range(count)]
    data = write_csv(tmp_path / "d.csv", ["n", "pad"], rows)
    committed = commit_dataset(data, tmp_path / "out", workers=1)
    leaves = [row_leaf(i, r) for i, r in enumerate(rows)]
    assert committed.manifest.root == MerkleTree.of(leaves, sort_leaves=False).root_hex
    last = committed.proof(count - 1)
    assert verify_proof(committed.root, last.leaf, last.proof)


def test_csv_cells_are_committed_as_written(tmp_path: Path) -> None:
    """A BOM is not part of the header; leading zeros, big integers and spacing are kept."""
    data = tmp_path / "d.csv"
    data.write_bytes("\ufeffid,value\n007,123456789012345678901234567890\n 1 ,1.50\n".encode())
    committed = commit_dataset(data, tmp_path / "out", workers=1)
    assert [c["name"] for c in committed.manifest.schema] == ["id", "value"]
    rows = [["007", "123456789012345678901234567890"], [" 1 ", "1.50"]]
    leaves = [row_leaf(i, r) for i, r in enumerate(rows)]
    assert committed.manifest.root == MerkleTree.of(leaves, sort_leaves=False).root_hex


def test_a_changed_row_is_named_by_the_line_an_editor_shows(tmp_path: Path) -> None:
    """A quoted cell spanning lines and a blank line shift the line, not the data row."""
    data = tmp_path / "d.csv"
    data.write_text('a,b\n0,"two\nlines"\n\n1,x\n2,x\n')
    committed = commit_dataset(data, tmp_path / "out", workers=1)
    data.write_text('a,b\n0,"two\nlines"\n\n1,x\n2,y\n')
    check = check_dataset(data, committed, workers=1)
    assert "row 2 differs (line 6 of d.csv, data row 2)" in check.problems
