"""proofmind: trustworthy AI with Web3, and smarter, safer Web3 with AI.

The public API is listed in ``__all__``; names load on first use so that importing the package
(and starting the CLI) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # workspace and settings
    "Workspace": "proofmind.workspace",
    "init_workspace": "proofmind.workspace",
    "open_workspace": "proofmind.workspace",
    "ChainSettings": "proofmind.settings",
    "DevnetSettings": "proofmind.settings",
    "TxSettings": "proofmind.settings",
    # chain
    "Chain": "proofmind.chain",
    "ChainBackend": "proofmind.chain",
    "TxSender": "proofmind.chain",
    "DeploymentRegistry": "proofmind.chain",
    "deploy": "proofmind.chain",
    "attach": "proofmind.chain",
    "load_artifact": "proofmind.chain",
    "LogReader": "proofmind.chain",
    "ReorgSafeCursor": "proofmind.chain",
    "Reorg": "proofmind.chain",
    "BlockRange": "proofmind.chain",
    # crypto
    "keccak256": "proofmind.crypto",
    "StandardMerkleTree": "proofmind.crypto",
    "MultiProof": "proofmind.crypto",
    "Eip712Domain": "proofmind.crypto",
    "sign_typed_data": "proofmind.crypto",
    "recover_typed_data": "proofmind.crypto",
    # provenance
    "track_run": "proofmind.provenance",
    "commit_dataset": "proofmind.provenance",
    "register_model": "proofmind.provenance",
    "verify_path": "proofmind.provenance",
    "Ledger": "proofmind.provenance",
    # errors
    "ProofmindError": "proofmind.errors",
}

__all__ = [
    "BlockRange",
    "Chain",
    "ChainBackend",
    "ChainSettings",
    "DeploymentRegistry",
    "DevnetSettings",
    "Eip712Domain",
    "Ledger",
    "LogReader",
    "MultiProof",
    "ProofmindError",
    "Reorg",
    "ReorgSafeCursor",
    "StandardMerkleTree",
    "TxSender",
    "TxSettings",
    "Workspace",
    "__version__",
    "attach",
    "commit_dataset",
    "deploy",
    "init_workspace",
    "keccak256",
    "load_artifact",
    "open_workspace",
    "recover_typed_data",
    "register_model",
    "sign_typed_data",
    "track_run",
    "verify_path",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'proofmind' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from proofmind.chain import (
        BlockRange,
        Chain,
        ChainBackend,
        DeploymentRegistry,
        LogReader,
        Reorg,
        ReorgSafeCursor,
        TxSender,
        attach,
        deploy,
        load_artifact,
    )
    from proofmind.crypto import (
        Eip712Domain,
        MultiProof,
        StandardMerkleTree,
        keccak256,
        recover_typed_data,
        sign_typed_data,
    )
    from proofmind.errors import ProofmindError
    from proofmind.provenance import (
        Ledger,
        commit_dataset,
        register_model,
        track_run,
        verify_path,
    )
    from proofmind.settings import ChainSettings, DevnetSettings, TxSettings
    from proofmind.workspace import Workspace, init_workspace, open_workspace
