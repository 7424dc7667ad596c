"""Reward epochs on the workspace's RewardDistributor."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from proofmind.app.ownership import rewards_client
from proofmind.chain.base import Chain
from proofmind.errors import NotFound
from proofmind.ownership.rewards import EpochStatus
from proofmind.workspace import Workspace


def reward_epochs(
    workspace: Workspace, chain: Chain, epoch: int | None = None
) -> list[EpochStatus]:
    """Funded, claimed, deadline and sweep state of every epoch (or of ``epoch``)."""
    client = rewards_client(chain, workspace)
    count = int(client.distributor.functions.epochCount().call())
    if epoch is not None and not 0 <= epoch < count:
        raise NotFound(
            f"no reward epoch {epoch} on RewardDistributor {client.distributor.address}: "
            f"{count} published (the contract answers UnknownEpoch)",
            hint="`proofmind rewards status` lists the published epochs",
        )
    return [client.status(e) for e in ([epoch] if epoch is not None else range(count))]


def epoch_view(status: EpochStatus) -> dict[str, Any]:
    # wei amounts exceed what JSON numbers carry exactly in JavaScript: sent as strings
    doc = asdict(status)
    doc["funded"], doc["claimed"] = str(status.funded), str(status.claimed)
    return doc
