"""The runner of `proofmind serve`: tasks restarted with backoff and reported, blocking
services stopped by the shutdown event."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

from proofmind.app.runner import Supervisor, threaded


def test_a_failing_task_is_restarted_with_growing_pauses() -> None:
    supervisor = Supervisor(backoff=0.05, max_backoff=0.2)
    attempts: list[float] = []
    seen: list[dict[str, object]] = []

    async def flaky(shutdown: asyncio.Event) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise RuntimeError(f"attempt {len(attempts)} failed")
        await shutdown.wait()

    async def steady(shutdown: asyncio.Event) -> None:
        await shutdown.wait()

    supervisor.add("flaky", flaky)
    supervisor.add("steady", steady)

    async def main() -> None:
        shutdown = asyncio.Event()
        runner = asyncio.create_task(supervisor.run(shutdown))
        await asyncio.sleep(0.06)
        seen.append(supervisor.health())
        while len(attempts) < 4:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        seen.append(supervisor.health())
        shutdown.set()
        await asyncio.wait_for(runner, 5)

    asyncio.run(main())
    pauses = [b - a for a, b in itertools.pairwise(attempts)]
    assert pauses[0] >= 0.05 and pauses[1] >= 0.1 and pauses[2] >= 0.2
    assert seen[0]["status"] == "degraded"
    flaky_then = seen[0]["tasks"]["flaky"]  # type: ignore[index]
    assert flaky_then["state"] == "backoff" and flaky_then["last_error"].startswith("RuntimeError")
    assert seen[1]["status"] == "ok" and seen[1]["tasks"]["flaky"]["restarts"] == 3  # type: ignore[index]
    assert {s.state for s in supervisor.status.values()} == {"stopped"}
    text = supervisor.metrics_text()
    assert 'proofmind_task_restarts_total{task="flaky"} 3' in text
    assert 'proofmind_task_state{task="steady",state="stopped"} 1' in text


def test_a_blocking_service_stops_on_shutdown() -> None:
    class Loop:
        def __init__(self) -> None:
            self.stopped = threading.Event()
            self.steps = 0

        def run(self) -> None:
            while not self.stopped.wait(0.01):
                self.steps += 1

        def stop(self) -> None:
            self.stopped.set()

    built: list[Loop] = []

    def build() -> Loop:
        built.append(Loop())
        return built[-1]

    supervisor = Supervisor()
    supervisor.add("loop", threaded(build))

    async def main() -> None:
        shutdown = asyncio.Event()
        runner = asyncio.create_task(supervisor.run(shutdown))
        await asyncio.sleep(0.2)
        shutdown.set()
        await asyncio.wait_for(runner, 5)

    asyncio.run(main())
    assert len(built) == 1 and built[0].steps > 3 and built[0].stopped.is_set()
    assert supervisor.status["loop"].state == "stopped"


def test_a_task_that_ends_by_itself_is_finished_not_restarted() -> None:
    supervisor = Supervisor(backoff=0.01)
    runs = []

    async def once(shutdown: asyncio.Event) -> None:
        runs.append(1)

    supervisor.add("once", once)
    asyncio.run(supervisor.run(asyncio.Event()))
    assert runs == [1] and supervisor.status["once"].state == "finished"
    assert supervisor.health()["status"] == "ok"


def test_health_is_degraded_while_a_task_waits_for_its_node() -> None:
    """A hosted loop waits out a node outage instead of failing (so no restart shows it):
    /health says which loop waits, since when, and why, until a round works again."""
    import gc
    import logging

    import requests

    from proofmind.chain.retry import Outage

    gc.collect()  # loops of earlier tests, ended while waiting, are gone
    supervisor = Supervisor()
    supervisor.add("oracle-node", lambda shutdown: asyncio.sleep(0))
    supervisor.status["oracle-node"].state = "running"
    assert supervisor.health()["status"] == "ok"
    outage = Outage(logging.getLogger("proofmind.oracle"))
    outage.failed(requests.ConnectionError("cannot reach http://node:8545/key123: refused"))
    health = supervisor.health()
    assert health["status"] == "degraded"
    (waiting,) = health["waiting_for_node"]
    assert waiting["loop"] == "proofmind.oracle" and waiting["failures"] == 1
    assert "key123" not in waiting["last_error"]  # redacted: a node's URL may carry a key
    assert 'proofmind_node_outage_seconds{loop="proofmind.oracle"}' in supervisor.metrics_text()
    outage.ok()
    assert supervisor.health() == {"status": "ok", "tasks": health["tasks"]}
    outage.failed(requests.Timeout("timed out"))
    del outage  # the loop ended (its service stopped): no longer listed
    assert supervisor.health()["status"] == "ok"
