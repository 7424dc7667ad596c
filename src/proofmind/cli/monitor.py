"""The `monitor` commands. Only typer loads with the CLI; the detectors load when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import output_file

monitor_app = typer.Typer(
    help="Detectors over prices (depeg, feed health): replay history and score it.",
    no_args_is_help=True,
)


@monitor_app.command("replay")
def replay_command(
    prices: Annotated[
        Path,
        typer.Argument(help="CSV (.csv / .csv.gz) or Parquet: symbol, timestamp (ms), usd_price."),
    ],
    events: Annotated[
        Path | None,
        typer.Option("--events", help="Event windows (subject,start,end,source) to score against."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            parser=output_file,
            help="Write alerts here: .jsonl (JSON lines) or .parquet.",
        ),
    ] = None,
    detectors: Annotated[
        list[str] | None,
        typer.Option(
            "--detector", "-d", help="Detector to run (repeat; default: depeg, feed-health)."
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="Detector state JSON: resumed from if it exists, saved after."
        ),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help='Detector parameters as JSON, {"detector": {"name": value}}, or @file.json.',
        ),
    ] = None,
    subjects: Annotated[
        str | None,
        typer.Option(
            "--subjects", help="Score only these comma-separated assets (an evaluation split)."
        ),
    ] = None,
) -> None:
    """Run detectors over a price history as fast as possible; score them against events.

    With --events, prints per asset the event windows detected, the delay from the first
    non-glitch price outside ±2% of the peg to the alert, and the false alerts per asset-year
    outside the windows (depeg detector).

    Examples:
      proofmind monitor replay prices.csv.gz --out alerts.jsonl
      proofmind monitor replay ../shared/datasets/token_prices/prices.csv.gz \\
        --events src/proofmind/monitor/data/depeg_events.csv
      proofmind monitor replay day2.csv --state monitor-state.json   # continues from day 1
      proofmind monitor replay prices.parquet -d ratio \\
        --params '{"ratio": {"pairs": {"STETH": "WETH"}}}'
    """
    from proofmind.cli.monitor_run import run_replay

    chosen = subjects.split(",") if subjects else None
    run_replay(prices, events, out, detectors or ["depeg", "feed-health"], state, chosen, params)


@monitor_app.command("detectors")
def detectors_command() -> None:
    """List the installed detectors (the `proofmind.detectors` entry points).

    Example:
      proofmind monitor detectors
    """
    from proofmind.monitor.registry import available

    for name, target in sorted(available().items()):
        typer.echo(f"{name}\t{target}")
