"""The contracts a workspace has deployed or attached, per chain (no chain is read)."""

from __future__ import annotations

from typing import Any

from proofmind.chain.contracts import DeploymentRegistry
from proofmind.workspace import Workspace


def list_contracts(workspace: Workspace, chain_id: int | None = None) -> list[dict[str, Any]]:
    """Name, address, chain, block and transaction of each recorded deployment."""
    return [
        {
            "name": d.name,
            "address": d.address,
            "chain_id": d.chain_id,
            "block_number": d.block_number,
            "tx_hash": d.tx_hash,
            "deployed_at": d.deployed_at,
        }
        for d in DeploymentRegistry(workspace.state).list(chain_id)
    ]
