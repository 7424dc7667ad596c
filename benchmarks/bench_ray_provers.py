"""Proofs per minute with 1 and 2 Ray prover workers (a local Ray), against the local pool.

The circuit: the reference MLP (16 → 8 → 1, `reference_mlp`) or, with ``--model fraud``, the
fraud MLP (43 → 16 → 1, trained on ../shared's eth_fraud as bench_oracle.py trains it), packaged
once with EZKL; --proofs proofs of different inputs are submitted at once to the node's executor
(RayProvers, or the ProcessPoolExecutor the node uses by default) and timed until the last one
is done. Every proof must carry the circuit's output for its input.

Usage: python benchmarks/bench_ray_provers.py [--proofs 8] [--model reference|fraud]
       [--only local,ray]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from proofmind.ml import zk
from proofmind.ml.onnx_models import reference_mlp
from proofmind.oracle.node._node import _prove
from proofmind.store.blobs import BlobStore


def package(folder: Path, which: str) -> tuple[zk.Package, NDArray[np.float64]]:
    """The packaged circuit and the rows its proofs take inputs from."""
    if which == "fraud":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_oracle import fraud_mlp

        found = fraud_mlp(folder)
        if found is None:
            raise SystemExit("--model fraud needs ../shared/datasets/eth_fraud beside the repo")
        model, rows = found
        calibration = rows[:: max(1, len(rows) // 64)]
    else:
        model = reference_mlp(folder / "mlp.onnx", seed=0)
        rows = np.random.default_rng(7).normal(0, 1, (256, 16))
        calibration = np.random.default_rng(100).normal(0, 1, (24, 16))
    np.savetxt(folder / "cal.csv", calibration, delimiter=",")
    blobs = BlobStore(folder / "blobs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pkg = zk.package(
            model, folder / "cal.csv", store=blobs.adopt, path_of=blobs.path_of, name=which
        )
    return pkg, rows


def run(pool: Executor, pkg: zk.Package, inputs: list[list[int]]) -> float:
    started = time.perf_counter()
    futures = [pool.submit(_prove, pkg, x) for x in inputs]
    for future, x in zip(futures, inputs, strict=True):
        assert future.result().output == zk.circuit_output(pkg, x)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proofs", type=int, default=8)
    parser.add_argument("--model", choices=("reference", "fraud"), default="reference")
    parser.add_argument("--only", default="local,ray", help="comma-separated: local, ray")
    args = parser.parse_args()
    only = set(args.only.split(","))
    import ray

    from proofmind.oracle.ray_provers import RayProvers

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        pkg, rows = package(Path(tmp), args.model)
        picked = np.random.default_rng(7).choice(len(rows), args.proofs, replace=False)
        inputs = [zk.quantize(rows[i], pkg.input_scale) for i in picked]
        print(
            f"{args.model} MLP, logrows {pkg.logrows}, packaged in "
            f"{time.perf_counter() - started:.0f} s; {args.proofs} proofs"
        )
        print("| provers | workers | seconds | proofs / minute |")
        print("|---|---:|---:|---:|")
        for workers in (1, 2) if "local" in only else ():
            ctx = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                run(pool, pkg, inputs[:workers])  # start the processes
                seconds = run(pool, pkg, inputs)
            print(f"| local processes | {workers} | {seconds:.1f} | "
                  f"{60 * args.proofs / seconds:.1f} |", flush=True)  # fmt: skip
        for workers in (1, 2) if "ray" in only else ():
            ray_pool = RayProvers("local", workers)
            run(ray_pool, pkg, inputs[:workers])  # start the workers
            seconds = run(ray_pool, pkg, inputs)
            ray_pool.shutdown()
            assert not ray.is_initialized()
            print(f"| Ray (local) | {workers} | {seconds:.1f} | "
                  f"{60 * args.proofs / seconds:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
