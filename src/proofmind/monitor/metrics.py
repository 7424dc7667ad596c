"""The monitor's Prometheus metrics: a running monitor's counters, and the outbox's gauges.

The outbox gauges are read from the alert store, so every process that opens it reports the
same backlog: `monitor run --http-port` and `proofmind serve` alike, even when the monitor runs
in another process. A webhook's URL may hold a secret, so a sink is labelled by
`proofmind.monitor.sinks.public_sink_name`: the webhook's scheme and host with a digest of the
whole URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from proofmind.monitor.sinks import public_sink_name

if TYPE_CHECKING:
    from proofmind.monitor.service import MonitorStats
    from proofmind.monitor.store import AlertStore

__all__ = ["metrics_text", "monitor_families", "outbox_families"]


def outbox_families(store: AlertStore, now: float | None = None) -> list[Any]:
    """The outbox's gauges: deliveries by sink and status (``dead``: the dead letters), and
    the age of each sink's oldest pending delivery."""
    from prometheus_client.core import GaugeMetricFamily

    rows = GaugeMetricFamily(
        "proofmind_monitor_outbox",
        "deliveries of alerts and retractions in the outbox, by sink and status "
        "(pending, delivered, dead: dead letters; muted, filtered, throttled, skipped: not "
        "sent)",
        labels=["sink", "status"],
    )
    for (sink, status), n in sorted(store.outbox_counts().items()):
        rows.add_metric([public_sink_name(sink), status], n)
    oldest = GaugeMetricFamily(
        "proofmind_monitor_outbox_oldest_pending_seconds",
        "how long the oldest delivery still pending has waited, per sink with one pending",
        labels=["sink"],
    )
    for sink, seconds in sorted(store.oldest_pending(now).items()):
        oldest.add_metric([public_sink_name(sink)], round(seconds, 3))
    return [rows, oldest]


def monitor_families(stats: MonitorStats, next_block: int) -> list[Any]:
    """A running monitor's counters since it started, and the next block it reads."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    counters = [
        ("blocks", "blocks processed", stats.blocks),
        ("feed_rounds", "price feed rounds read", stats.rounds),
        ("alerts", "alerts stored", stats.alerts),
        ("retractions", "alerts retracted after a reorg", stats.retracted),
        ("reorgs", "reorgs seen", stats.reorgs),
    ]
    out: list[Any] = [
        CounterMetricFamily(f"proofmind_monitor_{name}", text, value=value)
        for name, text, value in counters
    ]
    deliveries = CounterMetricFamily(
        "proofmind_monitor_deliveries",
        "deliveries by result (delivered, retried, dead; muted, filtered, throttled, skipped: "
        "not sent)",
        labels=["result"],
    )
    for result, n in stats.deliveries.items():
        deliveries.add_metric([result], n)
    out.append(deliveries)
    out.append(GaugeMetricFamily("proofmind_monitor_next_block", "next block read", next_block))
    return out


class _Families:
    """A collector that yields families made beforehand (one scrape's)."""

    def __init__(self, families: Iterable[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Any]:
        return iter(self.families)


def metrics_text(families: Iterable[Any]) -> bytes:
    """Prometheus text exposition of ``families`` (HELP and TYPE lines, labels escaped)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return bytes(generate_latest(registry))
