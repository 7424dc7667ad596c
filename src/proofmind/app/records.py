"""Lineage records of a workspace: list by kind, look one up, export a record's lineage."""

from __future__ import annotations

import os
import re
from typing import Any

from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.errors import InputError, NotFound, WorkspaceError
from proofmind.provenance.dataset import is_uri
from proofmind.provenance.ledger import KIND_NAMES, Ledger, LocalRecord
from proofmind.provenance.lineage import export, record_json
from proofmind.provenance.records import Kind
from proofmind.store.stores import from_project
from proofmind.workspace import Workspace

KINDS: dict[str, Kind] = {name: kind for kind, name in KIND_NAMES.items()}
# a record is named by its local key or by a 0x-prefixed 32-byte id (on-chain id or content
# hash); never by a path, so no request can make the server look at a file of its choosing
_REF = re.compile(r"^(?:[0-9]{1,18}|0x[0-9a-fA-F]{64})$")


def parse_kind(name: str | None) -> Kind | None:
    if name is None:
        return None
    kind = KINDS.get(name)
    if kind is None:
        raise InputError(f"unknown record kind {name!r}", hint=f"use one of {', '.join(KINDS)}")
    return kind


def record_view(workspace: Workspace, record: LocalRecord) -> dict[str, Any]:
    """A record as shown outside the workspace: its path relative to the project folder."""
    view = record_json(record)
    view["path"] = shown_path(workspace, record.path)
    view["created_at"] = record.created_at
    view["state"] = record.state
    return view


def shown_path(workspace: Workspace, path: str | None) -> str | None:
    if path is None:
        return None
    if is_uri(path):  # a dataset committed from another file system: its URI as given
        return path
    shown = from_project(workspace.root, path)
    return shown if shown is not None else os.path.basename(path)


def list_records(
    workspace: Workspace, *, kind: str | None = None, limit: int = 100, cursor: str | None = None
) -> Page[LocalRecord]:
    """A page of records (of ``kind``: dataset, run, model, inference), oldest first."""
    chosen = parse_kind(kind)
    after = decode_cursor("records", cursor) or 0
    rows = Ledger(workspace).page(
        kinds=() if chosen is None else (chosen,), after_key=after, limit=check_limit(limit) + 1
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor("records", items[-1].key) if more and items else None)


def is_record_ref(ref: str) -> bool:
    """Whether ``ref`` has the form of a local key (a number) or a 0x record id."""
    return bool(_REF.match(ref))


def get_record(workspace: Workspace, ref: str, *, kind: str | None = None) -> LocalRecord:
    """The record with local key or 0x id ``ref`` (of ``kind``, when given)."""
    if not is_record_ref(ref):
        raise InputError(
            f"{ref[:80]!r} is not a record key or id",
            hint="give a local key (a number) or a 0x-prefixed 32-byte record id or content hash",
        )
    ledger = Ledger(workspace)
    try:
        record = ledger.find(ref)
    except (InputError, WorkspaceError) as exc:
        raise NotFound(
            f"no record for {ref!r} in this workspace",
            hint="`proofmind provenance list` (or GET /api/v1/records) shows them",
        ) from exc
    wanted = parse_kind(kind)
    if wanted is not None and record.kind != wanted:
        raise NotFound(f"record {ref!r} is a {record.kind_name}, not a {kind}")
    return record


DIRECTIONS = ("ancestors", "descendants", "both")


def parse_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise InputError(
            f"unknown lineage direction {direction!r}", hint=f"use one of {', '.join(DIRECTIONS)}"
        )
    return direction


def descendants(workspace: Workspace, record: LocalRecord) -> list[LocalRecord]:
    """``record`` and every record made from it (runs that used a dataset, the models they
    produced, the inferences of those models, …), each once: one query per generation."""
    seen: dict[int, LocalRecord] = {record.key: record}
    frontier = [record.key]
    conn = workspace.state.conn
    while frontier:
        found: list[LocalRecord] = []
        for at in range(0, len(frontier), 500):  # SQLite's bound-parameter limit
            batch = frontier[at : at + 500]
            rows = conn.execute(
                "SELECT DISTINCT r.* FROM records AS r, json_each(r.parents) AS p "
                f"WHERE p.value IN ({','.join('?' * len(batch))})",
                batch,
            ).fetchall()
            found += [LocalRecord.from_row(row) for row in rows]
        frontier = []
        for child in found:
            if child.key not in seen:
                seen[child.key] = child
                frontier.append(child.key)
    return list(seen.values())


def record_lineage(
    workspace: Workspace,
    ref: str | None,
    fmt: str = "json",
    *,
    paths: bool = False,
    direction: str = "ancestors",
) -> tuple[int, str]:
    """``ref`` and its ancestors (everything when None) as JSON, PROV-JSON or DOT text; with
    the number of records exported (`proofmind provenance lineage`). ``direction``:
    ``descendants`` follows the lineage the other way (what was made from ``ref``), ``both``
    gives the two. ``paths``: ``ref`` may also be a committed file's path (the CLI's
    reading; the HTTP API never allows it)."""
    parse_direction(direction)
    ledger = Ledger(workspace)
    if ref is None:
        records = ledger.all()
    else:
        root = ledger.find(ref) if paths else get_record(workspace, ref)
        up = ledger.ancestors(root) if direction != "descendants" else [root]
        down = descendants(workspace, root) if direction != "ancestors" else [root]
        records = list({r.key: r for r in [*up, *down]}.values())
    records = sorted(records, key=lambda r: r.key)
    return len(records), export(records, fmt)


def counts(workspace: Workspace) -> dict[str, int]:
    """Records per kind and state, for an overview."""
    rows = workspace.state.conn.execute(
        "SELECT kind, status, record_id IS NOT NULL AS sent, count(*) AS n FROM records "
        "GROUP BY kind, status, sent"
    ).fetchall()
    out: dict[str, int] = {name: 0 for name in KINDS} | {"anchored": 0, "pending": 0}
    for row in rows:
        out[KIND_NAMES[Kind(row["kind"])]] += row["n"]
        out["anchored" if row["status"] == "anchored" else "pending"] += row["n"]
    return out
