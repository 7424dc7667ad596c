"""`proofmind ingest …` and `fraud …`: chain data into tables, the fraud classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import (
    Engine,
    EngineOption,
    SparkMasterOption,
    WorkspaceOption,
    output_dir,
    output_file,
)
from proofmind.errors import InputError

ingest_app = typer.Typer(
    help="Load chain data into canonical Parquet tables (DuckDB views).", no_args_is_help=True
)
fraud_app = typer.Typer(
    help="Fraud / phishing account classifier: evaluate, train, score.", no_args_is_help=True
)


DataDirOption = Annotated[Path, typer.Option("--data", help="The folder `proofmind ingest` wrote.")]


@ingest_app.command("rpc")
def ingest_rpc(
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Output folder.")
    ] = Path("chaindata"),
    url: Annotated[
        str | None, typer.Option(help="JSON-RPC URL (default: this workspace's chain).")
    ] = None,
    start: Annotated[
        int | None,
        typer.Option(
            "--from", min=0, help="First block (default: 0, or where the last run stopped)."
        ),
    ] = None,
    end: Annotated[
        int | None, typer.Option("--to", min=0, help="Last block (default: head).")
    ] = None,
    follow: Annotated[
        bool, typer.Option(help="Keep tailing the chain (Ctrl-C / SIGTERM stop it).")
    ] = False,
    confirmations: Annotated[
        int, typer.Option(min=0, help="Blocks to wait before a block is read.")
    ] = 0,
    poll: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds --follow waits for new blocks.")
    ] = 2.0,
    workspace: WorkspaceOption = None,
) -> None:
    """Ingest blocks, transactions, logs, ERC-20 and native transfers into Parquet.

    Resumes from its checkpoint; in --follow mode reorganised blocks are removed and replaced.
    Ctrl-C or SIGTERM stop it at a range boundary (what was read is written and committed;
    exit 0, a one-line summary); the next run continues there. `proofmind serve --ingest OUT`
    runs the same follower as a supervised task.

    Examples:
      proofmind ingest rpc -o chaindata
      proofmind ingest rpc --url https://node.example --from 19000000 --to 19001000
      proofmind ingest rpc --follow --confirmations 2
      proofmind ingest rpc --follow --poll 12 --url https://node.example -o chaindata
    """
    from proofmind.cli.intel import run_ingest_rpc

    run_ingest_rpc(workspace, url, out, start, end, follow, confirmations, poll)


@ingest_app.command("etherscan")
def ingest_etherscan(
    files: Annotated[list[Path], typer.Argument(help="Etherscan txlist / tokentx CSV exports.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Output folder.")
    ] = Path("chaindata"),
    strict: Annotated[bool, typer.Option(help="Fail on the first malformed row.")] = False,
) -> None:
    """Import Etherscan-format exports (.csv or .csv.gz) into canonical tables.

    Malformed rows are reported with file and line and left out (--strict: fail instead).

    Example:
      proofmind ingest etherscan transactions.csv.gz token_transfers.csv.gz -o chaindata
    """
    from proofmind.cli.intel import run_ingest_etherscan

    run_ingest_etherscan(files, out, strict)


@ingest_app.command("edges")
def ingest_edges(
    files: Annotated[list[Path], typer.Argument(help="CSV / Parquet edge lists (from, to, …).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Output folder.")
    ] = Path("chaindata"),
    strict: Annotated[bool, typer.Option(help="Fail on the first malformed row.")] = False,
) -> None:
    """Import transfer edge lists (the hop_sybil format: chain, kind, from, to) into the
    canonical erc20_transfers / native_transfers tables.

    Example:
      proofmind ingest edges transfer_edges.csv.gz -o chaindata
      proofmind sybil detect chaindata --candidates labels.csv
    """
    from proofmind.cli.intel import run_ingest_etherscan

    run_ingest_etherscan(files, out, strict, edges=True)


@fraud_app.command("evaluate")
def fraud_evaluate(
    labels: Annotated[Path, typer.Option(help="CSV of address,flag (1 = illicit).")],
    data: DataDirOption = Path("chaindata"),
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
) -> None:
    """Address-disjoint cross-validation: precision, recall, F1, PR-AUC with 95% CIs.

    Example:
      proofmind fraud evaluate --data chaindata --labels labels.csv
    """
    from proofmind.cli.intel import run_evaluate

    run_evaluate(data, labels, folds)


@fraud_app.command("train")
def fraud_train(
    labels: Annotated[Path, typer.Option(help="CSV of address,flag (1 = illicit).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", parser=output_file, help="Model file.")
    ] = Path("fraud-model.txt"),
    data: DataDirOption = Path("chaindata"),
    register: Annotated[
        bool,
        typer.Option(help="Record data, run (with CV metrics) and model in the lineage ledger."),
    ] = False,
    mlp_onnx: Annotated[
        Path | None,
        typer.Option(
            parser=output_file,
            help="Also train the circuit-friendly fraud MLP and write it as ONNX here "
            "(with PATH.calibration.csv of model inputs) for `proofmind model package`.",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    first_n: FirstNOption = None,
) -> None:
    """Train the classifier on every labelled address (LightGBM text model).

    Examples:
      proofmind fraud train --data chaindata --labels labels.csv -o fraud-model.txt
      proofmind fraud train --data chaindata --labels labels.csv --register
      proofmind fraud train --data chaindata --labels labels.csv --mlp-onnx fraud-mlp.onnx
    """
    from proofmind.cli.intel import run_train

    run_train(data, labels, output, register, workspace, mlp_onnx, first_n)


@fraud_app.command("early-warning")
def fraud_early_warning(
    labels: Annotated[Path, typer.Option(help="CSV of address,flag (1 = illicit).")],
    data: DataDirOption = Path("chaindata"),
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    first_n: Annotated[
        str, typer.Option("--first-n", help="History lengths to try, comma-separated.")
    ] = "1,3,5,10",
) -> None:
    """How early can an account be flagged? Cross-validated F1 and PR-AUC (95% CIs) of models
    that see only each account's first N transactions, for each N and the full history.

    Example:
      proofmind fraud early-warning --data chaindata --labels labels.csv --first-n 1,3,5,10
    """
    from proofmind.cli.intel import run_early_warning

    try:
        ns = sorted({int(n) for n in first_n.split(",") if n.strip()})
    except ValueError:
        ns = []
    if not ns or ns[0] < 1:
        raise InputError(
            f"--first-n {first_n!r} is not a list of whole numbers ≥ 1", hint="e.g. 1,3,5,10"
        )
    run_early_warning(data, labels, folds, ns)


@fraud_app.command("export")
def fraud_export(
    model: Annotated[Path, typer.Argument(help="A model from `fraud train`.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", parser=output_file, help="ONNX file.")
    ] = Path("fraud-model.onnx"),
) -> None:
    """Export the LightGBM model as ONNX (illicit-class probability), for onnxruntime.

    Example:
      proofmind fraud export fraud-model.txt -o fraud-model.onnx
    """
    from proofmind.cli.intel import run_export

    run_export(model, output)


FirstNOption = Annotated[
    int | None,
    typer.Option(
        "--first-n",
        min=1,
        help="Early warning: use only each account's first N transactions (a model trained "
        "with the same N).",
        show_default=False,
    ),
]
DataLocationOption = Annotated[
    str,
    typer.Option(
        "--data",
        help="The folder `proofmind ingest` wrote; with --engine spark also a Hadoop-compatible "
        "URI of its copy (s3a://…, hdfs://…).",
    ),
]


BatchRowsOption = Annotated[
    int | None,
    typer.Option(
        "--batch-rows",
        min=1,
        help="DuckDB: transaction and transfer rows featured at once; memory grows about "
        "0.8 KB a row (default 8,000,000, about 6 GB). Lower it on a smaller machine.",
        show_default=False,
    ),
]


def _duckdb_batches(batch_rows: int | None, engine: Engine) -> None:
    if batch_rows is not None and engine is not Engine.duckdb:
        raise InputError(
            "--batch-rows sizes DuckDB's batches; Spark sizes its own partitions",
            hint="drop --batch-rows, or use --engine duckdb",
        )


@fraud_app.command("score")
def fraud_score(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(
            help="Addresses, or CSV files of them (with --out: default every address).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="A model file from `fraud train`, or the local key or 0x id of a registered "
            "model record (used only if the file's keccak-256 is the record's)."
        ),
    ] = "fraud-model.txt",
    data: DataLocationOption = "chaindata",
    explain: Annotated[
        int, typer.Option(min=0, help="Show this many top feature contributions per address.")
    ] = 0,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="Write address, status, score as Parquet here (a file; a folder with Spark) "
            "instead of CSV on stdout.",
            show_default=False,
        ),
    ] = None,
    engine: EngineOption = Engine.duckdb,
    master: SparkMasterOption = None,
    first_n: FirstNOption = None,
    workspace: WorkspaceOption = None,
    batch_rows: BatchRowsOption = None,
) -> None:
    """Score addresses (probability of illicit); CSV on stdout, or Parquet with --out.

    An address without a transaction in the data gets the status "no data", never a score.
    With --out and no addresses, every address in the data is scored; --engine spark runs the
    same features and model on a Spark cluster, per partition.

    Examples:
      proofmind fraud score 0xab… 0xcd… --data chaindata --model fraud-model.txt --explain 3
      proofmind fraud score --data chaindata --out scores.parquet
      proofmind fraud score --data chaindata --out scores.parquet --batch-rows 2000000
      proofmind fraud score 0xab… --data chaindata --model 3   # model record 3 of the ledger
      proofmind fraud score --engine spark --master spark://head:7077 \\
          --data s3a://bucket/chaindata --out s3a://bucket/scores
    """
    if master is not None and engine is not Engine.spark:
        raise InputError("--master is for --engine spark", hint="add --engine spark")
    _duckdb_batches(batch_rows, engine)
    if out is None:
        if batch_rows is not None:
            raise InputError(
                "--batch-rows sizes the batches of --out; the terminal scores the addresses "
                "given in one go",
                hint="drop --batch-rows, or add --out FILE.parquet",
            )
        if engine is Engine.spark:
            raise InputError(
                "--engine spark writes its scores as Parquet: --out is required",
                hint="add --out scores (a folder, or a URI on the cluster's file system)",
            )
        if not addresses:
            raise InputError(
                "no address to score",
                hint="give addresses (or CSV files of them), or --out FILE.parquet to score "
                "every address in the data",
            )
        from proofmind.app.fraud import resolve_model
        from proofmind.cli.intel import run_score

        run_score(Path(data), resolve_model(model, workspace), addresses, explain, first_n)
        return
    if first_n is not None:
        raise InputError(
            "--first-n scores on the terminal only (not with --out or --engine spark) for now",
            hint="drop --out, or score the full history",
        )
    if explain:
        raise InputError(
            "--explain prints to the terminal and cannot be combined with --out",
            hint="drop --explain, or score a few addresses without --out",
        )
    from proofmind.app.fraud import resolve_model
    from proofmind.cli.features import run_score_out

    run_score_out(
        data, resolve_model(model, workspace), addresses or [], out, engine, master, batch_rows
    )


@fraud_app.command("features")
def fraud_features(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(
            help="Addresses, or CSV files of them (default: every address).", show_default=False
        ),
    ] = None,
    data: DataLocationOption = "chaindata",
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Parquet output: a file (duckdb), a folder or URI (spark).",
        ),
    ] = "features.parquet",
    engine: EngineOption = Engine.duckdb,
    master: SparkMasterOption = None,
    batch_rows: BatchRowsOption = None,
) -> None:
    """Compute the fraud model's address features and write them as Parquet.

    One definition of the features (SQL), run by DuckDB on this machine or translated to
    Spark SQL for a cluster: both give the same values (to 1e-9 relative). Columns: address,
    the features, has_data (whether the address has a transaction or ERC-20 transfer).

    Examples:
      proofmind fraud features --data chaindata --out features.parquet
      proofmind fraud features 0xab… --data chaindata --out one.parquet
      proofmind fraud features --data chaindata --out features.parquet --batch-rows 1000000
      proofmind fraud features --engine spark --master local[*] --data chaindata --out features
    """
    if master is not None and engine is not Engine.spark:
        raise InputError("--master is for --engine spark", hint="add --engine spark")
    _duckdb_batches(batch_rows, engine)
    from proofmind.cli.features import run_features

    run_features(data, addresses or [], out, engine, master, batch_rows)
