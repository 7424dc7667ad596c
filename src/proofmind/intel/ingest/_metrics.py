"""A running ingestion's Prometheus metrics, from the `IngestReport` it fills as it goes."""

from __future__ import annotations

from typing import Any

from proofmind.intel.ingest._driver import IngestReport


def ingest_families(report: IngestReport) -> list[Any]:
    """Counters since the service started (blocks, rows by table, reorgs undone) and gauges of
    where it is: the next block to write, the last it may read (the head less the
    confirmations, as last seen), how far behind that it is, and when it last committed (an
    ingestion that stopped committing while its lag grows is stuck). A gauge not known yet
    (before the first poll or commit) is left out."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    rows = CounterMetricFamily(
        "proofmind_ingest_rows",
        "rows written since the service started, by table",
        labels=["table"],
    )
    for table, n in sorted(report.rows.items()):
        rows.add_metric([table], n)
    out: list[Any] = [
        CounterMetricFamily(
            "proofmind_ingest_blocks",
            "blocks written since the service started",
            value=report.blocks,
        ),
        rows,
        CounterMetricFamily(
            "proofmind_ingest_reorgs",
            "reorgs undone since the service started",
            value=len(report.reorgs),
        ),
    ]
    gauges = [
        ("next_block", "next block to write", report.next_block),
        ("safe_head", "last block it may read: the head less the confirmations, as last seen",
         report.safe_head),
        ("last_commit_timestamp_seconds", "when it last committed a range (Unix time)",
         report.committed_at),
    ]  # fmt: skip
    if report.next_block is not None and report.safe_head is not None:
        lag = max(0, report.safe_head + 1 - report.next_block)
        gauges.append(("lag_blocks", "blocks it may read and has not written yet", lag))
    out += [
        GaugeMetricFamily(f"proofmind_ingest_{name}", text, value=value)
        for name, text, value in gauges
        if value is not None
    ]
    return out
