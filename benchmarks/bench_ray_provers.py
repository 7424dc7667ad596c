"""Proofs per minute with 1 and 2 Ray prover workers (a local Ray), against the local pool.

The circuit: the reference MLP (16 → 8 → 1, `reference_mlp`), packaged once with EZKL; --proofs
proofs of different inputs are submitted at once to the node's executor (RayProvers, or the
ProcessPoolExecutor the node uses by default) and timed until the last one is done. Every proof
must carry the circuit's output for its input.

Usage: python benchmarks/bench_ray_provers.py [--proofs 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from proofmind.ml import zk
from proofmind.ml.onnx_models import reference_mlp
from proofmind.oracle.node._node import _prove
from proofmind.store.blobs import BlobStore


def package(folder: Path) -> zk.Package:
    model = reference_mlp(folder / "mlp.onnx", seed=0)
    rng = np.random.default_rng(100)
    np.savetxt(folder / "cal.csv", rng.normal(0, 1, (24, 16)), delimiter=",")
    blobs = BlobStore(folder / "blobs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return zk.package(
            model, folder / "cal.csv", store=blobs.adopt, path_of=blobs.path_of, name="mlp"
        )


def run(pool: Executor, pkg: zk.Package, inputs: list[list[int]]) -> float:
    started = time.perf_counter()
    futures = [pool.submit(_prove, pkg, x) for x in inputs]
    for future, x in zip(futures, inputs, strict=True):
        assert future.result().output == zk.circuit_output(pkg, x)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proofs", type=int, default=8)
    args = parser.parse_args()
    import ray

    from proofmind.oracle.ray_provers import RayProvers

    with tempfile.TemporaryDirectory() as tmp:
        pkg = package(Path(tmp))
        rng = np.random.default_rng(7)
        inputs = [zk.quantize(rng.normal(0, 1, 16), pkg.input_scale) for _ in range(args.proofs)]
        print(f"reference MLP, logrows {pkg.logrows}, {args.proofs} proofs")
        print("| provers | workers | seconds | proofs / minute |")
        print("|---|---:|---:|---:|")
        for workers in (1, 2):
            ctx = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                run(pool, pkg, inputs[:workers])  # start the processes
                seconds = run(pool, pkg, inputs)
            print(f"| local processes | {workers} | {seconds:.1f} | "
                  f"{60 * args.proofs / seconds:.1f} |", flush=True)  # fmt: skip
        for workers in (1, 2):
            ray_pool = RayProvers("local", workers)
            run(ray_pool, pkg, inputs[:workers])  # start the workers
            seconds = run(ray_pool, pkg, inputs)
            ray_pool.shutdown()
            assert not ray.is_initialized()
            print(f"| Ray (local) | {workers} | {seconds:.1f} | "
                  f"{60 * args.proofs / seconds:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
