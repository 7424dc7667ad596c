"""A sybil detection run (`proofmind sybil detect`, and the HTTP API's keyed /sybil/runs):
Leiden communities on the transfer graph without hubs, written to a folder as scores.csv,
report.md and flagged.txt (the folder /sybil/report reads)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofmind.errors import InputError


@dataclass(frozen=True)
class SybilSettings:
    """The knobs of a run, with the CLI's defaults."""

    hub_degree: int = 100
    hubs: Path | None = None
    min_cluster: int = 8
    use_labels: bool = False
    max_fpr: float = 0.02


@dataclass(frozen=True)
class SybilRunResult:
    out: Path
    candidates: int
    flagged: int
    clusters: int
    merkle_root: str
    cross_validation: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def to_json(self, shown_out: str) -> dict[str, Any]:
        return {
            "out": shown_out,
            "candidates": self.candidates,
            "flagged": self.flagged,
            "clusters": self.clusters,
            "merkle_root": self.merkle_root,
            "cross_validation": {k: list(v) for k, v in self.cross_validation.items()},
            "files": ["scores.csv", "report.md", "flagged.txt"],
        }


def hub_list(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return [line.strip().lower() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read hubs from {path}: {exc}") from exc


def detect_to_folder(
    edges: Sequence[Path],
    candidates_path: Path,
    out: Path,
    settings: SybilSettings = SybilSettings(),
) -> SybilRunResult:
    """Detect, then write ``out``/scores.csv, report.md and flagged.txt (inputs are read and
    the detection done before anything is written)."""
    from proofmind.intel.sybil import detect, markdown_report, merkle_root, read_candidates

    candidates, labels, meta = read_candidates(candidates_path)
    hubs = hub_list(settings.hubs)
    result = detect(
        list(edges),
        candidates,
        meta=meta,
        labels=labels if settings.use_labels else None,
        hub_degree=settings.hub_degree,
        hubs=hubs,
        min_cluster=settings.min_cluster,
        max_fpr=settings.max_fpr,
    )
    out.mkdir(parents=True, exist_ok=True)
    # each file is written beside its final name and renamed into place only once all three
    # are complete: a run stopped mid-write (a server shutting down) leaves the folder as it was
    staged = {name: out / f".{name}.partial" for name in ("scores.csv", "report.md", "flagged.txt")}
    with staged["scores.csv"].open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(
            ["address", "community", "community_candidates", "flagged", "supervised_score"]
        )
        for n, address in enumerate(result.addresses):
            supervised = "" if result.supervised is None else f"{result.supervised[n]:.6f}"
            writer.writerow(
                [
                    address,
                    int(result.community[n]),
                    int(result.unsupervised[n]),
                    int(result.flagged[n]),
                    supervised,
                ]
            )
    staged["report.md"].write_text(
        markdown_report(result, labels=labels if settings.use_labels else None), encoding="utf-8"
    )
    flagged = [a for a, f in zip(result.addresses, result.flagged.tolist(), strict=True) if f]
    staged["flagged.txt"].write_text("".join(a + "\n" for a in sorted(flagged)))
    for name, path in staged.items():
        os.replace(path, out / name)
    return SybilRunResult(
        out=out,
        candidates=len(result.addresses),
        flagged=len(flagged),
        clusters=len(result.clusters),
        merkle_root=merkle_root(flagged),
        cross_validation=dict(result.cross_validation or {}),
    )
