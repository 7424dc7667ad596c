"""Address features + fraud scoring: DuckDB (this process) against Spark with 1 and 2 local
workers, on the same synthetic canonical tables, in the same run. Prints wall time, rows per
second, peak memory of the whole process tree (Spark's JVM included), and checks that every
engine wrote the same scores.

The tables: --rows transactions and --rows / 10 ERC-20 transfers among --rows / 20 accounts
(a heavy-tailed choice of sender and receiver, so some accounts have thousands of rows), value
as DOUBLE wei the way `ingest etherscan` writes it, in Parquet files of 1M rows under
block_range= folders. The model: LightGBM trained on 2,000 random accounts with random labels
(scoring cost does not depend on what the model learnt).

Usage: python benchmarks/bench_spark.py [--rows 2000000] [--engines duckdb,spark1,spark2]
       [--driver-memory 6g] [--partitions N] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import psutil

from proofmind.intel.etherscan import connect
from proofmind.intel.fraud import address_features, train


def generate(out: Path, rows: int) -> int:
    """Synthetic canonical tables under ``out``; returns the number of accounts."""
    accounts = max(rows // 20, 1000)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    addr = "printf('0x%040x', CAST(floor({n} * pow(random(), 3)) AS BIGINT) + 1)"
    per_file = 1_000_000
    for table, n_rows in (("transactions", rows), ("erc20_transfers", rows // 10)):
        for part, start in enumerate(range(0, n_rows, per_file)):
            count = min(per_file, n_rows - start)
            folder = out / table / f"block_range={part}"
            folder.mkdir(parents=True)
            src, dst = addr.format(n=accounts), addr.format(n=accounts)
            if table == "transactions":
                select = f"""
                    SELECT CAST(i / 100 AS BIGINT) AS block_number,
                           1600000000 + i * 12 + CAST(random() * 11 AS BIGINT) AS timestamp,
                           printf('0x%064x', i) AS hash, CAST(i % 100 AS INTEGER) AS tx_index,
                           CAST(random() * 1000 AS BIGINT) AS nonce,
                           {src} AS from_address, {dst} AS to_address,
                           CAST(floor(pow(10, 12 + random() * 9)) AS DOUBLE) AS value_wei,
                           CAST(21000 + random() * 200000 AS BIGINT) AS gas,
                           CAST(floor(pow(10, 9 + random() * 2)) AS DOUBLE) AS gas_price,
                           CAST(21000 + random() * 100000 AS BIGINT) AS gas_used,
                           CAST(random() > 0.05 AS INTEGER) AS status,
                           CASE WHEN random() < 0.3 THEN '0xa9059cbb00' ELSE '0x' END AS input,
                           CASE WHEN random() < 0.3 THEN '0xa9059cbb' ELSE '0x' END AS method_id,
                           CAST(NULL AS VARCHAR) AS contract_address
                    FROM range({start}, {start + count}) t(i)"""
            else:
                select = f"""
                    SELECT CAST(i / 10 AS BIGINT) AS block_number,
                           1600000000 + i * 120 AS timestamp, printf('0x%064x', i) AS hash,
                           CAST(i % 10 AS INTEGER) AS log_index,
                           printf('0x%040x', CAST(random() * 500 AS BIGINT)) AS token,
                           {src} AS from_address, {dst} AS to_address,
                           CAST(CAST(floor(pow(10, random() * 24)) AS HUGEINT) AS VARCHAR) AS value,
                           18 AS token_decimals,
                           CASE WHEN random() < 0.01 THEN 'Visit claim.io' ELSE 'Token' END
                               AS token_name, 'TKN' AS token_symbol
                    FROM range({start}, {start + count}) t(i)"""
            con.execute(f"COPY ({select}) TO '{folder / 'part.parquet'}' (FORMAT parquet)")
    return accounts


def model_file(data: Path, folder: Path) -> Path:
    con = connect(data)
    sample = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT from_address FROM transactions ORDER BY hash(from_address) LIMIT 2000"
        ).fetchall()
    ]
    features = address_features(con, sample)
    labels = np.random.default_rng(0).integers(0, 2, len(sample))
    path = folder / "model.txt"
    train(features.matrix, labels, features.names).save_model(str(path))
    return path


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system, every process of the tree), peak memory
    (GB, proportional set size) of the process tree of ``proofmind ARGS``, and the last line
    of its error output when it failed ("" when it did not)."""
    command = [sys.executable, "-m", "proofmind", *args]
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    peak = 0
    cpu: dict[int, float] = {}  # the last CPU seconds seen of each process of the tree
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                # PSS: pages shared by forked Python workers are counted once, not per worker
                peak = max(peak, sum(p.memory_full_info().pss for p in tree))
            except psutil.Error:
                pass
            for p in tree:
                try:
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
                except psutil.Error:
                    pass
            time.sleep(0.2)

    poller = threading.Thread(target=sample, daemon=True)
    poller.start()
    _, stderr = process.communicate()
    done.set()
    elapsed = time.monotonic() - started
    lines = [line for line in stderr.splitlines() if line.strip()]
    failure = (lines[-1] if lines else f"exit {process.returncode}") if process.returncode else ""
    return elapsed, sum(cpu.values()), peak / 1e9, failure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument(
        "--engines",
        default="duckdb,spark1,spark2",
        help="runs, in order: duckdb, sparkN (Spark with N local workers)",
    )
    parser.add_argument("--workers", help="Spark local worker counts (old form of --engines)")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument(
        "--partitions",
        type=int,
        help="shuffle partitions per worker (PROOFMIND_SPARK_PARTITIONS = this × workers); "
        "default: the engine's own choice",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the tables, the model, the scores and the results here, and reuse them: "
        "a long benchmark can run its engines in several invocations (default: a temporary "
        "folder, removed at the end)",
    )
    opts = parser.parse_args()
    engines = opts.engines.split(",")
    if opts.workers:
        engines = ["duckdb", *(f"spark{w}" for w in opts.workers.split(","))]
    if opts.work is None:
        with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
            bench(Path(tmp), opts, engines)
    else:
        opts.work.mkdir(parents=True, exist_ok=True)
        bench(opts.work, opts, engines)


def bench(root: Path, opts: argparse.Namespace, engines: list[str]) -> None:
    data = root / "data"
    if not (data / "transactions").exists():
        t0 = time.monotonic()
        accounts = generate(data, opts.rows)
        print(
            f"generated {opts.rows:,} transactions, {opts.rows // 10:,} transfers, "
            f"≤ {accounts:,} accounts in {time.monotonic() - t0:.0f} s",
            flush=True,
        )
    model = root / "model.txt"
    if not model.exists():
        model_file(data, root)
    env = {
        **os.environ,
        "PYSPARK_SUBMIT_ARGS": f"--driver-memory {opts.driver_memory} pyspark-shell",
    }
    base = ["fraud", "score", "--data", str(data), "--model", str(model)]
    log = root / "results.jsonl"
    for engine in engines:
        if engine == "duckdb":
            name, out, args, run_env = (
                "DuckDB (this process, 2 threads)",
                root / "duckdb.parquet",
                ["--out", str(root / "duckdb.parquet")],
                env,
            )
        else:
            workers = int(engine.removeprefix("spark"))
            out = root / f"spark{workers}"
            name = f"Spark local[{workers}]"
            args = ["--out", str(out), "--engine", "spark", "--master", f"local[{workers}]"]
            run_env = (
                env
                if opts.partitions is None
                else {**env, "PROOFMIND_SPARK_PARTITIONS": str(opts.partitions * workers)}
            )
        started = time.strftime("%H:%M:%S", time.gmtime())
        seconds, cpu, gb, failure = run([*base, *args], run_env)
        result = {
            "engine": name,
            "rows": opts.rows,
            "seconds": seconds,
            "cpu": cpu,
            "gb": gb,
            "out": str(out if engine == "duckdb" else out / "*.parquet"),
            "failure": failure,
            "started": started,
        }
        with log.open("a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{name}: {seconds:.1f} s, {cpu:.1f} CPU s, {gb:.2f} GB {failure}", flush=True)
    report(log)


def report(log: Path) -> None:
    """The table of every run recorded in ``log`` (the latest of each engine)."""
    latest = {}
    for line in log.read_text().splitlines():
        r = json.loads(line)
        latest[r["engine"]] = r
    runs = list(latest.values())
    done = [r for r in runs if not r["failure"]]
    base = next((r for r in done if r["engine"].startswith("DuckDB")), None)
    reference = (
        duckdb.sql(f"SELECT * FROM read_parquet('{done[0]['out']}') ORDER BY address").fetchall()
        if done
        else []
    )
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{len(reference):,} addresses scored"
    )
    print(
        f"{'engine':36} {'started':>8} {'seconds':>8} {'CPU s':>8} {'rows/s':>10} {'peak GB':>8} "
        f"{'vs DuckDB':>9}  same"
    )
    for r in runs:
        if r["failure"]:
            print(f"{r['engine']:36} {r['started']:>8} {r['seconds']:8.1f} failed: {r['failure']}")
            continue
        rows = duckdb.sql(f"SELECT * FROM read_parquet('{r['out']}') ORDER BY address").fetchall()
        ratio = f"{base['seconds'] / r['seconds']:8.2f}×" if base else "       —"
        print(
            f"{r['engine']:36} {r['started']:>8} {r['seconds']:8.1f} {r['cpu']:8.1f} "
            f"{r['rows'] / r['seconds']:10,.0f} {r['gb']:8.2f} {ratio}  {rows == reference}"
        )


if __name__ == "__main__":
    main()
