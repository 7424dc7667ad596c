"""What the endpoints share: the workspace, its alert store, a chain connection made on first
use, the rate limiter, metrics and the live alert hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from proofmind.api.guards import RateLimiter
from proofmind.app.alerts import AlertFilter, alerts_after
from proofmind.chain.base import Chain, utc
from proofmind.monitor.store import AlertStore, StoredAlert
from proofmind.settings import ApiSettings
from proofmind.workspace import Workspace

log = logging.getLogger("proofmind.api")


class HealthSource(Protocol):
    """What `proofmind serve` reports through /health and /metrics (its tasks)."""

    def health(self) -> dict[str, Any]: ...

    def metrics_text(self) -> str: ...


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "proofmind_api_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "proofmind_api_request_seconds",
            "time to answer an HTTP request",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.streams = Gauge(
            "proofmind_api_alert_streams", "open alert streams", registry=self.registry
        )
        self.streamed = Counter(
            "proofmind_api_alerts_streamed", "alerts sent over streams", registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        if not route.endswith("/stream"):  # a stream's duration is how long it was watched
            self.latency.labels(route).observe(seconds)

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))


class AlertHub:
    """One poller of the alert store for every open stream: each subscriber gets a queue of
    new alerts, so N watchers cost one query per poll, not N."""

    def __init__(self, store: Callable[[], AlertStore], poll: float) -> None:
        self._store = store
        self.poll = poll
        self._queues: set[asyncio.Queue[StoredAlert]] = set()
        self._task: asyncio.Task[None] | None = None
        self._primed: asyncio.Event | None = None
        self._last = 0
        self.closing = asyncio.Event()

    @property
    def position(self) -> int:
        """The newest alert id the hub has handed out (or found when it started): every alert
        after it reaches each subscriber's queue."""
        return self._last

    async def _run(self, primed: asyncio.Event) -> None:
        store = self._store()
        self._last = await asyncio.to_thread(store.last_id)
        generation, looked = store.generation, time.time()
        primed.set()
        while self._queues and not self.closing.is_set():
            looking = time.time()
            await asyncio.to_thread(store.reopen_if_replaced)
            if store.generation != generation:  # a new store: its ids start again at 1
                generation = store.generation
                self._last = await asyncio.to_thread(store.last_id_stored_until, looked)
                log.warning(
                    "the alert store %s was replaced; streaming its alerts stored since %s",
                    store.path,
                    utc(looked),
                )
            new = await asyncio.to_thread(alerts_after, store, self._last)
            looked = looking
            for alert in new:
                self._last = alert.id
                for queue in list(self._queues):
                    if queue.qsize() < 10_000:  # a stuck reader loses alerts, not memory
                        queue.put_nowait(alert)
            if not new:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), self.poll)
        self._task = None

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[StoredAlert]]:
        queue: asyncio.Queue[StoredAlert] = asyncio.Queue()
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._primed = asyncio.Event()
            self._task = asyncio.create_task(self._run(self._primed), name="alert-hub")
        try:
            assert self._primed is not None
            await self._primed.wait()  # from here on, nothing after `position` is missed
            yield queue
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        self.closing.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


class Services:
    def __init__(
        self,
        workspace: Workspace,
        settings: ApiSettings,
        *,
        connect: Callable[[], Chain] | None = None,
        health: HealthSource | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self._connect = connect or workspace.connect
        self.health_source = health
        self.limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
        self.metrics = Metrics()
        self._chain: Chain | None = None
        self._alerts: AlertStore | None = None
        self._lock = threading.Lock()
        self.chain_writes = threading.Lock()  # one transaction at a time from this process
        self._hub: AlertHub | None = None

    def chain(self) -> Chain:
        with self._lock:
            if self._chain is None:
                self._chain = self._connect()
            return self._chain

    def alerts(self) -> AlertStore:
        with self._lock:
            if self._alerts is None:
                self._alerts = AlertStore.for_workspace(self.workspace.root)
            else:
                self._alerts.reopen_if_replaced()  # a monitor started again on a new store
            return self._alerts

    def has_alert_store(self) -> bool:
        from proofmind.monitor.store import ALERTS_FILE

        return self._alerts is not None or (self.workspace.root / ALERTS_FILE).is_file()

    def existing_alerts(self) -> AlertStore | None:
        """The alert store if the workspace has one yet, else None (a reader makes none)."""
        return self.alerts() if self.has_alert_store() else None

    @property
    def hub(self) -> AlertHub:
        if self._hub is None:
            self._hub = AlertHub(self.alerts, self.settings.sse_poll_seconds)
        return self._hub

    def end_streams(self) -> None:
        """Let every open alert stream finish (the server is shutting down)."""
        if self._hub is not None:
            self._hub.closing.set()

    async def close(self) -> None:
        if self._hub is not None:
            await self._hub.close()
        with self._lock:
            if self._alerts is not None:
                self._alerts.close()
                self._alerts = None
            if self._chain is not None:
                with contextlib.suppress(Exception):
                    self._chain.close()
                self._chain = None


__all__ = ["AlertFilter", "AlertHub", "HealthSource", "Metrics", "Services"]
