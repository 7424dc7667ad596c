"""Address features + fraud scoring: DuckDB (this process) against Spark with 1 and 2 local
workers, on the same synthetic canonical tables, in the same run. Prints wall time, rows per
second, peak memory of the whole process tree (Spark's JVM included), and checks that every
engine wrote the same scores.

The tables: --rows transactions and --rows / 10 ERC-20 transfers among --rows / 20 accounts
(a heavy-tailed choice of sender and receiver, so some accounts have thousands of rows), value
as DOUBLE wei the way `ingest etherscan` writes it, in Parquet files of 1M rows under
block_range= folders. The model: LightGBM trained on 2,000 random accounts with random labels
(scoring cost does not depend on what the model learnt).

Usage: python benchmarks/bench_spark.py [--rows 2000000] [--workers 1,2] [--driver-memory 6g]
       [--partitions N]
"""

from __future__ import annotations

import argparse
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


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, every process of the tree) and peak memory
    (GB, proportional set size) of the process tree of ``proofmind ARGS``."""
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
    if process.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr}")
    return elapsed, sum(cpu.values()), peak / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--workers", default="1,2", help="Spark local worker counts to run")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument(
        "--partitions",
        type=int,
        help="shuffle partitions per worker (PROOFMIND_SPARK_PARTITIONS = this × workers); "
        "default: the engine's own choice",
    )
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        accounts = generate(root / "data", opts.rows)
        print(
            f"generated {opts.rows:,} transactions, {opts.rows // 10:,} transfers, "
            f"≤ {accounts:,} accounts in {time.monotonic() - t0:.0f} s"
        )
        model = model_file(root / "data", root)
        env = {
            **os.environ,
            "PYSPARK_SUBMIT_ARGS": f"--driver-memory {opts.driver_memory} pyspark-shell",
        }
        base = ["fraud", "score", "--data", str(root / "data"), "--model", str(model)]
        results = []
        seconds, cpu, gb = run([*base, "--out", str(root / "duckdb.parquet")], env)
        results.append(
            ("DuckDB (this process, 2 threads)", seconds, cpu, gb, root / "duckdb.parquet")
        )
        for workers in [int(w) for w in opts.workers.split(",")]:
            out = root / f"spark{workers}"
            seconds, cpu, gb = run(
                [*base, "--out", str(out), "--engine", "spark", "--master", f"local[{workers}]"],
                env
                if opts.partitions is None
                else {**env, "PROOFMIND_SPARK_PARTITIONS": str(opts.partitions * workers)},
            )
            results.append((f"Spark local[{workers}]", seconds, cpu, gb, out / "*.parquet"))
        reference = duckdb.sql(f"SELECT * FROM '{results[0][4]}' ORDER BY address").fetchall()
        print(
            f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"{len(reference):,} addresses scored"
        )
        print(
            f"{'engine':36} {'seconds':>8} {'CPU s':>8} {'rows/s':>10} {'peak GB':>8} "
            f"{'vs DuckDB':>9}  same"
        )
        for name, seconds, cpu, gb, out in results:
            rows = duckdb.sql(f"SELECT * FROM read_parquet('{out}') ORDER BY address").fetchall()
            print(
                f"{name:36} {seconds:8.1f} {cpu:8.1f} {opts.rows / seconds:10,.0f} {gb:8.2f} "
                f"{results[0][1] / seconds:8.2f}×  {rows == reference}"
            )


if __name__ == "__main__":
    main()
