"""One asyncio process for every long-running service: a task group, a shutdown event, and a
supervisor that restarts a failed task with exponential backoff and reports each task's state
(for /health and /metrics).

A service is an ``async def run(shutdown: asyncio.Event)`` that returns once ``shutdown`` is
set. Blocking services (a ``run()`` loop on a thread with a ``stop()`` method) are adapted by
:func:`threaded`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from proofmind.chain.retry import Outage

log = logging.getLogger("proofmind.serve")

Service = Callable[[asyncio.Event], Awaitable[None]]
STATES = ("starting", "running", "backoff", "finished", "stopped")


@dataclass
class TaskStatus:
    name: str
    state: str = "starting"
    restarts: int = 0
    last_error: str | None = None
    started_at: float | None = None
    next_attempt_in: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "up_seconds": None
            if self.started_at is None or self.state != "running"
            else round(time.time() - self.started_at, 3),
            "next_attempt_in": self.next_attempt_in,
        }


@dataclass(frozen=True)
class _Spec:
    name: str
    run: Service
    restart: bool


class Supervisor:
    """Runs services in one task group until the shutdown event is set."""

    def __init__(
        self, *, backoff: float = 1.0, max_backoff: float = 60.0, healthy_after: float = 60.0
    ) -> None:
        self.backoff, self.max_backoff, self.healthy_after = backoff, max_backoff, healthy_after
        self._specs: list[_Spec] = []
        self.status: dict[str, TaskStatus] = {}
        # more Prometheus text for /metrics: a hosted service's own metrics, while it runs
        self.metric_sources: list[Callable[[], str]] = []

    def add(self, name: str, run: Service, *, restart: bool = True) -> None:
        """Host ``run``; when it raises, start it again after a growing pause (``restart``)."""
        self._specs.append(_Spec(name, run, restart))
        self.status[name] = TaskStatus(name)

    async def run(self, shutdown: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for spec in self._specs:
                group.create_task(self._supervise(spec, shutdown), name=spec.name)

    async def _supervise(self, spec: _Spec, shutdown: asyncio.Event) -> None:
        status = self.status[spec.name]
        delay = self.backoff
        while not shutdown.is_set():
            status.state, status.started_at, status.next_attempt_in = "running", time.time(), None
            try:
                await spec.run(shutdown)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a service's failure is reported, not fatal
                status.restarts += 1
                status.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("%s failed: %s", spec.name, status.last_error)
                if not spec.restart:
                    status.state = "stopped"
                    return
                if time.time() - (status.started_at or 0) >= self.healthy_after:
                    delay = self.backoff  # it had been running fine: start over from short
                status.state, status.next_attempt_in = "backoff", delay
                log.info("restarting %s in %.1f s", spec.name, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(shutdown.wait(), delay)
                delay = min(self.max_backoff, delay * 2)
                continue
            if not shutdown.is_set():
                status.state = "finished"  # it ended on its own (e.g. --max-blocks reached)
                return
        status.state = "stopped"

    def health(self) -> dict[str, Any]:
        bad = [s.name for s in self.status.values() if s.state in ("backoff", "starting")]
        waiting = Outage.waiting()  # running, but waiting for a node that does not answer
        doc: dict[str, Any] = {
            "status": "degraded" if bad or waiting else "ok",
            "tasks": {name: s.to_json() for name, s in self.status.items()},
        }
        if waiting:
            doc["waiting_for_node"] = waiting
        return doc

    def metrics_text(self) -> str:
        lines = [
            "# HELP proofmind_task_up 1 when the task runs, 0 when it is restarting or stopped",
            "# TYPE proofmind_task_up gauge",
        ]
        lines += [
            f'proofmind_task_up{{task="{s.name}"}} {1 if s.state == "running" else 0}'
            for s in self.status.values()
        ]
        lines += [
            "# HELP proofmind_task_restarts_total times the task failed and was restarted",
            "# TYPE proofmind_task_restarts_total counter",
        ]
        lines += [
            f'proofmind_task_restarts_total{{task="{s.name}"}} {s.restarts}'
            for s in self.status.values()
        ]
        lines += [
            "# HELP proofmind_task_state the task's state",
            "# TYPE proofmind_task_state gauge",
        ]
        lines += [
            f'proofmind_task_state{{task="{s.name}",state="{state}"}} {int(s.state == state)}'
            for s in self.status.values()
            for state in STATES
        ]
        lines += [
            "# HELP proofmind_node_outage_seconds how long a loop has waited for its node",
            "# TYPE proofmind_node_outage_seconds gauge",
        ]
        now = time.time()
        lines += [
            f'proofmind_node_outage_seconds{{loop="{w["loop"]}"}} {now - w["since"]:.1f}'
            for w in Outage.waiting()
        ]
        return "\n".join(lines) + "\n" + "".join(source() for source in self.metric_sources)


class Stoppable(Protocol):
    def run(self) -> Any: ...

    def stop(self) -> None: ...


def threaded(build: Callable[[], Stoppable]) -> Service:
    """A blocking service (``run()`` until ``stop()``) as an asyncio one: built and run on a
    worker thread, stopped when the shutdown event is set."""

    async def run(shutdown: asyncio.Event) -> None:
        service = await asyncio.to_thread(build)
        worker = asyncio.ensure_future(asyncio.to_thread(service.run))
        waiter = asyncio.ensure_future(shutdown.wait())
        try:
            await asyncio.wait({worker, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not worker.done():
                service.stop()
            waiter.cancel()
        await worker  # re-raises what the service raised

    return run


def install_signal_handlers(shutdown: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``shutdown``: every task finishes its step and returns."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, shutdown.set)
