"""Response shapes, for the OpenAPI document (the endpoints build plain JSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """An RFC 9457 problem document; ``detail`` is the CLI's message for the same error."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class RecordOut(BaseModel):
    key: int
    kind: str = Field(description="dataset, run, model or inference")
    name: str
    content_hash: str
    uri: str
    path: str | None = Field(description="relative to the project folder")
    status: str
    state: str = Field(description="pending, sent or anchored")
    record_id: str | None
    creator: str | None
    chain_id: int | None
    registry: str | None
    tx_hash: str | None
    block_number: int | None
    parents: list[int]
    created_at: float


class RecordPage(BaseModel):
    items: list[RecordOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class AlertOut(BaseModel):
    id: int
    detector: str
    kind: str
    severity: str
    subject: str
    time: float
    score: float
    explanation: str
    evidence: dict[str, Any]
    block: int | None
    block_hash: str | None
    status: str
    stored_at: float
    retracted_at: float | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class VerifyRecord(BaseModel):
    kind: str
    name: str
    path: str | None
    record_id: str | None
    ok: bool
    problems: list[str]
    notes: list[str]


class VerifyOut(BaseModel):
    """The report of `proofmind verify --json`."""

    target: str
    ok: bool
    records: list[VerifyRecord]


class VerifyPath(BaseModel):
    path: str = Field(description="a file or folder relative to the project folder")


class ModelOut(BaseModel):
    name: str
    model_id: str
    logrows: int
    input_shape: list[int]
    input_scale: int
    output_shape: list[int]
    output_scale: int
    srs: str


class ModelPage(BaseModel):
    items: list[ModelOut]
    next_cursor: str | None


class ContractOut(BaseModel):
    name: str
    address: str
    chain_id: int
    block_number: int
    tx_hash: str
    deployed_at: float


class ContractPage(BaseModel):
    items: list[ContractOut]
    next_cursor: str | None


class RequestCreate(BaseModel):
    model: str = Field(description="a packaged model's name", max_length=200)
    mode: str = Field(default="zk", description="zk or optimistic")
    values: list[float] = Field(description="the model's input, as real numbers", max_length=65536)
    callback_gas: int = Field(default=0, ge=0, le=2**32 - 1)


class RequestCreated(BaseModel):
    request_id: int
    input: list[int] = Field(description="the fixed-point input sent on chain")
    input_scale: int


class EpochOut(BaseModel):
    epoch: int
    root: str
    funded: str = Field(description="wei, as a decimal string")
    claimed: str
    deadline: int
    swept: bool
    valuation: str


class EpochPage(BaseModel):
    items: list[EpochOut]
    next_cursor: str | None


class ClaimOut(BaseModel):
    """The arguments of ``RewardDistributor.claim(epoch, account, amount, proof)``."""

    epoch: int
    account: str = Field(description="checksummed; the tokens go to it")
    amount: str = Field(description="base units, as a decimal string")
    proof: list[str] = Field(description="the Merkle proof, 0x-prefixed 32-byte nodes")
    claimed: bool = Field(description="paid already (read from the distributor)")
    root: str
    deadline: int = Field(description="claims are accepted until this time (unix seconds)")
    distributor: str


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    next_cursor: str | None


class FraudScoreOut(BaseModel):
    address: str = Field(description="lower-case")
    status: str = Field(description='"scored", or "no data" (no transaction in the tables)')
    score: float | None = Field(description="P(illicit), when scored")
    explanation: dict[str, float] | None = Field(
        default=None, description="the largest feature contributions to the log-odds"
    )


class FraudScorePage(BaseModel):
    items: list[FraudScoreOut]
    next_cursor: str | None


class FraudBatch(BaseModel):
    addresses: list[str] = Field(min_length=1, max_length=1000)
    explain: int = Field(default=0, ge=0, le=20)


class GrantOut(BaseModel):
    agent: str
    policy_id: str
    expiry: int = Field(description="unix seconds")
    active: bool
    paused: bool = Field(description="the whole guard is paused")
    delay: int = Field(description="the timelock delay, seconds")
    guard: str
    safe: str


class GrantPage(BaseModel):
    items: list[GrantOut]
    next_cursor: str | None


Owners = Field(
    default=None,
    max_length=50,
    description="account indexes of the owners that sign (default: every owner whose key the "
    "workspace holds)",
)


class SignersIn(BaseModel):
    model_config = {"extra": "forbid"}
    owners: list[int] | None = Owners
    guardian: int | None = Field(default=None, ge=0, description="sign as this guardian instead")


class RevokeIn(BaseModel):
    model_config = {"extra": "forbid"}
    owners: list[int] | None = Owners
    by_agent: bool = Field(default=False, description="the agent revokes its own grant")


class GrantIn(BaseModel):
    model_config = {"extra": "forbid"}
    policy: str = Field(
        max_length=1000, description="the policy TOML, relative to the project folder"
    )
    owners: list[int] | None = Owners


class SybilRunIn(BaseModel):
    """`proofmind sybil detect` options; paths are relative to the project folder."""

    model_config = {"extra": "forbid"}
    edges: list[str] = Field(
        min_length=1, max_length=20, description="edge lists (CSV/Parquet) or ingested folders"
    )
    candidates: str = Field(max_length=1000, description="CSV of candidate addresses")
    out: str = Field(default="sybil", max_length=1000, description="the output folder")
    hub_degree: int = Field(default=100, ge=1)
    hubs: str | None = Field(default=None, max_length=1000)
    min_cluster: int = Field(default=8, ge=1)
    labels: bool = Field(default=False, description="use is_sybil labels (and evaluate)")
    max_fpr: float = Field(default=0.02, ge=0, le=0.5)


class JobOut(BaseModel):
    id: str
    kind: str
    status: str = Field(description="running, done or failed")
    url: str
    started_at: float
    finished_at: float | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None = Field(description="status and detail (the CLI's words)")


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None
