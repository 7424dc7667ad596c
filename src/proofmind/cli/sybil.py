"""The `sybil` commands' work. Imported only when one of them runs."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from proofmind.cli.consoles import TextConsole
from proofmind.errors import InputError
from proofmind.text import count_of

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True, soft_wrap=True)


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
    from proofmind.app.sybil_run import SybilSettings, detect_to_folder

    settings = SybilSettings(hub_degree, hubs_path, min_cluster, use_labels, max_fpr)
    result = detect_to_folder(edges, candidates_path, out, settings)
    console.print(
        f"{result.flagged:,} of {result.candidates:,} candidates flagged in "
        f"{count_of(result.clusters, 'cluster')}; Merkle root "
        f"{result.merkle_root}"
    )
    if result.cross_validation:
        print_comparison(result.cross_validation, max_fpr)
    console.print(escape(f"  wrote {out}/scores.csv, report.md, flagged.txt"))


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
    from proofmind.app.sybil_run import hub_list as read_hubs

    return read_hubs(path)


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
