"""The `model` and `oracle` commands. Imported only when one of them runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from proofmind.app.oracle import NODE_DB, RequestView
from proofmind.app.oracle_service import package_model, parse_mode, register
from proofmind.chain.base import Chain
from proofmind.cli.consoles import TextConsole
from proofmind.cli.params import check_listen, parse_address
from proofmind.cli.tables import abbreviate, print_table
from proofmind.errors import InputError, ProofmindError
from proofmind.ml import zk
from proofmind.oracle.client import (
    Mode,
    OracleClient,
    RequestState,
    Status,
    Terms,
    load_package,
)
from proofmind.text import count_of
from proofmind.workspace import Workspace, open_workspace

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True, soft_wrap=True)


def run_preflight(model: Path, calibration: Path, max_logrows: int | None, columns: int) -> None:
    report = zk.preflight(model, calibration, max_logrows=max_logrows, columns=columns)
    table = Table("estimate", "value", title=f"pre-flight of {model.name}")
    about = "≈" if report.calibrated else "≥"  # before calibration: lower bounds
    table.add_row("logrows", str(report.logrows) if report.calibrated else f"≥ {report.logrows}")
    table.add_row("circuit rows used", f"{report.rows:,}")
    if report.calibrated:
        table.add_row("input / output scale", f"2^{report.input_scale} / 2^{report.output_scale}")
    table.add_row("proving time", f"{about} {report.prove_seconds:,.1f} s")
    table.add_row("proving memory", f"{about} {report.prove_memory_mb:,.0f} MB")
    table.add_row("memory available", f"{report.available_memory_mb:,.0f} MB")
    q = report.quantization
    if q:
        table.add_row(
            f"quantization error ({report.samples} samples)",
            f"mean {q['mean_abs']:.2e}, p99 {q['p99_abs']:.2e}, max {q['max_abs']:.2e}",
        )
    else:
        stage = "calibration" if not report.calibrated else "compiling the circuit"
        table.add_row("quantization error", f"not measured: refused before {stage}")
    print_table(console, table)
    refusal = report.refusal()
    if refusal:
        raise InputError(refusal, hint="shrink the model or its input, or lower --max-logrows")
    console.print("[green]fits[/green]: `proofmind model package` will build it")


def run_package(
    path: Path | None,
    model: Path,
    calibration: Path,
    name: str | None,
    srs: Path | None,
    max_logrows: int | None,
    columns: int,
) -> None:
    workspace = open_workspace(path)
    chain = workspace.connect()
    done = package_model(
        workspace,
        chain,
        model,
        calibration,
        name=name,
        srs=srs,
        max_logrows=max_logrows,
        columns=columns,
        progress=lambda step: (err if step.startswith("WARNING") else console).print(f"• {step}"),
    )
    pkg = done.package
    console.print(f"packaged [bold]{pkg.name}[/bold]: model id 0x{pkg.model_id.hex()}")
    console.print(f"  logrows {pkg.logrows}, input {pkg.input_shape} at 2^{pkg.input_scale}, "
                  f"output {pkg.output_shape} at 2^{pkg.output_scale}")  # fmt: skip
    console.print(f"  verifier {done.verifier} on chain {chain.chain_id}")
    console.print(f"  provenance record {done.record_name} queued (`proofmind provenance anchor`)")


def run_list(path: Path | None) -> None:
    from proofmind.app.oracle import list_models

    models = list_models(open_workspace(path))
    if not models:
        console.print(
            "No packaged models yet: `proofmind model package MODEL.onnx --calibration S.csv` "
            "makes one."
        )
        return
    table = Table("name", "model id", "logrows", "input", "srs")
    for pkg in models:
        table.add_row(
            pkg.name,
            abbreviate(console, "0x" + pkg.model_id.hex()),
            str(pkg.logrows),
            f"{pkg.input_shape} @2^{pkg.input_scale}",
            "development" if pkg.dev_srs else "user",
        )
    print_table(console, table)


def run_register(
    path: Path | None,
    name: str,
    mode: str,
    fee: int,
    bond: int,
    window: int,
    timeout: int,
    committee: list[str],
    quorum: int | None,
) -> None:
    terms = Terms(
        parse_mode(mode),
        fee=fee,
        bond=bond,
        challenge_window=window,
        timeout=timeout,
        **committee_terms(mode, committee, quorum),
    )
    from proofmind.chain.contracts import DeploymentRegistry
    from proofmind.cli.chainstate import confirm, settle

    workspace = open_workspace(path)
    chain = workspace.connect()
    settle(chain, DeploymentRegistry(workspace.state))
    oracle, model_id = register(workspace, chain, name, terms)
    confirm(chain)
    console.print(f"{name} served in {mode} mode by InferenceOracle {oracle.address}")
    if committee:
        console.print(f"  disputes settled by {terms.quorum} of {len(committee)} committee votes")
    console.print(f"  oracle model id 0x{model_id.hex()}")


def run_update(
    path: Path | None, name: str, mode: str, fee: int | None, active: bool | None
) -> None:
    from proofmind.app.oracle_service import update_model
    from proofmind.chain.contracts import DeploymentRegistry
    from proofmind.cli.chainstate import confirm, settle

    if fee is None and active is None:
        raise InputError("nothing to change", hint="give --fee N, --pause or --resume")
    chosen = parse_mode(mode)
    workspace = open_workspace(path)
    chain = workspace.connect()
    settle(chain, DeploymentRegistry(workspace.state))
    terms = update_model(workspace, chain, name, chosen, fee=fee, active=active)
    confirm(chain)
    state = "takes requests" if terms.active else "paused: new requests are refused"
    console.print(
        f"{name} ({mode}){'' if terms.changed else ' unchanged'}: fee {terms.fee:,} wei, {state}"
    )
    console.print(f"  oracle model id {terms.model_id}")


def committee_terms(mode: str, committee: list[str], quorum: int | None) -> dict[str, Any]:
    if not committee:
        if quorum is not None:
            raise InputError("--quorum needs a --committee", hint="name members with --committee")
        return {}
    if parse_mode(mode) != Mode.OPTIMISTIC:
        raise InputError(
            "a committee settles optimistic disputes; zk answers are proved",
            hint="use --mode optimistic, or drop --committee",
        )
    members = {parse_address(a, "committee member") for a in committee}
    if len(members) != len(committee):
        raise InputError("the committee names an address twice")
    votes = quorum if quorum is not None else len(members) // 2 + 1
    if not len(members) // 2 < votes <= len(members):
        raise InputError(
            f"quorum {votes} is not a majority of {len(members)} members",
            hint=f"give a quorum between {len(members) // 2 + 1} and {len(members)}",
        )
    return {"quorum": votes, "committee": tuple(sorted(members))}


def parse_values(text: str) -> list[float]:
    """Input values from ``--input``: inline (comma-separated numbers or a JSON list) or a
    file holding the same. Which one is decided by the text itself, never by trying to open
    it: a list (``[``, or a comma) or a single number is inline, anything else a file."""
    stripped = text.strip()
    inline = stripped.startswith("[") or "," in stripped or _is_number(stripped)
    if not inline:
        source = Path(stripped)
        if not source.is_file():
            raise InputError(
                f"--input {text!r} is neither numbers nor a file",
                hint="give comma-separated numbers, a JSON list, or the path of a file of them",
            )
        try:
            stripped = source.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read input values from {source}: {exc}") from exc
    try:
        raw = json.loads(stripped) if stripped.startswith("[") else stripped.split(",")
        values = [_number(v) for v in (raw if isinstance(raw, list) else [raw])]
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"cannot read input values from {_short(text)}: {exc}",
            hint="give comma-separated numbers or a JSON list of numbers",
        ) from exc
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        raise InputError(
            f"input value {bad} is {values[bad]}: the circuit takes finite numbers only",
            hint="replace NaN and infinite values (e.g. by the feature's mean)",
        )
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    return float(value.strip() if isinstance(value, str) else value)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _fixed_point(values: list[int], scale: int, limit: int = 8) -> str:
    """Raw fixed-point integers with the real values they stand for."""
    shown = ", ".join(f"{v} (= {v / 2**scale:.6g})" for v in values[:limit])
    more = f", … {len(values) - limit} more" if len(values) > limit else ""
    return f"[{shown}{more}] at scale 2^{scale}"


def run_request(
    path: Path | None, name: str, mode: str, values: str, callback_gas: int, wait: float = 0.0
) -> None:
    from proofmind.app.oracle import create_request, request_status

    parsed = parse_values(values)
    workspace = open_workspace(path)
    chain = workspace.connect()
    request_id, fixed, scale = create_request(workspace, chain, name, mode, parsed, callback_gas)
    console.print(f"request {request_id} sent; `proofmind oracle status {request_id}` shows it")
    console.print(f"  input {_fixed_point(fixed, scale)}")
    if wait <= 0:
        return
    deadline = time.monotonic() + wait
    oracle = OracleClient.open(chain, workspace, deploy_missing=False)
    with err.status(f"waiting up to {wait:g} s for an answer to request {request_id}"):
        # one getRequest per poll; the whole view (model, package, answer's log) once answered
        while (state := oracle.state(request_id)).status == Status.PENDING:
            if int(chain.w3.eth.block_number) > state.deadline:
                raise ProofmindError(
                    f"request {request_id} expired unanswered at block {state.deadline}",
                    hint=f"`proofmind oracle refund {request_id}` credits the fee back; is a "
                    f"node serving {name} in {mode} mode (`proofmind oracle serve -m {name}`)?",
                )
            if time.monotonic() >= deadline:
                raise ProofmindError(
                    f"request {request_id} is still pending after {wait:g} s",
                    hint=f"is an oracle node serving {name} in {mode} mode (`proofmind oracle "
                    f"serve -m {name}`)? `proofmind oracle status {request_id}` shows it later",
                )
            time.sleep(0.5)
    _show(request_status(workspace, chain, request_id), int(chain.w3.eth.block_number))


def _open_oracle(path: Path | None) -> tuple[Workspace, Chain, OracleClient]:
    """The workspace, its chain and its InferenceOracle (which must be deployed)."""
    workspace = open_workspace(path)
    chain = workspace.connect()
    return workspace, chain, OracleClient.open(chain, workspace, deploy_missing=False)


def _existing(path: Path | None, request_id: int) -> tuple[Workspace, OracleClient, RequestState]:
    """The workspace, its oracle and the state of one of its requests (which must exist)."""
    workspace, _, oracle = _open_oracle(path)
    state = oracle.state(request_id)
    if state.status == Status.NONE:
        raise InputError(f"request {request_id} does not exist on {oracle.address}")
    return workspace, oracle, state


def run_status(path: Path | None, request_id: int) -> None:
    from proofmind.app.oracle import request_status

    workspace = open_workspace(path)
    chain = workspace.connect()
    _show(request_status(workspace, chain, request_id), int(chain.w3.eth.block_number))


def run_requests(path: Path | None, state: str | None, limit: int, json_out: bool) -> None:
    from rich.markup import escape

    from proofmind.app.oracle import list_requests

    page = list_requests(open_workspace(path), state=state, limit=limit)
    if json_out:
        for row in page.items:
            print(json.dumps(row, sort_keys=True))
        return
    if not page.items:
        which = f"{state} requests" if state else "requests"
        err.print(f"No {which} in this workspace's oracle node queue (`proofmind oracle serve`).")
        return
    table = Table(title=f"{count_of(len(page.items), 'request')}, newest first")
    for column in ("request", "model", "mode", "state", "block", "tries", "updated (UTC)"):
        table.add_column(column, no_wrap=True)
    table.add_column("output / last error", min_width=10, overflow="fold")
    for row in page.items:
        output = row["output"]  # zk: {"output": […], "proof": "…"}; the values only here
        output = output.get("output") if isinstance(output, dict) else output
        said = json.dumps(output) if output is not None else row["error"] or "–"
        table.add_row(
            str(row["request_id"]),
            escape(row["model_name"] or abbreviate(console, row["model_id"])),
            row["mode"],
            row["state"],
            str(row["block"]),
            str(row["attempts"]),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["updated_at"])),
            escape(said if len(said) <= 160 else said[:160] + "…"),
        )
    print_table(console, table)
    if page.next_cursor is not None:
        err.print(f"More requests match: --limit over {limit} shows them.")


def _show(view: RequestView, head: int) -> None:
    """A request's status lines (`oracle status`, `oracle request --wait`)."""
    request_id = view.request_id
    console.print(f"request {request_id}: [bold]{view.status}[/bold]")
    name = f"{view.model_name} ({view.mode}) " if view.model_name else f"({view.mode}) "
    console.print(
        f"  model {name}{view.model_id}, fee {view.fee} wei, deadline block {view.deadline}"
    )
    if view.status == "pending" and head > view.deadline:
        console.print(
            f"  expired unanswered (the chain is at block {head}): `proofmind oracle refund "
            f"{request_id}` credits the fee back to the requester"
        )
    if view.output is not None:
        shown = (
            str(view.output)
            if view.output_scale is None
            else _fixed_point(view.output, view.output_scale)
        )
        console.print(f"  output {shown}")
    if view.challenge_ends is not None and head > view.challenge_ends:
        console.print(
            f"  challenge window closed at block {view.challenge_ends}: final once finalized "
            "(the answering node does; anyone may)"
        )
    elif view.challenge_ends is not None:
        console.print(
            f"  challenge window ends at block {view.challenge_ends} "
            f"({count_of(view.challenge_ends - head, 'block')} from now)"
        )


def _wei(amount: int) -> str:
    return f"{amount:,} wei ({amount / 10**18:.6g} ETH)"


def run_money(path: Path | None, action: str, amount: int | None = None) -> None:
    """balance / deposit / withdraw of this account's balance on the oracle."""
    _, chain, oracle = _open_oracle(path)
    me = chain.default_account.address
    if action == "deposit" and amount is not None:
        oracle.deposit(amount)
        console.print(f"deposited {_wei(amount)}")
    elif action == "withdraw":
        available = oracle.balance(me)
        amount = available if amount is None else amount
        if amount == 0:
            raise InputError(f"{me} has nothing to withdraw from InferenceOracle {oracle.address}")
        oracle.withdraw(amount)
        console.print(f"withdrew {_wei(amount)}")
    console.print(f"{me} on InferenceOracle {oracle.address}: {_wei(oracle.balance(me))}")


def run_refund(path: Path | None, request_id: int) -> None:
    _, oracle, state = _existing(path, request_id)
    oracle.refund(request_id)
    console.print(
        f"request {request_id} refunded: {_wei(state.fee)} credited to {state.requester} "
        "(`proofmind oracle withdraw` takes it out)"
    )


def _stop_on_sigterm() -> None:
    """SIGTERM during start-up stops like Ctrl-C (the running node installs its own handler)."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def _policy(workspace: Workspace, chain: Chain) -> Any:
    """The node's and watcher's model policy from the workspace's [oracle] settings."""
    from proofmind.app.hosting import model_policy

    return model_policy(workspace, chain)


def run_serve(
    path: Path | None,
    models: list[str],
    confirmations: int,
    batch: int,
    poll: float,
    provers: str,
    start_block: str,
    http_port: int | None,
) -> None:
    from proofmind.oracle.node import NodeConfig, OracleNode
    from proofmind.oracle.ray_provers import is_ray_address

    address = provers if is_ray_address(provers) else None
    if address is None and not (provers.isdigit() and int(provers) >= 1):
        raise InputError(
            f"--provers {provers!r} is neither a number of processes (1 or more) nor a Ray address",
            hint="e.g. --provers 2, or --provers ray://head:10001",
        )

    if http_port is not None:
        check_listen("127.0.0.1", http_port, "--http-port")
    _stop_on_sigterm()
    _logging()
    workspace = open_workspace(path)
    chain = workspace.connect()
    packages = [load_package(workspace, m) for m in models]
    oracle = OracleClient.open(chain, workspace, deploy_missing=False)
    policy = _policy(workspace, chain)
    config = NodeConfig(
        confirmations=confirmations,
        batch_size=batch,
        poll_interval=poll,
        provers=1 if address else int(provers),
        prover_address=address,
        start_block=int(start_block) if start_block.isdigit() else start_block,
        model_owner=policy.owner,
        max_bond=policy.max_bond,
        trusted_committee=policy.committee,
    )
    node = OracleNode(chain, oracle, workspace.root / NODE_DB, packages, config=config)

    async def main() -> None:
        runner = None
        if http_port is not None:
            runner = await node.serve_http("127.0.0.1", http_port)
            logging.getLogger("proofmind.oracle").info(
                "metrics on http://127.0.0.1:%d/metrics, health on /health", http_port
            )
        try:
            await node.run()
        finally:
            if runner is not None:
                await runner.cleanup()

    modes = ", ".join(f"{s.package.name} ({s.mode.name.lower()})" for s in node.served.values())
    logging.getLogger("proofmind.oracle").info("serving %s on %s", modes, oracle.address)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        logging.getLogger("proofmind.oracle").info("oracle node stopped")


def run_challenge(path: Path | None, models: list[str], poll: float, start_block: str) -> None:
    from proofmind.app.hosting import Loop, build_watcher, run_loop
    from proofmind.app.runner import install_signal_handlers, threaded

    _logging()
    watcher = build_watcher(
        open_workspace(path),
        models,
        start_block=int(start_block) if start_block.isdigit() else start_block,
    )

    async def main() -> None:  # the loop `proofmind serve` hosts it with, until SIGTERM/Ctrl-C
        shutdown = asyncio.Event()
        install_signal_handlers(shutdown)
        logging.getLogger("proofmind.oracle").info(  # once SIGTERM stops it cleanly
            "watching %s on %s", ", ".join(p.name for p in watcher.served.values()),
            watcher.oracle.address,
        )  # fmt: skip
        await threaded(lambda: Loop(lambda: watcher.run(poll), watcher.stop))(shutdown)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the handlers are installed
        run_loop(main)
    err.print(f"stopped; {count_of(sum(v.challenged for v in watcher.verdicts), 'challenge')} made")
