"""`proofmind monitor run`: follow a chain block by block, run the block detectors, store the
alerts once and deliver them, and take back what a reorg undid.

Each step: the reorg-safe cursor hands over the next confirmed block range; every block becomes
a ``BlockEvent`` for the detectors; the new alerts, their outbox rows and the detectors' state
after the range are stored in one SQLite transaction; then the cursor moves past the range.
With price feeds (``feeds``), the new rounds of each block become ``PriceObservation``s for the
price detectors (depeg, feed-health…), and their alerts carry the block (so a reorg retracts
them too) and the round as evidence.
A crash between the two commits replays the range: the stored state says it was done, so it is
skipped, not evaluated twice. A reorg retracts the alerts of the dropped blocks (the
retractions are delivered like alerts), restores the detectors' state from before the fork and
moves the cursor back to match. Deliveries run on their own thread, so a slow webhook does not
hold up detection.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from web3 import Web3

from proofmind.chain.events import BlockRange, Reorg, ReorgSafeCursor
from proofmind.chain.retry import Outage
from proofmind.errors import ReorgDetected
from proofmind.monitor.api import Alert, BlockEvent, Detector
from proofmind.monitor.blocks import fetch_block
from proofmind.monitor.pricefeed import FeedReader
from proofmind.monitor.registry import detector_class
from proofmind.monitor.sinks import DELIVERY_RESULTS, deliver_due, public_sink_name
from proofmind.monitor.store import AlertStore
from proofmind.store.lock import ServiceLock
from proofmind.store.state import StateDB
from proofmind.text import count_of

log = logging.getLogger("proofmind.monitor")
LOCK_FILE = "monitor.lock"  # next to the alert store: held while a monitor follows into it
FEEDS_KEY = "@feeds"  # the feed reader's entry in the saved state (not a detector name)


@dataclass
class MonitorStats:
    started: float = field(default_factory=time.time)
    last_step: float = field(default_factory=time.time)
    blocks: int = 0
    rounds: int = 0
    alerts: int = 0
    retracted: int = 0
    reorgs: int = 0
    deliveries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DELIVERY_RESULTS, 0))
    next_block: int = 0
    head_lag: int = 0


def following(store: Path) -> ServiceLock:
    """The lock a monitor holds while it follows the chain into the alert store ``store``."""
    return ServiceLock(
        store.parent / LOCK_FILE,
        f"following the chain into the alert store {store}",
        hint="stop that monitor first (one `monitor run` runs several detectors and sinks: "
        "give it them all), or run this one in another workspace",
    )


class MonitorService:
    def __init__(
        self,
        w3: Web3,
        state: StateDB,
        store: AlertStore,
        detectors: list[Detector],
        sinks: list[Any],
        *,
        chain_id: int,
        confirmations: int = 0,
        start_block: int | str = "latest",
        poll_interval: float = 1.0,
        max_attempts: int = 8,
        backoff: float = 1.0,
        max_range: int = 100,
        feeds: FeedReader | None = None,
    ) -> None:
        self.w3, self.store, self.sinks = w3, store, sinks
        self.feeds = feeds
        # each detector's configuration as it is stored: a copy, since a detector's to_state
        # may hand out its live containers, which it then fills (the saved configuration
        # would no longer be the initial one, and a restart would drop the state as changed)
        self.initial = {
            d.name: json.loads(json.dumps(d.to_state(), sort_keys=True)) for d in detectors
        }
        self.detectors = detectors
        self.poll_interval = poll_interval
        self.max_attempts, self.backoff = max_attempts, backoff
        self.cursor = ReorgSafeCursor(
            w3,
            state,
            "monitor",
            chain_id=chain_id,
            confirmations=confirmations,
            start_block=start_block,
            max_blocks=max_range,
        )
        self.stats = MonitorStats()
        self._stop = threading.Event()
        self._kick = threading.Event()
        done = store.processed_through()
        if done is None:
            # the state before the first block, so a reorg there has something to rewind to
            store.commit_range([], [], self.cursor.next_block - 1, self._state())
        else:
            self._restore(done[1])
            if done[0] + 1 < self.cursor.next_block:
                # the cursor is ahead of the stored state (states pruned, or another store)
                self.cursor.rewind_to(done[0] + 1)

    # -- state -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        """Each detector's state, with the configuration it started from (so a restart with
        other parameters is noticed)."""
        state = {
            d.name: {"config": self.initial[d.name], "state": d.to_state()} for d in self.detectors
        }
        if self.feeds is not None:
            state[FEEDS_KEY] = {"config": self.feeds.config(), "state": self.feeds.to_state()}
        return state

    def _restore(self, saved: dict[str, Any] | None) -> None:
        """Detectors as saved; one whose parameters changed since (or that is new) starts
        afresh with the new parameters."""
        saved = saved or {}
        detectors = []
        for d in self.detectors:
            entry = saved.get(d.name)
            if isinstance(entry, dict) and entry.get("config") == self.initial[d.name]:
                detectors.append(detector_class(d.name).from_state(entry["state"]))
                continue
            if entry is not None:
                log.warning("%s: parameters changed since the last run; its state starts afresh",
                            d.name)  # fmt: skip
            fresh = json.loads(json.dumps(self.initial[d.name]))  # its own copy, to fill
            detectors.append(detector_class(d.name).from_state(fresh))
        self.detectors = detectors
        if self.feeds is not None:
            entry = saved.get(FEEDS_KEY)
            same = isinstance(entry, dict) and entry.get("config") == self.feeds.config()
            self.feeds.restore(entry["state"] if same and entry else None)

    # -- one step ----------------------------------------------------------------------

    def step(self) -> bool:
        """Process what the cursor offers; False when caught up."""
        try:
            found: BlockRange | Reorg | None = self.cursor.poll()
        except ReorgDetected as exc:
            # every block the cursor remembers changed: fine if the monitor began there (the
            # blocks before it were never watched), fatal otherwise
            first = self.store.oldest_state_block() + 1
            if exc.fork_block > first:
                raise
            self.cursor.rewind_to(first)
            found = Reorg(fork_block=first, depth=exc.fork_block - first, old_hash="",
                          new_hash=None)  # fmt: skip
        self.stats.last_step = time.time()
        if found is None:
            return False
        if isinstance(found, Reorg):
            self._reorg(found)
            return True
        self._process(found)
        return True

    def _process(self, blocks: BlockRange) -> None:
        done = self.store.processed_through()
        through = done[0] if done else blocks.start - 1
        alerts: list[tuple[Alert, str | None]] = []
        evaluated = 0
        try:
            for ref in blocks.blocks:
                if ref.number <= through:
                    continue  # stored before a crash, the cursor had not moved yet
                event = fetch_block(self.w3, ref.number)
                if event.hash != ref.hash:
                    # the block changed under us: forget this range, the next poll sees the reorg
                    self._restore(done[1] if done else None)
                    return
                for detector in self.detectors:
                    if "block" in detector.events:
                        alerts += [(a, event.hash) for a in detector.evaluate(event)]
                if self.feeds is not None:
                    alerts += self._feed_alerts(event)
                evaluated += 1
        except BaseException:
            self._restore(done[1] if done else None)  # the detectors saw uncommitted blocks
            raise
        self.stats.blocks += evaluated
        if blocks.end > through:
            new = self.store.commit_range(
                alerts, [s.name for s in self.sinks], blocks.end, self._state()
            )
            self.stats.alerts += len(new)
            if new:
                at = f"blocks {blocks.start}–{blocks.end}"
                at = f"block {blocks.end}" if blocks.start == blocks.end else at
                log.info("%s: %s", at, count_of(len(new), "new alert"))
                self._kick.set()
        self.cursor.commit(blocks)
        self.stats.next_block = blocks.end + 1

    def _feed_alerts(self, event: BlockEvent) -> list[tuple[Alert, str | None]]:
        """The price detectors on each new feed round of the block; their alerts are dated by
        the round, raised at the block, with the round as evidence."""
        assert self.feeds is not None
        alerts: list[tuple[Alert, str | None]] = []
        rounds = self.feeds.read(self.w3, event)
        self.stats.rounds += len(rounds)
        for found in rounds:
            for detector in self.detectors:
                if "price" not in detector.events:
                    continue
                for alert in detector.evaluate(found.observation):
                    evidence = {**alert.evidence, **found.evidence()}
                    alerts.append((replace(alert, block=event.number, evidence=evidence),
                                   event.hash))  # fmt: skip
        return alerts

    def _reorg(self, reorg: Reorg) -> None:
        retracted, state = self.store.rewind(reorg.fork_block, [s.name for s in self.sinks])
        self._restore(state)
        done = self.store.processed_through()
        if done is not None and done[0] + 1 < self.cursor.next_block:
            self.cursor.rewind_to(done[0] + 1)
        self.stats.reorgs += 1
        self.stats.retracted += len(retracted)
        gone = count_of(len(retracted), "alert")
        log.warning(
            "reorg from block %d (depth %d): %s retracted, resuming at block %d",
            reorg.fork_block, reorg.depth, gone, self.cursor.next_block,
        )  # fmt: skip
        if retracted:
            self._kick.set()

    # -- running -----------------------------------------------------------------------

    def deliver(self, deadline: float | None = None) -> None:
        counts = deliver_due(
            self.store,
            self.sinks,
            max_attempts=self.max_attempts,
            backoff=self.backoff,
            deadline=deadline,
        )
        for k, v in counts.items():
            self.stats.deliveries[k] += v

    def _deliverer(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(timeout=min(1.0, self.backoff))
            self._kick.clear()
            try:
                self.deliver()
            except Exception:  # keep delivering; the error is logged with its cause
                log.exception("delivery pass failed")

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()

    def run(
        self,
        *,
        max_blocks: int | None = None,
        until_block: int | None = None,
        drain_seconds: float = 10.0,
        on_step: Callable[[MonitorService], None] | None = None,
    ) -> MonitorStats:
        """Follow the chain until stopped (or ``max_blocks`` processed, or the cursor passes
        ``until_block``); then deliver what is still due for up to ``drain_seconds``.

        One monitor at a time per alert store: a second would share the cursor (each block
        evaluated by whichever monitor reads it first, with its detectors only) and the
        outbox (a delivery sent by both)."""
        with following(self.store.path).held():
            return self._run(max_blocks, until_block, drain_seconds, on_step)

    def _run(
        self,
        max_blocks: int | None,
        until_block: int | None,
        drain_seconds: float,
        on_step: Callable[[MonitorService], None] | None,
    ) -> MonitorStats:
        worker = threading.Thread(target=self._deliverer, name="monitor-delivery", daemon=True)
        worker.start()
        try:
            outage = Outage(log, base=self.poll_interval)
            while not self._stop.is_set():
                try:
                    busy = self.step()
                    outage.ok()
                except Outage.ERRORS as exc:  # the node is away or erring: wait and try again
                    self._stop.wait(outage.retry_after(exc))  # a deep reorg: raised
                    continue
                if on_step is not None:
                    on_step(self)
                if max_blocks is not None and self.stats.blocks >= max_blocks:
                    break
                if until_block is not None and self.cursor.next_block > until_block:
                    break
                if not busy:
                    self._stop.wait(self.poll_interval)
        finally:
            self._stop.set()
            self._kick.set()
            worker.join(timeout=30)
            self.drain(drain_seconds)
        return self.stats

    def drain(self, seconds: float) -> None:
        """Deliver what is pending, waiting for retries that fall due, for up to ``seconds``
        (what is still pending then stays in the outbox for the next run)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.deliver(deadline=end)
            counts = self.store.outbox_counts()
            if not any(n for (_, status), n in counts.items() if status == "pending"):
                return
            time.sleep(min(0.05, self.backoff))

    # -- /health and /metrics ----------------------------------------------------------

    def serve_http(self, host: str, port: int) -> ThreadingHTTPServer:
        """``/health`` (JSON) and ``/metrics`` (Prometheus text) on a thread."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                s = service.stats
                if self.path == "/health":
                    age = time.time() - s.last_step
                    ok = age < max(30.0, 20 * service.poll_interval)
                    body = json.dumps(
                        {
                            "status": "ok" if ok else "stalled",
                            "seconds_since_last_step": round(age, 3),
                            "next_block": service.cursor.next_block,
                            "detectors": [d.name for d in service.detectors],
                            "outbox": {
                                f"{public_sink_name(sink)}/{status}": n
                                for (sink, status), n in service.store.outbox_counts().items()
                            },
                            "oldest_pending_seconds": {
                                public_sink_name(sink): round(seconds, 3)
                                for sink, seconds in service.store.oldest_pending().items()
                            },
                        }
                    ).encode()
                    self._send(200 if ok else 503, "application/json", body)
                elif self.path == "/metrics":
                    from proofmind.monitor.metrics import (
                        metrics_text,
                        monitor_families,
                        outbox_families,
                    )

                    families = monitor_families(s, service.cursor.next_block)
                    body = metrics_text([*families, *outbox_families(service.store)])
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", body)
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="monitor-http", daemon=True).start()
        return server
