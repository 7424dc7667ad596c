"""Appeals in a workspace: flagged lists, signed appeals and reviewers' decisions in SQLite
(``.proofmind/appeals.sqlite``), their history in the lineage ledger, new roots on the airdrop.

Lineage (all dataset records, which the registry lets descend from datasets only): a flagged
list; an appeal, whose parent is the list it contests; a decision, whose parents are the appeal
and the list it was applied to; the list an accepted appeal leaves, whose parent is the decision.
Everything a command checks is checked before it writes anything; what it writes goes to the
ledger (idempotent: the same document gives the same record), then on-chain, then SQLite in one
transaction, so a command that fails half-way can simply be run again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proofmind.chain.base import Chain
from proofmind.errors import ContractReverted, CryptoError, InputError, WorkspaceError
from proofmind.intel.appeals import ZERO_ROOT, Appeal, FlaggedList
from proofmind.provenance.dataset import canonical_json
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.store.sqlite import immediate
from proofmind.store.stores import Stores

AIRDROP = "SybilGatedAirdrop"
LIST_FORMAT = "proofmind-sybil-flagged-list-v1"
DECISION_FORMAT = "proofmind-sybil-appeal-decision-v1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lists (
    root           TEXT PRIMARY KEY,
    exclusion_root TEXT NOT NULL,
    parent_root    TEXT REFERENCES lists(root),
    appeal_id      TEXT,
    addresses      TEXT NOT NULL,
    source         TEXT NOT NULL,
    chain_id       INTEGER NOT NULL,
    airdrop        TEXT,
    tx_hash        TEXT,
    record_key     INTEGER NOT NULL,
    created_at     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS appeals (
    id             TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    report_root    TEXT NOT NULL REFERENCES lists(root),
    reason         TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    deadline       INTEGER NOT NULL,
    chain_id       INTEGER NOT NULL,
    signature      TEXT NOT NULL,
    record_key     INTEGER NOT NULL,
    submitted_at   REAL NOT NULL,
    UNIQUE (account, nonce)
);
CREATE TABLE IF NOT EXISTS decisions (
    appeal_id      TEXT PRIMARY KEY REFERENCES appeals(id),
    accepted       INTEGER NOT NULL,
    reviewer       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    applied_to     TEXT NOT NULL REFERENCES lists(root),
    new_root       TEXT REFERENCES lists(root),
    record_key     INTEGER NOT NULL,
    tx_hash        TEXT,
    decided_at     REAL NOT NULL
);
"""


@dataclass(frozen=True)
class ListRow:
    root: str
    exclusion_root: str
    parent_root: str | None
    appeal_id: str | None
    flagged: FlaggedList
    source: str
    chain_id: int
    airdrop: str | None
    tx_hash: str | None
    record_key: int
    created_at: float


@dataclass(frozen=True)
class Decision:
    appeal_id: str
    accepted: bool
    reviewer: str
    reason: str
    applied_to: str
    new_root: str | None
    record_key: int
    tx_hash: str | None
    decided_at: float


@dataclass(frozen=True)
class AppealRow:
    appeal: Appeal
    record_key: int
    submitted_at: float
    decision: Decision | None

    @property
    def status(self) -> str:
        if self.decision is None:
            return "pending"
        return "accepted" if self.decision.accepted else "rejected"


class AppealStore:
    """The appeals database of one workspace."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        """Opening for reading (``create=False``) a database that does not exist yet gives an
        empty one in memory, so a command that fails leaves no file behind."""
        self.path = path
        where = path if create or path.exists() else ":memory:"
        try:
            self.conn = sqlite3.connect(where, timeout=30.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise WorkspaceError(f"cannot open the appeals database {path}: {exc}") from exc

    @classmethod
    def of(cls, workspace: Stores, *, create: bool = False) -> AppealStore:
        return cls(workspace.root / "appeals.sqlite", create=create)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with immediate(self.conn) as conn:
            yield conn

    # ------------------------------------------------------------------ reads

    def list_row(self, root: str) -> ListRow | None:
        row = self.conn.execute("SELECT * FROM lists WHERE root=?", (root.lower(),)).fetchone()
        return None if row is None else _list_row(row)

    def lists(self) -> list[ListRow]:
        rows = self.conn.execute("SELECT * FROM lists ORDER BY created_at").fetchall()
        return [_list_row(r) for r in rows]

    def head(self, root: str) -> ListRow:
        """The newest list descended from ``root`` by accepted appeals (``root``'s own if none)."""
        current = self.list_row(root)
        if current is None:
            raise InputError(f"no flagged list {root} in this workspace")
        while True:
            child = self.conn.execute(
                "SELECT * FROM lists WHERE parent_root=? ORDER BY created_at DESC LIMIT 1",
                (current.root,),
            ).fetchone()
            if child is None:
                return current
            current = _list_row(child)

    def appeal(self, ref: str) -> AppealRow:
        """An appeal by its id or a unique prefix of it (at least 6 hex digits after 0x)."""
        text = ref.strip().lower()
        if not text.startswith("0x"):
            text = "0x" + text
        if len(text) < 8 or any(c not in "0123456789abcdef" for c in text[2:]):
            raise InputError(
                f"{ref!r} is not an appeal id",
                hint="give the id `sybil appeal list` shows (0x + at least 6 hex digits)",
            )
        rows = self.conn.execute(
            "SELECT * FROM appeals WHERE id LIKE ? LIMIT 2", (text + "%",)
        ).fetchall()
        if not rows:
            raise InputError(f"no appeal {ref} in this workspace", hint="`sybil appeal list`")
        if len(rows) > 1:
            raise InputError(f"{ref} names more than one appeal", hint="give more of the id")
        return self._appeal_row(rows[0])

    def appeals(self, status: str | None = None) -> list[AppealRow]:
        rows = self.conn.execute("SELECT * FROM appeals ORDER BY submitted_at").fetchall()
        found = [self._appeal_row(r) for r in rows]
        return [a for a in found if status is None or a.status == status]

    def _appeal_row(self, row: sqlite3.Row) -> AppealRow:
        appeal = Appeal(
            row["account"],
            row["report_root"],
            row["reason"],
            int(row["nonce"]),
            row["deadline"],
            row["chain_id"],
            row["signature"],
        )
        decision = self.conn.execute(
            "SELECT * FROM decisions WHERE appeal_id=?", (row["id"],)
        ).fetchone()
        return AppealRow(
            appeal,
            row["record_key"],
            row["submitted_at"],
            None if decision is None else _decision(decision),
        )


def _list_row(row: sqlite3.Row) -> ListRow:
    return ListRow(
        root=row["root"],
        exclusion_root=row["exclusion_root"],
        parent_root=row["parent_root"],
        appeal_id=row["appeal_id"],
        flagged=FlaggedList(tuple(json.loads(row["addresses"]))),
        source=row["source"],
        chain_id=row["chain_id"],
        airdrop=row["airdrop"],
        tx_hash=row["tx_hash"],
        record_key=row["record_key"],
        created_at=row["created_at"],
    )


def _decision(row: sqlite3.Row) -> Decision:
    return Decision(
        appeal_id=row["appeal_id"],
        accepted=bool(row["accepted"]),
        reviewer=row["reviewer"],
        reason=row["reason"],
        applied_to=row["applied_to"],
        new_root=row["new_root"],
        record_key=row["record_key"],
        tx_hash=row["tx_hash"],
        decided_at=row["decided_at"],
    )


# ------------------------------------------------------------------ the airdrop


def airdrop_contract(chain: Chain, address: str, reviewer: str) -> Any:
    """The SybilGatedAirdrop at ``address``, checked to be one whose owner is ``reviewer``."""
    from eth_utils.address import to_checksum_address
    from web3.exceptions import Web3Exception

    from proofmind.chain.contracts import load_artifact

    checksum = to_checksum_address(address)
    if not chain.w3.eth.get_code(checksum):
        raise InputError(f"no contract at {checksum} on chain {chain.chain_id}")
    contract = chain.w3.eth.contract(address=checksum, abi=load_artifact(AIRDROP).abi)
    try:
        owner = str(contract.functions.owner().call())
        contract.functions.exclusionRoot().call()
    except (Web3Exception, ValueError):
        raise InputError(
            f"{checksum} is not a SybilGatedAirdrop with a flagged list",
            hint="deploy the current SybilGatedAirdrop (it has setFlaggedList)",
        ) from None
    if owner.lower() != reviewer.lower():
        raise InputError(
            f"only the airdrop's owner {owner} may set its flagged list, not {reviewer}",
            hint="run this with the owner's account",
        )
    return contract


def _set_on_airdrop(chain: Chain, contract: Any, flagged: FlaggedList) -> str:
    # an empty list is no list: both roots 0, everyone may claim
    roots = (flagged.root, flagged.exclusion_root) if len(flagged) else (ZERO_ROOT, ZERO_ROOT)
    fn = contract.functions.setFlaggedList(*(bytes.fromhex(r[2:]) for r in roots))
    try:
        receipt = chain.sender().transact(fn)
    except ContractReverted as exc:  # pragma: no cover - checked before: owner and roots
        raise InputError(f"the airdrop refused the flagged list: {exc}") from exc
    return str(receipt["transactionHash"].to_0x_hex())


def _check_airdrop_holds(contract: Any, head: ListRow, new: FlaggedList) -> None:
    """Refuse to replace a list on the airdrop that is not the one the appeal was decided on
    (someone set another there since): that change would be silently undone."""
    on_chain = "0x" + bytes(contract.functions.flaggedRoot().call()).hex()
    if on_chain not in (head.root, new.root):  # new.root: a decision run again after a failure
        raise InputError(
            f"the airdrop {contract.address} holds the flagged list {on_chain}, not {head.root} "
            "that this appeal would change",
            hint="publish the list the airdrop should hold with `sybil appeal publish "
            "--airdrop`, or set it back, then decide again",
        )


# ------------------------------------------------------------------ publishing a report


def _put(workspace: Stores, document: dict[str, Any]) -> str:
    return workspace.blobs.put(canonical_json(document))


def _list_record(
    workspace: Stores, flagged: FlaggedList, source: str, parents: list[LocalRecord]
) -> LocalRecord:
    document = {
        "format": LIST_FORMAT,
        "root": flagged.root,
        "exclusion_root": flagged.exclusion_root,
        "addresses": list(flagged.addresses),
        "source": source,
    }
    digest = _put(workspace, document)
    return Ledger(workspace).add(
        Kind.DATASET,
        f"sybil flagged list {flagged.root[:10]}",
        digest,
        f"proofmind://sybil/flagged/{flagged.root}",
        parents=parents,
        meta=digest,
    )


def publish_list(
    workspace: Stores,
    chain: Chain,
    flagged: FlaggedList,
    source: str,
    airdrop: str | None = None,
) -> ListRow:
    """Record a sybil report's flagged list (appeals may then name its root), anchor it in the
    ledger and, given an airdrop, set it there. Publishing the same list again is harmless."""
    contract = None
    if airdrop is not None:
        contract = airdrop_contract(chain, airdrop, chain.sender().address)
    store = AppealStore.of(workspace, create=True)
    try:
        existing = store.list_row(flagged.root)
        if existing is not None and airdrop is None:
            return existing
        record = _list_record(workspace, flagged, source, [])
        Ledger(workspace).anchor(chain, only=[record])
        tx_hash = None
        if contract is not None:
            tx_hash = _set_on_airdrop(chain, contract, flagged)
        with store.transaction() as conn:
            if existing is None:
                conn.execute(
                    "INSERT INTO lists(root, exclusion_root, addresses, source, chain_id, airdrop, "
                    "tx_hash, record_key, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        flagged.root,
                        flagged.exclusion_root,
                        json.dumps(list(flagged.addresses)),
                        source,
                        chain.chain_id,
                        None if contract is None else contract.address,
                        tx_hash,
                        record.key,
                        time.time(),
                    ),
                )
            elif contract is not None:
                conn.execute(
                    "UPDATE lists SET airdrop=?, tx_hash=? WHERE root=?",
                    (contract.address, tx_hash, flagged.root),
                )
        found = store.list_row(flagged.root)
        assert found is not None
        return found
    finally:
        store.close()


# ------------------------------------------------------------------ appeals


@contextmanager
def _refused_twice(what: str) -> Iterator[None]:
    """Two commands racing past the checks: the database's unique keys let one through."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise InputError(f"{what} was submitted or decided by another command just now") from None


def check_appeal(store: AppealStore, appeal: Appeal, now: float) -> ListRow:
    """Every reason to refuse an appeal, before anything is written: its signature, the report
    it names, the chain, its deadline, and whether it was seen before (replay)."""
    appeal.check_signature()
    listed = store.list_row(appeal.report_root)
    if listed is None:
        raise InputError(
            f"appeal {appeal.id} names report root {appeal.report_root}, which is no flagged "
            "list of this workspace",
            hint="appeal against a root `proofmind sybil appeal publish` recorded "
            "(`sybil appeal list --reports` shows them)",
        )
    if appeal.chain_id != listed.chain_id:
        raise InputError(
            f"appeal {appeal.id} was signed for chain {appeal.chain_id}, the list is enforced "
            f"on chain {listed.chain_id}",
            hint=f"sign it again with --chain-id {listed.chain_id}",
        )
    if appeal.deadline < now:
        raise InputError(
            f"appeal {appeal.id} expired at "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(appeal.deadline))} UTC",
            hint="sign a new appeal with a later --deadline",
        )
    if appeal.account not in listed.flagged:
        raise InputError(f"{appeal.account} is not on the flagged list {listed.root}")
    seen = store.conn.execute("SELECT id FROM appeals WHERE id=?", (appeal.id,)).fetchone()
    if seen is not None:
        raise InputError(f"appeal {appeal.id} was already submitted (a replay)")
    used = store.conn.execute(
        "SELECT id FROM appeals WHERE account=? AND nonce=?", (appeal.account, str(appeal.nonce))
    ).fetchone()
    if used is not None:
        raise InputError(
            f"nonce {appeal.nonce} of {appeal.account} was already used by appeal {used['id']} "
            "(a replay)",
            hint="sign a new appeal; `sybil appeal sign` picks a fresh nonce",
        )
    return listed


def submit_appeal(workspace: Stores, appeal: Appeal, now: float | None = None) -> AppealRow:
    """Check a signed appeal and record it (pending) with its ledger record."""
    store = AppealStore.of(workspace)
    try:
        listed = check_appeal(store, appeal, time.time() if now is None else now)
        ledger = Ledger(workspace)
        digest = _put(workspace, appeal.to_json())
        record = ledger.add(
            Kind.DATASET,
            f"sybil appeal {appeal.id[:10]}",
            digest,
            f"proofmind://sybil/appeal/{appeal.id}",
            parents=[ledger.get(listed.record_key)],
            meta=digest,
        )
        with store.transaction() as conn, _refused_twice(f"appeal {appeal.id}"):
            conn.execute(
                "INSERT INTO appeals(id, account, report_root, reason, nonce, deadline, chain_id, "
                "signature, record_key, submitted_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    appeal.id,
                    appeal.account,
                    appeal.report_root,
                    appeal.reason,
                    str(appeal.nonce),
                    appeal.deadline,
                    appeal.chain_id,
                    appeal.signature,
                    record.key,
                    time.time(),
                ),
            )
        return store.appeal(appeal.id)
    finally:
        store.close()


def decide_appeal(
    workspace: Stores, chain: Chain, ref: str, accept: bool, reason: str
) -> AppealRow:
    """Accept or reject a pending appeal as this chain account (the reviewer). Accepting removes
    the address from the newest list descended from the appealed one; the new list is recorded,
    anchored with the appeal and the decision, and set on the airdrop the old list was on."""
    if not reason.strip():
        raise InputError("a decision needs a reason", hint="--reason 'why'")
    store = AppealStore.of(workspace)
    try:
        row = store.appeal(ref)
        appeal = row.appeal
        if row.decision is not None:
            raise InputError(
                f"appeal {appeal.id} was already {row.status} by {row.decision.reviewer}",
                hint="a decision is final; the address may file a new appeal",
            )
        try:
            appeal.check_signature()  # the database may have been edited since
        except CryptoError as exc:
            raise InputError(f"refusing to decide: {exc}") from exc
        reviewer = chain.sender().address
        head = store.head(appeal.report_root)
        if chain.chain_id != head.chain_id:
            raise InputError(
                f"the flagged list is on chain {head.chain_id}, this workspace is connected to "
                f"chain {chain.chain_id}"
            )
        new = None
        contract = None
        if accept:
            if appeal.account not in head.flagged:
                raise InputError(
                    f"{appeal.account} is no longer on the current list {head.root} "
                    "(an earlier appeal removed it)",
                    hint="reject this appeal as settled",
                )
            new = head.flagged.without([appeal.account])
            if head.airdrop is not None:
                contract = airdrop_contract(chain, head.airdrop, reviewer)
                _check_airdrop_holds(contract, head, new)
        ledger = Ledger(workspace)
        document = {
            "format": DECISION_FORMAT,
            "appeal": appeal.id,
            "accepted": accept,
            "reviewer": reviewer,
            "reason": reason,
            "applied_to": head.root,
            "new_root": None if new is None else new.root,
        }
        digest = _put(workspace, document)
        decision = ledger.add(
            Kind.DATASET,
            f"sybil appeal decision {appeal.id[:10]}",
            digest,
            f"proofmind://sybil/decision/{appeal.id}",
            parents=[ledger.get(row.record_key), ledger.get(head.record_key)],
            meta=digest,
        )
        last = decision
        if new is not None:
            last = _list_record(workspace, new, f"appeal {appeal.id}", [decision])
        ledger.anchor(chain, only=[last])
        tx_hash = None
        if new is not None and contract is not None:
            tx_hash = _set_on_airdrop(chain, contract, new)
        now = time.time()
        with store.transaction() as conn, _refused_twice(f"appeal {appeal.id}"):
            if new is not None and store.list_row(new.root) is None:
                conn.execute(
                    "INSERT INTO lists(root, exclusion_root, parent_root, appeal_id, addresses, "
                    "source, chain_id, airdrop, tx_hash, record_key, created_at) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new.root,
                        new.exclusion_root,
                        head.root,
                        appeal.id,
                        json.dumps(list(new.addresses)),
                        f"appeal {appeal.id}",
                        chain.chain_id,
                        head.airdrop,
                        tx_hash,
                        last.key,
                        now,
                    ),
                )
            conn.execute(
                "INSERT INTO decisions(appeal_id, accepted, reviewer, reason, applied_to, "
                "new_root, record_key, tx_hash, decided_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    appeal.id,
                    int(accept),
                    reviewer,
                    reason,
                    head.root,
                    None if new is None else new.root,
                    decision.key,
                    tx_hash,
                    now,
                ),
            )
        return store.appeal(appeal.id)
    finally:
        store.close()
