"""Sybil detection on a transfer graph: hub exclusion, Leiden communities, per-cluster evidence,
and an optional supervised stage.

1. *Graph.* Every (from, to) transfer is an undirected edge weighted by how many transfers the
   pair made. Hubs — addresses with more distinct counterparties than ``hub_degree`` (exchanges,
   bridges, popular contracts), plus any address in a given list — are removed, so that users
   who merely share an exchange are not joined.
2. *Unsupervised.* Leiden (modularity) communities on what is left. An address's unsupervised
   score is the number of airdrop candidates in its community; a community with at least
   ``min_cluster`` candidates is flagged, the rule a human reviewer applies to a component. No
   label is used in this stage.
3. *Supervised* (when labels are given): LightGBM on graph and behaviour features (degree,
   community and component sizes and candidate counts, candidate neighbours, bridge volume,
   how close in time the community's members first used the bridge, per-chain activity),
   evaluated by stratified 5-fold cross-validation.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.intel.etherscan import ADDRESS_PATTERN, csv_error, sql_string

EVIDENCE_CLUSTERS = 50  # the largest clusters get written evidence
FEATURES = [
    "degree",
    "degree_without_hubs",
    "component_size",
    "component_candidates",
    "community_size",
    "community_candidates",
    "community_candidate_share",
    "candidate_neighbours",
    "neighbours",
    "log_volume",
    "community_first_use_spread",
    "first_use_from_community_median",
    "bridge_transfers",
    "polygon_transfers",
    "xdai_transfers",
    "optimism_transfers",
    "ethereum_transfers",
]


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


def read_candidates(path: Path) -> tuple[list[str], dict[str, int], dict[str, tuple[float, float]]]:
    """Candidates (``address``), labels (``is_sybil`` if present) and metadata
    (``total_volume_usd``, ``first_hop_tx_ts`` if present) from a CSV."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"cannot read {path}: {exc}", hint="give a CSV with an address column"
        ) from exc
    if not rows or "address" not in rows[0]:
        raise InputError(f"{path} needs an address column")
    addresses = [r["address"].lower() for r in rows]
    labels = {
        r["address"].lower(): int(r["is_sybil"]) for r in rows if r.get("is_sybil") in ("0", "1")
    }
    meta = {}
    for r in rows:
        try:
            meta[r["address"].lower()] = (
                float(r.get("total_volume_usd") or "nan"),
                float(r.get("first_hop_tx_ts") or "nan"),
            )
        except ValueError:
            raise InputError(
                f"{path}: {r['address']} has a non-numeric volume or timestamp"
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
    import igraph as ig
    import leidenalg as la

    if not candidates:
        raise InputError("no candidate addresses to score")
    con = duckdb.connect()
    _load_edges(con, edge_files)
    con.execute("CREATE TABLE cand AS SELECT DISTINCT unnest(?) AS address", [candidates])
    con.execute("CREATE TABLE hub_list (address VARCHAR)")
    if hubs:
        con.executemany("INSERT INTO hub_list VALUES (lower(?))", [[h] for h in hubs])
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
        "CREATE TABLE kept AS SELECT s, d, count(*) AS w FROM e "
        "WHERE s <> d AND s NOT IN (SELECT address FROM hub) "
        "AND d NOT IN (SELECT address FROM hub) "
        "GROUP BY ALL"
    )
    con.execute(
        "CREATE TABLE nodes AS SELECT address, (row_number() OVER (ORDER BY address)) - 1 AS id "
        "FROM (SELECT s AS address FROM kept UNION SELECT d FROM kept "
        "UNION SELECT address FROM cand)"
    )
    n = int(con.execute("SELECT count(*) FROM nodes").fetchone()[0])  # type: ignore[index]
    # in a fixed order: Leiden's result for a seed depends on the order edges are given in,
    # and a parallel join returns rows in whatever order its threads finish
    pairs = con.execute(
        "SELECT a.id, b.id, w FROM kept JOIN nodes a ON a.address = kept.s "
        "JOIN nodes b ON b.address = kept.d ORDER BY a.id, b.id"
    ).fetchall()
    graph = ig.Graph(n=n, edges=[(a, b) for a, b, _ in pairs], directed=False)
    graph.es["weight"] = [float(w) for _, _, w in pairs]
    graph = graph.simplify(combine_edges="sum")
    component = np.array(graph.connected_components().membership)
    partition = la.find_partition(graph, la.ModularityVertexPartition, weights="weight", seed=seed)
    community = np.array(partition.membership)
    ids = dict(con.execute("SELECT address, id FROM nodes").fetchall())
    index = np.array([ids[a] for a in candidates])
    is_candidate = np.zeros(n, dtype=bool)
    is_candidate[index] = True
    community_candidates = np.bincount(community, weights=is_candidate)
    unsupervised = community_candidates[community[index]]
    large = unsupervised >= min_cluster
    corroboration = _corroboration(con, candidates, community[index], large, meta or {})
    flagged = large & np.array([corroboration.get(int(c), "") != "" for c in community[index]])

    features = _features(
        con, graph, candidates, index, community, component, is_candidate, meta or {}
    )
    clusters = _clusters(con, candidates, community[index], flagged, meta or {})
    for cluster in clusters:
        cluster.evidence.insert(0, f"flagged because {corroboration[cluster.id]}")
    result = SybilResult(
        candidates,
        community[index],
        unsupervised,
        flagged,
        features,
        clusters,
        hubs=int(con.execute("SELECT count(*) FROM hub").fetchone()[0]),  # type: ignore[index]
        nodes=n,
        edges=graph.ecount(),
        component=component[index],
    )
    if labels:
        _supervised(result, labels, seed, max_fpr)
    con.close()
    return result


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
                    parts.append(
                        f"SELECT from_address AS s, to_address AS d, {chain} AS chain, "
                        f"'{table}' AS kind FROM {source}"
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
        parts.append(
            f'SELECT lower("from") AS s, lower("to") AS d, {chain} AS chain, {kind} AS kind '
            f"FROM {reader}({sql_string(path)}{options})"
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


def _features(
    con: duckdb.DuckDBPyConnection,
    graph: Any,
    candidates: list[str],
    index: NDArray[np.int64],
    community: NDArray[np.int64],
    component: NDArray[np.int64],
    is_candidate: NDArray[np.bool_],
    meta: dict[str, tuple[float, float]],
) -> NDArray[np.float64]:
    degree = dict(con.execute("SELECT address, deg FROM deg").fetchall())
    activity = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT address, sum((kind = 'hopTransfers')::INT), sum((chain = 'polygon')::INT), "
            "sum((chain = 'xdai')::INT), sum((chain = 'optimism')::INT), "
            "sum((chain = 'ethereum')::INT) FROM (SELECT s AS address, kind, chain FROM e "
            "UNION ALL SELECT d, kind, chain FROM e) WHERE address IN (SELECT address FROM cand) "
            "GROUP BY address"
        ).fetchall()
    }
    community_size = np.bincount(community)
    component_size = np.bincount(component)
    community_candidates = np.bincount(community, weights=is_candidate)
    component_candidates = np.bincount(component, weights=is_candidate)
    first_use: dict[int, list[float]] = {}
    for address, i in zip(candidates, index, strict=True):
        ts = meta.get(address, (np.nan, np.nan))[1]
        if np.isfinite(ts):
            first_use.setdefault(int(community[i]), []).append(ts)
    spread = {c: float(np.std(v)) for c, v in first_use.items()}
    median = {c: float(np.median(v)) for c, v in first_use.items()}
    adjacency = graph.get_adjlist()
    rows = []
    for address, i in zip(candidates, index, strict=True):
        c = int(community[i])
        volume, ts = meta.get(address, (np.nan, np.nan))
        neighbours = adjacency[i]
        rows.append(
            [
                degree.get(address, 0),
                len(neighbours),
                component_size[component[i]],
                component_candidates[component[i]],
                community_size[c],
                community_candidates[c],
                community_candidates[c] / community_size[c],
                int(is_candidate[neighbours].sum()) if neighbours else 0,
                len(neighbours),
                np.log1p(volume) if np.isfinite(volume) else np.nan,
                spread.get(c, np.nan),
                abs(ts - median[c]) if np.isfinite(ts) and c in median else np.nan,
                *activity.get(address, (0, 0, 0, 0, 0)),
            ]
        )
    return np.array(rows, dtype=np.float64)


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
    con.execute("CREATE OR REPLACE TEMP TABLE flag_cand (address VARCHAR, community BIGINT)")
    con.executemany("INSERT INTO flag_cand VALUES (?, ?)", rows)
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


ROUNDS = 300


def _params(seed: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 20,
        "verbosity": -1,
        "seed": seed,
        # the same scores on every run: see fraud.PARAMS
        "num_threads": 2,
        "deterministic": True,
        "force_col_wise": True,
    }


def train_model(result: SybilResult, labels: dict[str, int], seed: int = 1) -> Any:
    """A LightGBM model of P(sybil) from the graph features of every labelled candidate."""
    import lightgbm as lgb

    rows = _labelled_rows(result, labels)
    y = np.array([labels[result.addresses[i]] for i in rows])
    dataset = lgb.Dataset(result.features[rows], y, feature_name=FEATURES)
    return lgb.train(_params(seed), dataset, ROUNDS)


def _labelled_rows(result: SybilResult, labels: dict[str, int]) -> NDArray[np.int64]:
    """The labelled candidates' rows; an error when 5-fold CV or training cannot work."""
    rows = np.array([i for i, a in enumerate(result.addresses) if a in labels], dtype=np.int64)
    counts = np.bincount([labels[result.addresses[i]] for i in rows], minlength=2)
    if len(rows) < 10 or counts.min() < 5:
        raise InputError(
            f"{len(rows)} labelled candidates ({counts[1]} sybil, {counts[0]} not): too few to "
            "train a model (5-fold CV needs at least 5 of each)",
            hint="label more candidates (is_sybil 0 and 1), or run without labels",
        )
    return rows


def _supervised(
    result: SybilResult, labels: dict[str, int], seed: int, max_fpr: float = 0.02
) -> None:
    import lightgbm as lgb

    from proofmind.intel.fraud import average_precision, stratified_folds

    rows = _labelled_rows(result, labels)
    y = np.array([labels[result.addresses[i]] for i in rows])
    x = result.features[rows]
    fold = stratified_folds(y, 5, seed)
    scores = np.zeros(len(y))
    params = _params(seed)
    for k in range(5):
        model = lgb.train(params, lgb.Dataset(x[fold != k], y[fold != k]), ROUNDS)
        scores[fold == k] = model.predict(x[fold == k])
    supervised = np.full(len(result.addresses), np.nan)
    supervised[rows] = scores
    result.supervised = supervised
    # grouped CV: a Leiden community never sits on both sides, as on a hold-out of other
    # clusters; and the rule baseline "same component as a known sybil", fitted the same way
    groups = result.community[rows]
    grouped = grouped_folds(groups, 5, seed)
    grouped_scores = np.zeros(len(y))
    baseline = np.zeros(len(y))
    components = result.component[rows] if result.component is not None else groups
    for k in range(5):
        train_rows, test_rows = grouped != k, grouped == k
        model = lgb.train(params, lgb.Dataset(x[train_rows], y[train_rows]), ROUNDS)
        grouped_scores[test_rows] = model.predict(x[test_rows])
        known = set(components[train_rows & (y == 1)].tolist())
        baseline[test_rows] = np.isin(components[test_rows], list(known))
    result.metrics = {
        "roc_auc": roc_auc(y, scores),
        "pr_auc": average_precision(y, scores),
        "precision_at_recall_0.7": precision_at_recall(y, scores, 0.7),
        "unsupervised_roc_auc": roc_auc(y, result.unsupervised[rows]),
        "false_positive_rate_eligible": float(np.mean(scores[y == 0] >= 0.5)),
        "unsupervised_false_positive_rate_eligible": float(np.mean(result.flagged[rows][y == 0])),
        "grouped_roc_auc": roc_auc(y, grouped_scores),
        "grouped_precision_at_recall_0.7": precision_at_recall(y, grouped_scores, 0.7),
        "grouped_recall_at_fpr_0.02": recall_at_fpr(y, grouped_scores, 0.02),
        "grouped_false_positive_rate_eligible": float(np.mean(grouped_scores[y == 0] >= 0.5)),
        "baseline_same_component_roc_auc": roc_auc(y, baseline),
        "baseline_same_component_recall": float(np.mean(baseline[y == 1])),
        "baseline_same_component_false_positive_rate_eligible": float(np.mean(baseline[y == 0])),
    }
    # the threshold for a target false-positive rate, chosen on the grouped out-of-fold scores,
    # and the false-positive rate it gives with a 95% interval (Wilson) over the eligible ones
    threshold = fpr_threshold(y, grouped_scores, max_fpr)
    negatives = int((y == 0).sum())
    false = int((grouped_scores[y == 0] >= threshold).sum())
    low, high = wilson(false, negatives)
    result.metrics.update(
        {
            "max_fpr": max_fpr,
            "threshold_at_max_fpr": threshold,
            "fpr_at_threshold": false / max(negatives, 1),
            "fpr_at_threshold_ci_low": low,
            "fpr_at_threshold_ci_high": high,
            "recall_at_threshold": float(np.mean(grouped_scores[y == 1] >= threshold)),
        }
    )


def fpr_threshold(y: NDArray[np.int64], score: NDArray[np.float64], max_fpr: float) -> float:
    """The lowest score threshold at which at most ``max_fpr`` of the negatives score at or
    above it (scores ≥ threshold are flagged)."""
    negatives = np.sort(score[y == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(negatives)))
    if allowed >= len(negatives):
        return float(negatives.min()) if len(negatives) else 0.5
    above = float(negatives[allowed])  # the highest negative that must stay unflagged
    return float(np.nextafter(above, np.inf))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson 95% interval of a proportion k / n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def grouped_folds(groups: NDArray[np.int64], folds: int, seed: int) -> NDArray[np.int64]:
    """A fold per row such that all rows of a group share one fold: groups in random order,
    largest first, each to the fold with the fewest rows so far."""
    rng = np.random.default_rng(seed)
    names, sizes = np.unique(groups, return_counts=True)
    order = sorted(range(len(names)), key=lambda i: (-sizes[i], rng.random()))
    load = np.zeros(folds, dtype=np.int64)
    fold_of: dict[int, int] = {}
    for i in order:
        k = int(np.argmin(load))
        fold_of[int(names[i])] = k
        load[k] += sizes[i]
    return np.array([fold_of[int(g)] for g in groups], dtype=np.int64)


def recall_at_fpr(y: NDArray[np.int64], score: NDArray[np.float64], fpr: float) -> float:
    """The recall at the threshold whose false-positive rate among negatives is ≤ ``fpr``."""
    negatives = np.sort(score[y == 0])[::-1]
    if not len(negatives):
        return float("nan")
    allowed = int(np.floor(fpr * len(negatives)))
    threshold = negatives[allowed] if allowed < len(negatives) else -np.inf
    return float(np.mean(score[y == 1] > threshold))


def roc_auc(y: NDArray[np.int64], score: NDArray[np.float64]) -> float:
    """Area under the ROC curve by the rank-sum formula; tied scores share their mean rank."""
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2)[inverse]
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        raise InputError("ROC-AUC needs both classes among the labelled addresses")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def precision_at_recall(y: NDArray[np.int64], score: NDArray[np.float64], recall: float) -> float:
    """The best precision among thresholds whose recall is at least ``recall``."""
    order = np.argsort(-score, kind="stable")
    hits = np.cumsum(y[order] == 1)
    precision = hits / np.arange(1, len(y) + 1)
    reached = hits / max(int((y == 1).sum()), 1) >= recall
    return float(precision[reached].max()) if reached.any() else 0.0


def merkle_root(addresses: Sequence[str]) -> str:
    """Root of the flagged list as an OZ StandardMerkleTree of ``address`` leaves."""
    from proofmind.crypto.merkle import StandardMerkleTree

    if not addresses:
        return "0x" + "00" * 32
    return StandardMerkleTree.of([[a] for a in sorted(addresses)], ["address"]).root_hex


def markdown_report(result: SybilResult, limit: int = 20) -> str:
    flagged = [a for a, f in zip(result.addresses, result.flagged.tolist(), strict=True) if f]
    lines = [
        "# Sybil report",
        "",
        f"- transfer graph: {result.nodes:,} addresses, {result.edges:,} edges after removing "
        f"{result.hubs:,} hubs",
        f"- candidates: {len(result.addresses):,}; flagged: {len(flagged):,} in "
        f"{len(result.clusters):,} clusters",
        f"- Merkle root of the flagged list: `{merkle_root(flagged)}`",
    ]
    if result.metrics:
        lines += ["", "## Evaluation on the labelled addresses (5-fold CV)", ""]
        lines += [f"- {k.replace('_', ' ')}: {v:.4f}" for k, v in result.metrics.items()]
    lines += ["", f"## Largest flagged clusters (top {limit})", ""]
    for cluster in result.clusters[:limit]:
        head = ", ".join(a[:10] + "…" for a in cluster.candidates[:4])
        lines.append(f"### Cluster {cluster.id}: {cluster.size} addresses ({head})")
        lines += [f"- {line}" for line in cluster.evidence] or ["- (no shared counterparty)"]
        lines.append("")
    return "\n".join(lines) + "\n"
