"""Risk signals from votes: how concentrated the voting power behind a proposal is, per
proposal and over time. Computed by DuckDB (one sort of the votes), so ten million votes take
seconds and never pass through Python."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray

# Each voter counts once per proposal, with the voting power of their latest vote (Snapshot
# keeps the last one). Ranked by voting power, ascending: the Gini coefficient is
# 2·Σ rank·vp / (n·total) − (n + 1)/n; a voter belongs to the smallest majority (the Nakamoto
# coefficient counts them) when the voters ranked above hold at most half of the total.
CONCENTRATION_SQL = """
WITH v AS (
    SELECT dao, proposal_id, voter, arg_max(vp, created_at) AS vp
    FROM votes GROUP BY dao, proposal_id, voter
),
ranked AS (
    SELECT dao, proposal_id, vp,
        row_number() OVER w AS r, sum(vp) OVER w AS upto,
        sum(vp) OVER (PARTITION BY dao, proposal_id) AS total
    FROM v
    WINDOW w AS (PARTITION BY dao, proposal_id ORDER BY vp
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT dao, proposal_id, count(*) AS voters, any_value(total) AS total_vp,
    CASE WHEN any_value(total) > 0
         THEN 2 * sum(r * vp) / (count(*) * any_value(total)) - (count(*) + 1) / count(*)
    END AS gini,
    CASE WHEN any_value(total) > 0
         THEN count(*) FILTER (WHERE total - upto <= total / 2)
    END AS nakamoto
FROM ranked
GROUP BY dao, proposal_id
"""


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


def concentration_table(con: duckdb.DuckDBPyConnection, dao: str | None = None) -> None:
    """Create the temporary table ``concentration``: per proposal with votes, the number of
    voters, their total voting power, the Gini and Nakamoto coefficients and its creation time."""
    query = CONCENTRATION_SQL
    if dao is not None:
        query = query.replace("FROM votes GROUP BY", "FROM votes WHERE dao = $dao GROUP BY")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE concentration AS
        SELECT c.*, p.created_at FROM ({query}) c LEFT JOIN proposals p USING (dao, proposal_id)""",
        {} if dao is None else {"dao": dao},
    )


def concentration(
    con: duckdb.DuckDBPyConnection, dao: str | None = None, limit: int | None = None
) -> list[tuple[str, str, int, float, int]]:
    """(dao, proposal_id, voters, Gini, Nakamoto coefficient) per proposal with votes, the most
    concentrated first (fewest voters to a majority, then highest Gini). Reads the table
    ``concentration_table`` made (makes it for ``dao`` when there is none)."""
    _ensure(con, dao)
    rows = con.execute(
        "SELECT dao, proposal_id, voters, gini, nakamoto FROM concentration "
        "ORDER BY nakamoto NULLS LAST, gini DESC NULLS LAST, dao, proposal_id"
        + ("" if limit is None else f" LIMIT {int(limit)}")
    ).fetchall()
    return [(str(d), str(p), int(n), _float(g), int(k or 0)) for d, p, n, g, k in rows]


def concentration_over_time(
    con: duckdb.DuckDBPyConnection, dao: str
) -> list[tuple[str, int, float, float, float]]:
    """Per quarter of proposal creation: (quarter, proposals with votes, median Gini, median
    Nakamoto coefficient, share of proposals decided by at most two voters' power)."""
    _ensure(con, dao)
    rows = con.execute(
        """SELECT strftime(date_trunc('quarter', to_timestamp(created_at)), '%Y-%m') AS q,
            count(*), median(gini), median(nakamoto), avg((nakamoto <= 2)::INT)
        FROM concentration WHERE created_at IS NOT NULL GROUP BY q ORDER BY q"""
    ).fetchall()
    return [(str(q), int(n), _float(g), _float(k), _float(s)) for q, n, g, k, s in rows]


def _ensure(con: duckdb.DuckDBPyConnection, dao: str | None) -> None:
    made = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'concentration' AND temporary"
    ).fetchone()
    if not made or not made[0]:
        concentration_table(con, dao)


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)
