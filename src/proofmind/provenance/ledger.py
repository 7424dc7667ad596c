"""The workspace's lineage ledger: records made locally, then anchored on-chain in batches.

A record is *pending*, then *sent* (its on-chain id, creator and registry are written before
its transaction leaves), then *anchored* — only once its block is confirmed: the configured
number of blocks deep and, on the devnet, in the state a restarted node resumes from. Before
it trusts itself the ledger is reconciled with the chain (a :class:`~proofmind.chain.reconcile.
Mirror`): what the registry does not hold goes back to pending, what it holds is anchored. So a
command killed at any point, or a node restarted from an older state, never leaves a record
marked anchored that is not on-chain, nor one sent twice.
Parents are kept as local keys; on-chain ids (which commit to the creator) are computed when
the records are anchored, parents first.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_utils.address import to_checksum_address

from proofmind.chain.base import Chain
from proofmind.chain.contracts import (
    DeploymentRegistry,
    attach,
    deploy,
    is_current,
    load_artifact,
)
from proofmind.chain.reconcile import Fate, reconcile, tx_outcome
from proofmind.errors import ContractReverted, InputError, WorkspaceError, WrongChain
from proofmind.provenance.dataset import is_uri, without_secrets
from proofmind.provenance.records import Kind, RecordInput
from proofmind.store.lock import ServiceLock
from proofmind.store.stores import Stores

log = logging.getLogger("proofmind.provenance")

REGISTRY = "ProvenanceRegistry"
KIND_NAMES = {
    Kind.DATASET: "dataset",
    Kind.TRAINING_RUN: "run",
    Kind.MODEL: "model",
    Kind.INFERENCE: "inference",
}


def place(path: Path | str) -> str:
    """Where a record's file lives, as the ledger keeps it: a URI as given (less credentials,
    a space written %20, no trailing slash), a local path absolute and resolved."""
    if is_uri(str(path)):
        return without_secrets(str(path)).replace(" ", "%20").rstrip("/")
    return str(Path(path).resolve())


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

    @property
    def state(self) -> str:
        """anchored; sent (its transaction is out, its block not yet confirmed); pending."""
        if self.anchored:
            return "anchored"
        return "sent" if self.record_id is not None else "pending"

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
    anchored: list[LocalRecord] = field(default_factory=list)  # sent by this call, confirmed
    waiting: list[LocalRecord] = field(default_factory=list)  # sent, not yet confirmed
    corrections: list[str] = field(default_factory=list)  # where the ledger disagreed
    sent: int = 0  # records this call sent
    tx_hashes: list[str] = field(default_factory=list)
    gas_used: int = 0
    registry: str = ""
    deployed_registry: bool = False

    @property
    def gas_per_record(self) -> float:
        return self.gas_used / self.sent if self.sent else 0.0


ANCHOR_WAIT = 600.0
"""Seconds an anchoring waits for another one on the same workspace to finish: enough for
batches on a real chain, each waiting for its receipt and confirmations."""


class Ledger:
    """Records of one workspace (``state.sqlite``, table ``records``)."""

    def __init__(self, workspace: Stores) -> None:
        self.stores = workspace
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
        where = place(path) if path is not None else None
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

    def page(
        self, *, kinds: Sequence[Kind] = (), after_key: int = 0, limit: int = 100
    ) -> list[LocalRecord]:
        """Up to ``limit`` records with a key above ``after_key`` (of ``kinds``, when given),
        in key order: keyset pagination that stays fast however many records there are."""
        where, args = "key > ?", [after_key]
        if kinds:
            where += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += [int(k) for k in kinds]
        rows = self.state.conn.execute(
            f"SELECT * FROM records WHERE {where} ORDER BY key LIMIT ?", [*args, max(0, limit)]
        ).fetchall()
        return [LocalRecord.from_row(r) for r in rows]

    def pending(self) -> list[LocalRecord]:
        rows = self.state.conn.execute(
            "SELECT * FROM records WHERE status='pending' ORDER BY key"
        ).fetchall()
        return [LocalRecord.from_row(r) for r in rows]

    def by_path(self, path: Path | str) -> list[LocalRecord]:
        """Records of the file or folder at ``path`` (a path, or a URI as committed), newest
        first."""
        rows = self.state.conn.execute(
            "SELECT * FROM records WHERE path=? ORDER BY key DESC", (place(path),)
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
        found = self.by_path(ref)
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
        only: Sequence[LocalRecord] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> AnchorReport:
        """Register pending records, ``batch_size`` per transaction, parents first: every one,
        or with ``only`` just those and their ancestors that are not anchored yet.

        The ledger is first reconciled with the chain (see :meth:`reconcile`). A record is
        marked anchored only once its block is confirmed — ``confirmations`` deep and, on the
        devnet, in the state a restart resumes from; records sent whose block is not confirmed
        within ``confirmation_timeout`` stay *sent* (``report.waiting``) and the next anchor
        settles them without sending them again.

        One anchoring at a time per workspace: another one (a service anchoring in the
        background, another command) is waited for, up to ``ANCHOR_WAIT`` seconds (``on_wait``
        is told when that starts, else it is logged as a warning, which a command without
        logging set up prints too); at once, both would send the same pending records."""
        if not 1 <= batch_size <= 500:
            raise InputError(f"batch size must be 1 to 500, got {batch_size}")
        anchoring = ServiceLock(
            self.stores.root / "ledger-anchor.lock",
            "anchoring this workspace's records",
            hint="try again once it has finished (`proofmind provenance list` shows the records)",
        )
        with anchoring.held(wait=ANCHOR_WAIT, on_wait=on_wait or log.warning):
            return self._anchor(chain, batch_size, deploy_if_missing, progress, only)

    def _anchor(
        self,
        chain: Chain,
        batch_size: int,
        deploy_if_missing: bool,
        progress: Callable[[int], None] | None,
        only: Sequence[LocalRecord] | None,
    ) -> AnchorReport:
        report = AnchorReport()
        report.corrections = reconcile(chain, DeploymentRegistry(self.state), self)
        wanted = None if only is None else {a.key for r in only for a in self.ancestors(r)}
        todo = [
            r for r in self.pending() if r.record_id is None and (wanted is None or r.key in wanted)
        ]
        sent_now: list[int] = []
        if todo:
            contract, report.deployed_registry = self.registry(
                chain, deploy_if_missing=deploy_if_missing
            )
            report.registry = contract.address  # type: ignore[attr-defined]
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                self._send(chain, contract, batch, report)
                sent_now += [r.key for r in batch]
                self._settle(chain)
                if progress is not None:
                    progress(len(batch))
        blocks = [r.block_number for r in self._sent(chain) if r.block_number is not None]
        if blocks:
            chain.wait_confirmed(max(blocks))
            self._settle(chain)
        report.sent = len(sent_now)
        report.anchored = [r for r in map(self.get, sent_now) if r.anchored]
        report.waiting = self._sent(chain)
        return report

    def _sent(self, chain: Chain) -> list[LocalRecord]:
        return [
            r for r in self.pending() if r.record_id is not None and r.chain_id == chain.chain_id
        ]

    def _send(
        self, chain: Chain, contract: object, batch: list[LocalRecord], report: AnchorReport
    ) -> None:
        """One registerBatch transaction. The records are marked *sent* (their ids, creator
        and registry) before it leaves, so a command killed at any point leaves records the
        next :meth:`reconcile` can look up on-chain instead of sending them twice."""
        sender = chain.sender()
        creator = sender.address
        registry = str(contract.address)  # type: ignore[attr-defined]
        inputs: list[RecordInput] = []
        ids: dict[int, str] = {}
        for record in batch:
            parent_ids = [bytes.fromhex(self._parent_id(p, ids, chain)[2:]) for p in record.parents]
            record_input = record.record_input(parent_ids)
            ids[record.key] = "0x" + record_input.record_id(creator).hex()
            inputs.append(record_input)
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE records SET record_id=?, creator=?, chain_id=?, registry=?, tx_hash=NULL, "
                "block_number=NULL WHERE key=? AND status='pending'",
                [(ids[r.key], creator, chain.chain_id, registry, r.key) for r in batch],
            )
        call = contract.functions.registerBatch([i.as_tuple() for i in inputs])  # type: ignore[attr-defined]
        label = f"registerBatch of {len(batch)} record(s)"
        keys = [r.key for r in batch]
        try:
            tx_hash = sender.submit(
                {"to": registry, "data": call._encode_transaction_data()}, label=label
            )
        except ContractReverted:
            self._unsend_refused(ids)  # refused at the gas estimate: nothing left
            raise
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE records SET tx_hash=? WHERE key=?", [(tx_hash.to_0x_hex(), k) for k in keys]
            )
        try:
            receipt = sender.wait(tx_hash, label=label)
        except ContractReverted:
            self._unsend_refused(ids)
            raise
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE records SET block_number=? WHERE key=?",
                [(int(receipt["blockNumber"]), k) for k in keys],
            )
        report.tx_hashes.append(tx_hash.to_0x_hex())
        report.gas_used += int(receipt["gasUsed"])

    def _settle(self, chain: Chain) -> None:
        """Mark sent records anchored once their block is confirmed and they are on-chain."""
        rows = [
            LocalRecord.from_row(row)
            for row in self.state.conn.execute(
                "SELECT * FROM records WHERE status='pending' AND record_id IS NOT NULL "
                "AND chain_id=? AND block_number<=? ORDER BY key",
                (chain.chain_id, chain.confirmed_block()),
            )
        ]
        present = self._on_chain(chain, rows)
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE records SET status='anchored', anchored_at=? WHERE key=? "
                "AND status='pending'",
                [(time.time(), r.key) for r in rows if present[r.key]],
            )
        self._unsend([r.key for r in rows if not present[r.key]])  # left with a reorg

    _UNSEND = (
        "UPDATE records SET status='pending', record_id=NULL, creator=NULL, chain_id=NULL, "
        "registry=NULL, tx_hash=NULL, block_number=NULL, anchored_at=NULL WHERE key=?"
    )

    def _unsend(self, keys: Sequence[int]) -> None:
        with self.state.transaction() as conn:
            conn.executemany(self._UNSEND, [(k,) for k in keys])

    def _unsend_refused(self, ids: dict[int, str]) -> None:
        """Back to pending: the records of a batch the registry refused, as this anchoring
        marked them (never one anchored meanwhile, nor marked sent by another anchoring)."""
        with self.state.transaction() as conn:
            conn.executemany(
                self._UNSEND + " AND status='pending' AND record_id=?", list(ids.items())
            )

    def _on_chain(self, chain: Chain, records: Sequence[LocalRecord]) -> dict[int, bool]:
        """Whether each record's id is registered at its registry, in one JSON-RPC batch."""
        abi = load_artifact(REGISTRY).abi
        found = {r.key: False for r in records}
        registries = {r.registry for r in records if r.registry}
        alive = {a for a in registries if chain.w3.eth.get_code(to_checksum_address(a))}
        live = [r for r in records if r.registry in alive]
        if not live:
            return found
        contracts = {
            a: chain.w3.eth.contract(address=to_checksum_address(a), abi=abi) for a in alive
        }
        for start in range(0, len(live), 500):  # bounded JSON-RPC batches
            chunk = live[start : start + 500]
            with chain.w3.batch_requests() as batch:
                for r in chunk:
                    record_id = bytes.fromhex(str(r.record_id)[2:])
                    batch.add(contracts[str(r.registry)].functions.exists(record_id))
                results = list(batch.execute())
            for r, exists in zip(chunk, results, strict=True):
                found[r.key] = bool(exists)
        return found

    def reconcile(self, chain: Chain) -> list[str]:
        """Bring the ledger in line with ``chain``: a record marked anchored that the registry
        does not hold goes back to pending; a record sent whose transaction is gone or failed
        goes back to pending; a record sent that the registry holds (a command stopped before
        it could say so) is anchored once confirmed. Returns one line per correction."""
        rows = [r for r in self.all() if r.record_id is not None and r.chain_id == chain.chain_id]
        present = self._on_chain(chain, rows)
        corrections: list[str] = []
        lost = []
        for r in rows:
            if r.anchored and not present[r.key]:
                lost.append(r.key)
                corrections.append(
                    f"{r.label()} was marked anchored (record {r.record_id}, block "
                    f"{r.block_number}) but chain {chain.chain_id} does not hold it: back to "
                    "pending"
                )
            elif not r.anchored and not present[r.key]:
                fate = tx_outcome(chain, r.tx_hash).fate if r.tx_hash else Fate.GONE
                if fate != Fate.WAITING:  # not in flight: it will never land, send it again
                    lost.append(r.key)
            elif not r.anchored and r.block_number is None:
                self._find_block(chain, r)
        self._unsend(lost)
        for r in self._registered_but_pending(chain):
            self._find_block(chain, r)
        before = {r.key for r in rows if r.anchored}
        self._settle(chain)
        for r in self.all():
            if r.anchored and r.key not in before and r.chain_id == chain.chain_id:
                corrections.append(
                    f"{r.label()} is registered on chain {chain.chain_id} but was not marked "
                    "anchored: anchored now"
                )
        return corrections

    def _registered_but_pending(self, chain: Chain) -> list[LocalRecord]:
        """Pending records the current registry already holds, as sent by the default account
        (a command of an older proofmind stopped between its receipt and the ledger, or the
        ledger restored from a backup): they are marked sent, since sending them again would
        revert with RecordExists."""
        deployment = DeploymentRegistry(self.state).get(chain.chain_id, REGISTRY)
        if deployment is None or not chain.accounts:
            return []
        creator = chain.default_account.address
        ids: dict[int, str] = {}
        candidates = []
        for record in self.pending():
            if record.record_id is not None:
                continue
            parent_ids = [ids.get(p) or self.get(p).record_id for p in record.parents]
            if None in parent_ids:
                continue
            record_input = record.record_input([bytes.fromhex(str(p)[2:]) for p in parent_ids])
            ids[record.key] = "0x" + record_input.record_id(creator).hex()
            candidates.append(
                replace(record, record_id=ids[record.key], registry=deployment.address)
            )
        present = self._on_chain(chain, candidates)
        found = [r for r in candidates if present[r.key]]
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE records SET record_id=?, creator=?, chain_id=?, registry=? "
                "WHERE key=? AND status='pending'",
                [(r.record_id, creator, chain.chain_id, r.registry, r.key) for r in found],
            )
        return [self.get(r.key) for r in found]

    def _find_block(self, chain: Chain, record: LocalRecord) -> None:
        """The block and transaction that registered ``record``, from its event."""
        contract = chain.w3.eth.contract(address=record.registry, abi=load_artifact(REGISTRY).abi)  # type: ignore[arg-type]
        deployment = DeploymentRegistry(self.state).get(chain.chain_id, REGISTRY)
        since = (
            deployment.block_number if deployment and deployment.address == record.registry else 0
        )
        logs = contract.events.RecordRegistered().get_logs(
            from_block=since,
            argument_filters={"id": bytes.fromhex(record.record_id[2:])},  # type: ignore[index]
        )
        if logs:
            with self.state.transaction() as conn:
                conn.execute(
                    "UPDATE records SET tx_hash=?, block_number=? WHERE key=?",
                    (
                        logs[0]["transactionHash"].to_0x_hex(),
                        int(logs[0]["blockNumber"]),
                        record.key,
                    ),
                )

    def _parent_id(self, key: int, fresh: dict[int, str], chain: Chain) -> str:
        if key in fresh:
            return fresh[key]
        parent = self.get(key)
        if parent.record_id is None:
            raise WorkspaceError(f"parent {parent.label()} is neither anchored nor sent")
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
