"""Committing datasets and registering models into a workspace's lineage ledger."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from proofmind.crypto.keccak import keccak256
from proofmind.errors import CryptoError, InputError
from proofmind.provenance.dataset import (
    Commitment,
    canonical_json,
    commit_dataset,
    is_uri,
    load_commitment,
    without_secrets,
)
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.provenance.runs import LOG_FILE
from proofmind.store.stores import Stores

CARD_SUFFIX = ".card.json"
CARD_FORMAT = "proofmind-model-card-v1"
CARD_FIELDS = (
    "intended_use",
    "metrics",
    "training_data",
    "limitations",
    "fairness",
    "description",
    "license",
    "owner",
    "circuit",
)


@dataclass
class Committed:
    """A committed dataset and its (pending or anchored) record."""

    commitment: Commitment
    record: LocalRecord

    @property
    def rows(self) -> int:
        return self.commitment.manifest.rows

    @property
    def root(self) -> str:
        return self.commitment.manifest.root


def dataset_uri(name: str, manifest_hash: str) -> str:
    return f"proofmind://dataset/{quote(name)}?manifest={manifest_hash}"


def model_uri(name: str, card_hash: str) -> str:
    return f"proofmind://model/{quote(name)}?card={card_hash}"


def uri_param(uri: str, key: str) -> str | None:
    _, _, query = uri.partition("?")
    for part in query.split("&"):
        k, _, v = part.partition("=")
        if k == key:
            return v
    return None


def commit(
    workspace: Stores,
    path: Path | str,
    *,
    name: str | None = None,
    workers: int | None = None,
    progress: Any = None,
    contributions: str | None = None,
    engine: str | None = None,
    master: str | None = None,
) -> Committed:
    """Commit the dataset at ``path`` into the workspace and queue its record.

    ``contributions`` is the hash of the assembly document (kept in the blob store) when the
    dataset was assembled from signed contributions; it goes into the record's URI. ``engine``
    (local, spark or ray) commits in chunks (``proofmind-dataset-v2``, see
    :mod:`proofmind.provenance.chunked`) on that engine, ``master`` naming its cluster. The same
    unchanged data at the same path keeps its existing record.

    ``path`` may be a URI (file://, hdfs://, s3://, gs://, abfs://, …; with ``engine``): the
    workers read the files from there, and the record keeps the URI as given."""
    if is_uri(str(path)) and engine is None:
        raise InputError(
            f"{without_secrets(str(path))}: a URI is committed in chunks, on an engine",
            hint="add --engine local (or spark, ray): each worker reads its own files",
        )
    if engine is None:
        commitment = commit_dataset(
            Path(path), workspace.root / "datasets", name=name, workers=workers, progress=progress
        )
    else:
        from proofmind.provenance.chunked import commit_chunked

        commitment = commit_chunked(
            path if is_uri(str(path)) else Path(path),
            workspace.root / "datasets",
            name=name,
            engine=engine,
            master=master,
            workers=workers,
            progress=progress,
        )
    manifest = commitment.manifest
    ledger = Ledger(workspace)
    if contributions is None and name is None:
        for existing in ledger.by_path(path):
            if existing.kind == Kind.DATASET and existing.content_hash == manifest.root:
                return Committed(commitment, existing)
    uri = dataset_uri(manifest.name, manifest.hash)
    if contributions is not None:
        uri += f"&contributions={contributions}"
    record = ledger.add(
        Kind.DATASET,
        manifest.name,
        manifest.root,
        uri,
        path=path,
        meta=commitment.tree_path.parent.relative_to(workspace.root).as_posix(),
    )
    return Committed(commitment, record)


def dataset_commitment(workspace: Stores, record: LocalRecord) -> Commitment:
    if record.meta is None:
        raise InputError(f"{record.label()} has no commitment in this workspace")
    return load_commitment(workspace.root / record.meta)


# --------------------------------------------------------------------------- models


def card_hash(card: Mapping[str, Any]) -> str:
    return "0x" + keccak256(canonical_json(dict(card))).hex()


def card_message(model_hash: str, card_digest: str) -> str:
    """The text a model's owner signs (EIP-191): wallets show it as is."""
    return f"proofmind model card\nmodel: {model_hash}\ncard: {card_digest}"


def register_model(
    workspace: Stores,
    path: Path,
    *,
    name: str | None = None,
    run: Path | LocalRecord | Any = None,
    card: Mapping[str, Any] | None = None,
    owner: LocalAccount | None = None,
) -> LocalRecord:
    """Hash a model file, write its card next to it (``MODEL.card.json``, signed by ``owner``
    when given) and queue a model record whose parent is the training run."""
    model = Path(path)
    if not model.is_file():
        raise InputError(f"model {model} is not a file", hint="give the model file (e.g. .onnx)")
    ledger = Ledger(workspace)
    parent = _run_record(ledger, run) if run is not None else None
    model_hash = workspace.blobs.put_file(model)  # the copy is keyed by the file's keccak256
    unknown = set(card or {}) - set(CARD_FIELDS)
    if unknown:
        raise InputError(
            f"unknown model card field(s): {', '.join(sorted(unknown))}",
            hint=f"use {', '.join(CARD_FIELDS)}",
        )
    body: dict[str, Any] = {
        "format": CARD_FORMAT,
        "name": name or model.stem,
        "model_keccak": model_hash,
        "model_bytes": model.stat().st_size,
        **{k: v for k, v in (card or {}).items()},
    }
    if parent is not None:
        body["training_run"] = {"name": parent.name, "head": parent.content_hash}
    try:
        body = json.loads(json.dumps(body, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(f"the model card is not JSON: {exc}") from exc
    digest = card_hash(body)
    document: dict[str, Any] = {"card": body, "signature": None}
    if owner is not None:
        signed = Account.sign_message(
            encode_defunct(text=card_message(model_hash, digest)), owner.key
        )
        document["signature"] = {"signer": owner.address, "signature": signed.signature.to_0x_hex()}
    card_path = model.with_name(model.name + CARD_SUFFIX)
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(card_path)
    card_blob = workspace.blobs.put(canonical_json(document))
    return ledger.add(
        Kind.MODEL,
        body["name"],
        model_hash,
        model_uri(body["name"], digest),
        parents=[parent] if parent is not None else [],
        path=model,
        meta=card_blob,
    )


def card_signer(document: Mapping[str, Any]) -> str | None:
    """The address that signed a card document, checked; None when it is unsigned."""
    signature = document.get("signature")
    if not signature:
        return None
    body = document.get("card") or {}
    try:
        message = encode_defunct(text=card_message(str(body.get("model_keccak")), card_hash(body)))
        recovered = Account.recover_message(message, signature=signature["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CryptoError(f"the card's signature cannot be read: {exc}") from exc
    if recovered.lower() != str(signature.get("signer", "")).lower():
        raise CryptoError(
            f"the card says it was signed by {signature.get('signer')}, but the signature is "
            f"by {recovered}"
        )
    return str(recovered)


def _run_record(ledger: Ledger, run: Any) -> LocalRecord:
    if isinstance(run, LocalRecord):
        return run
    record = getattr(run, "record", None)
    if isinstance(record, LocalRecord):
        return record
    folder = Path(run)
    found = [r for r in ledger.by_path(folder) if r.kind == Kind.TRAINING_RUN]
    if not found:
        hint = "finish the run first" if (folder / LOG_FILE).exists() else "give the run folder"
        raise InputError(f"no training run recorded for {folder}", hint=hint)
    return found[0]
