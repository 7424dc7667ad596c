"""The per-candidate features of the sybil model. None of them uses a label.

Four families:

- *Graph context*: degree with and without hubs, the size and candidate count of the address's
  connected component and Leiden community. Airdrop reviews that find sybils by graph
  components (the dev labels of hop_sybil) make these look better than they are; the families
  below describe *how* a group behaves, which holds for sybils found any other way.
- *Funding tree*: who sent to whom. Each address's *primary funder* is its non-hub sender that
  sent first (when the edges carry timestamps), else the one that sent to the most addresses;
  following primary funders upwards gives the funding tree. Features: the funder's fan-out,
  the candidates it funded (siblings) and how many of them started on the bridge within a day
  or an hour of this one, the depth in the tree, whether the funder is a candidate itself,
  the candidates under the same root, and the candidates that send to the same sink.
- *Behavioural similarity inside the community*: how close in time its candidates first used
  the bridge, how alike their volumes are, and how alike their per-chain activity is.
- *Degree structure around the candidate*: senders and receivers, hub counterparties, the
  degrees of its neighbours, local clustering, leaf neighbours, candidates two steps away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray

GRAPH_CONTEXT = [
    "degree",
    "degree_without_hubs",
    "component_size",
    "component_candidates",
    "community_size",
    "community_candidates",
    "community_candidate_share",
    "candidate_neighbours",
]
FUNDING = [
    "funder_fanout",
    "funder_siblings",
    "siblings_started_within_day",
    "siblings_started_within_hour",
    "funding_depth",
    "funder_is_candidate",
    "tree_candidates",
    "sink_fanin",
]
SIMILARITY = [
    "log_volume",
    "community_first_use_spread",
    "first_use_from_community_median",
    "community_started_within_hour",
    "community_volume_spread",
    "community_similar_volume",
    "activity_profile_similarity",
    "started_within_minute",
    "similar_volume_within_hour",
]
STRUCTURE = [
    "senders",
    "receivers",
    "hub_counterparties",
    "neighbour_degree_mean",
    "neighbour_degree_max",
    "clustering",
    "leaf_neighbours",
    "two_step_candidates",
]
ACTIVITY = [
    "bridge_transfers",
    "polygon_transfers",
    "xdai_transfers",
    "optimism_transfers",
    "ethereum_transfers",
]
FEATURES = [*GRAPH_CONTEXT, *FUNDING, *SIMILARITY, *STRUCTURE, *ACTIVITY]
FAMILIES = {
    "graph context": GRAPH_CONTEXT,
    "funding tree": FUNDING,
    "behavioural similarity": SIMILARITY,
    "degree structure": STRUCTURE,
    "activity": ACTIVITY,
}

DAY = 86_400
HOUR = 3_600
SIMILAR_VOLUME = 0.1  # |Δ log volume| below this: volumes within about 10% of each other
MAX_DEPTH = 10  # funding chains are followed this far up


@dataclass
class Funding:
    """Each candidate's primary funder (or ""), the root of its funding tree (or "") and its
    depth in the tree (0: no funder)."""

    funder: list[str]
    root: list[str]
    depth: NDArray[np.float64]


def candidate_features(
    con: duckdb.DuckDBPyConnection,
    graph: Any,
    candidates: list[str],
    index: NDArray[np.int64],
    community: NDArray[np.int64],
    component: NDArray[np.int64],
    is_candidate: NDArray[np.bool_],
    meta: dict[str, tuple[float, float]],
    funding: Funding,
) -> NDArray[np.float64]:
    """The feature matrix (rows: ``candidates``; columns: ``FEATURES``). ``con`` holds the
    tables ``detect`` builds: ``e`` (every transfer), ``deg``, ``hub``, ``kept`` (transfers
    between non-hubs, by pair) and ``cand``; ``index`` maps candidates to ``graph``'s vertices."""
    volume = np.array([meta.get(a, (np.nan, np.nan))[0] for a in candidates], dtype=np.float64)
    first_use = np.array([meta.get(a, (np.nan, np.nan))[1] for a in candidates], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_volume = np.where(volume >= 0, np.log1p(volume), np.nan)
    activity = _activity(con, candidates)
    edges = np.asarray(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    columns = {
        **_graph_context(con, graph, edges, candidates, index, community, component, is_candidate),
        **_funding(con, candidates, first_use, funding),
        **_similarity(community[index], first_use, log_volume, activity),
        **_twins(first_use, log_volume),
        **_structure(con, graph, edges, candidates, index, is_candidate),
        **dict(zip(ACTIVITY, activity.T, strict=True)),
    }
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES])


def primary_funders(con: duckdb.DuckDBPyConnection, candidates: list[str]) -> Funding:
    """The funding tree above each candidate, from the ``kept`` transfers."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fanout AS SELECT s, count(*) AS k FROM kept GROUP BY s"
    )
    rows = con.execute(
        "SELECT d, s FROM (SELECT kept.d, kept.s, row_number() OVER (PARTITION BY kept.d "
        "ORDER BY kept.first_ts NULLS LAST, fanout.k DESC, kept.w DESC, kept.s) AS r "
        "FROM kept JOIN fanout USING (s)) WHERE r = 1"
    ).fetchall()
    funder_of: dict[str, str] = dict(rows)
    funders, roots, depths = [], [], []
    for address in candidates:
        seen = {address}
        node, depth = address, 0
        while depth < MAX_DEPTH and (up := funder_of.get(node)) is not None and up not in seen:
            seen.add(up)
            node, depth = up, depth + 1
        funders.append(funder_of.get(address, ""))
        roots.append(node if depth else "")
        depths.append(depth)
    return Funding(funders, roots, np.array(depths, dtype=np.float64))


def _activity(con: duckdb.DuckDBPyConnection, candidates: list[str]) -> NDArray[np.float64]:
    found = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT address, sum((kind = 'hopTransfers')::INT), sum((chain = 'polygon')::INT), "
            "sum((chain = 'xdai')::INT), sum((chain = 'optimism')::INT), "
            "sum((chain = 'ethereum')::INT) FROM (SELECT s AS address, kind, chain FROM e "
            "UNION ALL SELECT d, kind, chain FROM e) WHERE address IN (SELECT address FROM cand) "
            "GROUP BY address"
        ).fetchall()
    }
    zero = (0,) * len(ACTIVITY)
    return np.array([found.get(a, zero) for a in candidates], dtype=np.float64).reshape(
        len(candidates), len(ACTIVITY)
    )


def _graph_context(
    con: duckdb.DuckDBPyConnection,
    graph: Any,
    edges: NDArray[np.int64],
    candidates: list[str],
    index: NDArray[np.int64],
    community: NDArray[np.int64],
    component: NDArray[np.int64],
    is_candidate: NDArray[np.bool_],
) -> dict[str, Any]:
    degree = _lookup(con, "SELECT address, deg FROM deg", candidates)
    kept_degree = np.asarray(graph.degree(), dtype=np.float64)
    community_size = np.bincount(community)
    community_candidates = np.bincount(community, weights=is_candidate)
    component_candidates = np.bincount(component, weights=is_candidate)
    candidate_neighbours = _neighbour_sum(edges, is_candidate.astype(np.float64))
    c = community[index]
    return {
        "degree": degree,
        "degree_without_hubs": kept_degree[index],
        "component_size": np.bincount(component)[component[index]],
        "component_candidates": component_candidates[component[index]],
        "community_size": community_size[c],
        "community_candidates": community_candidates[c],
        "community_candidate_share": community_candidates[c] / community_size[c],
        "candidate_neighbours": candidate_neighbours[index],
    }


def _funding(
    con: duckdb.DuckDBPyConnection,
    candidates: list[str],
    first_use: NDArray[np.float64],
    funding: Funding,
) -> dict[str, Any]:
    fanout = dict(con.execute("SELECT s, k FROM fanout").fetchall())
    candidate_set = set(candidates)
    has_funder = np.array([f != "" for f in funding.funder])
    funder_id = _codes(funding.funder)
    root_id = _codes(funding.root)
    siblings = np.where(has_funder, np.bincount(funder_id)[funder_id] - 1, 0)
    day = _within(funder_id, first_use, DAY, has_funder)
    hour = _within(funder_id, first_use, HOUR, has_funder)
    has_root = np.array([r != "" for r in funding.root])
    sink = _lookup(
        con,
        "WITH out AS (SELECT s, d FROM kept WHERE s IN (SELECT address FROM cand)), "
        "fanin AS (SELECT d, count(*) AS k FROM out GROUP BY d) "
        "SELECT out.s, max(fanin.k) - 1 FROM out JOIN fanin USING (d) GROUP BY out.s",
        candidates,
    )
    return {
        "funder_fanout": [fanout.get(f, 0) if f else 0 for f in funding.funder],
        "funder_siblings": siblings,
        "siblings_started_within_day": day,
        "siblings_started_within_hour": hour,
        "funding_depth": funding.depth,
        "funder_is_candidate": [f in candidate_set for f in funding.funder],
        "tree_candidates": np.where(has_root, np.bincount(root_id)[root_id], 0),
        "sink_fanin": sink,
    }


def _similarity(
    community: NDArray[np.int64],
    first_use: NDArray[np.float64],
    log_volume: NDArray[np.float64],
    activity: NDArray[np.float64],
) -> dict[str, Any]:
    group = _codes(community.tolist())
    timed = np.isfinite(first_use)
    sized = np.isfinite(log_volume)
    n_timed = np.bincount(group, weights=timed)[group]
    n_sized = np.bincount(group, weights=sized)[group]
    spread = _group_std(group, first_use, timed)
    median = _group_median(group, first_use, timed)
    within_hour = _within(group, first_use, HOUR, timed)
    similar = _within(group, log_volume, SIMILAR_VOLUME, sized)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.zeros((group.max() + 1, activity.shape[1]))
        np.add.at(total, group, activity)
        others = total[group] - activity
        cosine = (others * activity).sum(axis=1) / (
            np.linalg.norm(others, axis=1) * np.linalg.norm(activity, axis=1)
        )
        return {
            "log_volume": log_volume,
            "community_first_use_spread": np.where(n_timed > 0, spread, np.nan),
            "first_use_from_community_median": np.abs(first_use - median),
            "community_started_within_hour": np.where(
                timed & (n_timed > 1), within_hour / (n_timed - 1), np.nan
            ),
            "community_volume_spread": np.where(
                n_sized > 0, _group_std(group, log_volume, sized), np.nan
            ),
            "community_similar_volume": np.where(
                sized & (n_sized > 1), similar / (n_sized - 1), np.nan
            ),
            "activity_profile_similarity": np.where(np.isfinite(cosine), cosine, np.nan),
        }


def _twins(first_use: NDArray[np.float64], log_volume: NDArray[np.float64]) -> dict[str, Any]:
    """Near-simultaneous bridge use among all candidates, graph or no graph: how many others
    started within a minute, and how many started within an hour with a volume within 10%."""
    timed = np.isfinite(first_use)
    minute = _within(np.zeros(len(first_use), dtype=np.int64), first_use, 60, timed)
    twins = np.zeros(len(first_use), dtype=np.float64)
    rows = np.flatnonzero(timed & np.isfinite(log_volume))
    order = rows[np.argsort(first_use[rows], kind="stable")]
    times, volumes = first_use[order], log_volume[order]
    low = np.searchsorted(times, times - HOUR, side="left")
    high = np.searchsorted(times, times + HOUR, side="right")
    for k, (a, b) in enumerate(zip(low.tolist(), high.tolist(), strict=True)):
        twins[order[k]] = np.count_nonzero(np.abs(volumes[a:b] - volumes[k]) < SIMILAR_VOLUME) - 1
    return {
        "started_within_minute": np.where(timed, minute, np.nan),
        "similar_volume_within_hour": np.where(timed & np.isfinite(log_volume), twins, np.nan),
    }


def _structure(
    con: duckdb.DuckDBPyConnection,
    graph: Any,
    edges: NDArray[np.int64],
    candidates: list[str],
    index: NDArray[np.int64],
    is_candidate: NDArray[np.bool_],
) -> dict[str, Any]:
    degree = np.asarray(graph.degree(), dtype=np.float64)
    neighbour_sum = _neighbour_sum(edges, degree)
    candidate_neighbours = _neighbour_sum(edges, is_candidate.astype(np.float64))
    two_step = _neighbour_sum(edges, candidate_neighbours) - degree * is_candidate
    largest = np.zeros(len(degree))
    np.maximum.at(largest, edges[:, 0], degree[edges[:, 1]])
    np.maximum.at(largest, edges[:, 1], degree[edges[:, 0]])
    clustering = np.asarray(
        graph.transitivity_local_undirected(vertices=index.tolist(), mode="zero"),
        dtype=np.float64,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(degree[index] > 0, neighbour_sum[index] / degree[index], 0.0)
    return {
        "senders": _lookup(
            con,
            "SELECT d, count(*) FROM kept WHERE d IN (SELECT address FROM cand) GROUP BY d",
            candidates,
        ),
        "receivers": _lookup(
            con,
            "SELECT s, count(*) FROM kept WHERE s IN (SELECT address FROM cand) GROUP BY s",
            candidates,
        ),
        "hub_counterparties": _lookup(
            con,
            "SELECT address, count(DISTINCT other) FROM (SELECT s AS address, d AS other FROM e "
            "UNION ALL SELECT d, s FROM e) WHERE address IN (SELECT address FROM cand) "
            "AND other IN (SELECT address FROM hub) GROUP BY address",
            candidates,
        ),
        "neighbour_degree_mean": mean,
        "neighbour_degree_max": largest[index],
        "clustering": clustering,
        "leaf_neighbours": _neighbour_sum(edges, (degree == 1).astype(np.float64))[index],
        "two_step_candidates": two_step[index],
    }


def _lookup(con: duckdb.DuckDBPyConnection, sql: str, candidates: list[str]) -> NDArray[np.float64]:
    """A query's (address, value) rows as a column over ``candidates`` (0 where absent)."""
    found = dict(con.execute(sql).fetchall())
    return np.array([float(found.get(a, 0) or 0) for a in candidates], dtype=np.float64)


def _neighbour_sum(edges: NDArray[np.int64], values: NDArray[np.float64]) -> NDArray[np.float64]:
    """For every vertex, the sum of ``values`` over its neighbours (``edges``: a simple graph's
    vertex pairs, each once)."""
    out = np.zeros(len(values), dtype=np.float64)
    np.add.at(out, edges[:, 0], values[edges[:, 1]])
    np.add.at(out, edges[:, 1], values[edges[:, 0]])
    return out


def _codes(keys: list[Any]) -> NDArray[np.int64]:
    """Dense integer codes of ``keys`` (equal keys, equal codes)."""
    _, codes = np.unique(np.asarray(keys), return_inverse=True)
    return np.asarray(codes, dtype=np.int64).reshape(-1)


def _within(
    group: NDArray[np.int64], value: NDArray[np.float64], width: float, valid: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """For each valid row, how many *other* valid rows of its group have a value within
    ``width`` of its own (0 for invalid rows)."""
    out = np.zeros(len(group), dtype=np.float64)
    rows = np.flatnonzero(valid)
    if not len(rows):
        return out
    # one sorted key for (group, value): groups laid end to end, further apart than any window
    low_value = float(value[rows].min())
    span = float(value[rows].max()) - low_value + 2 * width + 1
    key = group[rows] * span + (value[rows] - low_value)
    order = np.argsort(key, kind="stable")
    keys = key[order]
    low = np.searchsorted(keys, keys - width, side="left")
    high = np.searchsorted(keys, keys + width, side="right")
    out[rows[order]] = high - low - 1
    return out


def _group_std(
    group: NDArray[np.int64], value: NDArray[np.float64], valid: NDArray[np.bool_]
) -> NDArray[np.float64]:
    x = np.where(valid, value, 0.0)
    n = np.bincount(group, weights=valid.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=x) / n
        centred = np.where(valid, value - mean[group], 0.0)
        variance = np.bincount(group, weights=centred * centred) / n
    return np.sqrt(variance)[group]


def _group_median(
    group: NDArray[np.int64], value: NDArray[np.float64], valid: NDArray[np.bool_]
) -> NDArray[np.float64]:
    rows = np.flatnonzero(valid)
    median = np.full(group.max() + 1 if len(group) else 0, np.nan)
    if len(rows):
        order = rows[np.lexsort((value[rows], group[rows]))]
        g, v = group[order], value[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        ends = np.r_[starts[1:], len(g)]
        median[g[starts]] = (v[(starts + ends - 1) // 2] + v[(starts + ends) // 2]) / 2
    return median[group]
