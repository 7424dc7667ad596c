"""Chunked dataset commitments (``proofmind-dataset-v2``): one root, computed in parallel.

The rows and leaves are those of ``proofmind-rows-v1`` (leaf i = keccak256(uint64be(i) ‖
rowHash), i the row's place in the whole dataset). The tree differs: rows are cut into chunks of
``chunk_rows`` (2^16 by default) in row order; each chunk is an OpenZeppelin tree over its
leaves, and the root is the OpenZeppelin tree over the chunk roots, in chunk order. A chunk is a
pure function of its rows and its number, so any engine — a process pool here, Spark
(``mapPartitions`` over ordered chunk numbers) or Ray (one task a chunk) — computes the same
chunk roots, and the same root, as the single-machine path.

A row's proof is its path in its chunk's tree followed by its chunk root's path in the top tree.
OpenZeppelin's ``MerkleProof.verify`` hashes the running node with each proof element as a
sorted pair, with no position flags, so the joined path checks on-chain as any other proof. A
dataset of at most one chunk has the root of the ``proofmind-dataset-v1`` tree (the top tree
over one chunk root is that root).

A commitment folder holds ``manifest.json``, ``chunks.bin`` (the chunk roots, 32 bytes each)
and ``trees/<chunk>.bin`` (each chunk's OpenZeppelin array, for proofs). Verifying runs chunk
by chunk on the engine: every task reads only its chunk's rows and compares the chunk root with
the committed one, so no machine reads the whole dataset.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from proofmind.crypto._tree import build as build_tree
from proofmind.errors import ConfigError, InputError
from proofmind.provenance._hashing import NODE, leaf_block
from proofmind.provenance.dataset._location import (
    Location,
    RemoteFile,
    is_uri,
    list_files,
    locate,
)

if TYPE_CHECKING:
    from proofmind.provenance.dataset import Commitment, DatasetCheck
    from proofmind.provenance.dataset._reading import DataPath

CHUNK_ROWS = 1 << 16
ENGINES = ("local", "spark", "ray")


@dataclass(frozen=True)
class FileInfo:
    """What a first pass learns of one data file (run as one task a file)."""

    name: str
    path: str
    bytes: int
    sha256: str
    rows: int
    schema: list[dict[str, str]]
    error: str | None = None


@dataclass(frozen=True)
class Plan:
    """Everything a chunk task needs: the files in order with their first rows (absolute paths
    every worker sees), the schema and the chunk size. Small, so it travels with each task."""

    files: tuple[tuple[str, str, int, int], ...]  # (name, path, first row, rows)
    schema: tuple[tuple[str, str], ...]
    rows: int
    chunk_rows: int
    # where the paths are: None for local paths; a file system every worker opens itself
    location: Location | None = None
    hadoop: bool = False  # paths are Hadoop paths, read through Spark (provenance.hadoop)

    @property
    def chunks(self) -> int:
        return -(-self.rows // self.chunk_rows)

    def span(self, chunk: int) -> tuple[int, int]:
        lo = chunk * self.chunk_rows
        return lo, min(lo + self.chunk_rows, self.rows)


# --------------------------------------------------------------------------- tasks (workers)


def data_file(path: str, location: Location | None) -> DataPath:
    """The file at ``path``: a local path, or a file the calling worker opens in ``location``."""
    return Path(path) if location is None or location.local else RemoteFile(location, path)


def describe_file(name: str, path: str, location: Location | None = None) -> FileInfo:
    """Row count, SHA-256 and schema of one data file (Parquet rows come from its footer)."""
    return describe(name, path, data_file(path, location))


def describe(name: str, path: str, file: DataPath) -> FileInfo:
    from proofmind.provenance.dataset._reading import (
        _arrow_source,
        file_sha256,
        file_size,
        read_batches,
        read_schema,
    )

    try:
        schema = read_schema(name, file)
        if name.endswith(".parquet"):
            rows = pq.ParquetFile(_arrow_source(file)).metadata.num_rows
        else:
            rows = sum(b.num_rows for b in read_batches(name, file, schema))
        return FileInfo(name, path, file_size(file), file_sha256(file), rows, schema)
    except InputError as exc:
        return FileInfo(name, path, 0, "", 0, [], exc.message)


def file_rows(
    name: str, file: DataPath, schema: list[dict[str, str]], lo: int, hi: int
) -> Iterator[Any]:
    """Batches holding rows [lo, hi) of one file; Parquet skips the row groups before ``lo``."""
    from proofmind.provenance.dataset._reading import _arrow_source, read_batches

    if name.endswith(".parquet"):
        reader = pq.ParquetFile(_arrow_source(file))
        groups: list[int] = []
        start = at = 0
        for g in range(reader.metadata.num_row_groups):
            n = reader.metadata.row_group(g).num_rows
            if at + n > lo and at < hi:
                if not groups:
                    start = at  # the first row of the first group read
                groups.append(g)
            at += n
        if not groups:
            return
        batches: Iterator[Any] = reader.iter_batches(batch_size=1 << 16, row_groups=groups)
    else:
        start, batches = 0, read_batches(name, file, schema)
    for batch in batches:
        end = start + batch.num_rows
        if end > lo and start < hi:
            yield batch.slice(max(lo - start, 0), min(hi, end) - max(lo, start))
        start = end
        if start >= hi:
            return


def chunk_tree(plan: Plan, chunk: int) -> list[bytes]:
    """The OpenZeppelin array of chunk ``chunk``'s tree (its root first)."""
    lo, hi = plan.span(chunk)
    schema = [{"name": n, "type": t} for n, t in plan.schema]
    leaves: list[bytes] = []
    for name, path, first, rows in plan.files:
        a, b = max(lo, first), min(hi, first + rows)
        if a >= b:
            continue
        file = data_file(path, plan.location)
        for batch in file_rows(name, file, schema, a - first, b - first):
            block, _ = leaf_block(batch, lo + len(leaves))
            leaves.extend(block[i : i + NODE] for i in range(0, len(block), NODE))
    if len(leaves) != hi - lo:
        raise InputError(
            f"chunk {chunk} read {len(leaves)} rows, expected {hi - lo}",
            hint="the files changed while they were read; commit again",
        )
    return build_tree(leaves)


def chunk_root(plan: Plan, chunk: int, tree_dir: str | None = None) -> bytes:
    """Chunk ``chunk``'s root; its tree goes to ``tree_dir/<chunk>.bin`` when given (a
    folder every worker can write: a local disk for local engines, shared storage on a cluster).
    A task is idempotent: run twice (a retry after a lost worker), it writes the same bytes."""
    tree = chunk_tree(plan, chunk)
    if tree_dir is not None:
        write_tree(tree_dir, chunk, tree)
    return tree[0]


def write_tree(tree_dir: str, chunk: int, tree: list[bytes]) -> None:
    """``tree_dir/<chunk>.bin``, written whole or not at all (a temporary file, renamed)."""
    target = Path(tree_dir) / f"{chunk}.bin"
    fd, tmp = tempfile.mkstemp(dir=tree_dir, prefix=f".{chunk}-")
    with os.fdopen(fd, "wb") as out:
        out.write(b"".join(tree))
    os.replace(tmp, target)


# --------------------------------------------------------------------------- engines


def run_tasks(
    engine: str,
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    workers: int | None = None,
    master: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Any]:
    """``fn(*task)`` for every task on ``engine``, results in task order."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}", hint=f"use one of {', '.join(ENGINES)}")
    if not tasks:
        return []
    if engine == "spark":
        return _run_spark(fn, tasks, master, workers)
    if engine == "ray":
        return _run_ray(fn, tasks, master, workers, progress)
    return _run_local(fn, tasks, workers, progress)


def _run_local(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    workers: int | None,
    progress: Callable[[int], None] | None,
) -> list[Any]:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(tasks) == 1:
        out = []
        for task in tasks:
            out.append(fn(*task))
            if progress is not None:
                progress(1)
        return out
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(fn, *task) for task in tasks]
        results = []
        for future in futures:
            results.append(future.result())
            if progress is not None:
                progress(1)
        return results


def _spark_task(fn: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Any:
    def run(numbers: Iterator[int]) -> Iterator[tuple[int, Any]]:
        for n in numbers:
            yield n, fn(*tasks[n])

    return run


def _run_spark(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    master: str | None,
    workers: int | None,
) -> list[Any]:
    from proofmind.intel.spark import session

    spark = session(master)
    sc = spark.sparkContext
    slices = min(len(tasks), max(sc.defaultParallelism * 4, workers or 0))
    # ordered task numbers, a contiguous range per partition; a failed task (a lost executor)
    # is run again by Spark, and a task's result depends only on its number
    numbers = sc.parallelize(range(len(tasks)), slices)
    try:
        pairs = numbers.mapPartitions(_spark_task(fn, list(tasks))).collect()
    except Exception as exc:  # a task failed maxFailures times: say why in one line
        raise spark_failure(exc) from exc
    results = dict(pairs)
    return [results[n] for n in range(len(tasks))]


def spark_failure(exc: BaseException) -> InputError:
    """A failed Spark job in one line: the Python worker's traceback ends with
    "proofmind.errors.InputError: <message>", or the JVM's with its exception."""
    found = re.findall(r"(?m)^\S*InputError: (.+)$", str(exc))
    errors = re.findall(r"(?m)^\S*(?:Error|Exception): .+$", str(exc))
    cause = found[-1] if found else (errors[-1] if errors else "")
    return InputError(
        f"a Spark task failed: {cause or type(exc).__name__}",
        hint="the executors' logs have the details",
    )


def ray_init(master: str | None, workers: int | None = None) -> Any:
    """Connect to the Ray cluster at ``master`` (``ray://HOST:PORT`` or ``auto``), or start a
    local one with ``workers`` CPUs when none is given."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "the Ray engine needs ray, which is not installed",
            hint="pip install 'proofmind[ray]'",
        ) from exc
    if not ray.is_initialized():
        try:
            if master:
                ray.init(address=master, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                )
        except Exception as exc:  # unreachable cluster, version mismatch
            raise ConfigError(
                f"cannot start Ray on {master or 'this machine'}: {str(exc).splitlines()[0]}",
                hint="check --master (ray://HOST:10001, or auto for a running cluster)",
            ) from exc
    return ray


def _run_ray(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    master: str | None,
    workers: int | None,
    progress: Callable[[int], None] | None,
) -> list[Any]:
    ray = ray_init(master, workers)
    # a task whose worker dies is retried elsewhere (max_retries); results depend only on the
    # task's arguments, so a retry changes nothing
    remote = ray.remote(max_retries=5, retry_exceptions=False)(fn)
    window = 4 * int(ray.cluster_resources().get("CPU", 1))
    results: list[Any] = []
    pending: list[Any] = []
    for task in tasks:
        pending.append(remote.remote(*task))
        if len(pending) >= window:
            results.append(ray.get(pending.pop(0)))
            if progress is not None:
                progress(1)
    for ref in pending:
        results.append(ray.get(ref))
        if progress is not None:
            progress(1)
    return results


# --------------------------------------------------------------------------- plan, commit, verify


def make_plan(
    path: Path | str,
    *,
    engine: str = "local",
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
    master: str | None = None,
    filesystem: Any = None,
) -> tuple[Plan, list[FileInfo]]:
    """Describe every file (one task each), check they share a schema, and lay out the chunks.

    ``path`` is a local path, a URI (each worker opens its files with PyArrow, or on Spark
    through Spark's Hadoop file systems), or a path inside ``filesystem`` (a PyArrow
    ``FileSystem``, e.g. a ``SubTreeFileSystem``)."""
    from proofmind.provenance.dataset._reading import check_types, dataset_files, describe_drift

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}", hint=f"use one of {', '.join(ENGINES)}")
    if chunk_rows < 1 or chunk_rows & (chunk_rows - 1):
        raise InputError(f"chunk size {chunk_rows} is not a power of two", hint="e.g. 65536")
    location: Location | None = None
    hadoop = False
    if engine == "spark" and filesystem is None and is_uri(path):
        from proofmind.provenance import hadoop as hdfs

        location = hdfs.locate(master, str(path))
        hadoop = True
        infos = hdfs.describe_files(master, location, hdfs.list_files(master, location))
    elif filesystem is None and not is_uri(path):
        files = dataset_files(Path(path))
        tasks: list[tuple[Any, ...]] = [(name, str(p.resolve())) for name, p in files]
        infos = run_tasks(engine, describe_file, tasks, workers=workers, master=master)
    else:
        location = locate(path, filesystem)
        tasks = [(name, inner, location) for name, inner in list_files(location)]
        infos = run_tasks(engine, describe_file, tasks, workers=workers, master=master)
    shown = location.display if location is not None else str
    schema: list[dict[str, str]] | None = None
    layout, rows = [], 0
    for info in infos:
        if info.error is not None:
            raise InputError(info.error)
        if schema is None:
            check_types(info.schema, shown(info.path))
            schema = info.schema
        elif info.schema != schema:
            raise InputError(
                f"{shown(info.path)}: schema drift — {describe_drift(schema, info.schema)}",
                hint=f"every file of a dataset must have the columns of {infos[0].name}",
            )
        layout.append((info.name, info.path, rows, info.rows))
        rows += info.rows
    if rows == 0:
        raise InputError(f"{path} has no rows", hint="a dataset needs at least one row")
    assert schema is not None
    columns = tuple((c["name"], c["type"]) for c in schema)
    plan = Plan(tuple(layout), columns, rows, chunk_rows, location, hadoop)
    return plan, infos


def chunk_roots(
    plan: Plan,
    numbers: Sequence[int],
    tree_dir: str | None,
    *,
    engine: str,
    master: str | None,
    workers: int | None,
    progress: Callable[[int], None] | None = None,
) -> list[bytes]:
    """The roots of chunks ``numbers`` on ``engine`` (trees written to ``tree_dir``)."""
    if plan.hadoop:
        from proofmind.provenance import hadoop as hdfs

        roots = hdfs.chunk_roots(master, plan, numbers, tree_dir)
        if progress is not None:
            progress(len(numbers))
        return roots
    return run_tasks(
        engine,
        chunk_root,
        [(plan, k, tree_dir) for k in numbers],
        workers=workers,
        master=master,
        progress=progress,
    )


def top_root(chunk_roots: Sequence[bytes]) -> bytes:
    return build_tree(list(chunk_roots))[0]


def commit_chunked(
    path: Path | str,
    out_dir: Path,
    *,
    name: str | None = None,
    engine: str = "local",
    master: str | None = None,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    trees: bool = True,
    progress: Callable[[int], None] | None = None,
    filesystem: Any = None,
) -> Commitment:
    """Commit the dataset at ``path`` (a local path, a URI, or a path in ``filesystem``, see
    :func:`make_plan`) as ``proofmind-dataset-v2`` on ``engine``; writes
    ``out_dir/<manifest hash>/`` atomically and returns the commitment. Where the data lives
    is not in the manifest: the same rows give the same manifest from a path or a URI."""
    from proofmind.provenance.dataset import DataFile, Manifest, publish_commitment
    from proofmind.provenance.dataset._commit import default_name
    from proofmind.provenance.dataset._location import default_name as uri_name

    plan, infos = make_plan(
        path,
        engine=engine,
        chunk_rows=chunk_rows,
        workers=workers,
        master=master,
        filesystem=filesystem,
    )
    if name is None:
        name = uri_name(str(path)) if plan.location is not None else default_name(Path(path))
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".commit-", dir=out_dir))
    try:
        tree_dir = None
        if trees:
            (work / "trees").mkdir()
            tree_dir = str((work / "trees").resolve())
        roots = chunk_roots(
            plan,
            range(plan.chunks),
            tree_dir,
            engine=engine,
            master=master,
            workers=workers,
            progress=progress,
        )
        if tree_dir is not None:  # a task killed mid-write leaves its temporary file
            for stale in Path(tree_dir).glob(".*"):
                stale.unlink()
        (work / "chunks.bin").write_bytes(b"".join(roots))
        files = [
            DataFile(i.name, i.bytes, i.sha256, i.rows, first)
            for i, (_, _, first, _) in zip(infos, plan.files, strict=True)
        ]
        manifest = Manifest(
            name,
            "0x" + top_root(roots).hex(),
            plan.rows,
            [{"name": n, "type": t} for n, t in plan.schema],
            files,
            chunk_rows=chunk_rows,
        )
        return publish_commitment(work, out_dir, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def chunk_proof(directory: Path, chunk_rows: int, rows: int, row: int) -> tuple[bytes, list[bytes]]:
    """(leaf, proof) of ``row``: its path in its chunk's tree, then the chunk root's path in
    the top tree."""
    chunk, inner = divmod(row, chunk_rows)
    count = min(chunk_rows, rows - chunk * chunk_rows)
    tree_file = directory / "trees" / f"{chunk}.bin"
    if not tree_file.exists():
        raise InputError(
            f"the tree of chunk {chunk} is not in {directory}",
            hint="commit again with chunk trees kept to make row proofs",
        )
    data = tree_file.read_bytes()
    nodes = [data[i : i + NODE] for i in range(0, len(data), NODE)]
    if len(nodes) != 2 * count - 1:
        raise InputError(f"{tree_file} is damaged ({len(nodes)} nodes, expected {2 * count - 1})")
    roots = _chunk_roots(directory)
    return nodes[2 * count - 2 - inner], _path(nodes, count, inner) + _path(
        build_tree(roots), len(roots), chunk
    )


def _path(tree: list[bytes], count: int, leaf: int) -> list[bytes]:
    index = 2 * count - 2 - leaf
    proof = []
    while index > 0:
        proof.append(tree[index - 1 if index % 2 == 0 else index + 1])
        index = (index - 1) // 2
    return proof


def _chunk_roots(directory: Path) -> list[bytes]:
    data = (directory / "chunks.bin").read_bytes()
    return [data[i : i + NODE] for i in range(0, len(data), NODE)]


def check_chunked(
    path: Path | str,
    committed: Commitment,
    *,
    engine: str = "local",
    master: str | None = None,
    workers: int | None = None,
    chunks: range | None = None,
    progress: Callable[[int], None] | None = None,
    filesystem: Any = None,
) -> DatasetCheck:
    """Re-derive the dataset at ``path`` chunk by chunk on ``engine`` and compare it with the
    committed ``proofmind-dataset-v2`` commitment. ``chunks`` checks only those chunk numbers
    (so several jobs can split one check); the committed chunk roots are always checked against
    the committed root."""
    from proofmind.provenance.dataset import DatasetCheck
    from proofmind.provenance.dataset._check import file_problems
    from proofmind.provenance.dataset._reading import describe_drift

    manifest = committed.manifest
    assert manifest.chunk_rows is not None
    directory = committed.tree_path.parent
    roots = _chunk_roots(directory)
    problems: list[str] = []
    if "0x" + top_root(roots).hex() != manifest.root:
        problems.append("the committed chunk roots do not hash to the committed root")
    try:
        plan, infos = make_plan(
            path,
            engine=engine,
            chunk_rows=manifest.chunk_rows,
            workers=workers,
            master=master,
            filesystem=filesystem,
        )
    except InputError as exc:
        return DatasetCheck("", 0, False, [*problems, exc.message])
    problems += file_problems(manifest, {i.name: i.sha256 for i in infos})
    schema = [{"name": n, "type": t} for n, t in plan.schema]
    if schema != manifest.schema:
        problems.append(f"schema drift: {describe_drift(manifest.schema, schema)}")
    if plan.rows != manifest.rows:
        problems.append(f"row count is {plan.rows}, committed {manifest.rows}")
    numbers = list(chunks if chunks is not None else range(plan.chunks))
    if any(not 0 <= k < plan.chunks for k in numbers):
        raise InputError(
            f"chunks {numbers[0]}–{numbers[-1]} are out of range",
            hint=f"the dataset has chunks 0–{plan.chunks - 1}",
        )
    now = chunk_roots(
        plan, numbers, None, engine=engine, master=master, workers=workers, progress=progress
    )
    changed = [k for k, r in zip(numbers, now, strict=True) if k >= len(roots) or roots[k] != r]
    for k in changed[:20]:
        lo, hi = plan.span(k)
        problems.append(f"chunk {k} (rows {lo}–{hi - 1}) differs")
    if len(changed) > 20:
        problems.append(f"{len(changed)} chunks differ in all (the first 20 are listed)")
    root = "0x" + top_root(now).hex() if chunks is None else manifest.root
    return DatasetCheck(root, plan.rows, not problems, problems)


__all__ = [
    "CHUNK_ROWS",
    "ENGINES",
    "Plan",
    "check_chunked",
    "chunk_proof",
    "chunk_root",
    "commit_chunked",
    "make_plan",
    "run_tasks",
    "top_root",
]
