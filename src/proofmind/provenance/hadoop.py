"""Chunked dataset commitments over Hadoop-compatible URIs, read through Spark's own Hadoop
file systems (``--engine spark`` with hdfs://, s3a://, gs://, abfss://, file://, …).

The driver lists the files through the JVM's ``org.apache.hadoop.fs.FileSystem`` (so every
scheme and setting the cluster's Hadoop knows works, credentials included, and PyArrow's
libhdfs is never needed). The executors read the bytes: Spark's ``binaryFile`` source hands
each task one whole file, which the task describes (rows, schema, SHA-256) in a first job and
hashes in a second. A task returns the roots of the chunks lying wholly inside its file (their
trees written as the other engines write them) and, for a chunk cut by a file boundary, the
leaves of its piece (at most two pieces a file); the driver joins the pieces of each such chunk
in row order. The roots are those of :func:`proofmind.provenance.chunked.chunk_root`.

Spark's file sources skip files whose names start with ``_`` (``_SUCCESS`` and the like); such
a data file is refused before any job starts. A file is read whole by one task, so files of at
most a few hundred MB (Spark writes 128 MB ones) keep executor memory flat; Spark cannot read a
single file over 2 GB this way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

from proofmind.crypto._tree import build as build_tree
from proofmind.errors import ConfigError, InputError
from proofmind.provenance._hashing import NODE, leaf_block
from proofmind.provenance.chunked import FileInfo, Plan, describe, file_rows, spark_failure
from proofmind.provenance.chunked import write_tree as _write_tree
from proofmind.provenance.dataset._encoding import SUFFIXES
from proofmind.provenance.dataset._location import BytesFile, Location, without_secrets

_GLOB = re.compile(r"([\\{}\[\]*?])")


def _spark(master: str | None) -> Any:
    from proofmind.intel.spark import session

    return session(master)


def _java_error(exc: BaseException) -> tuple[str, str]:
    """(Java class name, message) of a Py4J error, or ("", text) for another one."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        text = str(java.toString())
        cls, _, message = text.partition(": ")
        return cls, message.strip() or cls
    text = str(exc).strip()
    return "", text.splitlines()[0] if text else type(exc).__name__


def _hadoop_error(given: str, exc: BaseException) -> Exception:
    cls, message = _java_error(exc)
    uri = without_secrets(given)
    message = message.replace(given, uri)
    scheme = uri.partition("://")[0]
    if cls.endswith("UnsupportedFileSystemException"):
        return InputError(
            f"{uri}: Spark's Hadoop has no file system for {scheme}://",
            hint="add the scheme's connector jar to Spark (spark.jars or spark.jars.packages: "
            "the GCS connector for gs://, hadoop-azure for abfss://), or use one it reads "
            "(file://, hdfs://)",
        )
    if "ClassNotFoundException" in cls or "ClassNotFoundException" in message:
        found = re.search(r"Class (\S+) not found", message)
        what = found.group(1) if found else message
        return ConfigError(
            f"{uri}: Spark's Hadoop lacks the {scheme}:// connector ({what} not found)",
            hint="start Spark with its jars, e.g. spark.jars.packages="
            "org.apache.hadoop:hadoop-aws:<Hadoop version> for s3a:// (spark-defaults.conf)",
        )
    if cls.endswith("FileNotFoundException"):
        return InputError(f"{uri} does not exist", hint="check the URI")
    if cls.endswith("URISyntaxException"):
        return InputError(
            f"{uri} is not a valid URI ({message})",
            hint="percent-encode special characters, e.g. a space as %20",
        )
    return InputError(
        f"cannot read {uri}: {message}",
        hint="check the URI, the network and the credentials in Spark's configuration",
    )


def _jpath(spark: Any, uri: str) -> Any:
    jvm = spark.sparkContext._jvm
    # a URI object, so %20 is a space (Hadoop's Path(String) keeps "%20" as three characters)
    return jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(uri.replace(" ", "%20")))


def locate(master: str | None, uri: str) -> Location:
    """The Location of ``uri`` for Spark: its root as Hadoop qualifies it (``hdfs://nn:8020/x``)."""
    spark = _spark(master)
    try:
        path = _jpath(spark, uri)
        fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        root = str(fs.makeQualified(path).toString())
    except Exception as exc:  # Py4J errors from the JVM
        raise _hadoop_error(uri, exc) from exc
    return Location(uri, root)


def list_files(master: str | None, location: Location) -> list[tuple[str, str]]:
    """(relative name, Hadoop path) of every data file, in commit order (the rules of a local
    folder: hidden files and folders skipped)."""
    spark = _spark(master)
    uri, shown = location.given, location.shown
    try:
        path = _jpath(spark, uri)
        fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        status = fs.getFileStatus(path)
        if not status.isDirectory():
            name = str(status.getPath().getName())
            if not name.endswith(SUFFIXES):
                raise InputError(
                    f"{shown} is not a CSV or Parquet file",
                    hint="commit a .csv, .csv.gz or .parquet file, or a folder of them",
                )
            return _readable([(name, str(status.getPath().toString()))], shown)
        base = str(fs.makeQualified(path).toUri().getPath()).rstrip("/")
        found = []
        listing = fs.listFiles(path, True)
        while listing.hasNext():
            entry = listing.next().getPath()
            rel = str(entry.toUri().getPath())[len(base) :].lstrip("/")
            if any(p.startswith(".") for p in rel.split("/")) or not rel.endswith(SUFFIXES):
                continue
            found.append((rel, str(entry.toString())))
    except InputError:
        raise
    except Exception as exc:
        raise _hadoop_error(uri, exc) from exc
    if not found:
        raise InputError(f"{shown} holds no .csv, .csv.gz or .parquet file", hint="check the URI")
    return _readable(sorted(found), shown)


def _readable(files: list[tuple[str, str]], uri: str) -> list[tuple[str, str]]:
    for name, _ in files:
        if PurePosixPath(name).name.startswith("_"):
            raise InputError(
                f"{uri}: Spark's file readers skip {name} (its name starts with _)",
                hint="rename the file, or commit with --engine local or ray (they read it)",
            )
    return files


def _read(spark: Any, paths: Sequence[str]) -> Any:
    """The files at ``paths`` (Hadoop paths, globs escaped) as rows (path, content)."""
    frame = spark.read.format("binaryFile").load([_GLOB.sub(r"\\\1", p) for p in paths])
    return frame.select("path", "content").rdd


def _describe_task(names: dict[str, str]) -> Any:
    def run(rows: Iterable[Any]) -> Iterator[FileInfo]:
        for row in rows:
            name = names[row.path]
            yield describe(name, row.path, BytesFile(row.path, bytes(row.content)))

    return run


def describe_files(
    master: str | None, location: Location, files: list[tuple[str, str]]
) -> list[FileInfo]:
    """Row count, schema and SHA-256 of every file, one task a file, read by the executors."""
    spark = _spark(master)
    names = {path: name for name, path in files}
    try:
        infos = _read(spark, [p for _, p in files]).mapPartitions(_describe_task(names)).collect()
    except Exception as exc:
        raise spark_failure(exc) from exc
    by_path = {i.path: i for i in infos}
    missing = [name for name, path in files if path not in by_path]
    if missing:
        raise InputError(f"{location.shown}: Spark did not read {', '.join(missing[:5])}")
    return [by_path[path] for _, path in files]


def _chunk_task(
    plan: Plan, spans: dict[str, tuple[str, int, int]], wanted: frozenset[int], tree_dir: str | None
) -> Any:
    """One file → (chunk, first row, root, None) for each wanted chunk inside it, or
    (chunk, first row, None, leaves) for its piece of a chunk it shares with another file."""
    schema = [{"name": n, "type": t} for n, t in plan.schema]
    size = plan.chunk_rows

    def run(rows: Iterable[Any]) -> Iterator[tuple[int, int, bytes | None, bytes | None]]:
        for row in rows:
            name, first, count = spans[row.path]
            file = BytesFile(row.path, bytes(row.content))
            piece: list[bytes] = []
            start = first  # the first row of ``piece``
            at = first
            for batch in file_rows(name, file, schema, 0, count):
                block, _ = leaf_block(batch, at)
                at += batch.num_rows
                for i in range(0, len(block), NODE):
                    piece.append(block[i : i + NODE])
                    row_no = start + len(piece)  # one past the row just added
                    if row_no % size == 0 or row_no == first + count:
                        yield from _emit(plan, start, piece, wanted, tree_dir)
                        piece, start = [], row_no
            if at != first + count:
                raise InputError(
                    f"{row.path} has {at - first} rows now, {count} when it was described",
                    hint="the files changed while they were read; run again",
                )

    return run


def _emit(
    plan: Plan, start: int, piece: list[bytes], wanted: frozenset[int], tree_dir: str | None
) -> Iterator[tuple[int, int, bytes | None, bytes | None]]:
    chunk = start // plan.chunk_rows
    if chunk not in wanted or not piece:
        return
    lo, hi = plan.span(chunk)
    if start == lo and start + len(piece) == hi:
        tree = build_tree(piece)
        if tree_dir is not None:
            _write_tree(tree_dir, chunk, tree)
        yield chunk, start, tree[0], None
    else:
        yield chunk, start, None, b"".join(piece)


def chunk_roots(
    master: str | None, plan: Plan, numbers: Sequence[int], tree_dir: str | None
) -> list[bytes]:
    """The roots of chunks ``numbers``: the files that hold them read on Spark, whole chunks
    hashed there, the pieces of chunks cut by a file boundary joined here."""
    spark = _spark(master)
    wanted = frozenset(numbers)
    size = plan.chunk_rows
    spans, paths = {}, []
    for name, path, first, count in plan.files:
        chunks = range(first // size, (first + count - 1) // size + 1)
        if count and any(k in wanted for k in chunks):
            spans[path] = (name, first, count)
            paths.append(path)
    try:
        parts = _read(spark, paths).mapPartitions(_chunk_task(plan, spans, wanted, tree_dir))
        results = parts.collect()
    except Exception as exc:
        raise spark_failure(exc) from exc
    roots: dict[int, bytes] = {}
    pieces: dict[int, list[tuple[int, bytes]]] = {}
    for chunk, start, root, leaves in results:
        if root is not None:
            roots[chunk] = root
        else:
            assert leaves is not None
            pieces.setdefault(chunk, []).append((start, leaves))
    for chunk, found in pieces.items():
        data = b"".join(leaves for _, leaves in sorted(found))
        lo, hi = plan.span(chunk)
        if len(data) != (hi - lo) * NODE:
            raise InputError(
                f"chunk {chunk} read {len(data) // NODE} rows, expected {hi - lo}",
                hint="the files changed while they were read; run again",
            )
        tree = build_tree([data[i : i + NODE] for i in range(0, len(data), NODE)])
        if tree_dir is not None:
            _write_tree(tree_dir, chunk, tree)
        roots[chunk] = tree[0]
    missing = [k for k in numbers if k not in roots]
    if missing:  # a file Spark did not hand to any task
        raise InputError(
            f"Spark read no rows of chunk {missing[0]} ({len(missing)} chunk(s) missing)",
            hint="the files changed while they were read; run again",
        )
    return [roots[k] for k in numbers]
