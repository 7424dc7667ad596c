"""The root Typer application and its wiring; each command group lives in its own module.

Heavy modules (web3, the chain layer) load inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from proofmind import __version__
from proofmind.cli.agent import agent_app, mcp_command
from proofmind.cli.appeal import appeal_app
from proofmind.cli.chain_group import accounts_app, chain_app, contracts_app, init
from proofmind.cli.demo_group import demo
from proofmind.cli.gov import gov_app
from proofmind.cli.intel_group import fraud_app, ingest_app
from proofmind.cli.monitor import monitor_app
from proofmind.cli.oracle_group import model_app, oracle_app
from proofmind.cli.ownership_group import data_app, rewards_app
from proofmind.cli.provenance_group import provenance_app, verify
from proofmind.cli.serve import api_key_app, serve
from proofmind.cli.sybil_group import sybil_app

app = typer.Typer(
    name="proofmind",
    help="Trustworthy AI with Web3: on-chain lineage, verifiable inference, chain intelligence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(model_app, name="model")
app.add_typer(oracle_app, name="oracle")
app.add_typer(sybil_app, name="sybil")
app.add_typer(ingest_app, name="ingest")
app.add_typer(fraud_app, name="fraud")
app.add_typer(data_app, name="data")
app.add_typer(rewards_app, name="rewards")
app.add_typer(chain_app, name="chain")
app.add_typer(provenance_app, name="provenance")
app.add_typer(contracts_app, name="contracts")
app.add_typer(accounts_app, name="accounts")
app.add_typer(monitor_app, name="monitor")
app.add_typer(gov_app, name="gov")
sybil_app.add_typer(appeal_app, name="appeal")
app.add_typer(api_key_app, name="api-key")
app.command("serve")(serve)
app.add_typer(agent_app, name="agent")
app.command("mcp")(mcp_command)
app.command("init")(init)
app.command("verify")(verify)
app.command("demo")(demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"proofmind {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """proofmind: tamper-evident AI lineage, verifiable inference and chain intelligence.

    Start with [bold]proofmind demo[/bold], or [bold]proofmind init[/bold] in your project.
    """
