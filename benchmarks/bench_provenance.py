"""Dataset commitment and verification at 1,000,000 rows, memory against dataset size, and the
gas of anchoring lineage records one by one against batches of 50.

Commit and verify run three times each in a fresh process per dataset size (the median is
reported, with the range) so peak memory (the process and its hashing workers) is measured per
size. Baseline in the same run: the same rows through the
in-memory path a user would write by hand (csv module → row leaves → ``MerkleTree.of``), which
must give the same root.

Usage: python benchmarks/bench_provenance.py [--rows 1000000] [--sizes 250000,1000000,2000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["account", "block", "timestamp", "value_wei", "gas_used", "label"]


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        f.write(",".join(HEADER) + "\n")
        for i in range(rows):
            f.write(
                f"0x{rng.getrandbits(160):040x},{15_000_000 + i // 50},{1_650_000_000 + 12 * i},"
                f"{rng.getrandbits(64)},{21_000 + rng.randrange(200_000)},{rng.randrange(2)}\n"
            )


def measure(path: Path, workers: int | None, repeat: int = 3) -> dict[str, float | int | str]:
    """Commit then verify ``path`` ``repeat`` times in this process (a child process); the
    median of each is reported, as this shared machine's speed varies from minute to minute."""
    from proofmind.provenance.dataset import check_dataset, commit_dataset

    commits, verifies = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            committed = commit_dataset(path, Path(out), workers=workers)
            commits.append(time.perf_counter() - began)
            began = time.perf_counter()
            check = check_dataset(path, committed, workers=workers)
            verifies.append(time.perf_counter() - began)
        assert check.ok, check.problems
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "rows": committed.manifest.rows,
        "root": committed.manifest.root,
        "commit_s": statistics.median(commits),
        "verify_s": statistics.median(verifies),
        "commit_range": f"{min(commits):.2f}–{max(commits):.2f}",
        "verify_range": f"{min(verifies):.2f}–{max(verifies):.2f}",
        "peak_mb": self_mb,
        "worker_peak_mb": child_mb,
    }


def baseline(path: Path) -> dict[str, float | str]:
    """The in-memory way: every row, leaf and node held in Python lists."""
    from proofmind.crypto.merkle import MerkleTree
    from proofmind.provenance.dataset import row_leaf

    began = time.perf_counter()
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        leaves = [row_leaf(i, row) for i, row in enumerate(reader)]
    root = MerkleTree.of(leaves, sort_leaves=False).root_hex
    seconds = time.perf_counter() - began
    return {"root": root, "seconds": seconds, "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def gas(records: int) -> dict[str, float]:
    """Anchor ``records`` one per transaction, then ``records`` in batches of 50, on a devnet."""
    from proofmind.chain.devnet import Devnet
    from proofmind.provenance.ledger import Ledger
    from proofmind.provenance.records import Kind
    from proofmind.workspace import init_workspace

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        ws, _ = init_workspace(Path(folder))
        try:
            chain = ws.connect()
            ledger = Ledger(ws)
            for batch_size, offset in ((1, 0), (50, records)):
                for n in range(offset, offset + records):
                    name = f"dataset-{n:05d}"
                    ledger.add(
                        Kind.DATASET,
                        name,
                        "0x" + random.Random(n).randbytes(32).hex(),
                        f"proofmind://dataset/{name}?manifest=0x"
                        + random.Random(-n).randbytes(32).hex(),
                    )
                report = ledger.anchor(chain, batch_size=batch_size)
                out[f"batch_{batch_size}"] = report.gas_per_record
        finally:
            ws.close()
            Devnet(ws.chain_dir, ws.devnet_settings()).down()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="250000,1000000,2000000")
    parser.add_argument("--gas-records", type=int, default=200)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        result = baseline(Path(path)) if mode == "baseline" else measure(Path(path), None)
        print(json.dumps(result))
        return

    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        sizes = sorted({int(s) for s in args.sizes.split(",")} | {args.rows})
        results = {}
        for size in sizes:
            data = Path(folder) / f"rows-{size}.csv"
            make_csv(data, size)
            results[size] = in_child("--child", "measure", str(data))
            r = results[size]
            print(
                f"{size:>9,} rows ({data.stat().st_size / 1e6:.0f} MB CSV): "
                f"commit {r['commit_s']:.2f} s ({r['commit_range']}), "
                f"verify {r['verify_s']:.2f} s ({r['verify_range']}), "
                f"peak {r['peak_mb']:.0f} MB (+ workers {r['worker_peak_mb']:.0f} MB)"
            )
            if size != args.rows:
                data.unlink()
        main_data = Path(folder) / f"rows-{args.rows}.csv"
        base = in_child("--child", "baseline", str(main_data))
        ours = results[args.rows]
        if base["root"] != ours["root"]:
            raise SystemExit(f"roots differ: {base['root']} vs {ours['root']}")
        print(
            f"\n{args.rows:,} rows, same root {ours['root']}\n"
            f"| step | proofmind | in-memory csv + MerkleTree.of | ratio |\n|---|---:|---:|---:|\n"
            f"| commit | {ours['commit_s']:.2f} s | {base['seconds']:.2f} s | "
            f"**{float(base['seconds']) / float(ours['commit_s']):.1f}×** |\n"
            f"| peak memory | {ours['peak_mb']:.0f} MB | {base['peak_mb']:.0f} MB | "
            f"{float(base['peak_mb']) / float(ours['peak_mb']):.1f}× |"
        )
        for name in ("commit_s", "verify_s"):
            verdict = "met" if float(ours[name]) <= 5.0 else "MISSED"
            print(f"target ≤ 5 s for {name[:-2]}: {verdict}")
    g = gas(args.gas_records)
    print(
        f"\nanchoring {args.gas_records} records: {g['batch_1']:,.0f} gas/record one per "
        f"transaction, {g['batch_50']:,.0f} gas/record in batches of 50 "
        f"({g['batch_1'] / g['batch_50']:.2f}× less); target ≤ 60,000: "
        f"{'met' if g['batch_50'] <= 60_000 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
