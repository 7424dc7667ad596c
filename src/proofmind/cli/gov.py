"""`proofmind gov …`: governance proposals in, outcome forecasts and signals out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import WorkspaceOption, output_dir, output_file

gov_app = typer.Typer(
    help="Governance: ingest proposals and votes, forecast outcomes, report.",
    no_args_is_help=True,
)

DataOption = Annotated[
    Path, typer.Option("--data", help="The folder `proofmind gov ingest` wrote.")
]
DaoOption = Annotated[
    str | None,
    typer.Option(help="Which DAO of the data (default: the only one).", show_default=False),
]
TestShareOption = Annotated[
    float,
    typer.Option(min=0.05, max=0.8, help="The latest share of proposals held out for testing."),
]


@gov_app.command("ingest")
def gov_ingest(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Decentraland proposals exports (.csv), Snapshot GraphQL answers (.json) or "
            "Snapshot votes as JSON lines (.jsonl).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Output folder.")
    ] = Path("govdata"),
    dao: Annotated[
        str | None,
        typer.Option(help="DAO name for the rows (default: decentraland / the Snapshot space)."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Fail on the first malformed row.")] = False,
    chain: Annotated[
        Path | None,
        typer.Option(
            help="Chain tables written by `proofmind ingest rpc` holding Governor events.",
            show_default=False,
        ),
    ] = None,
    governor: Annotated[
        list[str] | None,
        typer.Option(help="OpenZeppelin Governor address (repeatable).", show_default=False),
    ] = None,
    rpc: Annotated[
        str | None,
        typer.Option(
            help="JSON-RPC URL of that chain: outcomes and quorums from the Governor's state().",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Load proposals (and votes) into canonical Parquet tables with DuckDB views.

    Examples:
      proofmind gov ingest proposals.csv -o govdata
      proofmind gov ingest snapshot-space.json --dao mydao -o govdata
      proofmind gov ingest snapshot-space.json votes.jsonl -o govdata
      proofmind gov ingest --chain chaindata --governor 0xGOVERNOR -o govdata
      proofmind gov ingest --chain chaindata --governor 0xGOVERNOR --rpc http://127.0.0.1:8545
    """
    from proofmind.cli.govrun import run_ingest

    run_ingest(files or [], out, dao, strict, chain, governor or [], rpc)


@gov_app.command("predict")
def gov_predict(
    data: DataOption = Path("govdata"),
    dao: DaoOption = None,
    test_share: TestShareOption = 0.3,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", parser=output_file, help="Forecasts CSV for the open proposals."
        ),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(help="Record the model and the forecasts in the workspace's lineage ledger."),
    ] = False,
    anchor: Annotated[
        bool, typer.Option(help="With --record: anchor the record on the chain now.")
    ] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Forecast whether proposals pass, from what was known at their creation.

    Prints a time-ordered evaluation (train on the earlier proposals, test on the later ones)
    with bootstrap CIs, next to the majority-class and type-only baselines, and calibration.
    Then trains on every proposal with an outcome and forecasts those still open.

    Examples:
      proofmind gov predict --data govdata
      proofmind gov predict --data govdata --test-share 0.2 -o forecasts.csv
      proofmind gov predict --data govdata --record    # commit forecasts before votes end
    """
    from proofmind.cli.govrun import run_predict

    run_predict(data, dao, test_share, out, record, workspace, anchor)


@gov_app.command("check")
def gov_check(
    document: Annotated[
        Path, typer.Argument(help="A forecast document `gov predict --record` wrote.")
    ],
    data: DataOption = Path("govdata"),
) -> None:
    """Check a recorded forecast: recompute its proposals' inputs hashes from the tables and
    score the forecasts of proposals that have an outcome now (Brier score). Exits 1 when a
    proposal's creation-time inputs changed or it is gone, like `proofmind verify`.

    Example:
      proofmind gov check govdata/forecasts/forecast-1a2b3c4d5e6f.json --data govdata
    """
    from proofmind.cli.govrun import run_check

    raise typer.Exit(run_check(data, document))


@gov_app.command("texts")
def gov_texts(
    data: DataOption = Path("govdata"),
    dao: DaoOption = None,
    show: Annotated[int, typer.Option(min=0, help="Print this many of the latest.")] = 5,
) -> None:
    """Summarise, categorise, extract keywords and score the tone of every proposal's text
    (the body, or the title when there is none), offline; writes the table `texts` next to
    the proposals, which `gov report` then shows with its evidence sentences.

    Examples:
      proofmind gov texts --data govdata
      proofmind gov texts --data govdata --dao mydao --show 0
    """
    from proofmind.cli.govrun import run_texts

    run_texts(data, dao, show)


@gov_app.command("report")
def gov_report(
    data: DataOption = Path("govdata"),
    dao: DaoOption = None,
    test_share: TestShareOption = 0.3,
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_file, help="Markdown report.")
    ] = Path("governance-report.md"),
    late: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="Final share of the voting window that is 'late'."),
    ] = 0.1,
    top_k: Annotated[
        int, typer.Option(min=1, help="How many of the largest voters count as large.")
    ] = 10,
) -> None:
    """Write a Markdown report: evaluation with baselines, calibration, forecasts of open
    proposals, proposal texts, and from votes and calldata: voting-power concentration,
    last-minute swings by the largest voters, actions that move funds or upgrade contracts.

    Example:
      proofmind gov report --data govdata -o governance-report.md
    """
    from proofmind.cli.govrun import run_report

    run_report(data, dao, test_share, out, late, top_k)
