"""`proofmind provenance …` and `proofmind verify`: commit, anchor, export and check lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import (
    ClusterMasterOption,
    WorkersOption,
    WorkspaceOption,
    direction,
    output_file,
)


def data_arg(text: str) -> Path | str:
    """A dataset argument: a URI as given, else a path."""
    from proofmind.provenance.dataset import is_uri

    return text if is_uri(text) else Path(text)


provenance_app = typer.Typer(
    help="Commit datasets and models, anchor their lineage on-chain, export it.",
    no_args_is_help=True,
)


@provenance_app.command("dataset")
def provenance_dataset(
    path: Annotated[
        str,
        typer.Argument(
            help="A .csv, .csv.gz or .parquet file, or a folder; with --engine also a URI "
            "(file://, hdfs://, s3://, gs://, abfs://…) the workers read from."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Record name (default: the file name).")] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="local, spark or ray: commit in chunks (format v2) on that engine."),
    ] = None,
    master: ClusterMasterOption = None,
    workers: WorkersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Commit a dataset: canonical rows → Merkle root, manifest and tree in the workspace.

    Queues a pending dataset record; `proofmind provenance anchor` puts it on-chain. With
    --engine the tree is chunked (2^16 rows a chunk under a top tree): local, Spark and Ray
    give the same root for the same rows (docs/scaling.md), read from a path or a URI. Local
    and Ray workers open a URI with PyArrow (s3a:// is read as s3://; hdfs:// needs libhdfs),
    Spark through its own Hadoop file systems. The record keeps the URI as given.

    Examples:
      proofmind provenance dataset data/train.csv
      proofmind provenance dataset data/ --name fraud-2024
      proofmind provenance dataset data/ --engine spark --master spark://head:7077
      proofmind provenance dataset data/ --engine ray --master ray://head:10001
      proofmind provenance dataset s3://bucket/train/ --engine ray --master ray://head:10001
      proofmind provenance dataset hdfs://nn:8020/train --engine spark --master yarn
    """
    from proofmind.cli.provenance import run_dataset

    run_dataset(workspace, data_arg(path), name, engine=engine, master=master, workers=workers)


@provenance_app.command("check")
def provenance_check(
    path: Annotated[
        str, typer.Argument(help="A committed dataset: the file, folder or URI committed.")
    ],
    engine: Annotated[str, typer.Option(help="local, spark or ray.")] = "local",
    master: ClusterMasterOption = None,
    chunks: Annotated[
        str | None, typer.Option(help="Only chunks FIRST:END (end excluded), to split a check.")
    ] = None,
    workers: WorkersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Re-derive a chunked dataset commitment chunk by chunk on an engine; exit 1 on a change.

    Each task reads one chunk's rows only, so no machine reads the whole dataset. A dataset
    committed from a URI is checked at that URI (give it as committed).

    Examples:
      proofmind provenance check data/ --engine spark --master spark://head:7077
      proofmind provenance check data/ --engine ray --chunks 0:1000
      proofmind provenance check s3://bucket/train/ --engine ray --master ray://head:10001
      proofmind provenance check hdfs://nn:8020/train --engine spark --master yarn
    """
    from proofmind.cli.provenance import run_check

    raise typer.Exit(run_check(workspace, data_arg(path), engine, master, chunks, workers))


@provenance_app.command("model")
def provenance_model(
    path: Annotated[Path, typer.Argument(help="The model file (ONNX or any format).")],
    run: Annotated[
        Path | None, typer.Option(help="The training run folder the model came from.")
    ] = None,
    card: Annotated[
        Path | None,
        typer.Option(help="A JSON model card: intended_use, metrics, limitations, fairness…"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Record name (default: file stem).")] = None,
    sign: Annotated[
        bool, typer.Option(help="Sign the card with the workspace's default account.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Register a model: its hash, a model card next to it (MODEL.card.json), its run.

    Examples:
      proofmind provenance model model.onnx --run .proofmind/runs/fraud-v1-20261128-101500
      proofmind provenance model model.onnx --card card.json --sign
    """
    from proofmind.cli.provenance import run_model

    run_model(workspace, path, run, card, name, sign)


@provenance_app.command("mlflow")
def provenance_mlflow(
    run_id: Annotated[str, typer.Argument(help="The MLflow run id.")],
    tracking: Annotated[
        str,
        typer.Option(help="The mlruns folder, or a tracking URI such as sqlite:///mlflow.db."),
    ] = "mlruns",
    dataset: Annotated[
        list[Path] | None,
        typer.Option(help="A dataset the run trained on (repeatable); committed if new."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import a finished MLflow run as a training run: params, metric histories, artifacts.

    Needs the extra: pip install 'proofmind\\[mlflow]'.

    Examples:
      proofmind provenance mlflow 3f2a9c... --tracking mlruns --dataset data/train.csv
      proofmind provenance mlflow 3f2a9c... --tracking sqlite:///mlflow.db
    """
    from proofmind.cli.provenance import run_mlflow

    run_mlflow(workspace, run_id, tracking, dataset or [])


@provenance_app.command("anchor")
def provenance_anchor(
    batch_size: Annotated[int, typer.Option(min=1, help="Records per transaction.")] = 50,
    workspace: WorkspaceOption = None,
) -> None:
    """Register every pending record on-chain, in batches; prints gas per record.

    The ledger is first checked against the chain: a record it marks anchored that the
    chain does not hold goes back to pending, one sent earlier that the chain holds is
    marked anchored (never sent twice). A record is marked anchored only once its block is
    PROOFMIND_TX_CONFIRMATIONS deep and, on the devnet, saved. Deploys the
    ProvenanceRegistry if it is missing.

    Example:
      proofmind provenance anchor --batch-size 50
    """
    from proofmind.cli.provenance import run_anchor

    run_anchor(workspace, batch_size)


@provenance_app.command("list")
def provenance_list(workspace: WorkspaceOption = None) -> None:
    """List the workspace's records (pending and anchored).

    Example:
      proofmind provenance list
    """
    from proofmind.cli.provenance import run_list

    run_list(workspace)


@provenance_app.command("proof")
def provenance_proof(
    path: Annotated[
        str, typer.Argument(help="A committed dataset: the file, folder or URI committed.")
    ],
    row: Annotated[int, typer.Option(min=0, help="Row index (0-based, across all files).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Print the Merkle inclusion proof of one row as JSON (checkable with OZ MerkleProof).

    Examples:
      proofmind provenance proof data/train.csv --row 1234
      proofmind provenance proof s3://bucket/train/ --row 1234
    """
    from proofmind.cli.provenance import run_proof

    run_proof(workspace, data_arg(path), row)


@provenance_app.command("lineage")
def provenance_lineage(
    ref: Annotated[
        str | None, typer.Argument(help="A path, record id or key (default: everything).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, prov or dot.")] = "json",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", parser=output_file, help="Write to a file instead of stdout."
        ),
    ] = None,
    direction_: Annotated[
        str,
        typer.Option(
            "--direction",
            parser=direction,
            help="ancestors: what REF was made from; descendants: what was made from REF "
            "(runs, models, inferences); both.",
        ),
    ] = "ancestors",
    workspace: WorkspaceOption = None,
) -> None:
    """Export lineage as JSON, W3C PROV-JSON or a Graphviz DOT drawing.

    By default REF and everything it descends from; --direction descendants follows the
    lineage the other way (what used a dataset, what a run produced), both gives the two.

    Examples:
      proofmind provenance lineage model.onnx --format prov
      proofmind provenance lineage data/train.csv --direction descendants
      proofmind provenance lineage 3 --direction both --format dot -o around-3.dot
      proofmind provenance lineage --format dot -o lineage.dot && dot -Tsvg lineage.dot
    """
    from proofmind.cli.provenance import run_lineage

    run_lineage(workspace, ref, fmt, output, direction_)


def verify(
    path: Annotated[
        str,
        typer.Argument(
            help="A model file, a dataset, a run folder, or the hash of an agent's transaction.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    reproduce: Annotated[
        bool,
        typer.Option(
            "--reproduce",
            help="Train the run (a run folder, or the run of a model) again from its committed "
            "data and logged parameters, and compare the model bytes and metrics.",
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Re-derive every hash from the files, check the on-chain records and the lineage.

    Prints OK, or exactly what differs (file, row, log entry, byte, card field).
    Exit code 0 only when everything matches; 1 when something differs.

    With --reproduce: train the run again (same code version, same data, same parameters) and
    say whether the model comes out byte for byte the same; exit 0 only then.

    Examples:
      proofmind verify model.onnx
      proofmind verify data/train.csv --json
      proofmind verify --reproduce fraud-model.txt
      proofmind verify 0x<hash of an agent's transaction>   # decision -> model -> run -> data
      proofmind verify s3://bucket/train/   # a dataset committed from a URI, read from there
    """
    from proofmind.cli.provenance import run_reproduce, run_verify

    target = data_arg(path)
    if isinstance(target, str):  # a dataset committed from a URI: read from there
        raise typer.Exit(run_verify(workspace, target, as_json))
    if not target.exists() and path.startswith("0x") and len(path) == 66:
        from proofmind.cli.agent import run_verify_tx

        raise typer.Exit(run_verify_tx(workspace, path, as_json))
    if reproduce:
        raise typer.Exit(run_reproduce(workspace, target, as_json))
    raise typer.Exit(run_verify(workspace, target, as_json))
