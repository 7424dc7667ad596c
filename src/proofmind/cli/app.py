"""Typer application. Heavy modules (web3, the chain layer) load inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind import __version__
from proofmind.cli.agent import agent_app, mcp_command
from proofmind.cli.appeal import appeal_app
from proofmind.cli.gov import gov_app
from proofmind.cli.monitor import monitor_app
from proofmind.cli.params import (
    UINT32_MAX,
    UINT64_MAX,
    UINT96_MAX,
    UINT256_MAX,
    Engine,
    WorkspaceOption,
    address,
    output_dir,
    output_file,
)
from proofmind.cli.serve import api_key_app, serve
from proofmind.errors import InputError

app = typer.Typer(
    name="proofmind",
    help="Trustworthy AI with Web3: on-chain lineage, verifiable inference, chain intelligence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
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
provenance_app = typer.Typer(
    help="Commit datasets and models, anchor their lineage on-chain, export it.",
    no_args_is_help=True,
)
data_app = typer.Typer(
    help="Wallet-signed data contributions: sign, assemble, revoke.", no_args_is_help=True
)
rewards_app = typer.Typer(
    help="Value contributions and pay them through on-chain Merkle epochs.", no_args_is_help=True
)
ingest_app = typer.Typer(
    help="Load chain data into canonical Parquet tables (DuckDB views).", no_args_is_help=True
)
fraud_app = typer.Typer(
    help="Fraud / phishing account classifier: evaluate, train, score.", no_args_is_help=True
)
sybil_app = typer.Typer(help="Sybil detection on a transfer graph.", no_args_is_help=True)
model_app = typer.Typer(
    help="Package ONNX models for zero-knowledge proving (EZKL).", no_args_is_help=True
)
oracle_app = typer.Typer(
    help="The verifiable AI oracle: register models, request, serve, challenge.",
    no_args_is_help=True,
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


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to create .proofmind/ (default: here).")
    ] = Path("."),
) -> None:
    """Create a workspace: config.toml, SQLite state, keystore, chain state, blob store.

    Examples:
      proofmind init
      proofmind init ~/projects/fraud-model
    Running it again is safe: existing files are kept.
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
    """Show which chain the workspace uses, whether it answers, and its head block.

    Examples:
      proofmind chain status
      PROOFMIND_CHAIN_BACKEND=rpc PROOFMIND_CHAIN_RPC_URL=http://127.0.0.1:8545 \\
        proofmind chain status
    """
    from proofmind.cli.commands import run_chain_status

    run_chain_status(workspace)


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
      proofmind contracts send MerkleCommitments commit 0x5e1f…(32 bytes hex) 250 ipfs://bafy…
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


@provenance_app.command("dataset")
def provenance_dataset(
    path: Annotated[Path, typer.Argument(help="A .csv, .csv.gz or .parquet file, or a folder.")],
    name: Annotated[str | None, typer.Option(help="Record name (default: the file name).")] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="local, spark or ray: commit in chunks (format v2) on that engine."),
    ] = None,
    master: Annotated[
        str | None, typer.Option(help="Spark master or Ray address (default: this machine).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local processes / Ray CPUs (default: all cores).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Commit a dataset: canonical rows → Merkle root, manifest and tree in the workspace.

    Queues a pending dataset record; `proofmind provenance anchor` puts it on-chain. With
    --engine the tree is chunked (2^16 rows a chunk under a top tree): local, Spark and Ray
    give the same root for the same rows (docs/scaling.md).

    Examples:
      proofmind provenance dataset data/train.csv
      proofmind provenance dataset data/ --name fraud-2024
      proofmind provenance dataset data/ --engine spark --master spark://head:7077
      proofmind provenance dataset data/ --engine ray --master ray://head:10001
    """
    from proofmind.cli.provenance import run_dataset

    run_dataset(workspace, path, name, engine=engine, master=master, workers=workers)


@provenance_app.command("check")
def provenance_check(
    path: Annotated[Path, typer.Argument(help="A committed dataset (file or folder).")],
    engine: Annotated[str, typer.Option(help="local, spark or ray.")] = "local",
    master: Annotated[
        str | None, typer.Option(help="Spark master or Ray address (default: this machine).")
    ] = None,
    chunks: Annotated[
        str | None, typer.Option(help="Only chunks FIRST:END (end excluded), to split a check.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local processes / Ray CPUs (default: all cores).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Re-derive a chunked dataset commitment chunk by chunk on an engine; exit 1 on a change.

    Each task reads one chunk's rows only, so no machine reads the whole dataset.

    Examples:
      proofmind provenance check data/ --engine spark --master spark://head:7077
      proofmind provenance check data/ --engine ray --chunks 0:1000
    """
    from proofmind.cli.provenance import run_check

    raise typer.Exit(run_check(workspace, path, engine, master, chunks, workers))


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

    Needs the extra: pip install 'proofmind[mlflow]'.

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
    path: Annotated[Path, typer.Argument(help="A committed dataset (file or folder).")],
    row: Annotated[int, typer.Option(min=0, help="Row index (0-based, across all files).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Print the Merkle inclusion proof of one row as JSON (checkable with OZ MerkleProof).

    Example:
      proofmind provenance proof data/train.csv --row 1234
    """
    from proofmind.cli.provenance import run_proof

    run_proof(workspace, path, row)


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
    workspace: WorkspaceOption = None,
) -> None:
    """Export lineage as JSON, W3C PROV-JSON or a Graphviz DOT drawing.

    Examples:
      proofmind provenance lineage model.onnx --format prov
      proofmind provenance lineage --format dot -o lineage.dot && dot -Tsvg lineage.dot
    """
    from proofmind.cli.provenance import run_lineage

    run_lineage(workspace, ref, fmt, output)


@app.command()
def verify(
    path: Annotated[
        Path,
        typer.Argument(
            help="A model file, a dataset, a run folder, or the hash of an agent's transaction."
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
      proofmind verify 0x<hash of an agent's transaction>   (decision -> model -> run -> data)
    """
    from proofmind.cli.provenance import run_reproduce, run_verify

    if not path.exists() and str(path).startswith("0x") and len(str(path)) == 66:
        from proofmind.cli.agent import run_verify_tx

        raise typer.Exit(run_verify_tx(workspace, str(path), as_json))
    if reproduce:
        raise typer.Exit(run_reproduce(workspace, path, as_json))
    raise typer.Exit(run_verify(workspace, path, as_json))


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
      proofmind data assemble alice.csv.contribution.json bob.csv.contribution.json \\
        --dataset fraud-labels -o assembled.csv
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
    workspace: WorkspaceOption = None,
) -> None:
    """Anchor the valuation and publish a funded reward epoch paying it out.

    Example:
      proofmind rewards publish 0x3f… --pool 1000000000000000000000 --mint
    """
    from proofmind.cli.ownership import run_publish

    run_publish(workspace, valuation, pool, days, mint)


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
    follow: Annotated[bool, typer.Option(help="Keep tailing the chain (Ctrl-C stops).")] = False,
    confirmations: Annotated[
        int, typer.Option(min=0, help="Blocks to wait before a block is read.")
    ] = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """Ingest blocks, transactions, logs, ERC-20 and native transfers into Parquet.

    Resumes from its checkpoint; in --follow mode reorganised blocks are removed and replaced.

    Examples:
      proofmind ingest rpc -o chaindata
      proofmind ingest rpc --url https://node.example --from 19000000 --to 19001000
      proofmind ingest rpc --follow --confirmations 2
    """
    from proofmind.cli.intel import run_ingest_rpc

    run_ingest_rpc(workspace, url, out, start, end, follow, confirmations)


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
EngineOption = Annotated[
    Engine,
    typer.Option(
        case_sensitive=False,
        help="duckdb: this machine. spark: a Spark cluster (`pip install 'proofmind[spark]'`, "
        "Java 17+).",
    ),
]
MasterOption = Annotated[
    str | None,
    typer.Option(
        help="Spark master URL (local[*], spark://HOST:7077, yarn, k8s://…); "
        "default local[*]. Only with --engine spark.",
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


@fraud_app.command("score")
def fraud_score(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(
            help="Addresses, or CSV files of them (with --out: default every address).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[Path, typer.Option(help="A model from `fraud train`.")] = Path(
        "fraud-model.txt"
    ),
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
    master: MasterOption = None,
    first_n: FirstNOption = None,
) -> None:
    """Score addresses (probability of illicit); CSV on stdout, or Parquet with --out.

    An address without a transaction in the data gets the status "no data", never a score.
    With --out and no addresses, every address in the data is scored; --engine spark runs the
    same features and model on a Spark cluster, per partition.

    Examples:
      proofmind fraud score 0xab… 0xcd… --data chaindata --model fraud-model.txt --explain 3
      proofmind fraud score --data chaindata --out scores.parquet
      proofmind fraud score --engine spark --master spark://head:7077 \\
          --data s3a://bucket/chaindata --out s3a://bucket/scores
    """
    if master is not None and engine is not Engine.spark:
        raise InputError("--master is for --engine spark", hint="add --engine spark")
    if out is None:
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
        from proofmind.cli.intel import run_score

        run_score(Path(data), model, addresses, explain, first_n)
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
    from proofmind.cli.features import run_score_out

    run_score_out(data, model, addresses or [], out, engine, master)


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
    master: MasterOption = None,
) -> None:
    """Compute the fraud model's address features and write them as Parquet.

    One definition of the features (SQL), run by DuckDB on this machine or translated to
    Spark SQL for a cluster: both give the same values (to 1e-9 relative). Columns: address,
    the features, has_data (whether the address has a transaction or ERC-20 transfer).

    Examples:
      proofmind fraud features --data chaindata --out features.parquet
      proofmind fraud features 0xab… --data chaindata --out one.parquet
      proofmind fraud features --engine spark --master local[*] --data chaindata --out features
    """
    if master is not None and engine is not Engine.spark:
        raise InputError("--master is for --engine spark", hint="add --engine spark")
    from proofmind.cli.features import run_features

    run_features(data, addresses or [], out, engine, master)


EdgesArgument = Annotated[
    list[Path],
    typer.Argument(help="Edge lists (CSV/Parquet: from, to) or folders `ingest` wrote."),
]
HubDegreeOption = Annotated[
    int, typer.Option(min=1, help="Addresses with more counterparties are hubs, left out.")
]
HubsOption = Annotated[Path | None, typer.Option(help="File of further hub addresses, one a line.")]
MinClusterOption = Annotated[
    int, typer.Option(min=1, help="Flag communities with at least this many candidates.")
]
MaxFprOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=0.5,
        help="The share of eligible (non-sybil) candidates the model may flag: its threshold "
        "is chosen for it on grouped CV (needs labels).",
    ),
]


@sybil_app.command("detect")
def sybil_detect(
    edges: EdgesArgument,
    candidates: Annotated[
        Path, typer.Option(help="CSV of candidate addresses (address[, is_sybil, …]).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Output folder.")
    ] = Path("sybil"),
    hub_degree: HubDegreeOption = 100,
    hubs: HubsOption = None,
    min_cluster: MinClusterOption = 8,
    labels: Annotated[
        bool, typer.Option(help="Use is_sybil labels for the supervised stage and evaluation.")
    ] = False,
    max_fpr: MaxFprOption = 0.02,
) -> None:
    """Leiden communities on the transfer graph without hubs; flags, per-cluster evidence,
    a Markdown report and the Merkle root of the flagged list.

    Example:
      proofmind sybil detect transfer_edges.csv.gz --candidates labels.csv --labels -o sybil
    """
    from proofmind.cli.sybil import run_sybil

    run_sybil(edges, candidates, out, hub_degree, hubs, min_cluster, labels, max_fpr)


@sybil_app.command("train")
def sybil_train(
    edges: EdgesArgument,
    candidates: Annotated[
        Path, typer.Option(help="CSV of labelled candidates (address, is_sybil, …).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_dir, help="Model folder.")
    ] = Path("sybil-model"),
    hub_degree: HubDegreeOption = 100,
    hubs: HubsOption = None,
    min_cluster: MinClusterOption = 8,
    max_fpr: MaxFprOption = 0.02,
    register: Annotated[
        bool, typer.Option(help="Record edges, candidates, run and model in the lineage ledger.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Train a sybil model once and save it with its feature schema, graph settings, hub list,
    calibration and flag threshold.

    Cross-validates grouped by community and funder (a farm never on both sides), prints the
    model beside the rule baseline and the unsupervised flags with 95% intervals, and picks
    the threshold for --max-fpr. `sybil score` applies the model later to new candidates in
    the same or an updated graph.

    Examples:
      proofmind sybil train transfer_edges.csv.gz --candidates labels.csv -o sybil-model
      proofmind sybil train edges.csv.gz --candidates labels.csv -o sybil-model --register
    """
    from proofmind.cli.sybil import run_sybil_train

    run_sybil_train(
        edges, candidates, out, hub_degree, hubs, min_cluster, register, workspace, max_fpr
    )


@sybil_app.command("score")
def sybil_score(
    edges: EdgesArgument,
    candidates: Annotated[Path, typer.Option(help="CSV of candidate addresses to score.")],
    model: Annotated[Path, typer.Option(help="The folder `proofmind sybil train` wrote.")] = Path(
        "sybil-model"
    ),
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", parser=output_file, help="Scores: CSV, or Parquet if it ends .parquet."
        ),
    ] = Path("sybil-scores.csv"),
) -> None:
    """Calibrated P(sybil) for candidates — also ones the model never saw — with a trained
    model, flagged at the threshold chosen in training.

    Examples:
      proofmind sybil score new_edges.csv.gz --candidates new.csv --model sybil-model -o s.csv
      proofmind sybil score edges.csv.gz --candidates new.csv --model sybil-model -o s.parquet
    """
    from proofmind.cli.sybil import run_sybil_score

    run_sybil_score(edges, candidates, model, out)


@app.command()
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
    from proofmind.demo import run_demo

    run_demo(directory)


CalibrationOption = Annotated[
    Path,
    typer.Option(help="Sample inputs: CSV (one per row), .npy, or EZKL JSON {input_data: …}."),
]
MaxLogrowsOption = Annotated[
    int | None, typer.Option(min=1, max=30, help="Refuse circuits larger than 2^N rows.")
]
ColumnsOption = Annotated[
    int,
    typer.Option(
        min=1,
        help="Advice columns per circuit region: 1 gives the smallest proof and the cheapest "
        "verifier; more fit a big model in fewer rows (lower logrows).",
    ),
]
ModelsOption = Annotated[
    list[str], typer.Option("--model", "-m", help="A packaged model's name (repeatable).")
]
StartBlockOption = Annotated[
    str, typer.Option(help="First block to read on a fresh start: a number or 'latest'.")
]


@model_app.command("preflight")
def model_preflight(
    model: Annotated[Path, typer.Argument(help="The ONNX model.")],
    calibration: CalibrationOption,
    max_logrows: MaxLogrowsOption = None,
    columns: ColumnsOption = 1,
) -> None:
    """Before the long setup: logrows, proving time and memory, and the quantization error of
    the circuit against the float model on the calibration samples. Refuses, with the reason,
    when proving would not fit in memory.

    Example:
      proofmind model preflight mlp.onnx --calibration samples.csv
    """
    from proofmind.cli.oracle import run_preflight

    run_preflight(model, calibration, max_logrows, columns)


@model_app.command("package")
def model_package(
    model: Annotated[Path, typer.Argument(help="The ONNX model.")],
    calibration: CalibrationOption,
    name: Annotated[str | None, typer.Option(help="Name (default: the file's stem).")] = None,
    srs: Annotated[
        Path | None,
        typer.Option(
            help="SRS file from a public ceremony; without it a development SRS "
            "(not secure) is generated."
        ),
    ] = None,
    max_logrows: MaxLogrowsOption = None,
    columns: ColumnsOption = 1,
    workspace: WorkspaceOption = None,
) -> None:
    """Settings, calibration, circuit, keys and the Solidity verifier (compiled with solc-js,
    deployed); artifacts go to the blob store and the model's record to the provenance ledger.

    Examples:
      proofmind model package mlp.onnx --calibration samples.csv
      proofmind model package risk.onnx --calibration samples.csv --srs kzg17.srs --name risk
    """
    from proofmind.cli.oracle import run_package

    run_package(workspace, model, calibration, name, srs, max_logrows, columns)


@model_app.command("list")
def model_list(workspace: WorkspaceOption = None) -> None:
    """List the packaged models of the workspace.

    Example:
      proofmind model list
    """
    from proofmind.cli.oracle import run_list

    run_list(workspace)


@oracle_app.command("register")
def oracle_register(
    name: Annotated[str, typer.Argument(help="A packaged model's name.")],
    mode: Annotated[str, typer.Option(help="zk (every answer proved) or optimistic.")] = "zk",
    fee: Annotated[int, typer.Option(min=0, max=UINT64_MAX, help="Fee per request, in wei.")] = 10
    ** 15,
    bond: Annotated[
        int, typer.Option(min=0, max=UINT96_MAX, help="Optimistic: bond per answer, in wei.")
    ] = 10**17,
    window: Annotated[
        int, typer.Option(min=0, max=UINT32_MAX, help="Optimistic: challenge window, in blocks.")
    ] = 5,
    timeout: Annotated[
        int,
        typer.Option(
            min=1,
            max=UINT32_MAX,
            help="Blocks before an unanswered request refunds (allow for proving).",
        ),
    ] = 300,
    committee: Annotated[
        list[str] | None,
        typer.Option(
            parser=address,
            help="Optimistic without a verifier: a committee member's address (repeatable); "
            "disputes are settled by the members' re-execution votes.",
        ),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(min=1, max=255, help="Votes that settle a dispute (default: a majority)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Serve a packaged model on the InferenceOracle (deployed first when missing).

    Examples:
      proofmind oracle register mlp --mode zk
      proofmind oracle register mlp --mode optimistic --bond 100000000000000000 --window 5
      proofmind oracle register mlp --mode optimistic --committee 0xA.. --committee 0xB.. \
          --committee 0xC..
    """
    from proofmind.cli.oracle import run_register

    run_register(workspace, name, mode, fee, bond, window, timeout, committee or [], quorum)


@oracle_app.command("request")
def oracle_request(
    name: Annotated[str, typer.Argument(help="A packaged model's name.")],
    values: Annotated[
        str, typer.Option("--input", help="Input values: comma-separated, a JSON list or a file.")
    ],
    mode: Annotated[str, typer.Option(help="zk or optimistic.")] = "zk",
    callback_gas: Annotated[
        int, typer.Option(min=0, max=UINT32_MAX, help="Gas for the callback (contracts).")
    ] = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """Request an inference from this account (values are quantized to the circuit's scale).

    Example:
      proofmind oracle request mlp --input 0.1,0.5,-1.2,... --mode zk
    """
    from proofmind.cli.oracle import run_request

    run_request(workspace, name, mode, values, callback_gas)


@oracle_app.command("status")
def oracle_status(
    request_id: Annotated[int, typer.Argument(min=0, max=UINT256_MAX, help="The request id.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Show a request: status, output, challenge window.

    Example:
      proofmind oracle status 7
    """
    from proofmind.cli.oracle import run_status

    run_status(workspace, request_id)


@oracle_app.command("balance")
def oracle_balance(workspace: WorkspaceOption = None) -> None:
    """This account's balance on the oracle: fees earned, bonds returned or won, refunds and
    deposits, withdrawable (pull payments).

    Example:
      proofmind oracle balance
    """
    from proofmind.cli.oracle import run_money

    run_money(workspace, "balance")


@oracle_app.command("deposit")
def oracle_deposit(
    amount: Annotated[int, typer.Argument(min=1, max=UINT256_MAX, help="Wei to deposit.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Deposit to this account's oracle balance: a node's bonds for optimistic answers are
    locked from it.

    Example:
      proofmind oracle deposit 1000000000000000000
    """
    from proofmind.cli.oracle import run_money

    run_money(workspace, "deposit", amount)


@oracle_app.command("withdraw")
def oracle_withdraw(
    amount: Annotated[
        int | None,
        typer.Argument(min=1, max=UINT256_MAX, help="Wei to withdraw (default: all of it)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Withdraw from this account's oracle balance to the account.

    Examples:
      proofmind oracle withdraw
      proofmind oracle withdraw 500000000000000000
    """
    from proofmind.cli.oracle import run_money

    run_money(workspace, "withdraw", amount)


@oracle_app.command("refund")
def oracle_refund(
    request_id: Annotated[int, typer.Argument(min=0, max=UINT256_MAX, help="The request id.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Refund a request nobody answered by its deadline: the fee is credited to the requester's
    oracle balance (anyone may send this).

    Example:
      proofmind oracle refund 7
    """
    from proofmind.cli.oracle import run_refund

    run_refund(workspace, request_id)


@oracle_app.command("serve")
def oracle_serve(
    models: ModelsOption,
    confirmations: Annotated[int, typer.Option(min=0, help="Blocks to wait before reading.")] = 0,
    batch: Annotated[int, typer.Option(min=1, help="Answers per proposal transaction.")] = 50,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between polls when idle.")] = 0.25,
    provers: Annotated[
        str, typer.Option(help="Prover processes (zk mode), or a Ray cluster: ray://HOST:PORT.")
    ] = "1",
    start_block: StartBlockOption = "0",
    http_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Serve /metrics (Prometheus) and /health on this port."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Run the oracle node: follow requests, answer (prove in zk mode), propose in batches,
    finalize. Its queue survives crashes; SIGTERM / Ctrl-C stop it cleanly.

    Examples:
      proofmind oracle serve -m mlp --http-port 9464
      proofmind oracle serve -m mlp --provers ray://head:10001
    """
    from proofmind.cli.oracle import run_serve

    run_serve(workspace, models, confirmations, batch, poll, provers, start_block, http_port)


@oracle_app.command("challenge")
def oracle_challenge(
    models: ModelsOption,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between polls.")] = 0.5,
    start_block: StartBlockOption = "0",
    workspace: WorkspaceOption = None,
) -> None:
    """Watch optimistic answers; recompute each with the circuit and dispute a wrong one: with
    a ZK proof when the model has a verifier (the proposer's bond is paid to this account),
    else with a bond its committee settles. A committee member's watcher also votes, with its
    own re-execution, in every dispute of its models.

    Example:
      proofmind oracle challenge -m mlp
    """
    from proofmind.cli.oracle import run_challenge

    run_challenge(workspace, models, poll, start_block)
