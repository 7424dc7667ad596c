"""`proofmind data …` and `rewards …`: signed data contributions and their on-chain rewards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import (
    UINT256_MAX,
    WorkspaceOption,
    address,
    output_file,
)

data_app = typer.Typer(
    help="Wallet-signed data contributions: sign, assemble, revoke.", no_args_is_help=True
)
rewards_app = typer.Typer(
    help="Value contributions and pay them through on-chain Merkle epochs.", no_args_is_help=True
)


AccountOption = Annotated[
    int, typer.Option("--account", min=0, help="Index of the signing account on this chain.")
]


@data_app.command("contribute")
def data_contribute(
    data: Annotated[Path, typer.Argument(help="Your rows: a CSV or Parquet file.")],
    dataset: Annotated[str, typer.Option(help="The dataset the curator announced.")],
    licence: Annotated[str, typer.Option(help="Licence (SPDX id or text).")] = "CC-BY-4.0",
    days: Annotated[
        int, typer.Option(min=1, max=36_500, help="Consent lasts this many days.")
    ] = 365,
    account: AccountOption = 0,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", parser=output_file, help="Where to write the contribution."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Commit your rows and sign (EIP-712) a contribution: dataset, rows root, licence,
    consent, expiry. Writes DATA.contribution.json for the curator.

    Example:
      proofmind data contribute my-rows.csv --dataset fraud-labels --licence CC-BY-4.0 --account 1
    """
    from proofmind.cli.ownership import run_contribute

    run_contribute(workspace, data, dataset, licence, days, account, output)


@data_app.command("assemble")
def data_assemble(
    contributions: Annotated[list[Path], typer.Argument(help="*.contribution.json files.")],
    dataset: Annotated[str, typer.Option(help="The dataset being assembled.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", parser=output_file, help="The assembled CSV.")
    ],
    workspace: WorkspaceOption = None,
) -> None:
    """Check every contribution (signature, consent, expiry, revocation, rows) and write one
    CSV with a contributor column; rows sent twice are kept once.

    Example:
      proofmind data assemble alice.csv.contribution.json \\
        bob.csv.contribution.json --dataset fraud-labels -o assembled.csv
    """
    from proofmind.cli.ownership import run_assemble

    run_assemble(workspace, contributions, dataset, output)


@data_app.command("revoke")
def data_revoke(
    contribution: Annotated[Path, typer.Argument(help="Your *.contribution.json.")],
    account: AccountOption = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """Withdraw consent on-chain (ContributionRegistry); assembly refuses it from then on.

    Example:
      proofmind data revoke my-rows.csv.contribution.json --account 1
    """
    from proofmind.cli.ownership import run_revoke

    run_revoke(workspace, contribution, account)


@rewards_app.command("value")
def rewards_value(
    train: Annotated[Path, typer.Argument(help="The assembled CSV (with a contributor column).")],
    test: Annotated[Path, typer.Option(help="Held-out CSV the value is measured on.")],
    features: Annotated[str, typer.Option(help="Comma-separated numeric feature columns.")],
    label: Annotated[str, typer.Option(help="The label column.")],
    k: Annotated[int, typer.Option(min=1, help="Neighbours of the KNN classifier.")] = 5,
    name: Annotated[str, typer.Option(help="Record name.")] = "valuation",
    method: Annotated[
        str, typer.Option(help="knn-shapley (exact, per row) or banzhaf (per contributor).")
    ] = "knn-shapley",
    engine: Annotated[
        str, typer.Option(help="knn-shapley batches on local or ray (the same values).")
    ] = "local",
    master: Annotated[
        str | None, typer.Option(help="Ray address, e.g. ray://head:10001 (default: local).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Value each contributor (negative values shown) and queue a valuation record (method,
    parameters, data roots, values root) so anyone can recompute the payout.

    Examples:
      proofmind rewards value assembled.csv --test test.csv --features x1,x2 --label flag
      proofmind rewards value assembled.csv --test test.csv --features x1,x2 --label flag \\
        --method banzhaf
      proofmind rewards value assembled.csv --test test.csv --features x1,x2 --label flag \\
        --engine ray --master ray://head:10001
    """
    from proofmind.cli.ownership import run_value

    columns = [f.strip() for f in features.split(",")]
    run_value(workspace, train, test, columns, label, k, name, method, engine=engine, master=master)


@rewards_app.command("publish")
def rewards_publish(
    valuation: Annotated[str, typer.Argument(help="The valuation hash `rewards value` printed.")],
    pool: Annotated[int, typer.Option(min=0, max=UINT256_MAX, help="Token base units to pay out.")],
    days: Annotated[int, typer.Option(min=1, max=36_500, help="Claim window in days.")] = 30,
    mint: Annotated[bool, typer.Option(help="Mint the pool first (token owner only).")] = False,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Publish although an epoch pays this valuation already (another round).",
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Anchor the valuation and publish a funded reward epoch paying it out. A valuation an
    epoch pays already is refused (it would pay everyone twice) unless --again.

    Examples:
      proofmind rewards publish 0x3f… --pool 1000000000000000000000 --mint
      proofmind rewards publish 0x3f… --pool 1000000000000000000000 --again
    """
    from proofmind.cli.ownership import run_publish

    run_publish(workspace, valuation, pool, days, mint, again)


@rewards_app.command("claim")
def rewards_claim(
    epoch: Annotated[int, typer.Option(min=0, max=UINT256_MAX, help="The epoch number.")],
    account: Annotated[
        str, typer.Option(parser=address, help="The contributor's address (paid to it).")
    ],
    workspace: WorkspaceOption = None,
) -> None:
    """Claim an account's payout (anyone may submit it; the tokens go to the account).

    Example:
      proofmind rewards claim --epoch 0 --account 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    from proofmind.cli.ownership import run_claim

    run_claim(workspace, epoch, account)


@rewards_app.command("sweep")
def rewards_sweep(
    epoch: Annotated[int, typer.Option(min=0, max=UINT256_MAX, help="The epoch number.")],
    to: Annotated[
        str | None,
        typer.Option(
            parser=address, help="Where the unclaimed tokens go (default: the signing account)."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Take back what an epoch left unclaimed, after its claim deadline (the distributor's
    owner; once per epoch).

    Examples:
      proofmind rewards sweep --epoch 0
      proofmind rewards sweep --epoch 0 --to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    from proofmind.cli.ownership import run_sweep

    run_sweep(workspace, epoch, to)


@rewards_app.command("status")
def rewards_status(
    epoch: Annotated[
        int | None, typer.Option(min=0, max=UINT256_MAX, help="One epoch (default: all).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Funded, claimed, deadline and sweep state of the reward epochs.

    Example:
      proofmind rewards status
    """
    from proofmind.cli.ownership import run_status

    run_status(workspace, epoch)
