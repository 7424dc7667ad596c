"""The `sybil` commands' work. Imported only when one of them runs."""

from __future__ import annotations

import csv
from pathlib import Path

from rich.console import Console

from proofmind.errors import InputError

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def run_sybil(
    edges: list[Path],
    candidates_path: Path,
    out: Path,
    hub_degree: int,
    hubs_path: Path | None,
    min_cluster: int,
    use_labels: bool,
    max_fpr: float = 0.02,
) -> None:
    from proofmind.intel.sybil import detect, markdown_report, merkle_root, read_candidates

    candidates, labels, meta = read_candidates(candidates_path)
    hubs = hub_list(hubs_path)
    result = detect(
        edges,
        candidates,
        meta=meta,
        labels=labels if use_labels else None,
        hub_degree=hub_degree,
        hubs=hubs,
        min_cluster=min_cluster,
        max_fpr=max_fpr,
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "scores.csv").open("w", newline="") as f:
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
    (out / "report.md").write_text(
        markdown_report(result, labels=labels if use_labels else None), encoding="utf-8"
    )
    flagged = [a for a, f in zip(result.addresses, result.flagged.tolist(), strict=True) if f]
    (out / "flagged.txt").write_text("".join(a + "\n" for a in sorted(flagged)))
    console.print(
        f"{len(flagged):,} of {len(result.addresses):,} candidates flagged in "
        f"{len(result.clusters):,} clusters; Merkle root {merkle_root(flagged)}"
    )
    if result.cross_validation:
        print_comparison(result.cross_validation, max_fpr)
    console.print(f"  wrote {out}/scores.csv, report.md, flagged.txt")


def print_comparison(metrics: dict[str, tuple[float, float, float]], max_fpr: float) -> None:
    """The model beside the rule baseline and the unsupervised flags, a line each."""
    from proofmind.intel.sybil_model import COMPARISON_HEADER, comparison

    console.print("cross-validated, with 95% cluster-bootstrap intervals:")
    for label, *values in comparison(metrics, max_fpr):
        shown = [f"{name} {v}" for name, v in zip(COMPARISON_HEADER[1:], values, strict=True) if v]
        console.print(f"  {label}: " + "; ".join(shown))


def run_sybil_train(
    edges: list[Path],
    candidates_path: Path,
    out: Path,
    hub_degree: int,
    hubs_path: Path | None,
    min_cluster: int,
    register: bool = False,
    workspace: Path | None = None,
    max_fpr: float = 0.02,
) -> None:
    """Cross-validate, calibrate and train on every labelled candidate; save the model folder
    (and with ``register``, record it in the lineage ledger)."""
    from proofmind.intel.sybil import read_candidates
    from proofmind.intel.sybil_model import GraphSettings, train

    if register:  # a missing workspace is found now, not after the training
        from proofmind.workspace import open_workspace

        open_workspace(workspace).close()
    candidates, labels, meta = read_candidates(candidates_path)
    if not labels:
        raise InputError(
            f"{candidates_path} has no is_sybil labels to train on",
            hint="give a CSV with address,is_sybil (1 = sybil, 0 = eligible)",
        )
    settings = GraphSettings(hub_degree, tuple(hub_list(hubs_path)), min_cluster)
    record = None
    with err.status("building the graph, cross-validating, training…"):
        if register:
            from proofmind.app.training import train_sybil_registered
            from proofmind.workspace import open_workspace

            ws = open_workspace(workspace)
            try:
                record, training = train_sybil_registered(
                    ws, edges, candidates_path, out, settings, max_fpr
                )
            finally:
                ws.close()
        else:
            training = train(edges, candidates, labels, meta, settings, max_fpr=max_fpr)
            training.model.save(out, training.scores)
    model = training.model
    console.print(
        f"trained on {model.labelled:,} labelled candidates ({model.sybils:,} sybil) → {out}/ "
        "(model.txt, model.json, training_scores.csv)"
    )
    print_comparison(model.metrics, max_fpr)
    fpr, recall = model.metrics["fpr_at_threshold"], model.metrics["recall_at_threshold"]
    console.print(
        f"flag threshold: P(sybil) ≥ {model.threshold:.4g}, chosen for ≤ {max_fpr:.1%} false "
        f"positives among eligible candidates; estimated FPR {fpr[0]:.2%} (95% CI "
        f"{fpr[1]:.2%}–{fpr[2]:.2%}), recall {recall[0]:.1%} (grouped CV). P(sybil) is "
        f"calibrated (Platt) on the grouped out-of-fold scores; Brier "
        f"{model.metrics['grouped_brier'][0]:.3f}."
    )
    if record is not None:
        console.print(
            f"model record {record.key} ({record.status}), lineage: run and "
            f"{len(edges) + 1} datasets; anchor it with `proofmind provenance anchor`"
        )


def hub_list(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return [line.strip().lower() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read hubs from {path}: {exc}") from exc


def run_sybil_score(edges: list[Path], candidates_path: Path, model_dir: Path, out: Path) -> None:
    """Calibrated P(sybil) for candidates, in training or new, written as CSV or Parquet."""
    from proofmind.intel.sybil import read_candidates
    from proofmind.intel.sybil_model import SybilModel, score

    wanted, _, meta = read_candidates(candidates_path)
    model = SybilModel.load(model_dir)
    with err.status("building the graph and scoring…"):
        scores = score(model, edges, wanted, meta)
    scores.write(out)
    new = int((~scores.in_training).sum())
    console.print(
        f"{len(wanted):,} candidates scored ({new:,} not in training) → {out}; "
        f"{int(scores.flag.sum()):,} flagged (P(sybil) ≥ {model.threshold:.4g}, the threshold "
        f"chosen for ≤ {model.max_fpr:.1%} false positives), "
        f"{int(scores.community_flagged.sum()):,} in a corroborated flagged community"
    )
