"""proofmind: trustworthy AI with Web3, and smarter, safer Web3 with AI.

The public API is listed in ``__all__``; names load on first use so that importing the package
(and starting the CLI) stays fast. Functions that take a ``workspace`` accept a
:class:`Workspace` (or, where they only keep files, any :class:`Stores`); ``track_run``,
``record_dataset`` and ``verify_path`` also find the workspace from the current directory.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> "module" (same name there) or "module:name"
_EXPORTS: dict[str, str] = {
    # workspace, stores and settings
    "Workspace": "proofmind.workspace",
    "init_workspace": "proofmind.workspace",
    "open_workspace": "proofmind.workspace",
    "Stores": "proofmind.store.stores",
    "LocalStores": "proofmind.store.stores",
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
    "deploy_suite": "proofmind.app.deploy",
    # crypto
    "keccak256": "proofmind.crypto",
    "StandardMerkleTree": "proofmind.crypto",
    "MultiProof": "proofmind.crypto",
    "Eip712Domain": "proofmind.crypto",
    "sign_typed_data": "proofmind.crypto",
    "recover_typed_data": "proofmind.crypto",
    # provenance
    "track_run": "proofmind.app.provenance",
    "record_dataset": "proofmind.app.provenance",
    "verify_path": "proofmind.app.provenance",
    "register_model": "proofmind.provenance",
    "Ledger": "proofmind.provenance",
    # zk packaging (EZKL)
    "zk_preflight": "proofmind.ml.zk:preflight",
    "zk_package": "proofmind.ml.zk:package",
    "zk_prove": "proofmind.ml.zk:prove",
    "ZkPackage": "proofmind.ml.zk:Package",
    # oracle
    "OracleClient": "proofmind.oracle.client",
    "OracleMode": "proofmind.oracle.client:Mode",
    "OracleTerms": "proofmind.oracle.client:Terms",
    "load_package": "proofmind.oracle.client",
    "package_model": "proofmind.app.oracle_service",
    "register_oracle_model": "proofmind.app.oracle_service:register",
    # ownership and rewards
    "Contribution": "proofmind.ownership.contributions",
    "contribute": "proofmind.ownership.contributions",
    "assemble_dataset": "proofmind.app.ownership",
    "value_contributions": "proofmind.app.ownership",
    "publish_epoch": "proofmind.app.ownership",
    "RewardsClient": "proofmind.ownership.rewards",
    # intelligence
    "import_etherscan": "proofmind.intel.etherscan",
    "address_features": "proofmind.intel.fraud",
    "train_fraud_registered": "proofmind.app.training",
    "detect_sybils": "proofmind.intel.sybil:detect",
    "train_sybil_registered": "proofmind.app.training",
    # errors
    "ProofmindError": "proofmind.errors",
}

# deprecated name -> (its replacement's public name, the message)
_DEPRECATED: dict[str, tuple[str, str]] = {
    "commit_dataset": (
        "record_dataset",
        "proofmind.commit_dataset is deprecated: use proofmind.record_dataset (the same "
        "function; proofmind.provenance.dataset.commit_dataset is the file-level commitment)",
    ),
}

__all__ = [
    "BlockRange",
    "Chain",
    "ChainBackend",
    "ChainSettings",
    "Contribution",
    "DeploymentRegistry",
    "DevnetSettings",
    "Eip712Domain",
    "Ledger",
    "LocalStores",
    "LogReader",
    "MultiProof",
    "OracleClient",
    "OracleMode",
    "OracleTerms",
    "ProofmindError",
    "Reorg",
    "ReorgSafeCursor",
    "RewardsClient",
    "StandardMerkleTree",
    "Stores",
    "TxSender",
    "TxSettings",
    "Workspace",
    "ZkPackage",
    "__version__",
    "address_features",
    "assemble_dataset",
    "attach",
    "contribute",
    "deploy",
    "deploy_suite",
    "detect_sybils",
    "import_etherscan",
    "init_workspace",
    "keccak256",
    "load_artifact",
    "load_package",
    "open_workspace",
    "package_model",
    "publish_epoch",
    "record_dataset",
    "recover_typed_data",
    "register_model",
    "register_oracle_model",
    "sign_typed_data",
    "track_run",
    "train_fraud_registered",
    "train_sybil_registered",
    "value_contributions",
    "verify_path",
    "zk_package",
    "zk_preflight",
    "zk_prove",
]


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        replacement, message = _DEPRECATED[name]
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return __getattr__(replacement)
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'proofmind' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(import_module(module), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from proofmind.app.deploy import deploy_suite
    from proofmind.app.oracle_service import package_model
    from proofmind.app.oracle_service import register as register_oracle_model
    from proofmind.app.ownership import assemble_dataset, publish_epoch, value_contributions
    from proofmind.app.provenance import record_dataset, track_run, verify_path
    from proofmind.app.training import train_fraud_registered, train_sybil_registered
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
    from proofmind.intel.etherscan import import_etherscan
    from proofmind.intel.fraud import address_features
    from proofmind.intel.sybil import detect as detect_sybils
    from proofmind.ml.zk import Package as ZkPackage
    from proofmind.ml.zk import package as zk_package
    from proofmind.ml.zk import preflight as zk_preflight
    from proofmind.ml.zk import prove as zk_prove
    from proofmind.oracle.client import Mode as OracleMode
    from proofmind.oracle.client import OracleClient, load_package
    from proofmind.oracle.client import Terms as OracleTerms
    from proofmind.ownership.contributions import Contribution, contribute
    from proofmind.ownership.rewards import RewardsClient
    from proofmind.provenance import Ledger, register_model
    from proofmind.settings import ChainSettings, DevnetSettings, TxSettings
    from proofmind.store.stores import LocalStores, Stores
    from proofmind.workspace import Workspace, init_workspace, open_workspace

    commit_dataset = record_dataset  # deprecated alias
