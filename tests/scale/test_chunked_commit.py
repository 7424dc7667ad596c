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
from proofmind.errors import ConfigError, InputError
from proofmind.provenance.chunked import check_chunked, commit_chunked, top_root
from proofmind.provenance.dataset import (
    Commitment,
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


# --------------------------------------------------------------------------- URIs


@pytest.fixture(scope="module")
def spaced(data: tuple[Path, list[list[str]]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same files in a folder whose name has a space (file:// URIs write it %20)."""
    folder = tmp_path_factory.mktemp("uri") / "my data"
    shutil.copytree(data[0], folder)
    return folder


@pytest.fixture(scope="module")
def local_commit(
    data: tuple[Path, list[list[str]]], tmp_path_factory: pytest.TempPathFactory
) -> Commitment:
    return commit_chunked(data[0], tmp_path_factory.mktemp("plain"), chunk_rows=CHUNK, name="d")


def test_uri_and_subtree_file_system_give_the_path_commitment(
    spaced: Path, tmp_path: Path, local_commit: Commitment
) -> None:
    from pyarrow.fs import LocalFileSystem, SubTreeFileSystem

    uri = spaced.as_uri()
    assert "%20" in uri
    by_uri = commit_chunked(uri, tmp_path / "a", chunk_rows=CHUNK, name="d", workers=2)
    spaces = uri.replace("%20", " ")  # a literal space is accepted too
    by_spaces = commit_chunked(spaces, tmp_path / "b", chunk_rows=CHUNK, name="d", workers=1)
    tree = SubTreeFileSystem(str(spaced.parent), LocalFileSystem())
    by_fs = commit_chunked(
        "my data", tmp_path / "c", chunk_rows=CHUNK, name="d", filesystem=tree, workers=2
    )
    for done in (by_uri, by_spaces, by_fs):
        # where the files are is not part of the commitment: same root, same manifest
        assert done.manifest.root == local_commit.manifest.root
        assert done.manifest.hash == local_commit.manifest.hash
    assert commit_chunked(uri, tmp_path / "d", chunk_rows=CHUNK).manifest.name == "my data"
    proof = by_uri.proof(1901)
    assert verify_proof(by_uri.root, proof.leaf, proof.proof)
    # a check at the URI of a commitment made from the path, and the other way round
    assert check_chunked(uri, local_commit, workers=2).ok
    assert check_chunked(spaced, by_uri).ok
    assert check_chunked("my data", by_uri, filesystem=tree, chunks=range(2, 5)).ok


def test_a_change_is_found_through_a_uri(
    spaced: Path, tmp_path: Path, local_commit: Commitment
) -> None:
    folder = tmp_path / "copy of data"
    shutil.copytree(spaced, folder)
    table = pq.read_table(folder / "b.parquet")
    names = table.column("name").to_pylist()
    names[5] = "changed"
    pq.write_table(table.set_column(1, "name", pa.array(names)), folder / "b.parquet")
    check = check_chunked(folder.as_uri(), local_commit, workers=2)
    assert not check.ok
    row = 700 + 5
    assert "file b.parquet changed" in check.problems[0]
    assert f"chunk {row // CHUNK} (rows {row // CHUNK * CHUNK}–" in "\n".join(check.problems)
    (folder / "c.parquet").unlink()
    check = check_chunked(folder.as_uri(), local_commit)
    assert any("c.parquet" in p for p in check.problems)


def test_bad_uris_say_what_is_wrong(tmp_path: Path) -> None:
    from proofmind.provenance.dataset._location import normalise_uri

    with pytest.raises(InputError, match="unknown file system foo://"):
        commit_chunked("foo://bucket/data", tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        commit_chunked((tmp_path / "nosuch").as_uri(), tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="is not a CSV or Parquet file"):
        commit_chunked((tmp_path / "notes.txt").as_uri(), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.csv"):
        commit_chunked((tmp_path / "empty").as_uri(), tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".commit-")]
    # Hadoop's scheme names read as PyArrow's, spaces encoded
    assert normalise_uri("s3a://bucket/my data") == "s3://bucket/my%20data"
    assert normalise_uri("gcs://bucket/x") == "gs://bucket/x"
    try:
        import pyarrow.fs as pafs

        pafs.HadoopFileSystem("default")
        libhdfs = True
    except OSError:
        libhdfs = False
    if not libhdfs:  # this machine has no libhdfs / JVM for it: the error says what to install
        with pytest.raises(ConfigError, match="needs libhdfs and a Java runtime") as caught:
            commit_chunked("hdfs://namenode:8020/data", tmp_path)
        assert "ARROW_LIBHDFS_DIR" in str(caught.value) and "--engine spark" in str(caught.value)


def test_credentials_in_a_uri_are_neither_shown_nor_kept(tmp_path: Path) -> None:
    from proofmind.provenance.dataset import without_secrets
    from proofmind.provenance.ledger import place

    given = "s3://AKIAEXAMPLE:s3cr3t@bucket/train/?region=eu-west-1&secret_key=k&session_token=t"
    assert without_secrets(given) == "s3://bucket/train/?region=eu-west-1"
    assert place(given) == "s3://bucket/train/?region=eu-west-1"
    assert place("file:///data/my data/") == "file:///data/my%20data"
    assert without_secrets("hdfs://nn:8020/x") == "hdfs://nn:8020/x"
    with pytest.raises(InputError) as caught:
        commit_chunked("foo://user:s3cr3t@bucket/data?token=t0k3n", tmp_path)
    assert "s3cr3t" not in str(caught.value) and "t0k3n" not in str(caught.value)
    assert "foo://bucket/data" in str(caught.value)


def test_cli_commits_and_checks_a_uri(spaced: Path, tmp_path: Path) -> None:
    from proofmind.cli.app import app
    from proofmind.provenance.ledger import Ledger
    from proofmind.workspace import init_workspace

    workspace, _ = init_workspace(tmp_path / "ws")
    runner = CliRunner()
    ws = ["--workspace", str(workspace.root)]
    uri = spaced.as_uri() + "/"
    result = runner.invoke(app, ["provenance", "dataset", uri, "--name", "d", *ws])
    assert isinstance(result.exception, InputError)
    assert "add --engine local" in str(result.exception)
    result = runner.invoke(
        app, ["provenance", "dataset", uri, "--name", "d", "--engine", "local", *ws]
    )
    assert result.exit_code == 0, result.output
    (record,) = Ledger(workspace).all()
    # the default chunk (2^16 rows) holds all 3,000 rows: the v1 root of the same data
    assert record.content_hash == commit_dataset(spaced, tmp_path / "v1").manifest.root
    assert record.path == uri.rstrip("/")  # the URI as given, for the verifier
    for given in (uri, uri.replace("%20", " ")):
        result = runner.invoke(app, ["provenance", "check", given, "--workers", "2", *ws])
        assert result.exit_code == 0, result.output
        assert "OK" in result.output
    result = runner.invoke(app, ["provenance", "proof", uri, "--row", "2999", *ws])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    assert verify_proof(proof["root"], proof["leaf"], proof["proof"])
    # verify reads the dataset from its URI too (not anchored here: that is its only problem)
    result = runner.invoke(app, ["verify", uri, "--json", *ws])
    assert result.exit_code == 1, result.output
    (finding,) = json.loads(result.output)["records"]
    assert finding["path"] == uri.rstrip("/")
    assert [p.split(":")[0] for p in finding["problems"]] == ["not anchored yet"]
    assert any("3000 rows" in note for note in finding["notes"])


def test_spark_reads_a_uri_through_hadoop(
    spaced: Path,
    tmp_path: Path,
    local_commit: Commitment,
    data: tuple[Path, list[list[str]]],
    spark: object,
) -> None:
    uri = spaced.as_uri()
    done = commit_chunked(uri, tmp_path / "a", chunk_rows=CHUNK, engine="spark", name="d")
    assert done.manifest.hash == local_commit.manifest.hash
    for row in (0, 699, 700, 1900, 1901, ROWS - 1):  # the trees of chunks cut by files, too
        proof = done.proof(row)
        assert proof.leaf == row_leaf(row, data[1][row])
        assert verify_proof(done.root, proof.leaf, proof.proof)
    assert check_chunked(uri, local_commit, engine="spark").ok
    assert check_chunked(uri, done, engine="spark", chunks=range(2, 4)).ok
    # one chunk over all three files: the pieces are joined on the driver, the v1 root
    one = commit_chunked(uri, tmp_path / "b", chunk_rows=4096, engine="spark")
    assert one.manifest.root == commit_dataset(spaced, tmp_path / "v1").manifest.root
    with pytest.raises(InputError, match="Spark's Hadoop has no file system for foo://"):
        commit_chunked("foo://bucket/data", tmp_path, engine="spark")
    with pytest.raises(ConfigError, match="lacks the s3a:// connector"):  # no hadoop-aws jar
        commit_chunked("s3a://bucket/data", tmp_path, engine="spark")
    with pytest.raises(InputError, match="does not exist"):
        commit_chunked((tmp_path / "nosuch").as_uri(), tmp_path, engine="spark")
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copy(spaced / "a.csv", odd / "_a.csv")
    with pytest.raises(InputError, match=r"skip _a\.csv"):
        commit_chunked(odd.as_uri(), tmp_path, engine="spark")


def test_ray_reads_a_uri_itself(
    spaced: Path, tmp_path: Path, local_commit: Commitment, ray_local: object
) -> None:
    uri = spaced.as_uri()
    done = commit_chunked(uri, tmp_path, chunk_rows=CHUNK, engine="ray", name="d")
    assert done.manifest.hash == local_commit.manifest.hash
    assert check_chunked(uri, local_commit, engine="ray").ok


def test_an_s3_uri_over_http(
    spaced: Path, tmp_path: Path, local_commit: Commitment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3:// through PyArrow's S3 client, against moto's S3 server on this machine (the real
    protocol; no bucket of a cloud is reachable here): the workers list and read the objects."""
    server_module = pytest.importorskip("moto.server", reason="needs moto[server] (dev extra)")
    from pyarrow.fs import LocalFileSystem, S3FileSystem, copy_files

    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(key, "testing")  # the workers' environment holds the credentials
        endpoint = f"endpoint_override={host}:{port}&scheme=http&region=us-east-1"
        s3 = S3FileSystem(
            endpoint_override=f"{host}:{port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        s3.create_dir("bucket")
        copy_files(
            str(spaced),
            "bucket/my data",
            source_filesystem=LocalFileSystem(),
            destination_filesystem=s3,
        )
        uri = f"s3://bucket/my%20data?{endpoint}"
        done = commit_chunked(uri, tmp_path, chunk_rows=CHUNK, name="d", workers=2)
        assert done.manifest.hash == local_commit.manifest.hash
        assert check_chunked(uri, local_commit, workers=2).ok
        with pytest.raises(InputError, match="does not exist"):
            commit_chunked(f"s3://bucket/nosuch?{endpoint}", tmp_path)
    finally:
        server.stop()


def test_python_api_and_a_run_take_a_uri(spaced: Path, tmp_path: Path) -> None:
    import proofmind
    from proofmind.chain.base import Chain
    from proofmind.provenance.runs import logged_run
    from proofmind.provenance.verify import verify_path
    from proofmind.workspace import init_workspace

    def no_chain() -> Chain:
        raise AssertionError("nothing is anchored: the chain is never asked")

    workspace, _ = init_workspace(tmp_path / "ws")
    uri = spaced.as_uri()
    with pytest.raises(InputError, match="add --engine local"):
        proofmind.record_dataset(workspace, uri)
    done = proofmind.record_dataset(workspace, uri, engine="local", workers=2)
    assert done.record.path == uri
    with logged_run(workspace, "uri-run", [uri]) as run:
        run.log_metric(0, loss=1.0)
    assert [r.key for r in run.datasets] == [done.record.key]  # the same record, reused
    report = verify_path(workspace, run.directory, connect=no_chain)
    dataset = next(f for f in report.findings if f.record.key == done.record.key)
    assert [p.split(":")[0] for p in dataset.problems] == ["not anchored yet"]
    assert any("3000 rows" in note for note in dataset.notes)  # read from the URI and matched
