"""Wallet-signed data contributions and their assembly into one dataset.

A contributor commits their rows (a dataset commitment: Merkle root over canonical rows) and
signs, with EIP-712, *what* they contribute and *on which terms*: the dataset it is for, the
rows root and count, a licence, consent, an expiry and a nonce. The signed message's digest is
the contribution's id in the ``ContributionRegistry`` contract, where the contributor can later
revoke it. A curator assembles contributions: every signature, expiry, consent, revocation and
rows root is checked, rows that several contributors sent are kept once (for the first
contributor in the curator's order), and the result is one CSV with a ``contributor`` column
and an assembly document that names every contribution.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract

from proofmind.chain.base import Chain, utc
from proofmind.chain.contracts import load_artifact
from proofmind.crypto.eip712 import (
    Eip712Domain,
    recover_typed_data,
    sign_typed_data,
    typed_data_hash,
)
from proofmind.crypto.keccak import keccak256
from proofmind.errors import CryptoError, InputError
from proofmind.provenance.dataset import canonical_json, commit_dataset, row_bytes

DOMAIN_NAME = "proofmind Contributions"
DOMAIN_VERSION = "1"
CONTRIBUTION_TYPES = {
    "Contribution": [
        {"name": "datasetId", "type": "bytes32"},
        {"name": "rowsRoot", "type": "bytes32"},
        {"name": "rowCount", "type": "uint256"},
        {"name": "licence", "type": "bytes32"},
        {"name": "consent", "type": "bool"},
        {"name": "expiry", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ]
}
# a relayed revocation names its contributor, so a signature an ERC-1271 wallet accepts cannot be
# replayed for another wallet of the same owner key (ContributionRegistry.revokeFor)
REVOKE_TYPES = {
    "Revoke": [
        {"name": "contributor", "type": "address"},
        {"name": "contribution", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
FORMAT = "proofmind-contribution-v1"
ASSEMBLY_FORMAT = "proofmind-assembly-v1"


def dataset_id(name: str) -> bytes:
    """The id a curator announces for a dataset to be assembled: keccak256 of its name."""
    return keccak256(f"proofmind-dataset:{name}".encode())


def licence_hash(licence: str) -> bytes:
    """keccak256 of the licence text or SPDX id, e.g. ``CC-BY-4.0``."""
    return keccak256(licence.encode())


def contribution_domain(chain_id: int, registry: str) -> Eip712Domain:
    return Eip712Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry)


@dataclass(frozen=True)
class Contribution:
    """A signed contribution, as the contributor hands it to the curator (JSON)."""

    contributor: str
    dataset: str
    data_file: str
    rows_root: str
    row_count: int
    licence: str
    consent: bool
    expiry: int
    nonce: int
    chain_id: int
    registry: str
    signature: str

    @property
    def domain(self) -> Eip712Domain:
        return contribution_domain(self.chain_id, self.registry)

    def message(self) -> dict[str, Any]:
        return {
            "datasetId": dataset_id(self.dataset),
            "rowsRoot": bytes.fromhex(self.rows_root[2:]),
            "rowCount": self.row_count,
            "licence": licence_hash(self.licence),
            "consent": self.consent,
            "expiry": self.expiry,
            "nonce": self.nonce,
        }

    @property
    def id(self) -> str:
        """The EIP-712 digest: ``ContributionRegistry.contributionId(...)``."""
        digest = typed_data_hash(self.domain, CONTRIBUTION_TYPES, "Contribution", self.message())
        return "0x" + digest.hex()

    def signer(self) -> str:
        return recover_typed_data(
            self.signature, self.domain, CONTRIBUTION_TYPES, "Contribution", self.message()
        )

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **vars(self), "id": self.id}

    @classmethod
    def load(cls, path: Path) -> Contribution:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} document")
            fields = {k: data[k] for k in cls.__dataclass_fields__}
            return cls(**fields)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path} is not a readable contribution: {exc}") from exc


def contribute(
    account: LocalAccount,
    data: Path,
    *,
    dataset: str,
    licence: str,
    expiry: int,
    nonce: int,
    chain_id: int,
    registry: str,
    work_dir: Path,
    consent: bool = True,
) -> Contribution:
    """Commit ``data`` (a CSV/Parquet file) and sign a contribution of it."""
    if expiry <= time.time():
        raise InputError(f"expiry {expiry} is in the past", hint="give a future date")
    committed = commit_dataset(data, work_dir, workers=1)
    fields = {
        "contributor": account.address,
        "dataset": dataset,
        "data_file": Path(data).name,
        "rows_root": committed.manifest.root,
        "row_count": committed.manifest.rows,
        "licence": licence,
        "consent": consent,
        "expiry": expiry,
        "nonce": nonce,
        "chain_id": chain_id,
        "registry": to_checksum_address(registry),
        "signature": "",
    }
    unsigned = Contribution(**fields)  # type: ignore[arg-type]
    signature = sign_typed_data(
        account, unsigned.domain, CONTRIBUTION_TYPES, "Contribution", unsigned.message()
    )
    return Contribution(**{**fields, "signature": "0x" + signature.hex()})  # type: ignore[arg-type]


def revocation_message(
    contribution: Contribution, *, nonce: int, deadline: int, contributor: str | None = None
) -> dict[str, Any]:
    """The ``Revoke`` struct that lets anyone relay the revocation of ``contribution``."""
    return {
        "contributor": to_checksum_address(contributor or contribution.contributor),
        "contribution": bytes.fromhex(contribution.id[2:]),
        "nonce": nonce,
        "deadline": deadline,
    }


def sign_revocation(
    signer: LocalAccount,
    contribution: Contribution,
    *,
    nonce: int,
    deadline: int,
    contributor: str | None = None,
) -> bytes:
    """The contributor's EIP-712 signature for ``revokeFor(contributor, id, deadline, sig)``.

    ``contributor`` defaults to the one the contribution names; for an ERC-1271 wallet it is the
    wallet's address and ``signer`` its owner key. ``nonce`` is the registry's
    ``nonces(contributor)``; ``useNonce()`` cancels a signature that was never relayed.
    """
    message = revocation_message(
        contribution, nonce=nonce, deadline=deadline, contributor=contributor
    )
    return sign_typed_data(signer, contribution.domain, REVOKE_TYPES, "Revoke", message)


def check_registry(contribution: Contribution, registry: Contract) -> None:
    """Raise InputError unless ``contribution`` was signed for ``registry`` on its chain.

    A revocation is recorded only in the registry the contribution names: looking it up in
    another one (or on another chain) would always answer "not revoked".
    """
    who = f"contribution {contribution.id[:12]}… by {contribution.contributor}"
    chain_id = int(registry.w3.eth.chain_id)
    if contribution.chain_id != chain_id:
        raise InputError(
            f"{who} was signed for chain {contribution.chain_id}, but the registry checked is on "
            f"chain {chain_id}: its revocation cannot be looked up here",
            hint="assemble on the chain the contributor signed for, or ask them to sign again",
        )
    if to_checksum_address(contribution.registry) != to_checksum_address(registry.address):
        raise InputError(
            f"{who} was signed for the ContributionRegistry at {contribution.registry}, not the "
            f"one at {registry.address}: its revocation cannot be looked up here",
            hint="use the workspace whose registry the contributor signed for, or ask them to "
            "sign again",
        )


def revoked_at(registry: Contract, contribution: Contribution) -> int:
    """When the contributor revoked it on-chain (unix time), 0 if never."""
    return int(
        registry.functions.revokedAt(
            to_checksum_address(contribution.contributor), bytes.fromhex(contribution.id[2:])
        ).call()
    )


@dataclass
class Assembly:
    dataset: str
    output: Path
    contributions: list[Contribution]
    rows: dict[str, int] = field(default_factory=dict)  # contributor → rows kept
    duplicates: dict[str, int] = field(default_factory=dict)  # contributor → rows dropped

    def document(self) -> dict[str, Any]:
        return {
            "format": ASSEMBLY_FORMAT,
            "dataset": self.dataset,
            "contributions": [c.to_json() for c in self.contributions],
            "rows": self.rows,
            "duplicates": self.duplicates,
        }

    @property
    def hash(self) -> str:
        return "0x" + keccak256(canonical_json(self.document())).hex()


def check_contribution(
    contribution: Contribution, data: Path, registry: Contract | None, now: float, work_dir: Path
) -> None:
    """Raise InputError saying why ``contribution`` cannot be used (with ``data`` its file)."""
    who = f"contribution {contribution.id[:12]}… by {contribution.contributor}"
    try:
        signer = contribution.signer()
    except CryptoError as exc:
        raise InputError(f"{who}: {exc.message}") from exc
    if signer.lower() != contribution.contributor.lower():
        raise InputError(
            f"{who} was signed by {signer}, not by the contributor it names",
            hint="ask the contributor to sign with their own key",
        )
    leave_out = f"leave the contribution of {data.name} out of the assembly"
    if not contribution.consent:
        raise InputError(f"{who} does not give consent", hint=leave_out)
    if contribution.expiry <= now:
        raise InputError(
            f"{who} expired at {utc(contribution.expiry)}",
            hint=f"{leave_out}, or ask the contributor to sign it again with a later expiry",
        )
    if registry is not None:
        check_registry(contribution, registry)
        at = revoked_at(registry, contribution)
        if at:
            raise InputError(
                f"{who} was revoked on-chain at {utc(at)}: the contributor withdrew consent",
                hint=leave_out,
            )
    committed = commit_dataset(data, work_dir, workers=1)
    if committed.manifest.root != contribution.rows_root:
        raise InputError(
            f"{who}: {data} does not hold the signed rows (its root is "
            f"{committed.manifest.root}, the contribution's {contribution.rows_root})"
        )


def assemble(
    items: Sequence[tuple[Contribution, Path]],
    *,
    dataset: str,
    output: Path,
    registry: Contract | None,
    work_dir: Path,
    now: float | None = None,
) -> Assembly:
    """Check every contribution and write the assembled CSV to ``output``."""
    if not items:
        raise InputError("no contributions to assemble")
    now = time.time() if now is None else now
    contributors = [c.contributor.lower() for c, _ in items]
    repeated = {a for a in contributors if contributors.count(a) > 1}
    if repeated:
        raise InputError(
            f"contributor(s) {', '.join(sorted(repeated))} appear more than once",
            hint="a contributor sends one contribution per dataset; merge their files",
        )
    for contribution, data in items:
        if contribution.dataset != dataset:
            raise InputError(
                f"contribution {contribution.id[:12]}… is for dataset {contribution.dataset!r}, "
                f"not {dataset!r}"
            )
        check_contribution(contribution, data, registry, now, work_dir)
    assembly = Assembly(dataset, output, [c for c, _ in items])
    tmp = output.with_name(output.name + ".tmp")
    try:
        _write_assembly(items, tmp, assembly)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output)
    return assembly


def _write_assembly(
    items: Sequence[tuple[Contribution, Path]], target: Path, assembly: Assembly
) -> None:
    """All rows once, each with its contributor; a row already sent by an earlier
    contributor (same canonical bytes) is dropped and counted."""
    header: list[str] | None = None
    seen: set[bytes] = set()
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        for contribution, data in items:
            with Path(data).open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                file_header = next(reader, [])
                if header is None:
                    header = file_header
                    writer.writerow([*header, "contributor"])
                elif file_header != header:
                    raise InputError(f"{data} has columns {file_header}, expected {header}")
                kept = dropped = 0
                for row in reader:
                    key = keccak256(row_bytes(row))
                    if key in seen:
                        dropped += 1
                        continue
                    seen.add(key)
                    writer.writerow([*row, contribution.contributor])
                    kept += 1
            assembly.rows[contribution.contributor] = kept
            assembly.duplicates[contribution.contributor] = dropped


def assembly_check(document: dict[str, Any], chain: Chain) -> tuple[list[str], list[str]]:
    """Problems and notes for the contributions of an assembly document (see
    :meth:`Assembly.document`) on ``chain``: any expired, revoked, or on another chain."""
    problems: list[str] = []
    notes: list[str] = []
    now = time.time()
    abi = load_artifact("ContributionRegistry").abi
    for raw in document.get("contributions", []):
        fields = {k: raw[k] for k in Contribution.__dataclass_fields__}
        c = Contribution(**fields)
        who = f"contribution {c.id[:12]}… by {c.contributor}"
        if c.expiry <= now:
            problems.append(f"{who} expired at {utc(c.expiry)}: its consent has lapsed")
        if c.chain_id != chain.chain_id:
            problems.append(
                f"{who}: its revocation lives on chain {c.chain_id}, this workspace is "
                f"connected to chain {chain.chain_id}"
            )
            continue
        registry = chain.w3.eth.contract(address=to_checksum_address(c.registry), abi=abi)
        if not chain.w3.eth.get_code(registry.address):
            problems.append(f"{who}: no ContributionRegistry at {c.registry}")
            continue
        contributor = to_checksum_address(c.contributor)
        at = registry.functions.revokedAt(contributor, bytes.fromhex(c.id[2:])).call()
        if at:
            problems.append(f"{who} was revoked at {utc(at)}: consent withdrawn")
    if not any("contribution" in p for p in problems):
        count = len(document.get("contributions", []))
        notes.append(f"{count} signed contributions, none revoked or expired")
    return problems, notes
