"""The root Typer application and its wiring; each command group lives in its own module.

Heavy modules (web3, the chain layer) load inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import inspect
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


EXAMPLE_WIDTH = 78
"""The longest example line left as it is: an 80-column terminal less Rich's margins."""


def reflow(doc: str) -> str:
    """A command's help laid out for an 80-column terminal. In Rich markup mode Typer keeps a
    docstring's line breaks, so prose wrapped at ~95 columns in the source broke mid-sentence:
    each prose paragraph becomes one line, for Rich to wrap. A paragraph with an indented line
    (``Examples:`` and its commands) keeps its lines, but an example too long for the terminal
    gets its trailing ``# comment`` on a line of its own above it, and is cut before an option
    with a backslash (`_split_command`)."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines = paragraph.split("\n")
        if not any(line.startswith(" ") for line in lines):
            paragraphs.append(" ".join(lines))
            continue
        laid: list[str] = []
        start = 0  # where the current example begins (its lines may end with a backslash)
        for line in lines:
            continued = bool(laid) and laid[-1].endswith("\\")
            if not continued:
                start = len(laid)
            command, mark, comment = line.partition("  # ")
            if len(line) > EXAMPLE_WIDTH and mark and command.strip():
                first = laid[start] if start < len(laid) else line
                indent = first[: len(first) - len(first.lstrip())]
                laid.insert(start, f"{indent}# {comment.strip()}")
            else:
                command = line
            laid += _split_command(command.rstrip(), continued)
        paragraphs.append("\n".join(laid))
    if len(paragraphs) > 1 and "\n " in paragraphs[1]:
        # Typer dedents the text after the first paragraph with inspect.cleandoc, which
        # measures the margin without its first line: from an "Examples:" line, the examples'
        # own indent would go. A blank line first keeps it (cleandoc drops the blank line).
        paragraphs[1] = "\n" + paragraphs[1]
    return "\n\n".join(paragraphs)


def _split_command(line: str, continued: bool) -> list[str]:
    """An example command line too long for the terminal, cut with backslashes before its
    last options that fit (outside quotes); what follows a cut is indented two more, unless
    the line already continues a command. A line with no such place is kept whole."""
    indent = line[: len(line) - len(line.lstrip())]
    rest = indent if continued else indent + "  "
    lines = []
    while len(line) > EXAMPLE_WIDTH:
        cuts = [
            at
            for at in range(len(indent) + 1, EXAMPLE_WIDTH - 1)
            if line.startswith(" -", at)
            and line[at - 1] != " "
            and line.count("'", 0, at) % 2 == 0
            and line.count('"', 0, at) % 2 == 0
        ]
        if not cuts:
            break
        lines.append(line[: cuts[-1]] + " \\")
        line, indent = rest + line[cuts[-1] + 1 :], rest
    return [*lines, line]


def _reflow_commands(group: typer.Typer) -> None:
    for command in group.registered_commands:
        doc = command.help or (command.callback and inspect.getdoc(command.callback))
        if doc:
            command.help = reflow(doc)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflow_commands(sub.typer_instance)


_reflow_commands(app)


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
