"""Ingesting a chain over JSON-RPC (`proofmind ingest rpc`, `proofmind serve --ingest`): where
the node is, and the checks made before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proofmind.errors import InputError

if TYPE_CHECKING:
    from proofmind.chain.base import Chain


@dataclass(frozen=True)
class Source:
    """A node to ingest from: its URL (with any secrets; never printed), a web3 on it, and
    the id of its chain."""

    url: str
    w3: Any
    chain_id: int


def node_url(chain: Chain) -> str:
    """The JSON-RPC URL of a workspace's chain: only the devnet has one proofmind knows."""
    from proofmind.chain.devnet import DevnetBackend

    if not isinstance(chain.backend, DevnetBackend) or chain.backend.record is None:
        raise InputError(
            f"cannot ingest from {chain.backend.describe()} without a URL",
            hint="pass --url (the node's HTTP JSON-RPC endpoint)",
        )
    return str(chain.backend.record.rpc_url)


def open_source(url: str) -> Source:
    """Connect to ``url`` and read its chain id (a one-line error when it cannot be reached)."""
    from proofmind.chain.connect import read_chain_id
    from proofmind.chain.rpc import http_web3, redact_url

    w3 = http_web3(url)
    return Source(url, w3, read_chain_id(w3, redact_url(url)))


def check_follow(source: Source, out: Path, *, confirmations: int = 0) -> int:
    """The block following ``out`` starts at; an InputError when ``out`` holds another
    chain's blocks or is not an ingestion folder the node can continue."""
    from proofmind.intel.ingest import check_range

    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not a folder", hint="give a folder to ingest into")
    return check_range(
        source.w3, out, None, None, follow=True, confirmations=confirmations,
        chain_id=source.chain_id,
    )  # fmt: skip
