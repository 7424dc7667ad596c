"""Deploying proofmind's contract suite for a workspace (the CLI's `contracts deploy`, the demo)."""

from __future__ import annotations

from proofmind.chain.base import Chain
from proofmind.chain.contracts import (
    DeploymentRegistry,
    deploy,
    is_current,
    load_artifact,
    suite_args,
    suite_names,
    suite_order,
)
from proofmind.store.stores import Stores


def deploy_suite(
    chain: Chain, workspace: Stores, names: list[str], force: bool = False
) -> list[tuple[str, str, str]]:
    """Deploy ``names`` (default all); returns (name, address, "deployed" | "kept") rows."""
    registry = DeploymentRegistry(workspace.state)
    wanted = suite_order(names or suite_names())
    for name in wanted:
        load_artifact(name)  # fail on an unknown name before sending anything
    rows = []
    for name in wanted:
        existing = registry.get(chain.chain_id, name)
        if existing is not None and not force and is_current(chain, existing):
            rows.append((name, existing.address, "kept"))
            continue
        _, deployment = deploy(chain, name, *suite_args(chain, registry, name), registry=registry)
        rows.append((name, deployment.address, "deployed"))
    return rows
