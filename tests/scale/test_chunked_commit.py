"""Chunked dataset commitments: the same root on one machine, on Spark and on Ray.

Small chunks (256 rows) so a few thousand rows make many chunks, split across files and row
groups in ways that do not line up with the chunks.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from proofmind.crypto.merkle import make_tree, verify_proof
from proofmind.errors import InputError
from proofmind.provenance.chunked import check_chunked, commit_chunked, top_root
from proofmind.provenance.dataset import (
    Manifest,
    check_dataset,
    commit_dataset,
    load_commitment,
    row_leaf,
)

CHUNK = 256
ROWS = 3000


def write_dataset(folder: Path) -> list[list[str]]:
    """Three files (CSV with a quoted newline, two Parquet files of odd row groups) whose
    boundaries fall inside chunks; returns the rows as committed (cells as text)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [[str(i), f"name {i}" if i != 7 else "two\nlines", str(i * 1.5)] for i in range(ROWS)]
    with (folder / "a.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "value"])
        w.writerows(rows[:700])
    for name, lo, hi, group in (("b.parquet", 700, 1901, 333), ("c.parquet", 1901, ROWS, 100)):
        cols = list(zip(*rows[lo:hi], strict=True))
        table = pa.table({"id": cols[0], "name": cols[1], "value": cols[2]})
        pq.write_table(table, folder / name, row_group_size=group)
    return rows


def reference_root(rows: list[list[str]], chunk: int) -> bytes:
    """The chunked root from first principles: OZ trees of row leaves, then of chunk roots."""
    leaves = [row_leaf(i, r) for i, r in enumerate(rows)]
    roots = [make_tree(leaves[k : k + chunk])[0] for k in range(0, len(leaves), chunk)]
    return make_tree(roots)[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]]]:
    folder = tmp_path_factory.mktemp("chunked") / "data"
    return folder, write_dataset(folder)


@pytest.fixture(scope="module")
def local_root(data: tuple[Path, list[list[str]]], tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("local")
    return commit_chunked(data[0], out, chunk_rows=CHUNK, workers=2).manifest.root


def test_local_root_equals_the_reference_and_proofs_check(
    data: tuple[Path, list[list[str]]], tmp_path: Path, local_root: str
) -> None:
    folder, rows = data
    assert local_root == "0x" + reference_root(rows, CHUNK).hex()
    one = commit_chunked(folder, tmp_path, chunk_rows=CHUNK, workers=1)
    assert one.manifest.root == local_root
    for row in (0, 7, CHUNK - 1, CHUNK, 699, 700, 1900, 1901, ROWS - 1):
        proof = one.proof(row)
        assert proof.leaf == row_leaf(row, rows[row])
        assert verify_proof(one.root, proof.leaf, proof.proof)
    reloaded = load_commitment(one.tree_path.parent)
    assert reloaded.manifest == one.manifest
    assert Manifest.from_json(one.manifest.to_json()).chunk_rows == CHUNK


def test_one_chunk_has_the_v1_root(data: tuple[Path, list[list[str]]], tmp_path: Path) -> None:
    v1 = commit_dataset(data[0], tmp_path / "v1")
    v2 = commit_chunked(data[0], tmp_path / "v2", chunk_rows=4096)
    assert v2.manifest.root == v1.manifest.root
    assert v2.manifest.hash != v1.manifest.hash  # the format is in the manifest
    assert check_dataset(data[0], v1).ok  # v1 commitments still verify


def test_a_changed_row_is_found_in_its_chunk(
    data: tuple[Path, list[list[str]]], tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    shutil.copytree(data[0], folder)
    committed = commit_chunked(folder, tmp_path / "out", chunk_rows=CHUNK)
    assert check_dataset(folder, committed).ok
    table = pq.read_table(folder / "c.parquet")
    names = table.column("name").to_pylist()
    names[10] = "changed"
    pq.write_table(table.set_column(1, "name", pa.array(names)), folder / "c.parquet")
    check = check_chunked(folder, committed, chunks=range(0, 4))
    assert check.problems == ["file c.parquet changed (its SHA-256 differs from the manifest)"]
    check = check_chunked(folder, committed, workers=2)
    row = 1901 + 10
    assert not check.ok
    assert f"chunk {row // CHUNK} (rows {row // CHUNK * CHUNK}–" in "\n".join(check.problems)
    with pytest.raises(InputError, match="out of range"):
        check_chunked(folder, committed, chunks=range(0, 99))


def test_bad_chunk_size_and_engine(data: tuple[Path, list[list[str]]], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="power of two"):
        commit_chunked(data[0], tmp_path, chunk_rows=1000)
    with pytest.raises(InputError, match="unknown engine"):
        commit_chunked(data[0], tmp_path, engine="dask")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".commit-")]


def test_top_root_of_one_chunk_is_that_chunk() -> None:
    assert top_root([b"\x01" * 32]) == b"\x01" * 32


def test_cli_commit_and_check(data: tuple[Path, list[list[str]]], tmp_path: Path) -> None:
    from proofmind.cli.app import app
    from proofmind.workspace import init_workspace

    workspace, _ = init_workspace(tmp_path / "ws")
    runner = CliRunner()
    ws = ["--workspace", str(workspace.root)]
    result = runner.invoke(
        app, ["provenance", "dataset", str(data[0]), "--engine", "local", "--workers", "2", *ws]
    )
    assert result.exit_code == 0, result.output
    assert "on local" in result.output
    result = runner.invoke(app, ["provenance", "check", str(data[0]), *ws])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    result = runner.invoke(app, ["provenance", "proof", str(data[0]), "--row", "1000", *ws])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    assert proof["leaf"] == "0x" + row_leaf(1000, data[1][1000]).hex()
    assert len(proof["proof"]) == 8 + 4  # 256-row chunk, then 12 chunk roots
    assert verify_proof(proof["root"], proof["leaf"], proof["proof"])
    result = runner.invoke(app, ["provenance", "check", str(data[0]), "--chunks", "3:1", *ws])
    assert isinstance(result.exception, InputError)
    assert "is not FIRST:END" in result.exception.message


# --------------------------------------------------------------------------- engines


def _java() -> bool:
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    pytest.importorskip("pyspark", reason="the Spark engine is an extra: proofmind[spark]")
    if not _java():
        pytest.skip("Spark needs Java 17+, which this machine lacks")
    from proofmind.intel.spark import session

    spark = session("local[2]")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def ray_local() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="the Ray engine is an extra: proofmind[ray]")
    from proofmind.provenance.chunked import ray_init

    ray_init(None, 2)
    yield ray
    ray.shutdown()


def test_spark_root_equals_local(
    data: tuple[Path, list[list[str]]], tmp_path: Path, local_root: str, spark: object
) -> None:
    done = commit_chunked(data[0], tmp_path, chunk_rows=CHUNK, engine="spark", master="local[2]")
    assert done.manifest.root == local_root
    assert verify_proof(done.root, done.proof(1234).leaf, done.proof(1234).proof)
    assert check_chunked(data[0], done, engine="spark", master="local[2]").ok


def test_ray_root_equals_local(
    data: tuple[Path, list[list[str]]], tmp_path: Path, local_root: str, ray_local: object
) -> None:
    done = commit_chunked(data[0], tmp_path, chunk_rows=CHUNK, engine="ray")
    assert done.manifest.root == local_root
    assert verify_proof(done.root, done.proof(2999).leaf, done.proof(2999).proof)
    assert check_chunked(data[0], done, engine="ray").ok


def test_a_failed_spark_task_is_one_clear_error(
    data: tuple[Path, list[list[str]]], tmp_path: Path, spark: object
) -> None:
    from proofmind.provenance.chunked import chunk_root, make_plan, run_tasks

    folder = tmp_path / "data"
    shutil.copytree(data[0], folder)
    plan, _ = make_plan(folder, chunk_rows=CHUNK)
    (folder / "a.csv").unlink()  # gone between the plan and the chunks
    with pytest.raises(InputError, match=r"a Spark task failed: .*a\.csv"):
        run_tasks("spark", chunk_root, [(plan, 0, None)], master="local[2]")
