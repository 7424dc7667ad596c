"""The workspace's lineage ledger: records made locally, then anchored on-chain in batches.

A record is *pending* until the transaction that registers it has a receipt; only then does
the ledger mark it *anchored* (with its on-chain id, creator, chain and transaction), in one
SQLite transaction per batch. A failed transaction therefore leaves the ledger as it was.
Parents are kept as local keys; on-chain ids (which commit to the creator) are computed when
the records are anchored, parents first.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach, deploy, is_current
from proofmind.errors import InputError, WorkspaceError, WrongChain
from proofmind.provenance.records import Kind, ProvenanceRegistryClient, RecordInput
from proofmind.workspace import Workspace

REGISTRY = "ProvenanceRegistry"
KIND_NAMES = {
    Kind.DATASET: "dataset",
    Kind.TRAINING_RUN: "run",
    Kind.MODEL: "model",
    Kind.INFERENCE: "inference",
}


@dataclass(frozen=True)
class LocalRecord:
    key: int
    kind: Kind
    name: str
    content_hash: str
    uri: str
    parents: tuple[int, ...]
    path: str | None
    meta: str | None
    status: str
    record_id: str | None = None
    creator: str | None = None
    chain_id: int | None = None
    registry: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    created_at: float = 0.0

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def anchored(self) -> bool:
        return self.status == "anchored"

    def record_input(self, parent_ids: Sequence[bytes]) -> RecordInput:
        return RecordInput(
            self.kind, bytes.fromhex(self.content_hash[2:]), self.uri, tuple(parent_ids)
        )

    def label(self) -> str:
        return f"{self.kind_name} {self.name!r}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LocalRecord:
        return cls(
            key=row["key"],
            kind=Kind(row["kind"]),
            name=row["name"],
            content_hash=row["content_hash"],
            uri=row["uri"],
            parents=tuple(json.loads(row["parents"])),
            path=row["path"],
            meta=row["meta"],
            status=row["status"],
            record_id=row["record_id"],
            creator=row["creator"],
            chain_id=row["chain_id"],
            registry=row["registry"],
            tx_hash=row["tx_hash"],
            block_number=row["block_number"],
            created_at=row["created_at"],
        )


@dataclass
class AnchorReport:
    anchored: list[LocalRecord] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)
    gas_used: int = 0
    registry: str = ""
    deployed_registry: bool = False

    @property
    def gas_per_record(self) -> float:
        return self.gas_used / len(self.anchored) if self.anchored else 0.0


class Ledger:
    """Records of one workspace (``state.sqlite``, table ``records``)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.state = workspace.state

    # ------------------------------------------------------------------ local records

    def add(
        self,
        kind: Kind,
        name: str,
        content_hash: str,
        uri: str,
        *,
        parents: Sequence[LocalRecord] = (),
        path: Path | str | None = None,
        meta: str | None = None,
    ) -> LocalRecord:
        """A pending record, or the existing one with the same fields (adding is idempotent)."""
        keys = json.dumps(sorted({p.key for p in parents}))
        where = str(Path(path).resolve()) if path is not None else None
        with self.state.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM records WHERE kind=? AND content_hash=? AND uri=? AND parents=?",
                (int(kind), content_hash, uri, keys),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE records SET path=COALESCE(?, path), meta=COALESCE(?, meta) WHERE key=?",
                    (where, meta, row["key"]),
                )
            else:
                conn.execute(
                    "INSERT INTO records(kind, name, content_hash, uri, parents, path, meta, "
                    "status, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (int(kind), name, content_hash, uri, keys, where, meta, time.time()),
                )
            row = conn.execute(
                "SELECT * FROM records WHERE kind=? AND content_hash=? AND uri=? AND parents=?",
                (int(kind), content_hash, uri, keys),
            ).fetchone()
        return LocalRecord.from_row(row)

    def get(self, key: int) -> LocalRecord:
        row = self.state.conn.execute("SELECT * FROM records WHERE key=?", (key,)).fetchone()
        if row is None:
            raise WorkspaceError(f"no record {key} in this workspace")
        return LocalRecord.from_row(row)

    def all(self) -> list[LocalRecord]:
        rows = self.state.conn.execute("SELECT * FROM records ORDER BY key").fetchall()
        return [LocalRecord.from_row(r) for r in rows]

    def pending(self) -> list[LocalRecord]:
        rows = self.state.conn.execute(
            "SELECT * FROM records WHERE status='pending' ORDER BY key"
        ).fetchall()
        return [LocalRecord.from_row(r) for r in rows]

    def by_path(self, path: Path) -> list[LocalRecord]:
        """Records of the file or folder at ``path``, newest first."""
        rows = self.state.conn.execute(
            "SELECT * FROM records WHERE path=? ORDER BY key DESC", (str(path.resolve()),)
        ).fetchall()
        return [LocalRecord.from_row(r) for r in rows]

    def by_content(self, kind: Kind, content_hash: str) -> list[LocalRecord]:
        rows = self.state.conn.execute(
            "SELECT * FROM records WHERE kind=? AND content_hash=? ORDER BY key DESC",
            (int(kind), content_hash.lower()),
        ).fetchall()
        return [LocalRecord.from_row(r) for r in rows]

    def find(self, ref: str) -> LocalRecord:
        """A record by local key, on-chain id, content hash or path."""
        if ref.isdigit():
            return self.get(int(ref))
        text = ref.lower()
        if text.startswith("0x") and len(text) == 66:
            row = self.state.conn.execute(
                "SELECT * FROM records WHERE record_id=? OR content_hash=? ORDER BY key DESC",
                (text, text),
            ).fetchone()
            if row is not None:
                return LocalRecord.from_row(row)
        found = self.by_path(Path(ref))
        if found:
            return found[0]
        raise InputError(
            f"no record for {ref!r} in this workspace",
            hint="give a path you committed, a record id or a local key "
            "(`proofmind provenance list` shows them)",
        )

    def ancestors(self, record: LocalRecord) -> list[LocalRecord]:
        """``record`` and every record it descends from, each once, parents after children."""
        seen: dict[int, LocalRecord] = {}
        stack = [record]
        while stack:
            current = stack.pop()
            if current.key in seen:
                continue
            seen[current.key] = current
            stack.extend(self.get(k) for k in current.parents)
        return list(seen.values())

    # ------------------------------------------------------------------ anchoring

    def registry(self, chain: Chain, *, deploy_if_missing: bool = False) -> tuple[object, bool]:
        """The ProvenanceRegistry contract on ``chain`` (deployed first when asked)."""
        deployments = DeploymentRegistry(self.state)
        existing = deployments.get(chain.chain_id, REGISTRY)
        if existing is not None and is_current(chain, existing):
            return attach(chain, REGISTRY, deployments), False
        if not deploy_if_missing:
            attach(chain, REGISTRY, deployments)  # raises ContractNotFound with a hint
        contract, _ = deploy(chain, REGISTRY, registry=deployments)
        return contract, True

    def anchor(
        self,
        chain: Chain,
        *,
        batch_size: int = 50,
        deploy_if_missing: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> AnchorReport:
        """Register every pending record, ``batch_size`` per transaction, parents first."""
        if not 1 <= batch_size <= 500:
            raise InputError(f"batch size must be 1 to 500, got {batch_size}")
        pending = self.pending()
        report = AnchorReport()
        if not pending:
            return report
        contract, report.deployed_registry = self.registry(
            chain, deploy_if_missing=deploy_if_missing
        )
        client = ProvenanceRegistryClient(chain, contract)  # type: ignore[arg-type]
        report.registry = client.contract.address
        sender = chain.sender()
        creator = sender.address
        ids: dict[int, str] = {}
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            inputs = []
            for record in batch:
                parent_ids = [
                    bytes.fromhex(self._parent_id(p, ids, chain)[2:]) for p in record.parents
                ]
                record_input = record.record_input(parent_ids)
                ids[record.key] = "0x" + record_input.record_id(creator).hex()
                inputs.append(record_input)
            outcome = client.register(inputs, batch_size=len(inputs), account=sender.account)
            with self.state.transaction() as conn:
                for record in batch:
                    conn.execute(
                        "UPDATE records SET status='anchored', record_id=?, creator=?, "
                        "chain_id=?, registry=?, tx_hash=?, block_number=?, anchored_at=? "
                        "WHERE key=? AND status='pending'",
                        (
                            ids[record.key],
                            creator,
                            chain.chain_id,
                            report.registry,
                            outcome.tx_hashes[-1],
                            outcome.blocks[-1],
                            time.time(),
                            record.key,
                        ),
                    )
            report.tx_hashes += outcome.tx_hashes
            report.gas_used += outcome.gas_used
            report.anchored += [self.get(r.key) for r in batch]
            if progress is not None:
                progress(len(batch))
        return report

    def _parent_id(self, key: int, fresh: dict[int, str], chain: Chain) -> str:
        if key in fresh:
            return fresh[key]
        parent = self.get(key)
        if not parent.anchored or parent.record_id is None:
            raise WorkspaceError(f"parent {parent.label()} is neither anchored nor pending")
        if parent.chain_id != chain.chain_id:
            raise WrongChain(
                f"parent {parent.label()} is anchored on chain {parent.chain_id}, but this "
                f"workspace is connected to chain {chain.chain_id}",
                hint="anchor on the chain the parents are on (proofmind.toml [chain])",
            )
        return parent.record_id


def require_anchored_on(record: LocalRecord, chain: Chain) -> None:
    if record.chain_id is not None and record.chain_id != chain.chain_id:
        raise WrongChain(
            f"{record.label()} is anchored on chain {record.chain_id}, but this workspace is "
            f"connected to chain {chain.chain_id}",
            hint="connect to the chain it was anchored on (see `proofmind chain status`)",
        )
