"""`proofmind init`, `chain …`, `contracts …`, `accounts …`: workspace, chain, deployments, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import (
    WorkspaceOption,
)

chain_app = typer.Typer(
    help="Start, stop and inspect the chain (the local devnet by default).",
    no_args_is_help=True,
)
contracts_app = typer.Typer(
    help="Deploy proofmind's contracts and list deployments.", no_args_is_help=True
)
accounts_app = typer.Typer(
    help="Encrypted keystore accounts for signing on real networks.", no_args_is_help=True
)


def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to create .proofmind/ (default: here).")
    ] = Path("."),
) -> None:
    """Create a workspace: config.toml, SQLite state, keystore, chain state, blob store.

    Running it again is safe: existing files are kept.

    Examples:
      proofmind init
      proofmind init ~/projects/fraud-model
    """
    from proofmind.cli.commands import run_init

    run_init(directory)


@chain_app.command("up")
def chain_up(workspace: WorkspaceOption = None) -> None:
    """Start the devnet (anvil on a free loopback port), or reuse the one running.

    State persists in the workspace: stop it, kill it, start it again, and deployed
    contracts and balances are still there.

    Examples:
      proofmind chain up
      PROOFMIND_DEVNET_PORT=8545 proofmind chain up
    """
    from proofmind.cli.commands import run_chain_up

    run_chain_up(workspace)


@chain_app.command("down")
def chain_down(workspace: WorkspaceOption = None) -> None:
    """Stop the devnet cleanly; its state is saved for the next `chain up`.

    Example:
      proofmind chain down
    """
    from proofmind.cli.commands import run_chain_down

    run_chain_down(workspace)


@chain_app.command("status")
def chain_status(workspace: WorkspaceOption = None) -> None:
    """Show which chain the workspace uses, whether it answers, and its head block. Exits 0
    when it answers, 3 when the workspace's devnet is stopped, 1 when an RPC node does not
    answer.

    Examples:
      proofmind chain status
      proofmind chain status || proofmind chain up
      PROOFMIND_CHAIN_BACKEND=rpc PROOFMIND_CHAIN_RPC_URL=http://127.0.0.1:8545 \\
        proofmind chain status
    """
    from proofmind.cli.commands import run_chain_status

    raise typer.Exit(run_chain_status(workspace))


@contracts_app.command("deploy")
def contracts_deploy(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Contracts to deploy (default: the whole suite).", show_default=False),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Deploy again even when a current deployment exists.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Deploy contracts from the artifacts shipped in the package and record them.

    A contract already deployed from the same artifact on this chain is kept, so running
    this twice deploys nothing the second time.

    Examples:
      proofmind contracts deploy
      proofmind contracts deploy MerkleCommitments --force
    """
    from proofmind.cli.commands import run_contracts_deploy

    run_contracts_deploy(workspace, names or [], force)


@contracts_app.command("list")
def contracts_list(workspace: WorkspaceOption = None) -> None:
    """List the shipped contracts and where each is deployed on the current chain.

    Example:
      proofmind contracts list
    """
    from proofmind.cli.commands import run_contracts_list

    run_contracts_list(workspace)


@contracts_app.command("call")
def contracts_call(
    name: Annotated[str, typer.Argument(help="Deployed contract, e.g. MerkleCommitments.")],
    function: Annotated[str, typer.Argument(help="A view function of the contract.")],
    args: Annotated[
        list[str] | None, typer.Argument(help="Its arguments; arrays and tuples as JSON.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Call a read-only function of a deployed contract and print the result.

    Examples:
      proofmind contracts call MerkleCommitments commitmentCount
      proofmind contracts call MerkleCommitments isCommitted 0x5e1f…(32 bytes hex)
    """
    from proofmind.cli.commands import run_contracts_call

    run_contracts_call(workspace, name, function, args or [], send=False)


@contracts_app.command("send")
def contracts_send(
    name: Annotated[str, typer.Argument(help="Deployed contract, e.g. MerkleCommitments.")],
    function: Annotated[str, typer.Argument(help="A state-changing function of the contract.")],
    args: Annotated[
        list[str] | None, typer.Argument(help="Its arguments; arrays and tuples as JSON.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Send a transaction calling a function of a deployed contract; print the receipt.

    Reverts are decoded: a custom error prints with its name and arguments.

    Example:
      proofmind contracts send MerkleCommitments commit \\
        0x5e1f…(32 bytes hex) 250 ipfs://bafy…
    """
    from proofmind.cli.commands import run_contracts_call

    run_contracts_call(workspace, name, function, args or [], send=True)


@accounts_app.command("new")
def accounts_new(name: str, workspace: WorkspaceOption = None) -> None:
    """Create a new key, encrypted in the workspace keystore (scrypt). Prints the address only.

    The password comes from PROOFMIND_KEYSTORE_PASSWORD or a hidden prompt.

    Example:
      proofmind accounts new deployer
    """
    from proofmind.cli.commands import run_accounts_new

    run_accounts_new(workspace, name, import_key=False)


@accounts_app.command("import")
def accounts_import(name: str, workspace: WorkspaceOption = None) -> None:
    """Import an existing private key (typed at a hidden prompt) into the keystore.

    Example:
      proofmind accounts import deployer
    """
    from proofmind.cli.commands import run_accounts_new

    run_accounts_new(workspace, name, import_key=True)


@accounts_app.command("list")
def accounts_list(workspace: WorkspaceOption = None) -> None:
    """List keystore accounts (names and addresses; keys are never shown).

    Example:
      proofmind accounts list
    """
    from proofmind.cli.commands import run_accounts_list

    run_accounts_list(workspace)
