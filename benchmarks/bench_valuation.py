"""KNN-Shapley: proofmind against pyDVL's KNNShapleyValuation on the same data, then one run at
N = 1,000,000 training points (proofmind alone) with its time and peak memory.

The data: Gaussian features (10 columns), a noisy linear label, and 1,000 test points. Both
implementations must agree to 1e-8, or the script fails.

Usage: python benchmarks/bench_valuation.py [--n 50000] [--tests 1000] [--big 1000000]
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

from proofmind.ownership.valuation import knn_shapley


def make(n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (x @ w + rng.normal(size=n) > 0).astype(int)
    xq = rng.normal(size=(m, d))
    yq = (xq @ w > 0).astype(int)
    return x, y, xq, yq


def pydvl_values(
    x: np.ndarray, y: np.ndarray, xq: np.ndarray, yq: np.ndarray, k: int
) -> np.ndarray:
    from pydvl.valuation.dataset import Dataset
    from pydvl.valuation.methods.knn_shapley import KNNShapleyValuation
    from sklearn.neighbors import KNeighborsClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valuation = KNNShapleyValuation(
            KNeighborsClassifier(n_neighbors=k), test_data=Dataset(xq, yq), progress=False
        )
        valuation.fit(Dataset(x, y))
    out = np.zeros(len(y))
    out[valuation.result.indices] = valuation.result.values
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--tests", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--only-big", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only_big:
        big_run(args)
        return
    print(f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}")

    x, y, xq, yq = make(args.n, args.tests, args.features, 1)
    began = time.perf_counter()
    ours = knn_shapley(x, y, xq, yq, args.k)
    ours_s = time.perf_counter() - began
    began = time.perf_counter()
    theirs = pydvl_values(x, y, xq, yq, args.k)
    theirs_s = time.perf_counter() - began
    gap = float(np.abs(ours - theirs).max())
    if gap > 1e-8:
        raise SystemExit(f"values differ from pyDVL by {gap}")
    print(
        f"\nN = {args.n:,} training, {args.tests:,} test points, K = {args.k}; "
        f"largest difference {gap:.1e}\n"
        f"| | proofmind | pyDVL 0.10 | ratio |\n|---|---:|---:|---:|\n"
        f"| KNN-Shapley | {ours_s:.1f} s | {theirs_s:.1f} s | **{theirs_s / ours_s:.1f}×** |"
    )
    print(f"target ≥ 10×: {'met' if theirs_s / ours_s >= 10 else 'MISSED'}")

    if args.big:
        # a fresh process, so that its peak memory is this run's alone
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--only-big",
                "--big",
                str(args.big),
                "--tests",
                str(args.tests),
                "--k",
                str(args.k),
                "--features",
                str(args.features),
            ],
            check=True,
        )


def big_run(args: argparse.Namespace) -> None:
    x, y, xq, yq = make(args.big, args.tests, args.features, 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    values = knn_shapley(x, y, xq, yq, args.k)
    big_s = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nN = {args.big:,} training, {args.tests:,} test points: {big_s:.0f} s, "
        f"peak memory {peak:.0f} MB (the data alone {x.nbytes / 2**20:.0f} MB; {before:.0f} MB "
        f"with the data, before valuing); sum of values {values.sum():.4f}; "
        f"target ≤ 600 s: {'met' if big_s <= 600 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
