"""Lineage export: the records a workspace knows, as JSON, W3C PROV-JSON or Graphviz DOT.

Datasets and models are PROV entities, training runs are activities that *used* their datasets
and *generated* their models, and each record's creator (once anchored) is an agent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from proofmind.errors import InputError
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind

FORMATS = ("json", "prov", "dot")


def lineage_records(ledger: Ledger, ref: str | None = None) -> list[LocalRecord]:
    """Every record (``ref`` None) or ``ref`` and its ancestors, oldest first."""
    records = ledger.all() if ref is None else ledger.ancestors(ledger.find(ref))
    return sorted(records, key=lambda r: r.key)


def export(records: Sequence[LocalRecord], fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown lineage format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(to_json(records), indent=2)
    if fmt == "prov":
        return json.dumps(to_prov(records), indent=2)
    return to_dot(records)


def _node(record: LocalRecord) -> str:
    return f"pm:{record.kind_name}-{record.key}"


def record_json(r: LocalRecord) -> dict[str, Any]:
    """One record as the JSON export (and the HTTP API) shows it."""
    return {
        "key": r.key,
        "kind": r.kind_name,
        "name": r.name,
        "content_hash": r.content_hash,
        "uri": r.uri,
        "path": r.path,
        "status": r.status,
        "record_id": r.record_id,
        "creator": r.creator,
        "chain_id": r.chain_id,
        "registry": r.registry,
        "tx_hash": r.tx_hash,
        "block_number": r.block_number,
        "parents": list(r.parents),
    }


def to_json(records: Sequence[LocalRecord]) -> dict[str, Any]:
    keys = {r.key for r in records}
    return {
        "records": [record_json(r) for r in records],
        "edges": [{"from": p, "to": r.key} for r in records for p in r.parents if p in keys],
    }


def to_prov(records: Sequence[LocalRecord]) -> dict[str, Any]:
    """W3C PROV-JSON (https://www.w3.org/submissions/prov-json/)."""
    doc: dict[str, Any] = {
        "prefix": {"pm": "https://proofmind.dev/ns#", "eth": "https://ethereum.org/address#"},
        "entity": {},
        "activity": {},
        "agent": {},
        "used": {},
        "wasGeneratedBy": {},
        "wasAttributedTo": {},
        "wasAssociatedWith": {},
        "wasDerivedFrom": {},
    }
    by_key = {r.key: r for r in records}
    for r in records:
        attrs: dict[str, Any] = {
            "prov:label": r.name,
            "pm:contentHash": r.content_hash,
            "pm:uri": r.uri,
            "pm:status": r.status,
        }
        if r.record_id:
            attrs |= {"pm:recordId": r.record_id, "pm:chainId": r.chain_id, "pm:tx": r.tx_hash}
        if r.kind == Kind.TRAINING_RUN:
            doc["activity"][_node(r)] = {**attrs, "prov:type": "pm:TrainingRun"}
        else:
            doc["entity"][_node(r)] = {**attrs, "prov:type": f"pm:{r.kind.name.title()}"}
        if r.creator:
            agent = f"eth:{r.creator}"
            doc["agent"][agent] = {"prov:type": "prov:SoftwareAgent"}
            relation = "wasAssociatedWith" if r.kind == Kind.TRAINING_RUN else "wasAttributedTo"
            key = "prov:activity" if r.kind == Kind.TRAINING_RUN else "prov:entity"
            doc[relation][f"_:{relation}-{r.key}"] = {key: _node(r), "prov:agent": agent}
        for p in r.parents:
            parent = by_key.get(p)
            if parent is None:
                continue
            edge = f"_:e{p}-{r.key}"
            if r.kind == Kind.TRAINING_RUN:
                doc["used"][edge] = {"prov:activity": _node(r), "prov:entity": _node(parent)}
            elif parent.kind == Kind.TRAINING_RUN:
                doc["wasGeneratedBy"][edge] = {
                    "prov:entity": _node(r),
                    "prov:activity": _node(parent),
                }
            else:
                doc["wasDerivedFrom"][edge] = {
                    "prov:generatedEntity": _node(r),
                    "prov:usedEntity": _node(parent),
                }
    return {k: v for k, v in doc.items() if v}


_SHAPES = {
    Kind.DATASET: "cylinder",
    Kind.TRAINING_RUN: "box",
    Kind.MODEL: "component",
    Kind.INFERENCE: "note",
}


def to_dot(records: Sequence[LocalRecord]) -> str:
    keys = {r.key for r in records}
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for r in records:
        status = r.record_id[:12] + "…" if r.record_id else "pending"
        label = f"{r.kind_name}: {r.name}\\n{r.content_hash[:12]}…\\n{status}"
        style = "solid" if r.anchored else "dashed"
        label = label.replace('"', '\\"')
        lines.append(f'  "{_node(r)}" [shape={_SHAPES[r.kind]}, style={style}, label="{label}"];')
    for r in records:
        for p in r.parents:
            if p in keys:
                lines.append(f'  "{_node(by_key(records, p))}" -> "{_node(r)}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def by_key(records: Sequence[LocalRecord], key: int) -> LocalRecord:
    return next(r for r in records if r.key == key)
