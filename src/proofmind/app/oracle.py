"""The verifiable AI oracle as seen from a workspace: its packaged models, the requests its
node has queued, and the on-chain state of one request."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofmind.app.paging import (
    Page,
    check_limit,
    decode_cursor,
    decode_text_cursor,
    encode_cursor,
    encode_text_cursor,
    page_of,
)
from proofmind.chain.base import Chain
from proofmind.chain.events import LogReader
from proofmind.chain.revert import contract_revert
from proofmind.errors import InputError, NotFound, WorkspaceError
from proofmind.ml.zk import Package
from proofmind.oracle.client import Mode, OracleClient, Status, load_package, oracle_model_id
from proofmind.workspace import Workspace

NODE_DB = "oracle-node.sqlite"
_PACKAGES = (
    "SELECT key FROM kv WHERE key LIKE 'zk.package.%' AND key NOT LIKE 'zk.package.0x%' "
    "ORDER BY key"
)


def package_names(workspace: Workspace) -> list[str]:
    rows = workspace.state.conn.execute(_PACKAGES).fetchall()
    return [str(row["key"]).removeprefix("zk.package.") for row in rows]


def list_models(workspace: Workspace) -> list[Package]:
    """The workspace's packaged models (`proofmind model list`)."""
    return [load_package(workspace, name) for name in package_names(workspace)]


def models_page(
    workspace: Workspace, *, limit: int = 100, cursor: str | None = None
) -> Page[Package]:
    """A page of the workspace's packaged models, by name (keyset on the state's key)."""
    after = decode_text_cursor("models", cursor)
    rows = workspace.state.conn.execute(
        _PACKAGES.replace("ORDER BY key", "AND key > ? ORDER BY key LIMIT ?"),
        ("zk.package." + (after or ""), check_limit(limit) + 1),
    ).fetchall()
    names = [str(row["key"]).removeprefix("zk.package.") for row in rows]
    page = page_of(names, limit, lambda name: encode_text_cursor("models", name))
    return Page([load_package(workspace, name) for name in page.items], page.next_cursor)


def model_view(pkg: Package) -> dict[str, Any]:
    return {
        "name": pkg.name,
        "model_id": "0x" + pkg.model_id.hex(),
        "logrows": pkg.logrows,
        "input_shape": pkg.input_shape,
        "input_scale": pkg.input_scale,
        "output_shape": pkg.output_shape,
        "output_scale": pkg.output_scale,
        "srs": "development" if pkg.dev_srs else "user",
    }


def package_of(
    workspace: Workspace, oracle: OracleClient, model_id: bytes, owner: str | None = None
) -> Package | None:
    """The workspace's package served under the oracle's ``model_id`` (in either mode, by the
    model's registrant: ``owner``, read from the oracle when not given)."""
    owner = owner or str(oracle.model(model_id)["owner"])
    for name in package_names(workspace):
        try:
            pkg = load_package(workspace, name)
        except InputError:
            continue
        if any(
            oracle_model_id(pkg, mode, owner) == model_id for mode in (Mode.ZK, Mode.OPTIMISTIC)
        ):
            return pkg
    return None


# -- the node's queue ------------------------------------------------------------------------

QUEUE_STATES = (
    "new", "answered", "committing", "committed", "sending", "proposed", "finalizing",
    "done", "failed", "expired", "lost", "disputed",
)  # fmt: skip


def _node_db(workspace: Workspace) -> sqlite3.Connection | None:
    """The node's queue, opened read-only (None when no node ever ran here)."""
    path: Path = workspace.root / NODE_DB
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT 1 FROM oracle_requests LIMIT 1")
    except sqlite3.Error as exc:
        raise WorkspaceError(f"cannot read the oracle node's queue {path}: {exc}") from exc
    return conn


def list_requests(
    workspace: Workspace, *, state: str | None = None, limit: int = 100, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """Requests the workspace's oracle node has queued, newest first (empty when no node ran)."""
    if state is not None and state not in QUEUE_STATES:
        raise InputError(
            f"unknown request state {state!r}", hint=f"use one of {', '.join(QUEUE_STATES)}"
        )
    before = decode_cursor("requests", cursor)
    check_limit(limit)
    conn = _node_db(workspace)
    if conn is None:
        return Page(())
    where: list[str] = []
    args: list[Any] = []
    if state is not None:
        where.append("state = ?")
        args.append(state)
    if before is not None:
        where.append("request_id < ?")
        args.append(before)
    named = conn.execute(  # a queue written before the node kept its models' names has none
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='oracle_models'"
    ).fetchone()
    sql = (
        "SELECT r.*, m.name AS model_name FROM oracle_requests r "
        "LEFT JOIN oracle_models m USING (model_id)"
        if named
        else "SELECT *, NULL AS model_name FROM oracle_requests"
    ) + (" WHERE " + " AND ".join(where) if where else "")
    try:
        rows = conn.execute(sql + " ORDER BY request_id DESC LIMIT ?", [*args, limit + 1])
        items = [_queue_view(row) for row in rows]
    finally:
        conn.close()
    more = len(items) > limit
    items = items[:limit]
    last = items[-1]["request_id"] if more and items else None
    return Page(items, None if last is None else encode_cursor("requests", int(last)))


def _queue_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "request_id": int(row["request_id"]),
        "model_id": row["model_id"],
        "model_name": row["model_name"],  # the package the node serves under model_id
        "mode": Mode(row["mode"]).name.lower(),
        "input": json.loads(row["input"]),
        "block": row["block"],
        "deadline": row["deadline"],
        "state": row["state"],
        "output": None if row["output"] is None else json.loads(row["output"]),
        "challenge_ends": row["challenge_ends"],
        "tx_hash": row["tx_hash"],
        "error": row["error"],
        "attempts": row["attempts"],
        "updated_at": row["updated_at"],
    }


# -- one request on chain --------------------------------------------------------------------


@dataclass
class RequestView:
    """A request as `proofmind oracle status` shows it."""

    request_id: int
    status: str
    model_id: str
    fee: int
    deadline: int
    requester: str
    model_name: str | None = None  # the workspace's package served under model_id, if any
    mode: str = ""
    output: list[int] | None = None
    output_scale: int | None = None
    challenge_ends: int | None = None
    oracle: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in self.__dict__.items() if k != "extra"}
        doc["fee"] = str(self.fee)  # wei: beyond what a JavaScript number holds exactly
        if self.output is not None and self.output_scale is not None:
            doc["output_values"] = [v / 2**self.output_scale for v in self.output]
        return doc


def request_status(workspace: Workspace, chain: Chain, request_id: int) -> RequestView:
    """The on-chain state of ``request_id``, with its answer once there is one."""
    if not 0 <= request_id < 2**256:
        raise InputError(f"request id {request_id} is out of range")
    oracle = OracleClient.open(chain, workspace, deploy_missing=False)
    try:
        state = oracle.state(request_id)
    except Exception as exc:
        revert = contract_revert(exc)
        if revert is None:
            raise
        if revert.error_name == "UnknownRequest":  # same words as the CLI, as a 404
            raise NotFound(revert.message, hint=revert.hint) from exc
        raise revert from exc
    if state.status == Status.NONE:
        raise NotFound(f"request {request_id} does not exist on {oracle.address}")
    model = oracle.model(state.model_id)
    pkg = package_of(workspace, oracle, state.model_id, owner=str(model["owner"]))
    view = RequestView(
        request_id=request_id,
        status=state.status.name.lower(),
        model_id="0x" + state.model_id.hex(),
        fee=state.fee,
        deadline=state.deadline,
        requester=state.requester,
        model_name=None if pkg is None else pkg.name,
        mode=Mode(int(model["mode"])).name.lower(),
        oracle=oracle.address,
    )
    if state.status in (Status.PROPOSED, Status.FULFILLED):
        event = (
            oracle.oracle.events.InferenceFulfilled
            if state.status == Status.FULFILLED
            else oracle.oracle.events.InferenceProposed
        )
        # answered after its request, in block `deadline - timeout` (the model's timeout is
        # fixed): read from there in windows, not from block 0 of a long chain
        first = max(0, state.deadline - int(model["timeout"]))
        logs = LogReader(chain.w3).get_logs(
            first,
            int(chain.w3.eth.block_number),
            address=oracle.address,
            topics=[event().topic, f"0x{request_id:064x}"],
        )
        if logs:
            view.output = [int(v) for v in event().process_log(logs[-1])["args"]["output"]]
            view.output_scale = None if pkg is None else pkg.output_scale
        if state.status == Status.PROPOSED:
            view.challenge_ends = state.challenge_ends
    return view


def create_request(
    workspace: Workspace,
    chain: Chain,
    model: str,
    mode: str,
    values: list[float],
    callback_gas: int = 0,
) -> tuple[int, list[int], int]:
    """Ask the oracle for ``model``'s answer on ``values`` (`proofmind oracle request`):
    the request id, the fixed-point input sent, and its scale."""
    import math

    from proofmind.app.oracle_service import parse_mode
    from proofmind.ml import zk

    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        raise InputError(f"input value {bad} is {values[bad]}, not a finite number")
    pkg = load_package(workspace, model)
    oracle = OracleClient.open(chain, workspace, deploy_missing=False)
    chosen = parse_mode(mode)
    model_id = oracle_model_id(pkg, chosen, chain.default_account.address)
    if not oracle.model_exists(model_id):
        raise InputError(
            f"{model} is not served in {mode} mode",
            hint=f"run `proofmind oracle register {model} --mode {mode}`",
        )
    if not oracle.model(model_id)["active"]:
        raise InputError(
            f"{model} in {mode} mode is paused by its owner: it takes no requests",
            hint=f"its owner resumes it with `proofmind oracle update {model} --mode {mode} "
            "--resume`",
        )
    fixed = zk.check_input(pkg, zk.quantize(values, pkg.input_scale))
    request_id = oracle.request(model_id, fixed, callback_gas=callback_gas)
    return request_id, fixed, pkg.input_scale
