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


# Last-minute swings: per proposal, the voters among the ``k`` largest (by the voting power of
# their latest vote) whose latest vote fell in the final ``late`` share of the voting window.
# The leader (For against Against: the choices a Snapshot proposal names so, else choice 1
# against choice 2, as Governor votes are stored) is computed with every vote and without those
# late large votes: when the two differ, the late large holders decided the outcome. A Snapshot
# choice between options has no For or Against: it never flips.
SWINGS_SQL = """
WITH v AS (
    SELECT dao, proposal_id, voter, arg_max(vp, created_at) AS vp,
        arg_max(choice, created_at) AS choice, max(created_at) AS voted_at
    FROM votes WHERE dao = $dao GROUP BY dao, proposal_id, voter
),
r AS (
    SELECT v.*, p.created_at AS opens, p.voting_ends_at AS closes,
        row_number() OVER (PARTITION BY v.dao, v.proposal_id ORDER BY vp DESC, voter) AS size_rank,
        TRY_CAST(choice AS INTEGER) AS c,
        coalesce(p.approve_choice, 1) AS yes, coalesce(p.reject_choice, 2) AS no
    FROM v JOIN proposals p USING (dao, proposal_id)
    WHERE p.voting_ends_at > p.created_at
),
f AS (
    SELECT *, (size_rank <= $k AND voted_at >= closes - $late * (closes - opens)) AS late_large
    FROM r
),
t AS (
    SELECT dao, proposal_id, count(*) AS voters,
        count(*) FILTER (WHERE late_large) AS late_large_voters,
        coalesce(sum(vp) FILTER (WHERE late_large), 0) / nullif(sum(vp), 0) AS late_share,
        coalesce(sum(vp) FILTER (WHERE c = yes), 0) AS for_vp,
        coalesce(sum(vp) FILTER (WHERE c = no), 0) AS against_vp,
        coalesce(sum(vp) FILTER (WHERE c = yes AND NOT late_large), 0) AS for_before,
        coalesce(sum(vp) FILTER (WHERE c = no AND NOT late_large), 0) AS against_before
    FROM f GROUP BY dao, proposal_id
)
SELECT *, for_vp > against_vp AS for_leads, for_before > against_before AS for_led_before,
    late_large_voters > 0 AND (for_vp > against_vp) <> (for_before > against_before) AS flipped
FROM t
"""


def late_swings(
    con: duckdb.DuckDBPyConnection,
    dao: str,
    *,
    late: float = 0.1,
    top_k: int = 10,
    min_share: float = 0.0,
) -> list[dict[str, Any]]:
    """Per proposal with votes whose late large votes (the ``top_k`` largest voters voting in the
    final ``late`` share of the window) hold more than ``min_share`` of the power, or flipped
    the leader: voters, late large voters, their share, For and Against before and after,
    and whether they flipped it. Flips first, then the largest late share."""
    if not 0 < late <= 1:
        raise ValueError("late must be in (0, 1]")
    rows = con.execute(
        f"""SELECT * FROM ({SWINGS_SQL}) WHERE flipped OR late_share > $min
        ORDER BY flipped DESC, late_share DESC, dao, proposal_id""",
        {"dao": dao, "k": int(top_k), "late": float(late), "min": float(min_share)},
    ).fetchall()
    names = [
        "dao", "proposal_id", "voters", "late_large_voters", "late_share", "for_vp",
        "against_vp", "for_before", "against_before", "for_leads", "for_led_before", "flipped",
    ]  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]
