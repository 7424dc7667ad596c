"""`proofmind sybil …`: sybil detection on a transfer graph (appeals: cli/appeal.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import (
    WorkspaceOption,
    output_dir,
    output_file,
)

sybil_app = typer.Typer(help="Sybil detection on a transfer graph.", no_args_is_help=True)


EdgesArgument = Annotated[
    list[Path],
    typer.Argument(help="Edge lists (CSV/Parquet: from, to) or folders `ingest` wrote."),
]
HubDegreeOption = Annotated[
    int, typer.Option(min=1, help="Addresses with more counterparties are hubs, left out.")
]
HubsOption = Annotated[Path | None, typer.Option(help="File of further hub addresses, one a line.")]
MinClusterOption = Annotated[
    int, typer.Option(min=1, help="Flag communities with at least this many candidates.")
]
MaxFprOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=0.5,
        help="The share of eligible (non-sybil) candidates the model may flag: its threshold "
        "is chosen for it on grouped CV (needs labels).",
    ),
]


@sybil_app.command("detect")
def sybil_detect(
    edges: EdgesArgument,
    candidates: Annotated[
        Path, typer.Option(help="CSV of candidate addresses (address[, is_sybil, …]).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Output folder.")
    ] = Path("sybil"),
    hub_degree: HubDegreeOption = 100,
    hubs: HubsOption = None,
    min_cluster: MinClusterOption = 8,
    labels: Annotated[
        bool, typer.Option(help="Use is_sybil labels for the supervised stage and evaluation.")
    ] = False,
    max_fpr: MaxFprOption = 0.02,
) -> None:
    """Leiden communities on the transfer graph without hubs; flags, per-cluster evidence,
    a Markdown report and the Merkle root of the flagged list.

    Example:
      proofmind sybil detect transfer_edges.csv.gz --candidates labels.csv --labels -o sybil
    """
    from proofmind.cli.sybil import run_sybil

    run_sybil(edges, candidates, out, hub_degree, hubs, min_cluster, labels, max_fpr)


@sybil_app.command("train")
def sybil_train(
    edges: EdgesArgument,
    candidates: Annotated[
        Path, typer.Option(help="CSV of labelled candidates (address, is_sybil, …).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Model folder.")
    ] = Path("sybil-model"),
    hub_degree: HubDegreeOption = 100,
    hubs: HubsOption = None,
    min_cluster: MinClusterOption = 8,
    max_fpr: MaxFprOption = 0.02,
    register: Annotated[
        bool, typer.Option(help="Record edges, candidates, run and model in the lineage ledger.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Train a sybil model once and save it with its feature schema, graph settings, hub list,
    calibration and flag threshold.

    Cross-validates grouped by community and funder (a farm never on both sides), prints the
    model beside the rule baseline and the unsupervised flags with 95% intervals, and picks
    the threshold for --max-fpr. `sybil score` applies the model later to new candidates in
    the same or an updated graph.

    Examples:
      proofmind sybil train transfer_edges.csv.gz --candidates labels.csv -o sybil-model
      proofmind sybil train edges.csv.gz --candidates labels.csv -o sybil-model --register
    """
    from proofmind.cli.sybil import run_sybil_train

    run_sybil_train(
        edges, candidates, out, hub_degree, hubs, min_cluster, register, workspace, max_fpr
    )


@sybil_app.command("score")
def sybil_score(
    edges: EdgesArgument,
    candidates: Annotated[Path, typer.Option(help="CSV of candidate addresses to score.")],
    model: Annotated[Path, typer.Option(help="The folder `proofmind sybil train` wrote.")] = Path(
        "sybil-model"
    ),
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", parser=output_file, help="Scores: CSV, or Parquet if it ends .parquet."
        ),
    ] = Path("sybil-scores.csv"),
) -> None:
    """Calibrated P(sybil) for candidates — also ones the model never saw — with a trained
    model, flagged at the threshold chosen in training.

    Examples:
      proofmind sybil score new_edges.csv.gz --candidates new.csv --model sybil-model -o s.csv
      proofmind sybil score edges.csv.gz --candidates new.csv --model sybil-model -o s.parquet
    """
    from proofmind.cli.sybil import run_sybil_score

    run_sybil_score(edges, candidates, model, out)
