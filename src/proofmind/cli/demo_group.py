"""`proofmind demo`: the end-to-end story on the local devnet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Project directory for the demo's workspace.")
    ] = Path("."),
) -> None:
    """Run the end-to-end story on the local devnet and print what was proved.

    Starts (or reuses) the devnet, deploys the contract suite, commits a Merkle tree of a
    real data sample on-chain, and verifies rows against it on-chain.

    Example:
      proofmind demo
    """
    from proofmind.cli.consoles import TextConsole
    from proofmind.demo import run_demo

    run_demo(directory, TextConsole())
