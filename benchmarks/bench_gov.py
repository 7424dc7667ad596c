"""Governance at scale: `gov ingest` + features + predict (+ vote concentration) on synthetic
proposals in Decentraland's export format and Snapshot votes as JSON lines.

The data is made by DuckDB before the clock starts: N proposals (12 types with different pass
rates, 5,000 authors of different success, titles from a small vocabulary, a week or two of
voting, the last 1% still open) and M votes spread over them (voters from a pool of 200,000 with
heavy-tailed voting power). Each size runs in a fresh process, so its peak memory is its own.

Usage: python benchmarks/bench_gov.py [--proposals 100000] [--votes 10000000 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

TYPES = ["poll", "grant", "poi", "draft", "governance", "ban_name", "linked_wearables", "pitch",
         "bid", "hiring", "tender", "catalyst"]  # fmt: skip
WORDS = ["add", "fund", "grant", "location", "wearables", "ban", "name", "treasury", "update",
         "council", "budget", "event", "parcel", "land", "mana", "dao", "policy",
         "forum"]  # fmt: skip


def make_data(folder: Path, proposals: int, votes: int) -> tuple[Path, Path]:
    """proposals.csv (Decentraland's columns) and votes.jsonl (Snapshot vote objects)."""
    con = duckdb.connect()
    types = "[" + ", ".join(f"'{t}'" for t in TYPES) + "]"
    words = "[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    con.execute(
        f"""CREATE TABLE p AS
        WITH base AS (
            SELECT i, 1600000000 + i * 600 + (hash(i) % 600)::BIGINT AS t,
                {types}[1 + (hash(i * 7) % 12)::INT] AS type,
                (hash(i * 13) % 5000)::BIGINT AS a,
                concat_ws(' ', {words}[1 + (hash(i * 17) % 18)::INT],
                    {words}[1 + (hash(i * 19) % 18)::INT], {words}[1 + (hash(i * 23) % 18)::INT],
                    i::VARCHAR) AS title
            FROM range({proposals}) r(i)
        )
        SELECT *, (0.15 + 0.6 * ((hash(type) % 100) / 100.0) + 0.2 * (a % 3 = 0)::INT
                   - 0.1 * (a % 5 = 0)::INT) AS p_pass
        FROM base"""
    )
    csv_path = folder / "proposals.csv"
    con.execute(
        f"""COPY (
            SELECT 'id-' || i AS proposal_id, 'snap-' || i AS snapshot_id,
                '0x' || lpad(format('{{:x}}', a), 40, '0') AS author, type, title,
                strftime(to_timestamp(t), '%Y-%m-%dT%H:%M:%S.000Z') AS created_at,
                strftime(to_timestamp(t + 86400 * (7 + 7 * (i % 2))), '%Y-%m-%dT%H:%M:%S.000Z')
                    AS voting_ends_at,
                (500000 * (1 + hash(i * 29) % 8))::BIGINT AS threshold_vp, i AS forum_topic_id,
                CASE WHEN i >= {proposals} * 0.99 THEN 'active'
                     WHEN (hash(i * 31) % 1000) / 1000.0 < p_pass THEN 'passed'
                     ELSE 'rejected' END AS status
            FROM p ORDER BY i
        ) TO '{csv_path}' (HEADER)"""
    )
    votes_path = folder / "votes.jsonl"
    per = max(votes // proposals, 1)
    con.execute(
        f"""COPY (
            SELECT '0x' || lpad(format('{{:x}}', hash(v) % 200000), 40, '0') AS voter,
                1600000000 + (v // {per}) * 600 + 3600 + (hash(v * 3) % 86400)::BIGINT AS created,
                1 + (hash(v * 5) % 3)::INT AS choice,
                round(exp((hash((hash(v) % 200000) * 11) % 10000) / 800.0), 2) AS vp,
                {{'id': 'id-' || (v // {per})}} AS proposal
            FROM range({votes}) r(v)
        ) TO '{votes_path}' (FORMAT json)"""
    )
    return csv_path, votes_path


def measure(folder: Path) -> dict[str, float]:
    """The timed run (in its own process): ingest, features, evaluation, forecast, signals."""
    from proofmind.gov import forecast as fc
    from proofmind.gov.signals import concentration, concentration_over_time, late_swings
    from proofmind.gov.tables import connect, import_governance

    times: dict[str, float] = {}
    start = time.perf_counter()
    report = import_governance(
        [folder / "proposals.csv", folder / "votes.jsonl"], folder / "gov", dao="bench"
    )
    times["ingest"] = time.perf_counter() - start
    t = time.perf_counter()
    con = connect(folder / "gov")
    proposals = fc.history_features(con, "bench")
    times["features"] = time.perf_counter() - t
    t = time.perf_counter()
    evaluation = fc.evaluate(proposals, "bench", test_share=0.3)
    times["evaluate (fit + bootstrap)"] = time.perf_counter() - t
    t = time.perf_counter()
    model = fc.OutcomeModel().fit(proposals)
    open_rows = np.flatnonzero(np.isnan(proposals.passed))
    forecasts = model.predict(proposals.take(open_rows))
    times["fit on all + forecast open"] = time.perf_counter() - t
    t = time.perf_counter()
    top = concentration(con, "bench", limit=50)
    quarters = concentration_over_time(con, "bench")
    times["vote concentration"] = time.perf_counter() - t
    t = time.perf_counter()
    swings = late_swings(con, "bench", late=0.1, top_k=10, min_share=0.2)
    times["late swings"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    times["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times["proposals"] = report.proposals
    times["votes"] = report.votes
    times["forecasts"] = len(forecasts)
    times["auc_model"] = evaluation.metrics["model"]["ROC-AUC"][0]
    times["auc_type"] = evaluation.metrics["type only"]["ROC-AUC"][0]
    times["signal_rows"] = len(top) + len(quarters)
    times["swing_rows"] = len(swings)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--votes", type=int, nargs="+", default=[10_000_000, 1_000_000])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    print(f"{platform.python_version()} on {platform.machine()}, duckdb {duckdb.__version__}")
    for votes in args.votes:
        with tempfile.TemporaryDirectory(prefix="bench-gov-") as tmp:
            folder = Path(tmp)
            t = time.perf_counter()
            csv_path, votes_path = make_data(folder, args.proposals, votes)
            made = time.perf_counter() - t
            size = (csv_path.stat().st_size + votes_path.stat().st_size) / 1e6
            print(f"\n{args.proposals:,} proposals, {votes:,} votes ({size:,.0f} MB, "
                  f"made in {made:.1f} s)")  # fmt: skip
            run = subprocess.run(
                [sys.executable, __file__, "--measure", str(folder)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            result = json.loads(run.stdout.strip().splitlines()[-1])
            for key, value in result.items():
                print(f"  {key}: {value:,.2f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
