"""Sybil detection on a transfer graph: hub exclusion, Leiden communities, per-cluster evidence,
and an optional supervised stage.

1. *Graph.* Every (from, to) transfer is an undirected edge weighted by how many transfers the
   pair made. Hubs — addresses with more distinct counterparties than ``hub_degree`` (exchanges,
   bridges, popular contracts), plus any address in a given list — are removed, so that users
   who merely share an exchange are not joined. The graph, and so its communities, depend on
   the edges and these settings only, not on which candidates are scored.
2. *Unsupervised.* Leiden (modularity) communities on what is left. An address's unsupervised
   score is the number of airdrop candidates in its community. A community with at least
   ``min_cluster`` candidates is flagged only with corroborating evidence — a shared outside
   counterparty or a common start — and the report says which. No label is used here.
3. *Supervised* (when labels are given): the features of `sybil_features` and the grouped
   cross-validation, calibration and thresholds of `sybil_model`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.intel.etherscan import ADDRESS_PATTERN, csv_error, sql_string
from proofmind.intel.sybil_features import FEATURES, candidate_features, primary_funders
from proofmind.intel.sybil_metrics import (
    fpr_threshold,
    precision_at_recall,
    recall_at_fpr,
    roc_auc,
    wilson,
)
from proofmind.text import count_of

__all__ = [
    "FEATURES",
    "Cluster",
    "SybilResult",
    "detect",
    "fpr_threshold",
    "markdown_report",
    "merkle_root",
    "precision_at_recall",
    "read_candidates",
    "recall_at_fpr",
    "roc_auc",
    "wilson",
]

EVIDENCE_CLUSTERS = 50  # the largest clusters get written evidence


@dataclass
class Cluster:
    id: int
    size: int
    candidates: list[str]
    evidence: list[str] = field(default_factory=list)


@dataclass
class SybilResult:
    addresses: list[str]  # the candidates, in input order
    community: NDArray[np.int64]
    unsupervised: NDArray[np.float64]  # candidates in the address's community
    flagged: NDArray[np.bool_]
    features: NDArray[np.float64]
    clusters: list[Cluster]
    hubs: int
    nodes: int
    edges: int
    supervised: NDArray[np.float64] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    component: NDArray[np.int64] | None = None  # connected component (hubs removed)
    funding_root: list[str] = field(default_factory=list)  # top of the funding tree, or ""
    hub_list: list[str] = field(default_factory=list)  # the hubs left out
    evidence: list[str] = field(default_factory=list)  # what corroborates the community's flag
    # metric → (value, 95% CI low, high), with labels
    cross_validation: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def read_candidates(path: Path) -> tuple[list[str], dict[str, int], dict[str, tuple[float, float]]]:
    """Candidates (``address``), labels (``is_sybil`` 0 or 1, or empty, if present) and
    metadata (``total_volume_usd``, ``first_hop_tx_ts`` if present) from a CSV; a row that
    is not one of those is an error naming its line. A candidate listed again is kept once
    (scored, counted and flagged once); listed again with another label, it is an error."""
    from eth_utils.address import is_checksum_address

    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = [(reader.line_num, r) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"cannot read {path}: {exc}", hint="give a CSV with an address column"
        ) from exc
    if not rows or "address" not in rows[0][1]:
        raise InputError(f"{path} needs an address column")
    addresses: list[str] = []
    labels: dict[str, int] = {}
    meta: dict[str, tuple[float, float]] = {}
    first: dict[str, int] = {}  # the line of each candidate, and of its label
    labelled_at: dict[str, int] = {}
    for line, r in rows:
        raw = (r.get("address") or "").strip()
        address = raw.lower()
        if not re.match(ADDRESS_PATTERN, address) or (
            raw not in (address, "0x" + address[2:].upper()) and not is_checksum_address(raw)
        ):
            raise InputError(f"line {line} of {path}: {raw!r} is not an address (0x and 40 hex)")
        label = (r.get("is_sybil") or "").strip()
        if label not in ("0", "1", ""):
            raise InputError(
                f"line {line} of {path}: is_sybil must be 0, 1 or empty, not {label!r}"
            )
        if label and labels.setdefault(address, int(label)) != int(label):
            raise InputError(
                f"line {line} of {path}: {address} has is_sybil {label} here and "
                f"{labels[address]} on line {labelled_at[address]}",
                hint="give each candidate one label",
            )
        if label:
            labelled_at.setdefault(address, line)
        if address in first:
            continue  # listed again: scored and counted once
        first[address] = line
        addresses.append(address)
        try:
            meta[address] = (
                float(r.get("total_volume_usd") or "nan"),
                float(r.get("first_hop_tx_ts") or "nan"),
            )
        except ValueError:
            raise InputError(
                f"line {line} of {path}: {raw} has a non-numeric volume or timestamp"
            ) from None
    return addresses, labels, meta


def detect(
    edge_files: Sequence[Path],
    candidates: list[str],
    *,
    meta: dict[str, tuple[float, float]] | None = None,
    labels: dict[str, int] | None = None,
    hub_degree: int = 100,
    hubs: Sequence[str] = (),
    min_cluster: int = 8,
    seed: int = 1,
    max_fpr: float = 0.02,
) -> SybilResult:
    """Score ``candidates`` on the transfer graph in ``edge_files`` (CSV/Parquet with
    ``from``, ``to`` and optionally ``chain``, ``kind`` columns)."""
    if not candidates:
        raise InputError("no candidate addresses to score")
    from proofmind.intel.etherscan import new_connection

    con = new_connection()
    _load_edges(con, edge_files)
    con.execute("CREATE TABLE cand AS SELECT DISTINCT unnest(?) AS address", [candidates])
    con.execute(
        "CREATE TABLE hub_list AS SELECT DISTINCT lower(unnest(?::VARCHAR[])) AS address",
        [list(hubs)],
    )
    con.execute(
        "CREATE TABLE deg AS SELECT address, count(DISTINCT other) AS deg FROM "
        "(SELECT s AS address, d AS other FROM e UNION ALL SELECT d, s FROM e) GROUP BY address"
    )
    con.execute(
        "CREATE TABLE hub AS SELECT address FROM deg WHERE deg > ? "
        "UNION SELECT address FROM hub_list",
        [hub_degree],
    )
    con.execute(
        "CREATE TABLE kept AS SELECT s, d, count(*) AS w, min(ts) AS first_ts FROM e "
        "WHERE s <> d AND s NOT IN (SELECT address FROM hub) "
        "AND d NOT IN (SELECT address FROM hub) "
        "GROUP BY s, d"
    )
    graph, community, component = _communities(con, seed)
    # candidates without a kept transfer are isolated vertices added after Leiden, each its
    # own community and component: the graph, and so the communities, do not depend on which
    # candidates are scored
    ids = dict(con.execute("SELECT address, id FROM nodes").fetchall())
    isolated = sorted({a for a in candidates if a not in ids})
    for k, address in enumerate(isolated):
        ids[address] = graph.vcount() + k
    graph.add_vertices(len(isolated))
    community = np.concatenate(
        [community, community.max(initial=-1) + 1 + np.arange(len(isolated))]
    )
    component = np.concatenate(
        [component, component.max(initial=-1) + 1 + np.arange(len(isolated))]
    )
    n = graph.vcount()
    index = np.array([ids[a] for a in candidates], dtype=np.int64)
    is_candidate = np.zeros(n, dtype=bool)
    is_candidate[index] = True
    community_candidates = np.bincount(community, weights=is_candidate)
    unsupervised = community_candidates[community[index]]
    large = unsupervised >= min_cluster
    corroboration = _corroboration(con, candidates, community[index], large, meta or {})
    flagged = large & np.array([corroboration.get(int(c), "") != "" for c in community[index]])

    funding = primary_funders(con, candidates)
    features = candidate_features(
        con, graph, candidates, index, community, component, is_candidate, meta or {}, funding
    )
    clusters = _clusters(con, candidates, community[index], flagged, meta or {})
    for cluster in clusters:
        cluster.evidence.insert(0, f"flagged because {corroboration[cluster.id]}")
    hub_list = [r[0] for r in con.execute("SELECT address FROM hub ORDER BY address").fetchall()]
    result = SybilResult(
        candidates,
        community[index],
        unsupervised,
        flagged,
        features,
        clusters,
        hubs=len(hub_list),
        nodes=n,
        edges=graph.ecount(),
        component=component[index],
        funding_root=funding.root,
        hub_list=hub_list,
        evidence=[corroboration.get(int(c), "") for c in community[index]],
    )
    if labels:
        from proofmind.intel.sybil_model import cross_validate

        cv = cross_validate(result, labels, seed=seed, max_fpr=max_fpr)
        supervised = np.full(len(candidates), np.nan)
        supervised[cv.rows] = cv.by_address
        result.supervised = supervised
        result.cross_validation = cv.metrics
        result.metrics = {k: v[0] for k, v in cv.metrics.items()}
        result.metrics.update({"max_fpr": max_fpr, "threshold_at_max_fpr": cv.threshold})
    con.close()
    return result


def _communities(con: duckdb.DuckDBPyConnection, seed: int) -> tuple[Any, Any, Any]:
    """The undirected graph of the ``kept`` transfers (vertices: table ``nodes``, in address
    order), its Leiden communities and its connected components."""
    import igraph as ig
    import leidenalg as la

    con.execute(
        "CREATE TABLE nodes AS SELECT address, (row_number() OVER (ORDER BY address)) - 1 AS id "
        "FROM (SELECT s AS address FROM kept UNION SELECT d FROM kept)"
    )
    n = int(con.execute("SELECT count(*) FROM nodes").fetchone()[0])  # type: ignore[index]
    # in a fixed order: Leiden's result for a seed depends on the order edges are given in,
    # and a parallel join returns rows in whatever order its threads finish
    pairs = con.execute(
        "SELECT a.id AS a, b.id AS b, w FROM kept JOIN nodes a ON a.address = kept.s "
        "JOIN nodes b ON b.address = kept.d ORDER BY a.id, b.id"
    ).fetchnumpy()
    graph = ig.Graph(n=n, edges=np.column_stack([pairs["a"], pairs["b"]]), directed=False)
    graph.es["weight"] = pairs["w"].astype(np.float64)
    graph = graph.simplify(combine_edges="sum")
    component = np.array(graph.connected_components().membership, dtype=np.int64)
    partition = la.find_partition(graph, la.ModularityVertexPartition, weights="weight", seed=seed)
    return graph, np.array(partition.membership, dtype=np.int64), component


def _load_edges(con: duckdb.DuckDBPyConnection, files: Sequence[Path]) -> None:
    if not files:
        raise InputError("no edge files given")
    parts = []
    for path in files:
        if Path(path).is_dir():  # canonical tables from `ingest` (rpc, etherscan or edges)
            for table in ("erc20_transfers", "native_transfers"):
                if any((Path(path) / table).glob("**/*.parquet")):
                    source = "read_parquet({}, union_by_name=true)".format(
                        sql_string(f"{Path(path) / table}/**/*.parquet")
                    )
                    names = [
                        c[0] for c in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                    ]
                    chain = "coalesce(chain, '')" if "chain" in names else "''"
                    ts = (
                        "TRY_CAST(timestamp AS BIGINT)"
                        if "timestamp" in names
                        else "CAST(NULL AS BIGINT)"
                    )
                    parts.append(
                        f"SELECT from_address AS s, to_address AS d, {chain} AS chain, "
                        f"'{table}' AS kind, CAST({ts} AS BIGINT) AS ts FROM {source}"
                    )
            continue
        if not Path(path).is_file():
            raise InputError(f"edge file {path} does not exist")
        reader = "read_parquet" if str(path).endswith(".parquet") else "read_csv"
        options = "" if reader == "read_parquet" else ", all_varchar=true, header=true"
        try:
            columns = [
                c[0]
                for c in con.execute(
                    f"DESCRIBE SELECT * FROM {reader}({sql_string(path)}{options})"
                ).fetchall()
            ]
        except duckdb.Error as exc:
            raise csv_error(exc, [Path(path)]) from None
        if not {"from", "to"} <= set(columns):
            raise InputError(f"{path} needs columns from and to (it has {', '.join(columns)})")
        chain = "chain" if "chain" in columns else "''"
        kind = "kind" if "kind" in columns else "''"
        ts = 'TRY_CAST("timestamp" AS BIGINT)' if "timestamp" in columns else "CAST(NULL AS BIGINT)"
        parts.append(
            f'SELECT lower("from") AS s, lower("to") AS d, {chain} AS chain, {kind} AS kind, '
            f"{ts} AS ts FROM {reader}({sql_string(path)}{options})"
        )
    if not parts:
        raise InputError("no transfers found in the given edge files or folders")
    try:
        con.execute("CREATE TABLE e AS " + " UNION ALL ".join(parts))
    except (duckdb.InvalidInputException, duckdb.IOException) as exc:
        raise csv_error(exc, [Path(p) for p in files]) from None
    bad = con.execute(
        f"SELECT count(*) FROM e WHERE NOT regexp_matches(s, '{ADDRESS_PATTERN}') "
        f"OR NOT regexp_matches(d, '{ADDRESS_PATTERN}')"
    ).fetchone()
    if bad and bad[0]:
        raise InputError(
            f"{bad[0]} edge(s) have a from or to that is not an address",
            hint="edges are rows of two 0x-addresses, columns from and to",
        )


SHARED_COUNTERPARTY = 0.5  # share of a community's candidates that used one counterparty
BURST_SECONDS = 86_400  # first bridge use within a day …
BURST_SHARE = 0.5  # … by this share of a community's candidates


def _corroboration(
    con: duckdb.DuckDBPyConnection,
    candidates: list[str],
    community: NDArray[np.int64],
    large: NDArray[np.bool_],
    meta: dict[str, tuple[float, float]],
) -> dict[int, str]:
    """For each community large enough to flag, the evidence that corroborates it, or "".

    Size alone flags ordinary users who share friends or an app; a community is flagged only
    when its candidates also share one counterparty outside their own ranks (a funder or a
    sink; hubs excluded, so an exchange does not count) or started within one day of each
    other, the two patterns of farms."""
    members: dict[int, list[str]] = {}
    for address, c, big in zip(candidates, community.tolist(), large.tolist(), strict=True):
        if big:
            members.setdefault(c, []).append(address)
    if not members:
        return {}
    rows = [(a, c) for c, addresses in members.items() for a in addresses]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE flag_cand AS SELECT unnest(?::VARCHAR[]) AS address, "
        "unnest(?::BIGINT[]) AS community",
        [[a for a, _ in rows], [c for _, c in rows]],
    )
    shared = dict(
        con.execute(
            "SELECT community, max(k) FROM (SELECT f.community, x.other, "
            "count(DISTINCT f.address) AS k FROM flag_cand f JOIN "
            "(SELECT s AS address, d AS other FROM kept UNION ALL SELECT d, s FROM kept) x "
            "USING (address) WHERE NOT EXISTS (SELECT 1 FROM flag_cand g "
            "WHERE g.address = x.other AND g.community = f.community) "
            "GROUP BY ALL) GROUP BY community"
        ).fetchall()
    )
    evidence: dict[int, str] = {}
    for c, addresses in members.items():
        found = []
        k = int(shared.get(c, 0))
        if k >= SHARED_COUNTERPARTY * len(addresses):
            found.append(f"{k} of {len(addresses)} transacted with one outside address")
        times = np.sort([t for a in addresses if np.isfinite(t := meta.get(a, (np.nan,) * 2)[1])])
        if len(times):
            within = np.searchsorted(times, times + BURST_SECONDS, side="right") - np.arange(
                len(times)
            )
            burst = int(within.max())
            if burst >= BURST_SHARE * len(addresses):
                found.append(f"{burst} of {len(addresses)} started within a day")
        evidence[c] = "; ".join(found)
    return evidence


def _clusters(
    con: duckdb.DuckDBPyConnection,
    candidates: list[str],
    community: NDArray[np.int64],
    flagged: NDArray[np.bool_],
    meta: dict[str, tuple[float, float]],
) -> list[Cluster]:
    """Flagged communities with evidence a reviewer can read, largest first."""
    members: dict[int, list[str]] = {}
    for address, c, f in zip(candidates, community.tolist(), flagged.tolist(), strict=True):
        if f:
            members.setdefault(c, []).append(address)
    clusters = []
    hubs = {r[0] for r in con.execute("SELECT address FROM hub").fetchall()}
    for rank, (c, addresses) in enumerate(sorted(members.items(), key=lambda kv: -len(kv[1]))):
        cluster = Cluster(c, len(addresses), addresses)
        clusters.append(cluster)
        if rank >= EVIDENCE_CLUSTERS:
            continue
        peers = con.execute(
            "SELECT other, count(DISTINCT address) AS k FROM "
            "(SELECT s AS address, d AS other FROM e "
            "UNION ALL SELECT d, s FROM e) WHERE address IN (SELECT unnest(?)) "
            "AND other NOT IN (SELECT unnest(?)) GROUP BY other ORDER BY k DESC, other LIMIT 3",
            [addresses, addresses],
        ).fetchall()
        for other, k in peers:
            if k >= 2:
                cluster.evidence.append(
                    f"{k} of the {len(addresses)} addresses transacted with {other[:10]}…"
                    + (" (a hub)" if other in hubs else "")
                )
        times = sorted(t for a in addresses if np.isfinite(t := meta.get(a, (np.nan, np.nan))[1]))
        if len(times) >= 2:
            window = times[-1] - times[0]
            cluster.evidence.append(
                f"first used the bridge within {_duration(window)} of each other"
            )
    return clusters


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def merkle_root(addresses: Sequence[str]) -> str:
    """Root of the flagged list as an OZ StandardMerkleTree of ``address`` leaves."""
    from proofmind.crypto.merkle import StandardMerkleTree

    if not addresses:
        return "0x" + "00" * 32
    return StandardMerkleTree.of([[a] for a in sorted(addresses)], ["address"]).root_hex


EVIDENCE_KINDS = {
    "shared counterparty": "transacted with one outside address",
    "common start": "started within a day",
}


def evidence_summary(
    result: SybilResult, labels: dict[str, int] | None = None
) -> list[tuple[str, int, int, str]]:
    """Flagged candidates by the evidence that corroborated their community: (evidence,
    communities, candidates, with labels "sybil / eligible" counts, else "")."""
    names = {
        (True, True): "shared counterparty and common start",
        (True, False): "shared counterparty only",
        (False, True): "common start only",
    }
    rows: dict[str, list[int]] = {name: [] for name in names.values()}
    for i, (flag, evidence) in enumerate(
        zip(result.flagged.tolist(), result.evidence, strict=True)
    ):
        kind = tuple(text in evidence for text in EVIDENCE_KINDS.values())
        if flag and kind in names:
            rows[names[kind]].append(i)
    out = []
    for name, members in rows.items():
        split = ""
        if labels:
            known = [labels[result.addresses[i]] for i in members if result.addresses[i] in labels]
            split = f"{sum(known):,} sybil / {len(known) - sum(known):,} eligible"
        communities = len({int(result.community[i]) for i in members})
        out.append((name, communities, len(members), split))
    return out


def markdown_report(
    result: SybilResult, limit: int = 20, labels: dict[str, int] | None = None
) -> str:
    flagged = [a for a, f in zip(result.addresses, result.flagged.tolist(), strict=True) if f]
    lines = [
        "# Sybil report",
        "",
        f"- transfer graph: {result.nodes:,} addresses, {result.edges:,} edges after removing "
        f"{result.hubs:,} hubs",
        f"- candidates: {len(result.addresses):,}; flagged: {len(flagged):,} in "
        f"{count_of(len(result.clusters), 'cluster')}",
        f"- Merkle root of the flagged list: `{merkle_root(flagged)}`",
        "",
        "## Why communities were flagged",
        "",
        "A community is flagged only when it is large and corroborated: at least half of its "
        "candidates transacted with one address outside it (hubs excluded), or started within "
        "one day of each other.",
        "",
        "| evidence | communities | candidates |" + (" labelled |" if labels else ""),
        "|---|---:|---:|" + ("---|" if labels else ""),
    ]
    for name, communities, count, split in evidence_summary(result, labels):
        lines.append(
            f"| {name} | {communities:,} | {count:,} |" + (f" {split} |" if labels else "")
        )
    if result.cross_validation:
        from proofmind.intel.sybil_model import comparison_markdown

        lines += [
            "",
            "## Evaluation on the labelled candidates",
            "",
            *comparison_markdown(result.cross_validation, result.metrics.get("max_fpr", 0.02)),
        ]
    lines += ["", f"## Largest flagged clusters (top {limit})", ""]
    for cluster in result.clusters[:limit]:
        head = ", ".join(a[:10] + "…" for a in cluster.candidates[:4])
        lines.append(f"### Cluster {cluster.id}: {cluster.size} addresses ({head})")
        lines += [f"- {line}" for line in cluster.evidence] or ["- (no shared counterparty)"]
        lines.append("")
    return "\n".join(lines) + "\n"
