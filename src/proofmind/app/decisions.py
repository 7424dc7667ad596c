"""Guarded-agent decisions as a workspace's decision log holds them: pages of decisions with
the guard's verdict, and the guarded Safes they act through."""

from __future__ import annotations

from typing import Any

from proofmind.agents.log import FINAL, OPEN, Decision, DecisionLog
from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.errors import InputError
from proofmind.workspace import Workspace

STATUSES = (*OPEN, *FINAL)
# what the on-chain guard made of each status (the dashboard's "guard" column)
GUARD_VERDICT = {
    "noop": "nothing asked",
    "decided": "not yet sent",
    "sending": "sending",
    "queued": "queued in the timelock",
    "sending_queued": "executing the queued action",
    "executed": "allowed",
    "refused": "refused",
    "vetoed": "vetoed",
    "lapsed": "lapsed",
    "withdrawn": "withdrawn: its alert was retracted",
}


def decision_view(decision: Decision) -> dict[str, Any]:
    doc = decision.to_dict()
    doc["seq"] = decision.seq
    doc["created_at"] = decision.created_at
    doc["guard"] = GUARD_VERDICT.get(decision.status, decision.status)
    return doc


def list_decisions(
    workspace: Workspace,
    *,
    policy: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Decision]:
    """A page of the decision log, newest first (empty when no agent ran here)."""
    if status is not None and status not in STATUSES:
        raise InputError(
            f"unknown decision status {status!r}", hint=f"use one of {', '.join(STATUSES)}"
        )
    before = decode_cursor("decisions", cursor)
    log = DecisionLog.existing(workspace.root)
    if log is None:
        return Page(())
    try:
        rows = log.query(
            policy=policy, status=status, limit=check_limit(limit) + 1, before_seq=before
        )
    finally:
        log.close()
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor("decisions", items[-1].seq) if more and items else None)


def guarded_safes(workspace: Workspace) -> dict[str, Any]:
    """The guarded Safes of the workspace and how many decisions are in each status."""
    log = DecisionLog.existing(workspace.root)
    if log is None:
        return {"agents": [], "counts": {}}
    try:
        agents = []
        for name in log.agent_names():
            chain_id, safe, guard = log.agent(name)
            agents.append({"name": name, "chain_id": chain_id, "safe": safe, "guard": guard})
        return {"agents": agents, "counts": log.counts()}
    finally:
        log.close()
