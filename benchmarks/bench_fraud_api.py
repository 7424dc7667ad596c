"""Fraud scores through the HTTP API: the cost of one GET /api/v1/fraud/scores/{address} with
the tables kept in memory, next to the call as it was before (one pass over the Parquet files
per call: `score_addresses(..., cache=False)`, what `proofmind fraud score` still does once).

Data: the eth_fraud development set (../shared/datasets/eth_fraud), ingested with
`proofmind ingest etherscan` and a model trained with `proofmind fraud train`, both before the
clock starts (or given with --data / --model to skip that). Addresses: labelled ones, in a
seeded random order, with and without data.

Measured per call (median and p90 over --calls calls; wall time and this process's CPU time):
  before     — in-process, one pass over the files per call (the previous handler's work);
  load       — the first API call: the tables are read into memory (paid once per change);
  distinct   — API calls for addresses not asked about before (features computed in memory);
  repeated   — API calls for addresses asked about before (their features are kept too);
  in-process — the cached scoring function without HTTP (what the framework adds).

Usage: python benchmarks/bench_fraud_api.py [--calls 60] [--data DIR --model FILE]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "eth_fraud"


def timed(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def summary(name: str, samples: list[tuple[float, float]]) -> tuple[float, float]:
    walls = sorted(s[0] for s in samples)
    cpus = sorted(s[1] for s in samples)
    p90 = walls[min(len(walls) - 1, int(0.9 * len(walls)))]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"{name:<12} {len(samples):>4} call(s)  wall p50 {wall * 1e3:8.2f} ms  p90 "
        f"{p90 * 1e3:8.2f} ms  CPU p50 {cpu * 1e3:8.2f} ms"
    )
    return wall, cpu


def prepare(folder: Path) -> tuple[Path, Path]:
    data, model = folder / "chaindata", folder / "fraud-model.txt"
    cli = [sys.executable, "-m", "proofmind"]
    inputs = [str(SHARED / "transactions.csv.gz"), str(SHARED / "token_transfers.csv.gz")]
    subprocess.run([*cli, "ingest", "etherscan", *inputs, "-o", str(data)], check=True)
    labels = ["--labels", str(SHARED / "labels.csv")]
    subprocess.run(
        [*cli, "fraud", "train", "--data", str(data), *labels, "-o", str(model)], check=True
    )
    return data, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    if not (SHARED / "labels.csv").is_file():
        sys.exit(f"{SHARED} is absent: this benchmark needs the eth_fraud development set")

    from proofmind.api import create_app
    from proofmind.app.fraud import clear_tables, score_addresses
    from proofmind.settings import ApiSettings
    from proofmind.workspace import init_workspace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory(prefix="bench-fraud-api-") as tmp:
        root = Path(tmp)
        if args.data is None or args.model is None:
            data, model = prepare(root)
        else:
            data, model = args.data.resolve(), args.model.resolve()
        with open(SHARED / "labels.csv", newline="") as f:
            addresses = [row["address"] for row in csv.DictReader(f)]
        random.Random(3).shuffle(addresses)
        n = args.calls
        before_set, api_set = addresses[:n], addresses[n : 2 * n]
        in_process_set = addresses[2 * n : 3 * n]

        print(
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
            f"average {os.getloadavg()[0]:.2f}; {data} ({sum(1 for _ in data.rglob('*.parquet'))} "
            f"Parquet files); {n} call(s) each\n"
        )
        before = [
            timed(lambda a=a: score_addresses(data, model, [a], cache=False)) for a in before_set
        ]

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ws, _ = init_workspace(root / "project")
        settings = ApiSettings(fraud_model=model, fraud_data=data)
        clear_tables()
        with TestClient(create_app(ws, settings)) as http:

            def get(address: str) -> None:
                response = http.get(f"/api/v1/fraud/scores/{address}")
                assert response.status_code == 200, response.text

            load = [timed(lambda: get(api_set[0]))]
            distinct = [timed(lambda a=a: get(a)) for a in api_set[1:]]
            repeated = [timed(lambda a=a: get(a)) for a in api_set[1:]]
        cached = [
            timed(lambda a=a: score_addresses(data, model, [a], cache=True)) for a in in_process_set
        ]
        ws.close()

        b_wall, b_cpu = summary("before", before)
        summary("load", load)
        d_wall, d_cpu = summary("distinct", distinct)
        r_wall, r_cpu = summary("repeated", repeated)
        summary("in-process", cached)
        print(
            f"\nbefore / distinct: {b_wall / d_wall:.1f}x wall, {b_cpu / d_cpu:.1f}x CPU; "
            f"before / repeated: {b_wall / r_wall:.1f}x wall, {b_cpu / r_cpu:.1f}x CPU"
        )
        print(f"load / before: {load[0][0] / b_wall:.1f}x (paid once per change of the data)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"peak RSS of this process: {rss_before:,.0f} MB after `before`, {peak:,.0f} MB "
            "with the tables in memory"
        )
        follow(data, model, api_set[1:], n)


def follow(data: Path, model: Path, asked: list[str], n: int) -> None:
    """An ingestion following the chain into the scored folder adds a part per block: a call
    after each new part, against reading the whole folder again (the peer: what every call
    after a change of the data cost before changes were applied file by file)."""
    import pyarrow.parquet as pq

    from proofmind.app.fraud import _Tables, _tables, clear_tables, data_stamp, score_addresses

    work = Path(tempfile.mkdtemp(prefix="bench-fraud-follow-"))
    folder = work / "data"
    shutil.copytree(data, folder)
    clear_tables()
    score_addresses(folder, model, asked[:5], cache=True)  # loaded, five addresses known
    last = sorted((folder / "transactions").rglob("*.parquet"))[-1]
    rows = pq.read_table(last, partitioning=None).slice(0, 10)
    applied, reread = [], []
    for k in range(n):
        pq.write_table(rows, last.with_name(f"part-follow-{k:06d}.parquet"))
        applied.append(timed(lambda: score_addresses(folder, model, asked[:1], cache=True)))
        reread.append(timed(lambda: _Tables(folder.resolve(), data_stamp(folder.resolve()))))
    assert _tables(folder) is not None
    a_wall, a_cpu = summary("a call after a new part (applied file by file)", applied)
    r_wall, r_cpu = summary("reading the folder again (before)", reread)
    print(f"reading again / applying: {r_wall / a_wall:.0f}x wall, {r_cpu / a_cpu:.0f}x CPU")
    clear_tables()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
