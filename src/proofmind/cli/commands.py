"""What the CLI commands do. Imported only when a command runs."""

from __future__ import annotations

import os
from pathlib import Path

from rich.table import Table

from proofmind.app.deploy import deploy_suite
from proofmind.chain.accounts import Keystore
from proofmind.chain.contracts import (
    DeploymentRegistry,
    artifact_names,
    is_current,
    load_artifact,
)
from proofmind.chain.devnet import Devnet
from proofmind.cli.consoles import TextConsole
from proofmind.cli.tables import print_table
from proofmind.errors import InputError
from proofmind.text import count_of
from proofmind.workspace import Workspace, init_workspace, open_workspace

console = TextConsole()


def run_init(directory: Path) -> None:
    workspace, created = init_workspace(directory.resolve())
    verb = "Created" if created else "Workspace already exists at"
    console.print(f"{verb} [bold]{workspace.root}[/bold]")
    console.print("  config.toml, state.sqlite (WAL), keystore/, chain/, blobs/")
    console.print(
        "Next: [bold]proofmind chain up[/bold], then [bold]proofmind contracts deploy[/bold]"
    )


def _workspace(path: Path | None) -> Workspace:
    return open_workspace(path)


def _devnet(workspace: Workspace) -> Devnet:
    return Devnet(workspace.chain_dir, workspace.devnet_settings())


def run_chain_up(path: Path | None) -> None:
    workspace = _workspace(path)
    if workspace.chain_settings().backend != "devnet":
        backend = workspace.chain_settings().backend
        raise InputError(
            f"this workspace uses the {backend!r} backend; `chain up` manages only the devnet",
            hint='set [chain] backend = "devnet" or use `proofmind chain status`',
        )
    record, started = _devnet(workspace).up()
    verb = "Started" if started else "Reusing"
    console.print(
        f"{verb} devnet at [bold]{record.rpc_url}[/bold] "
        f"(chain {record.chain_id}, pid {record.pid})"
    )
    console.print(f"  state: {record.state_file}")


def run_chain_down(path: Path | None) -> None:
    workspace = _workspace(path)
    if _devnet(workspace).down():
        console.print("Devnet stopped; its state is saved for the next `proofmind chain up`.")
    else:
        console.print("No devnet was running.")


DEVNET_STOPPED = 3  # as an init script's `status` says "not running" (LSB)


def run_chain_status(path: Path | None) -> int:
    """Print the chain's state; the exit code: 0 when it answers, DEVNET_STOPPED when the
    workspace's devnet is not running (an unreachable RPC node is an error, exit 1)."""
    workspace = _workspace(path)
    settings = workspace.chain_settings()
    if settings.backend == "devnet":
        status = _devnet(workspace).status()
        if status.running and status.record is not None:
            console.print(
                f"devnet [green]running[/green] at {status.record.rpc_url} "
                f"(chain {status.record.chain_id}, pid {status.record.pid}, "
                f"block {status.block_number})"
            )
        else:
            console.print(
                f"devnet [yellow]stopped[/yellow] ({status.detail}); "
                "start it with `proofmind chain up`"
            )
            return DEVNET_STOPPED
        return 0
    chain = workspace.connect()
    console.print(
        f"{chain.backend.describe()} [green]reachable[/green]: chain {chain.chain_id}, "
        f"block {chain.w3.eth.block_number}, {count_of(len(chain.accounts), 'signing account')}"
    )
    return 0


def run_contracts_deploy(path: Path | None, names: list[str], force: bool) -> None:
    from proofmind.cli.chainstate import confirm, settle

    workspace = _workspace(path)
    chain = workspace.connect()
    settle(chain, DeploymentRegistry(workspace.state))  # forget contracts whose code is gone
    rows = deploy_suite(chain, workspace, names, force)
    confirm(chain)  # on the devnet: saved, so a killed node does not lose them
    table = Table("contract", "address", "status", title=f"chain {chain.chain_id}")
    for name, address, status in rows:
        table.add_row(name, address, status)
    print_table(console, table)


def run_contracts_list(path: Path | None) -> None:
    workspace = _workspace(path)
    chain = workspace.connect()
    registry = DeploymentRegistry(workspace.state)
    table = Table("contract", "address", "status", "compiler", title=f"chain {chain.chain_id}")
    for name in artifact_names():
        artifact = load_artifact(name)
        deployment = registry.get(chain.chain_id, name)
        if deployment is None:
            table.add_row(name, "-", "not deployed", artifact.compiler_version)
            continue
        state = "[green]current[/green]" if is_current(chain, deployment) else "[red]stale[/red]"
        table.add_row(name, deployment.address, state, artifact.compiler_version)
    print_table(console, table)


def _password(confirm: bool) -> str:
    from_env = os.environ.get("PROOFMIND_KEYSTORE_PASSWORD")
    if from_env:
        return from_env
    import typer

    return str(typer.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm))


def run_accounts_new(path: Path | None, name: str, *, import_key: bool) -> None:
    import typer

    workspace = _workspace(path)
    keystore = Keystore(workspace.keystore_dir)
    keystore.path_of(name)  # validate the name before asking for secrets
    if import_key:
        key = str(typer.prompt("Private key (hex)", hide_input=True))
        address = keystore.import_key(name, key.strip(), _password(confirm=True))
    else:
        address = keystore.create(name, _password(confirm=True))
    console.print(f"Account [bold]{name}[/bold]: {address} (encrypted in {keystore.directory})")


def run_accounts_list(path: Path | None) -> None:
    workspace = _workspace(path)
    rows = Keystore(workspace.keystore_dir).names()
    if not rows:
        console.print("No keystore accounts; create one with `proofmind accounts new NAME`.")
        return
    table = Table("name", "address")
    for name, address in rows:
        table.add_row(name, address)
    print_table(console, table)


def run_contracts_call(
    path: Path | None, name: str, function: str, args: list[str], *, send: bool
) -> None:
    from proofmind.chain.contracts import attach
    from proofmind.cli.abi_args import parse_args, show

    workspace = _workspace(path)
    artifact = load_artifact(name)
    candidates = [i for i in artifact.abi if i.get("type") == "function" and i["name"] == function]
    if not candidates:
        known = sorted({i["name"] for i in artifact.abi if i.get("type") == "function"})
        raise InputError(
            f"{name} has no function {function!r}",
            hint=f"choose one of: {', '.join(known)}",
        )
    abi = next((c for c in candidates if len(c.get("inputs", [])) == len(args)), candidates[0])
    values = parse_args(f"{name}.{function}", abi.get("inputs", []), args)
    chain = workspace.connect()
    contract = attach(chain, name, DeploymentRegistry(workspace.state))
    fn = contract.get_function_by_signature(
        f"{function}({','.join(i['type'] for i in abi.get('inputs', []))})"
    )(*values)
    if not send:
        from web3.exceptions import ContractLogicError

        try:
            result = fn.call()
        except ContractLogicError as exc:
            raise chain.sender().revert_error(
                exc.data, f"{name}.{function}()", exc.message
            ) from None
        console.print(show(result))
        return
    from proofmind.cli.chainstate import confirm

    receipt = chain.sender().transact(fn)
    confirm(chain)
    console.print(
        f"{name}.{function} mined in block {receipt['blockNumber']} "
        f"(tx {receipt['transactionHash'].to_0x_hex()}, {receipt['gasUsed']:,} gas)"
    )
