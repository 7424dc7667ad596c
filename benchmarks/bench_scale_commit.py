"""A dataset commitment on one machine and on Spark and Ray with 1 and 2 local workers.

Synthetic Parquet: --rows rows × 4 columns (id, block, a wei value, a tag), files of 5M rows,
row groups of 2^16. Each configuration runs in a fresh process; the parent samples the memory
of that process tree (Spark's JVMs and Python workers, Ray's raylet and workers included) every
0.2 s and reports the peak of the whole tree and of its largest process. Every chunked run must
give the same root; the single-tree (v1) root is printed next to it.

With --uri the chunked runs read the data as a file:// URI: local and Ray workers through
PyArrow's file system, Spark through its Hadoop file system (whole files per task); the roots
must equal those of the path.

Usage: python benchmarks/bench_scale_commit.py [--rows 20000000] [--keep-trees]
       [--only v1,local,spark,ray] [--workers 1,2] [--uri]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FILE_ROWS = 5_000_000
CONFIGS = [
    ("v1 (one tree)", "v1", 2),
    ("chunked, local", "local", 1),
    ("chunked, local", "local", 2),
    ("chunked, Spark", "spark", 1),
    ("chunked, Spark", "spark", 2),
    ("chunked, Ray", "ray", 1),
    ("chunked, Ray", "ray", 2),
]


def generate(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, lo in enumerate(range(0, rows, FILE_ROWS)):
        ids = pa.array(range(lo, min(lo + FILE_ROWS, rows)), pa.int64())
        block = pc.add(pc.divide(ids, 150), 18_000_000)
        value = pc.multiply(pc.bit_wise_and(ids, 0xFFFFF), 1_000_000_007_000)
        tag = pc.binary_join_element_wise("tx-", pc.cast(ids, pa.string()), "")
        table = pa.table({"id": ids, "block": block, "value_wei": value, "tag": tag})
        pq.write_table(table, folder / f"part-{n:05d}.parquet", row_group_size=1 << 16)


def run_one(engine: str, workers: int, data: str, out: str, keep: bool, uri: bool) -> None:
    """In the child: commit and print {seconds, root, rows} as JSON."""
    from proofmind.provenance.chunked import commit_chunked
    from proofmind.provenance.dataset import commit_dataset

    started = time.perf_counter()
    if engine == "v1":
        done = commit_dataset(Path(data), Path(out), workers=workers)
    else:
        master = f"local[{workers}]" if engine == "spark" else None
        if engine == "spark":
            from proofmind.intel.spark import session

            session(master)  # the JVM start is part of the time
        source: Path | str = Path(data).as_uri() if uri else Path(data)
        done = commit_chunked(
            source, Path(out), engine=engine, master=master, workers=workers, trees=keep
        )
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "root": done.manifest.root, "rows": done.manifest.rows}))


def measure(cmd: list[str]) -> tuple[dict[str, object], int, int]:
    """Run ``cmd``; its JSON line, and the peak RSS of its process tree and largest process."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak_total = peak_one = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_total, peak_one
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                sizes = []
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        sizes.append(p.memory_info().rss)
                peak_total = max(peak_total, sum(sizes))
                peak_one = max(peak_one, max(sizes, default=0))
            except psutil.Error:
                pass
            stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1]), peak_total, peak_one


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--keep-trees", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated engines to run")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--uri", action="store_true", help="read the data as a file:// URI")
    parser.add_argument("--run", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        engine, workers, data, out = args.run
        run_one(engine, int(workers), data, out, args.keep_trees, args.uri)
        return
    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        started = time.perf_counter()
        generate(base / "data", args.rows)
        size = sum(p.stat().st_size for p in (base / "data").iterdir())
        print(
            f"{args.rows:,} rows, {size / 2**20:.0f} MiB of Parquet, generated in "
            f"{time.perf_counter() - started:.0f} s; {platform.python_version()}, "
            f"{psutil.cpu_count()} cores",
            flush=True,
        )
        print("| path | workers | seconds | rows / s | peak memory (tree / largest process) |")
        print("|---|---:|---:|---:|---:|")
        roots = set()
        only = set(filter(None, args.only.split(",")))
        for label, engine, workers in CONFIGS:
            if (only and engine not in only) or str(workers) not in args.workers.split(","):
                continue
            out = base / "out"
            cmd = [sys.executable, __file__, "--run", engine, str(workers), str(base / "data")]
            cmd.append(str(out))
            if args.keep_trees:
                cmd.append("--keep-trees")
            shown = label
            if args.uri:
                cmd.append("--uri")
                shown = label.replace("chunked", "chunked, file:// URI")
            result, total, one = measure(cmd)
            shutil.rmtree(out, ignore_errors=True)
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            if engine != "v1":
                roots.add(result["root"])
            print(
                f"| {shown} | {workers} | {seconds:.1f} | {args.rows / seconds:,.0f} | "
                f"{total / 2**20:,.0f} MiB / {one / 2**20:,.0f} MiB |",
                flush=True,
            )
            print(f"<!-- {engine} {workers}: root {result['root']} -->", flush=True)
        print(f"chunked roots equal: {len(roots) == 1} ({len(roots)} distinct)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
