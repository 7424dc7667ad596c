"""The HTTP API under load: record reads and list pages by 100 concurrent clients, next to the
same handler called in-process (what the framework and the network add), and alert → SSE
client latency.

A workspace with 10,000 records (half of them anchored) and 100,000 alerts is made before the
clock starts. `proofmind serve` runs as its own process (one uvicorn worker); the load
generator is this process: 100 httpx clients on asyncio, each sending its next request as soon
as the last one is answered, for ``--seconds`` per endpoint.

Usage: python benchmarks/bench_api.py [--clients 100] [--seconds 10] [--records 10000]
       [--alerts 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import queue
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def make_workspace(root: Path, records: int, alerts: int) -> Any:
    from proofmind.monitor.api import Alert
    from proofmind.monitor.store import AlertStore
    from proofmind.workspace import init_workspace

    ws, _ = init_workspace(root)
    rng = random.Random(7)
    rows = []
    for key in range(1, records + 1):
        kind = (0, 1, 2, 3)[key % 4]
        parents = json.dumps([key - 1] if key > 1 and kind else [])
        anchored = key % 2 == 0
        rows.append((
            key, kind, f"item-{key}", "0x" + rng.randbytes(32).hex(), f"proofmind://x/{key}",
            parents, str(root / f"data/item-{key}.csv"), None,
            "anchored" if anchored else "pending",
            "0x" + rng.randbytes(32).hex() if anchored else None,
            "0x" + "ab" * 20 if anchored else None, 31337 if anchored else None,
            "0x" + "cd" * 20 if anchored else None, "0x" + rng.randbytes(32).hex() if anchored
            else None, 100 + key if anchored else None, time.time(),
        ))  # fmt: skip
    with ws.state.transaction() as conn:
        conn.executemany(
            "INSERT INTO records(key, kind, name, content_hash, uri, parents, path, meta, status,"
            " record_id, creator, chain_id, registry, tx_hash, block_number, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    store = AlertStore.for_workspace(ws.root)
    batch = []
    for n in range(alerts):
        batch.append((
            Alert(detector=("watch", "funding-fan-out")[n % 2], severity="high",
                  subject=f"0x{n % 5000:040x}", time=1.7e9 + n, score=float(n % 100),
                  explanation=f"alert {n}", evidence={"n": n}, block=n, kind="transfer"),
            None,
        ))  # fmt: skip
        if len(batch) == 10_000:
            store.add_many(batch)
            batch = []
    if batch:
        store.add_many(batch)
    store.close()
    return ws


def start_server(ws_root: Path) -> tuple[subprocess.Popen[str], str, queue.Queue[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    env |= {"PROOFMIND_API_RATE_PER_SECOND": "1000000", "PROOFMIND_API_RATE_BURST": "1000000",
            "PROOFMIND_API_SSE_POLL_SECONDS": "0.1"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "proofmind", "serve", "--port", "0", "-w", str(ws_root)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in process.stderr or []], daemon=True
    ).start()
    while True:
        found = re.search(r"API on (http://\S+) ", lines.get(timeout=30))
        if found:
            return process, found.group(1), lines


async def load(url: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` httpx clients (one keep-alive connection each: one shared pool serialises
    on its own lock), each sending its next request when the last one is answered."""
    latencies: list[float] = []
    errors = 0
    end = float("inf")
    ready = asyncio.Event()

    async def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            await http.get(rng.choice(paths))  # connect first: steady state is measured
            await ready.wait()
            while time.perf_counter() < end:
                started = time.perf_counter()
                response = await http.get(rng.choice(paths))
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

    tasks = [asyncio.ensure_future(client(i)) for i in range(clients)]
    await asyncio.sleep(1.0)  # every client connected
    started = time.perf_counter()
    end = started + seconds
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def server_seconds(url: str) -> tuple[float, int]:
    """Time the server spent inside the application (its own histogram), and requests."""
    text = httpx.get(url + "/metrics").text
    total = sum(
        float(m)
        for m in re.findall(r"^proofmind_api_request_seconds_sum\{[^}]*\} (\S+)", text, re.M)
    )
    count = sum(
        float(m)
        for m in re.findall(r"^proofmind_api_request_seconds_count\{[^}]*\} (\S+)", text, re.M)
    )
    return total, int(count)


def in_process(ws: Any, keys: list[int], n: int = 20_000) -> dict[str, float]:
    """The record handler's work without the framework: look up, view, serialize, ETag."""
    from starlette.requests import Request

    from proofmind.api.routes.common import cached
    from proofmind.app.records import get_record, record_view

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    rng = random.Random(1)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        found = get_record(ws, str(rng.choice(keys)))
        cached(request, record_view(ws, found), stable=found.anchored)
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "rps": n / sum(times),
    }


def sse_latency(url: str, ws_root: Path, alerts: int, watchers: int) -> dict[str, float]:
    """Alerts stored one every 50 ms; the time each takes to reach every watcher."""
    from proofmind.client import Client
    from proofmind.monitor.api import Alert
    from proofmind.monitor.store import AlertStore

    received: queue.Queue[tuple[float, int]] = queue.Queue()
    ready = threading.Barrier(watchers + 1)

    def watch() -> None:
        with Client(url, timeout=30) as api:
            stream = api.stream_alerts(timeout=60)
            ready.wait()
            for item in stream:
                received.put((time.perf_counter(), int(item["evidence"]["n"])))

    for _ in range(watchers):
        threading.Thread(target=watch, daemon=True).start()
    ready.wait(timeout=30)
    time.sleep(1.0)
    store = AlertStore.for_workspace(ws_root)
    stored: dict[int, float] = {}
    for n in range(alerts):
        stored[n] = time.perf_counter()
        store.add(Alert(detector="watch", severity="high", subject="0x" + "1" * 40,
                        time=2e9 + n, score=1.0, explanation="sse", evidence={"n": n}))  # fmt: skip
        time.sleep(0.05)
    delays = []
    deadline = time.perf_counter() + 10
    while len(delays) < alerts * watchers and time.perf_counter() < deadline:
        try:
            at, n = received.get(timeout=1)
        except queue.Empty:
            continue
        delays.append(at - stored[n])
    store.close()
    ms = np.array(delays) * 1000
    return {
        "received": len(delays),
        "expected": alerts * watchers,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    args = parser.parse_args()
    from proofmind.app.paging import encode_cursor

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ws = make_workspace(Path(tmp), args.records, args.alerts)
        print(f"workspace: {args.records:,} records, {args.alerts:,} alerts in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        keys = list(range(1, args.records + 1))
        process, url, _ = start_server(ws.root)
        results: dict[str, Any] = {}
        try:
            scenarios = {
                "GET /api/v1/records/{key}": [f"/api/v1/records/{k}" for k in keys],
                "GET /api/v1/records?limit=100&cursor=…": [
                    f"/api/v1/records?limit=100&cursor={encode_cursor('records', k)}"
                    for k in range(0, args.records - 100, 97)
                ],
                "GET /api/v1/alerts?limit=100 (first page, with total)": [
                    "/api/v1/alerts?limit=100"
                ],
                "GET /api/v1/alerts?detector=watch&limit=100&cursor=…": [
                    f"/api/v1/alerts?detector=watch&limit=100&cursor={encode_cursor('alerts', k)}"
                    for k in range(1000, args.alerts, 997)
                ],
            }
            asyncio.run(load(url, scenarios["GET /api/v1/records/{key}"][:200], 10, 1.0))  # warm
            for clients in sorted({args.clients, 10}, reverse=True):
                for name, paths in scenarios.items():
                    before = server_seconds(url)
                    result = asyncio.run(load(url, paths, clients, args.seconds))
                    after = server_seconds(url)
                    # mean time inside the app per request (middleware, routing, handler)
                    result["app_ms"] = (after[0] - before[0]) / (after[1] - before[1]) * 1000
                    results[f"{name} × {clients} clients"] = result
                    print(name, clients, json.dumps(result), flush=True)
            results["in-process record handler"] = in_process(ws, keys)
            print("in-process", json.dumps(results["in-process record handler"]), flush=True)
            results["SSE"] = sse_latency(url, ws.root, alerts=100, watchers=10)
            print("SSE", json.dumps(results["SSE"]), flush=True)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        ws.close()
    print(json.dumps({"machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "results": results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
