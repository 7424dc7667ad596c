"""Provenance: tamper-evident lineage from data to training run to model to inference."""

from proofmind.provenance.records import (
    Kind,
    OnChainRecord,
    ProvenanceRegistryClient,
    RecordInput,
    Registration,
    registry_domain,
    sign_registration,
)

__all__ = [
    "Kind",
    "OnChainRecord",
    "ProvenanceRegistryClient",
    "RecordInput",
    "Registration",
    "registry_domain",
    "sign_registration",
]
