"""Chain layer: one interface, three backends (devnet, inprocess, rpc), a transaction
sender, an event reader with a reorg-safe cursor, and contract handles."""

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
from proofmind.chain.sender import TxSender

__all__ = [
    "Artifact",
    "BlockRange",
    "BlockRef",
    "Chain",
    "ChainBackend",
    "Deployment",
    "DeploymentRegistry",
    "LogReader",
    "Reorg",
    "ReorgSafeCursor",
    "TxSender",
    "attach",
    "connect",
    "deploy",
    "load_artifact",
    "open_chain",
]
