"""`proofmind verify PATH`: re-derive every hash from the files, check the on-chain records and
walk the lineage (model → training run → datasets), saying exactly what differs.

The files are checked against the anchored hashes; the copies the workspace kept when the
records were made (the dataset's Merkle tree, the run log, the model bytes and card) are used
only to *locate* a difference once a hash disagrees, never to decide that something matches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from proofmind.chain.base import Chain, utc
from proofmind.chain.contracts import load_artifact
from proofmind.errors import CryptoError, InputError, ProofmindError
from proofmind.provenance.api import (
    CARD_SUFFIX,
    card_hash,
    card_signer,
    dataset_commitment,
    uri_param,
)
from proofmind.provenance.dataset import check_dataset, is_uri
from proofmind.provenance.ledger import Ledger, LocalRecord, require_anchored_on
from proofmind.provenance.records import Kind
from proofmind.provenance.runs import (
    LOG_FILE,
    byte_at,
    byte_diff,
    changed_fields,
    diff_logs,
    file_keccak,
    read_log,
)
from proofmind.store.stores import Stores, from_project
from proofmind.text import count_of

# (a dataset's assembly document, the chain) -> (problems, notes): checks the signed
# contributions it was assembled from (proofmind.ownership.contributions.assembly_check).
AssemblyCheck = Callable[[dict[str, Any], Chain], tuple[list[str], list[str]]]


@dataclass
class Finding:
    """The verdict on one record of the lineage."""

    record: LocalRecord
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    target: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ok": self.ok,
            "records": [
                {
                    "kind": f.record.kind_name,
                    "name": f.record.name,
                    "path": f.record.path,
                    "record_id": f.record.record_id,
                    "ok": f.ok,
                    "problems": f.problems,
                    "notes": f.notes,
                }
                for f in self.findings
            ],
        }


def verify_path(
    workspace: Stores,
    path: Path | str,
    *,
    connect: Callable[[], Chain],
    workers: int | None = None,
    assembly_check: AssemblyCheck | None = None,
) -> VerifyReport:
    """Verify the model file, dataset or run folder at ``path`` and everything it came from;
    ``connect`` opens the chain the anchored records are checked on, ``assembly_check`` checks
    the signed contributions of a dataset assembled from them (see :data:`AssemblyCheck`).
    ``path`` may be the URI a dataset was committed from: it is read from there."""
    ledger = Ledger(workspace)
    target = _target_record(ledger, path if is_uri(str(path)) else Path(path))
    verifier = _Verifier(workspace, ledger, connect, workers, assembly_check)
    report = VerifyReport(str(path))
    for record in ledger.ancestors(target):
        report.findings.append(verifier.check(record))
    return report


def verify_record(
    workspace: Stores,
    record: LocalRecord,
    path: Path,
    *,
    connect: Callable[[], Chain],
    workers: int | None = None,
    assembly_check: AssemblyCheck | None = None,
) -> VerifyReport:
    """Verify the file or folder at ``path`` as if it were ``record``'s (a copy of a committed
    dataset or model sent from elsewhere), and everything ``record`` came from."""
    ledger = Ledger(workspace)
    verifier = _Verifier(workspace, ledger, connect, workers, assembly_check)
    report = VerifyReport(path.name)
    for ancestor in ledger.ancestors(record):
        checked = replace(ancestor, path=str(path)) if ancestor.key == record.key else ancestor
        report.findings.append(verifier.check(checked))
    return report


def _target_record(ledger: Ledger, path: Path | str) -> LocalRecord:
    found = ledger.by_path(path)
    if found:
        return found[0]
    if isinstance(path, str):  # a URI no record has
        raise InputError(
            f"nothing in this workspace's ledger describes {path}",
            hint=f"commit it first: `proofmind provenance dataset {path} --engine local`",
        )
    if not path.exists():
        raise InputError(f"{path} does not exist", hint="check the path")
    if path.is_file():
        by_hash = ledger.by_content(Kind.MODEL, file_keccak(path))
        if by_hash:
            return by_hash[0]
    raise InputError(
        f"nothing in this workspace's ledger describes {path}",
        hint="commit it first: `proofmind provenance dataset PATH`, a training run with "
        "track_run, or `proofmind provenance model PATH`",
    )


class _Verifier:
    def __init__(
        self,
        workspace: Stores,
        ledger: Ledger,
        connect: Callable[[], Chain],
        workers: int | None,
        assembly_check: AssemblyCheck | None = None,
    ) -> None:
        self.workspace = workspace
        self.ledger = ledger
        self._connect = connect
        self._chain: Chain | None = None
        self.workers = workers
        self.assembly_check = assembly_check

    @property
    def chain(self) -> Chain:
        if self._chain is None:
            self._chain = self._connect()
        return self._chain

    def check(self, record: LocalRecord) -> Finding:
        finding = Finding(record)
        local = {
            Kind.DATASET: self._dataset,
            Kind.TRAINING_RUN: self._run,
            Kind.MODEL: self._model,
        }.get(record.kind)
        if record.path is None:
            finding.problems.append(f"the ledger has no file or folder for {record.label()}")
        elif is_uri(record.path) and record.kind == Kind.DATASET:
            try:  # committed from a URI: read from there, chunk by chunk, on this machine
                self._dataset(record, record.path, finding)
            except ProofmindError as exc:
                finding.problems.append(exc.message)
        elif not Path(record.path).exists():
            finding.problems.append(f"{record.path} is missing")
        elif local is not None:
            try:
                local(record, Path(record.path), finding)
            except ProofmindError as exc:
                finding.problems.append(exc.message)
        self._on_chain(record, finding)
        return finding

    # ------------------------------------------------------------------ on-chain

    def _on_chain(self, record: LocalRecord, finding: Finding) -> None:
        if not record.anchored or record.record_id is None or record.creator is None:
            finding.problems.append("not anchored yet: run `proofmind provenance anchor`")
            return
        chain = self.chain
        require_anchored_on(record, chain)
        parent_ids = []
        for key in record.parents:
            parent = self.ledger.get(key)
            if parent.record_id is None:
                finding.problems.append(f"parent {parent.label()} is not anchored")
                return
            parent_ids.append(bytes.fromhex(parent.record_id[2:]))
        derived = "0x" + record.record_input(parent_ids).record_id(record.creator).hex()
        if derived != record.record_id:
            finding.problems.append(
                f"the ledger entry was altered: its fields give record id {derived}, "
                f"but {record.record_id} was anchored"
            )
            return
        address = to_checksum_address(str(record.registry))
        if not chain.w3.eth.get_code(address):
            finding.problems.append(
                f"no ProvenanceRegistry at {address} on chain {chain.chain_id} "
                "(was the chain reset?)"
            )
            return
        contract = chain.w3.eth.contract(
            address=address, abi=load_artifact("ProvenanceRegistry").abi
        )
        record_id = bytes.fromhex(record.record_id[2:])
        if not contract.functions.exists(record_id).call():
            finding.problems.append(
                f"record {record.record_id} is absent on chain {chain.chain_id} "
                f"(registry {address}): it was never registered there, or the chain was reset "
                "— `proofmind provenance anchor` registers it again"
            )
            return
        creator, kind, registered_at = contract.functions.recordOf(record_id).call()
        if str(creator).lower() != record.creator.lower() or int(kind) != int(record.kind):
            finding.problems.append(
                f"record {record.record_id} on chain has another creator or kind"
            )
            return
        finding.notes.append(
            f"on chain {chain.chain_id}: record {record.record_id[:18]}… by {creator}, "
            f"block {record.block_number}, {utc(registered_at)}"
        )

    # ------------------------------------------------------------------ datasets

    def _dataset(self, record: LocalRecord, path: Path | str, finding: Finding) -> None:
        commitment = dataset_commitment(self.workspace, record)
        manifest = commitment.manifest
        if (
            manifest.hash != uri_param(record.uri, "manifest")
            or manifest.root != record.content_hash
        ):
            finding.problems.append(
                "the workspace's copy of the manifest was altered "
                "(its hash is not the anchored one)"
            )
            return
        check = check_dataset(path, commitment, workers=self.workers)
        finding.problems += check.problems
        assembly = uri_param(record.uri, "contributions")
        if assembly is not None:
            self._contributions(assembly, finding)
        if check.ok:
            finding.notes.append(f"{manifest.rows} rows, Merkle root {manifest.root[:18]}…")

    def _contributions(self, digest: str, finding: Finding) -> None:
        """Flag contributions that expired or were revoked since the data was assembled."""
        if not self.workspace.blobs.has(digest):
            finding.problems.append(f"the assembly document {digest} is not in this workspace")
            return
        if self.assembly_check is None:
            finding.problems.append(
                "the dataset was assembled from signed contributions, which this check was not "
                "given a way to verify: use proofmind.verify_path (or `proofmind verify`)"
            )
            return
        document = json.loads(self.workspace.blobs.path_of(digest).read_bytes())
        problems, notes = self.assembly_check(document, self.chain)
        finding.problems += problems
        finding.notes += notes

    # ------------------------------------------------------------------ runs

    def _run(self, record: LocalRecord, folder: Path, finding: Finding) -> None:
        log = read_log(folder / LOG_FILE)
        finding.problems += log.problems
        committed = self._committed_log(record)
        if log.head != record.content_hash or log.problems:
            if committed is None and log.head != record.content_hash:
                finding.problems.append(
                    f"the log's head is {log.head}, the anchored head is {record.content_hash}"
                )
            elif committed is not None:
                finding.problems += diff_logs(committed, log.entries)
                if not finding.problems:
                    finding.problems.append("the log's head differs from the anchored head")
        entries = log.entries if log.head == record.content_hash else (committed or log.entries)
        artifacts = [e["data"] for e in entries if e.get("type") == "artifact"]
        for item in artifacts:
            self._artifact(item, finding)
        if not finding.problems:
            entries_n = count_of(len(entries), "log entry", "log entries")
            finding.notes.append(f"{entries_n}, {count_of(len(artifacts), 'artifact')}")

    def _committed_log(self, record: LocalRecord) -> list[dict[str, Any]] | None:
        if record.meta is None or not self.workspace.blobs.has(record.meta):
            return None
        text = self.workspace.blobs.path_of(record.meta).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    def _artifact(self, item: dict[str, Any], finding: Finding) -> None:
        path = Path(str(item.get("path")))
        if not path.is_file():
            finding.problems.append(f"artifact {item.get('name')} is missing ({path})")
            return
        if file_keccak(path) != item.get("keccak"):
            where = self._byte_diff(path, str(item.get("keccak")))
            finding.problems.append(f"artifact {item.get('name')} changed: {where}")

    # ------------------------------------------------------------------ models

    def _model(self, record: LocalRecord, path: Path, finding: Finding) -> None:
        if file_keccak(path) != record.content_hash:
            finding.problems.append(
                f"model {path.name} changed: {self._byte_diff(path, record.content_hash)}"
            )
        for key in record.parents:
            run = self.ledger.get(key)
            logged = [
                e["data"].get("name")
                for e in self._committed_log(run) or []
                if e.get("type") == "artifact" and e["data"].get("keccak") == record.content_hash
            ]
            if logged:
                finding.notes.append(f"run {run.name!r} logged this model as {logged[0]!r}")
        card_path = path.with_name(path.name + CARD_SUFFIX)
        want = uri_param(record.uri, "card")
        try:
            document = json.loads(card_path.read_text(encoding="utf-8"))
            body = document["card"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            finding.problems.append(f"model card {card_path.name} cannot be read: {exc}")
            return
        if card_hash(body) != want:
            committed = self._committed_card(record)
            if committed is None:
                finding.problems.append(f"model card {card_path.name} changed")
            else:
                for change in changed_fields(committed.get("card", {}), body):
                    finding.problems.append(f"model card field {change}")
            return
        try:
            signer = card_signer(document)
        except CryptoError as exc:
            finding.problems.append(f"model card signature: {exc.message}")
            return
        if signer is not None:
            finding.notes.append(f"card signed by {signer}")

    def _committed_card(self, record: LocalRecord) -> dict[str, Any] | None:
        if record.meta is None or not self.workspace.blobs.has(record.meta):
            return None
        data = json.loads(self.workspace.blobs.path_of(record.meta).read_bytes())
        return dict(data)

    def _from_project(self, path: Path) -> str:
        """``path`` from the project folder (the one holding the workspace), as users and the
        API name files; as it is when it lies elsewhere."""
        return from_project(self.workspace.root, str(path.resolve())) or str(path)

    def _byte_diff(self, path: Path, digest: str) -> str:
        """Where ``path`` first differs from the copy kept under ``digest``."""
        if not self.workspace.blobs.has(digest):
            return f"keccak256 is {file_keccak(path)}, anchored {digest}"
        kept = self.workspace.blobs.path_of(digest)
        first, count, size, was = byte_diff(kept, path)
        parts = []
        if first is not None:
            now, before = byte_at(path, first), byte_at(kept, first)
            parts.append(f"byte {first} is 0x{now:02x}, was 0x{before:02x}")
            if count > 1:
                parts.append(f"{count} bytes differ in all")
        if size != was:
            parts.append(f"size is {size} bytes, was {was}")
        if not parts:  # equal bytes under another hash: the kept copy itself was altered
            return (
                f"keccak256 is {file_keccak(path)}, anchored {digest}; the workspace's copy "
                f"at {self._from_project(kept)} was altered the same way"
            )
        parts.append(f"the logged copy is kept at {self._from_project(kept)}")
        return "; ".join(parts)
