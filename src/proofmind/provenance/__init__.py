"""Provenance: tamper-evident lineage from data to training run to model to inference."""

from proofmind.provenance.api import Committed, register_model
from proofmind.provenance.api import commit as commit_dataset
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
from proofmind.provenance.runs import Run, track_run
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
    "commit_dataset",
    "register_model",
    "registry_domain",
    "sign_registration",
    "track_run",
    "verify_path",
]
