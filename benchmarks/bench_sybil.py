"""`proofmind sybil train` and `sybil score` on the whole hop_sybil graph (1.7M transfer edges,
30,273 labelled candidates): wall time and peak resident memory of each command, run as a
separate process the way a user runs it.

train: the graph, the features, 5-fold CV by address and grouped by community and funder,
1,000 cluster-bootstrap resamples, calibration, the final model, the model folder.
score: the same graph built again with the model's settings and hub list, features, P(sybil)
for every labelled candidate; the scores must equal the training run's, byte for byte.

With --unseen F it also trains on a random 1 - F of the labelled candidates (seed 12) and scores
the other F as new candidates, reporting their ROC-AUC and the false-positive rate and recall
of the stored threshold: the protocol of a hold-out of random eligible addresses.

Usage: python benchmarks/bench_sybil.py [--data ../shared/datasets/hop_sybil] [--repeat 1]
         [--unseen 0.3]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS, TARGET_GB = 60.0, 4.0


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of ``proofmind ARGS`` (its own maximum RSS,
    from the kernel's accounting of the finished process)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "proofmind", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode:
        raise SystemExit(f"proofmind {' '.join(args)} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss * 1024 / 1e9  # Linux reports kilobytes


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(
            int(line.split()[1]) / 1e6
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory = float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM, {platform.platform()}"


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "hop_sybil"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command")
    parser.add_argument("--unseen", type=float, default=0.0, help="share held out of training")
    opts = parser.parse_args()
    edges, labels = opts.data / "transfer_edges.csv.gz", opts.data / "labels.csv"
    if not edges.is_file() or not labels.is_file():
        raise SystemExit(f"no hop_sybil data in {opts.data} (give --data)")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sybil-") as tmp:
        model, scores = Path(tmp) / "model", Path(tmp) / "scores.csv"
        for n in range(opts.repeat):
            seconds, gb = run(["sybil", "train", str(edges), "--candidates", str(labels),
                               "-o", str(model)])  # fmt: skip
            rows.append(("train", n, seconds, gb))
            seconds, gb = run(["sybil", "score", str(edges), "--candidates", str(labels),
                               "--model", str(model), "-o", str(scores)])  # fmt: skip
            rows.append(("score", n, seconds, gb))
            same = scores.read_bytes() == (model / "training_scores.csv").read_bytes()
            if not same:
                raise SystemExit("score gave other numbers than the training run")
    print(f"| command | run | seconds | peak RSS | target ({TARGET_SECONDS:.0f} s, "
          f"{TARGET_GB:.0f} GB) |")  # fmt: skip
    print("|---|---:|---:|---:|---|")
    for command, n, seconds, gb in rows:
        met = "met" if seconds <= TARGET_SECONDS and gb <= TARGET_GB else "NOT met"
        print(f"| sybil {command} | {n + 1} | {seconds:.1f} | {gb:.2f} GB | {met} |")
    print("score on the training candidates = the training run's scores, byte for byte")
    if opts.unseen:
        unseen(edges, labels, opts.unseen)


def unseen(edges: Path, labels: Path, share: float) -> None:
    """Train on a random part of the labelled candidates, score the rest as new ones."""
    import numpy as np

    from proofmind.intel.sybil import read_candidates, roc_auc
    from proofmind.intel.sybil_model import score, train

    candidates, label, meta = read_candidates(labels)
    held = np.random.default_rng(12).uniform(size=len(candidates)) < share
    seen = [a for a, h in zip(candidates, held.tolist(), strict=True) if not h]
    new = [a for a, h in zip(candidates, held.tolist(), strict=True) if h]
    training = train([edges], seen, {a: label[a] for a in seen}, meta)
    scored = score(training.model, [edges], new, meta)
    y = np.array([label[a] for a in new])
    fpr, recall = scored.flag[y == 0].mean(), scored.flag[y == 1].mean()
    estimate = training.model.metrics["fpr_at_threshold"]
    print(
        f"trained on {len(seen):,}, scored {len(new):,} unseen ({int(y.sum()):,} sybil): "
        f"ROC-AUC {roc_auc(y, scored.p_sybil):.3f}; at the stored threshold FPR {fpr:.2%} "
        f"(grouped-CV estimate {estimate[0]:.2%}, {estimate[1]:.2%}–{estimate[2]:.2%}), "
        f"recall {recall:.1%}; corroborated community flags: FPR "
        f"{scored.community_flagged[y == 0].mean():.2%}, recall "
        f"{scored.community_flagged[y == 1].mean():.1%}"
    )


if __name__ == "__main__":
    main()
