"""Chain layer: one interface, three backends (devnet, inprocess, rpc), a transaction
sender, an event reader with a reorg-safe cursor, contract handles, and the reconciliation of
local state that mirrors the chain."""

from proofmind.chain.base import Chain, ChainBackend
from proofmind.chain.connect import connect, open_chain
from proofmind.chain.contracts import (
    Artifact,
    Deployment,
    DeploymentRegistry,
    attach,
    deploy,
    load_artifact,
)
from proofmind.chain.events import BlockRange, BlockRef, LogReader, Reorg, ReorgSafeCursor
from proofmind.chain.reconcile import Fate, Mirror, TxOutcome, reconcile, tx_outcome
from proofmind.chain.sender import TxSender

__all__ = [
    "Artifact",
    "BlockRange",
    "BlockRef",
    "Chain",
    "ChainBackend",
    "Deployment",
    "DeploymentRegistry",
    "Fate",
    "LogReader",
    "Mirror",
    "Reorg",
    "ReorgSafeCursor",
    "TxOutcome",
    "TxSender",
    "attach",
    "connect",
    "deploy",
    "load_artifact",
    "open_chain",
    "reconcile",
    "tx_outcome",
]
