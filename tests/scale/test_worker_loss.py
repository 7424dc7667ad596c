"""A worker killed mid-job: the engine runs its tasks again and the root is unchanged.

Spark runs as ``local-cluster[2,1,1024]`` (a master, a worker and two executor JVMs on this
machine, as a standalone cluster has them); Ray as a local cluster of two CPUs. A thread waits
until the first chunk is done, then kills an executor JVM (or the Ray worker running a chunk)
with SIGKILL, as a lost machine would be lost.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proofmind.provenance.chunked import commit_chunked

ROWS = 120_000
CHUNK = 2048


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("loss") / "data"
    folder.mkdir()
    ids = pa.array(range(ROWS), pa.int64())
    table = pa.table({"id": ids, "label": pa.array([f"row {i}" for i in range(ROWS)])})
    pq.write_table(table, folder / "rows.parquet", row_group_size=10_000)
    root = commit_chunked(folder, tmp_path_factory.mktemp("ref"), chunk_rows=CHUNK, workers=2)
    return folder, root.manifest.root


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def processes(match: Callable[[str], bool]) -> list[int]:
    """Ids of this test's own descendant processes whose command line matches (never another
    program's processes on the same machine)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if not match(cmdline):
                continue
            pid = int(entry.name)
            while pid > 1 and pid != me:
                pid = _parent(pid)
        except (OSError, ValueError, IndexError):
            continue
        if pid == me:
            found.append(int(entry.name))
    return found


def kill_when_started(
    out: Path, match: Callable[[str], bool], killed: list[tuple[int, int]]
) -> threading.Thread:
    """A thread that waits for the first chunk tree in ``out``, then SIGKILLs one process that
    matches; records (pid, trees done at that moment)."""

    def run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = len(list(out.glob(".commit-*/trees/*.bin")))
            if done:
                victims = processes(match)
                if victims:
                    os.kill(victims[0], signal.SIGKILL)
                    killed.append((victims[0], done))
                    return
            time.sleep(0.005)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_spark_executor_killed_mid_job(data: tuple[Path, str], tmp_path: Path) -> None:
    pytest.importorskip("pyspark", reason="the Spark engine is an extra: proofmind[spark]")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java 17+, which this machine lacks")
    from proofmind.intel.spark import session

    master = "local-cluster[2,1,1024]"
    spark = session(master)
    try:
        killed: list[tuple[int, int]] = []
        thread = kill_when_started(
            tmp_path, lambda c: "CoarseGrainedExecutorBackend" in c and "java" in c, killed
        )
        done = commit_chunked(data[0], tmp_path, chunk_rows=CHUNK, engine="spark", master=master)
        thread.join(1)
    finally:
        spark.stop()
    assert killed, "no executor was running"
    assert killed[0][1] < -(-ROWS // CHUNK), "the executor was killed after the job"
    assert done.manifest.root == data[1]
    assert not list((done.tree_path.parent / "trees").glob(".*"))


@pytest.fixture
def ray_cluster() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="the Ray engine is an extra: proofmind[ray]")
    from proofmind.provenance.chunked import ray_init

    ray_init(None, 2)
    yield ray
    ray.shutdown()


def test_ray_worker_killed_mid_job(
    data: tuple[Path, str], tmp_path: Path, ray_cluster: object
) -> None:
    killed: list[tuple[int, int]] = []
    thread = kill_when_started(tmp_path, lambda c: c.startswith("ray::chunk_root"), killed)
    done = commit_chunked(data[0], tmp_path, chunk_rows=CHUNK, engine="ray")
    thread.join(1)
    assert killed, "no Ray worker was running a chunk"
    assert killed[0][1] < -(-ROWS // CHUNK), "the worker was killed after the job"
    assert done.manifest.root == data[1]
