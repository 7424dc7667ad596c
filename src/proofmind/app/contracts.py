"""The contracts a workspace has deployed or attached, per chain (no chain is read)."""

from __future__ import annotations

from typing import Any

from proofmind.app.paging import Page, check_limit, decode_text_cursor, encode_text_cursor, page_of
from proofmind.chain.contracts import Deployment, DeploymentRegistry
from proofmind.errors import InputError
from proofmind.workspace import Workspace


def list_contracts(workspace: Workspace, chain_id: int | None = None) -> list[dict[str, Any]]:
    """Name, address, chain, block and transaction of each recorded deployment."""
    return [contract_view(d) for d in DeploymentRegistry(workspace.state).list(chain_id)]


def contract_view(d: Deployment) -> dict[str, Any]:
    return {
        "name": d.name,
        "address": d.address,
        "chain_id": d.chain_id,
        "block_number": d.block_number,
        "tx_hash": d.tx_hash,
        "deployed_at": d.deployed_at,
    }


def contracts_page(
    workspace: Workspace, chain_id: int | None, *, limit: int = 100, cursor: str | None = None
) -> Page[Deployment]:
    """A page of the deployments on ``chain_id`` (every chain when None), by chain and name:
    keyset on the primary key."""
    after = decode_text_cursor("contracts", cursor)
    after_chain, _, after_name = (after or "-1/").partition("/")
    if not after_chain.lstrip("-").isdigit():
        raise InputError(f"cursor {cursor!r} is not a cursor of this list")
    where = "(chain_id, name) > (?, ?)" + ("" if chain_id is None else " AND chain_id = ?")
    args: list[Any] = [int(after_chain), after_name]
    if chain_id is not None:
        args.append(chain_id)
    rows = workspace.state.conn.execute(
        f"SELECT * FROM deployments WHERE {where} ORDER BY chain_id, name LIMIT ?",
        [*args, check_limit(limit) + 1],
    ).fetchall()
    items = [Deployment(**dict(row)) for row in rows]
    return page_of(
        items, limit, lambda d: encode_text_cursor("contracts", f"{d.chain_id}/{d.name}")
    )
