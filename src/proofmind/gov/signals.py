"""Risk signals from votes: how concentrated the voting power behind a proposal is."""

from __future__ import annotations

import duckdb
import numpy as np
from numpy.typing import NDArray


def gini(values: NDArray[np.float64]) -> float:
    """Gini coefficient of non-negative ``values`` (0: equal, → 1: one holder has all)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    total = v.sum()
    if len(v) == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, len(v) + 1)
    return float((2 * np.sum(ranks * v) / (len(v) * total)) - (len(v) + 1) / len(v))


def nakamoto(values: NDArray[np.float64], share: float = 0.5) -> int:
    """The fewest voters whose voting power exceeds ``share`` of the total."""
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    total = v.sum()
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(v), share * total, side="right") + 1)


def concentration(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, float, int]]:
    """(dao, proposal_id, voters, Gini, Nakamoto coefficient) per proposal with votes."""
    rows = con.execute(
        "SELECT dao, proposal_id, list(vp) FROM votes GROUP BY dao, proposal_id ORDER BY 1, 2"
    ).fetchall()
    out = []
    for dao, proposal, vps in rows:
        v = np.array(vps, dtype=np.float64)
        out.append((dao, proposal, len(v), gini(v), nakamoto(v)))
    return out
