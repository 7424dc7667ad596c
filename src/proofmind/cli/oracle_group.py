"""`proofmind model …` and `oracle …`: zk packaging and the verifiable AI oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import (
    UINT32_MAX,
    UINT64_MAX,
    UINT96_MAX,
    UINT256_MAX,
    WorkspaceOption,
    address,
)

model_app = typer.Typer(
    help="Package ONNX models for zero-knowledge proving (EZKL).", no_args_is_help=True
)
oracle_app = typer.Typer(
    help="The verifiable AI oracle: register models, request, serve, challenge.",
    no_args_is_help=True,
)


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
      proofmind oracle register mlp --mode optimistic \\
        --committee 0xA.. --committee 0xB.. --committee 0xC..
    """
    from proofmind.cli.oracle import run_register

    run_register(workspace, name, mode, fee, bond, window, timeout, committee or [], quorum)


@oracle_app.command("update")
def oracle_update(
    name: Annotated[str, typer.Argument(help="A packaged model's name.")],
    mode: Annotated[str, typer.Option(help="The registration to change: zk or optimistic.")] = "zk",
    fee: Annotated[
        int | None, typer.Option(min=0, max=UINT64_MAX, help="New fee per request, in wei.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option(
            "--resume/--pause",
            help="Take requests again, or stop taking new ones (requests already made are "
            "still answered or refunded).",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Change a registered model's fee, or pause / resume its requests: the terms its owner
    may change (the bond, window and timeout are fixed at registration).

    Examples:
      proofmind oracle update mlp --mode zk --fee 2000000000000000
      proofmind oracle update mlp --mode optimistic --pause
      proofmind oracle update mlp --mode optimistic --resume
    """
    from proofmind.cli.oracle import run_update

    run_update(workspace, name, mode, fee, active)


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
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            max=86_400,
            help="Wait up to this many seconds for the answer and show it (exit 1 if none "
            "came); 0: return once sent.",
        ),
    ] = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """Request an inference from this account (values are quantized to the circuit's scale).

    Examples:
      proofmind oracle request mlp --input 0.1,0.5,-1.2,... --mode zk
      proofmind oracle request mlp --input inputs.json --mode optimistic --wait 60
    """
    from proofmind.cli.oracle import run_request

    run_request(workspace, name, mode, values, callback_gas, wait)


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


@oracle_app.command("requests")
def oracle_requests(
    state: Annotated[
        str | None,
        typer.Option(
            help="Only requests in this state of the node's queue: new, answered, committing, "
            "committed, sending, proposed, finalizing, done, failed, expired, lost, disputed."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    json_out: Annotated[
        bool, typer.Option("--json", help="Each request as a JSON line, not a table.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List the requests this workspace's oracle node has queued, newest first: model, state,
    block, the output or the last error, attempts (the node's view; `oracle status ID` reads
    one request from the chain).

    Examples:
      proofmind oracle requests
      proofmind oracle requests --state failed
      proofmind oracle requests --state proposed --json | jq .request_id
    """
    from proofmind.cli.oracle import run_requests

    run_requests(workspace, state, limit, json_out)


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
