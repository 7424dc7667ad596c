"""Provenance: tamper-evident lineage from data to training run to model to inference.

The domain code here takes its stores (:class:`proofmind.store.stores.Stores`) and the chain
explicitly; ``proofmind.track_run``, ``proofmind.record_dataset`` and ``proofmind.verify_path``
find the workspace for you (:mod:`proofmind.app.provenance`).
"""

from __future__ import annotations

import warnings
from typing import Any

from proofmind.provenance.api import Committed, commit, register_model
from proofmind.provenance.dataset import Commitment, Manifest, RowProof
from proofmind.provenance.ledger import AnchorReport, Ledger, LocalRecord
from proofmind.provenance.records import (
    Kind,
    OnChainRecord,
    ProvenanceRegistryClient,
    RecordInput,
    Registration,
    registry_domain,
    sign_registration,
)
from proofmind.provenance.runs import Run, logged_run
from proofmind.provenance.verify import VerifyReport, verify_path

__all__ = [
    "AnchorReport",
    "Commitment",
    "Committed",
    "Kind",
    "Ledger",
    "LocalRecord",
    "Manifest",
    "OnChainRecord",
    "ProvenanceRegistryClient",
    "RecordInput",
    "Registration",
    "RowProof",
    "Run",
    "VerifyReport",
    "commit",
    "logged_run",
    "register_model",
    "registry_domain",
    "sign_registration",
    "verify_path",
]


def __getattr__(name: str) -> Any:
    if name == "commit_dataset":  # was this module's name for api.commit until 0.1
        warnings.warn(
            "proofmind.provenance.commit_dataset is deprecated: use proofmind.record_dataset "
            "(or proofmind.provenance.commit with a workspace's stores); "
            "proofmind.provenance.dataset.commit_dataset is the file-level commitment",
            DeprecationWarning,
            stacklevel=2,
        )
        return commit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
