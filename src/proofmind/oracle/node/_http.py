"""An oracle node's Prometheus metrics, and the HTTP endpoints that show them and its health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Metrics:
    """Prometheus metrics of one node (its own registry, so several nodes can share a process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.seen = Counter(
            "proofmind_oracle_requests_seen", "requests read from the chain", registry=self.registry
        )
        self.answered = Counter(
            "proofmind_oracle_answers_submitted",
            "answers sent on-chain",
            ["mode"],
            registry=self.registry,
        )
        self.finalized = Counter(
            "proofmind_oracle_finalized", "proposals finalized", registry=self.registry
        )
        self.failed = Counter(
            "proofmind_oracle_failed", "requests that cannot be answered", registry=self.registry
        )
        self.callback_failures = Counter(
            "proofmind_oracle_callback_failures",
            "consumer callbacks that reverted",
            registry=self.registry,
        )
        self.queue = Gauge(
            "proofmind_oracle_queue", "requests by state", ["state"], registry=self.registry
        )
        self.proving = Histogram(
            "proofmind_oracle_proving_seconds", "time to prove one request", registry=self.registry
        )
        self.drift = Histogram(
            "proofmind_oracle_float_drift",
            "largest |circuit output - onnxruntime float output| of an answer",
            buckets=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, float("inf")),
            registry=self.registry,
        )
        self.block = Gauge(
            "proofmind_oracle_cursor_block", "next block the node reads", registry=self.registry
        )


async def serve_http(
    host: str, port: int, metrics: Metrics, health: Callable[[], tuple[dict[str, Any], bool]]
) -> Any:
    """Start ``/metrics`` (Prometheus) and ``/health`` (JSON: ``health()``'s document, 200 when
    it says ok, else 503); returns the runner."""
    from aiohttp import web
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    async def serve_metrics(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def serve_health(_: web.Request) -> web.Response:
        doc, ok = health()
        return web.json_response(doc, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/health", serve_health)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
