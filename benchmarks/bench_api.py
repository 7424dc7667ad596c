"""The HTTP API under load: record reads and list pages by 100 concurrent clients, next to the
same handler called in-process (what the framework and the network add), and alert → SSE
client latency.

A workspace with 10,000 records (half of them anchored) and 100,000 alerts is made before the
clock starts. `proofmind serve` runs as its own process (one uvicorn worker, uvloop, httptools);
the load generator is this process, on the same cores: ``--clients`` closed-loop clients (one
keep-alive connection each; the next request as soon as the last is answered), for
``--seconds`` per endpoint, at 100 and at 10 clients.

Two load generators: ``lean`` (default) — keep-alive HTTP/1.1 connections as asyncio protocols
on uvloop, prepared request bytes, each answer read by its Content-Length (status checked, body
not parsed) — and ``httpx`` (one AsyncClient per client), which costs 40–60× more CPU per request
than the lean one and, sharing two cores with the server, measures mostly itself. Record reads
at 100 clients are run with both. Each result gives the server's and the generator's CPU per
request (from /proc and ``time.process_time``), which the machine's other load does not skew
as it skews latency, and the 1-minute load average before and after.

Record reads run twice: against a server with the record cache off, then (on a second server)
with it on; before each, every record is read once (steady state: the cache holds all 10,000).

Usage: python benchmarks/bench_api.py [--clients 100] [--seconds 8] [--records 10000]
       [--alerts 100000] [--generator lean|httpx] [--no-cross-check] [--no-sse]
       [--only-records] [--repeat 3] [--baseline-python ../old/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def start_server(
    ws_root: Path, python: str = sys.executable, **settings: str
) -> tuple[subprocess.Popen[str], str, queue.Queue[str]]:
    """`proofmind serve` over ``ws_root`` run by ``python``; ``settings``: [api] settings (as
    environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    env |= {"PROOFMIND_API_RATE_PER_SECOND": "1000000", "PROOFMIND_API_RATE_BURST": "1000000",
            "PROOFMIND_API_SSE_POLL_SECONDS": "0.1"}  # fmt: skip
    env |= {f"PROOFMIND_API_{k.upper()}": v for k, v in settings.items()}
    process = subprocess.Popen(
        [python, "-m", "proofmind", "serve", "--port", "0", "-w", str(ws_root)],
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


def summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


async def load_httpx(url: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
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
    return summary(latencies, errors, time.perf_counter() - started)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight: the answer is complete
    when its header and then Content-Length bytes of body have arrived (the server sends every
    answer of these endpoints with a Content-Length; anything else counts as an error)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.need = -1  # bytes the current answer takes in the buffer; -1: header not read
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0 and status not in (204, 304):
                waiter.set_exception(RuntimeError(f"no Content-Length: {head[:200]!r}"))
                return
            length = 0 if at < 0 else int(head[at + 17 : head.find(b"\r\n", at + 2)])
            self.need = end + 4 + length
            self.status = status
        if len(self.buffer) >= self.need:
            del self.buffer[: self.need]
            self.need = -1
            waiter.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("the server closed the connection"))

    def get(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


async def load_lean(url: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` keep-alive HTTP/1.1 connections on one event loop (uvloop when installed),
    closed loop like the httpx clients; each request is a prepared byte string and each answer
    is read by its Content-Length (status checked, body not parsed)."""
    parts = httpx.URL(url)
    host, port = str(parts.host), int(parts.port or 80)
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode() for p in paths
    ]
    latencies: list[float] = []
    errors = 0
    end = float("inf")
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        transport, conn = await loop.create_connection(_Connection, host, port)
        try:
            await conn.get(rng.choice(requests))  # connect first: steady state is measured
            await ready.wait()
            clock = time.perf_counter
            while clock() < end:
                started = clock()
                status = await conn.get(rng.choice(requests))
                latencies.append(clock() - started)
                errors += status != 200
        finally:
            transport.close()

    tasks = [asyncio.ensure_future(client(i)) for i in range(clients)]
    await asyncio.sleep(1.0)  # every client connected
    started = time.perf_counter()
    end = started + seconds
    ready.set()
    await asyncio.gather(*tasks)
    return summary(latencies, errors, time.perf_counter() - started)


async def sweep(url: str, paths: list[str], clients: int = 10) -> None:
    """Every path once (``clients`` connections taking the next one in turn): a warm-up that
    leaves each answer in the server's caches."""
    parts = httpx.URL(url)
    host, port = str(parts.host), int(parts.port or 80)
    todo = iter(paths)
    loop = asyncio.get_running_loop()

    async def client() -> None:
        transport, conn = await loop.create_connection(_Connection, host, port)
        try:
            for path in todo:
                request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
                if await conn.get(request) != 200:
                    raise RuntimeError(f"GET {path} failed during the warm-up")
        finally:
            transport.close()

    await asyncio.gather(*(client() for _ in range(clients)))


def run_load(
    generator: str, url: str, paths: list[str], clients: int, seconds: float
) -> dict[str, float]:
    """One closed-loop load run; the lean generator on uvloop when it is installed."""
    if generator == "httpx":
        return asyncio.run(load_httpx(url, paths, clients, seconds))
    factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(load_lean(url, paths, clients, seconds))


def server_seconds(url: str) -> tuple[float, int]:
    """Time the server spent inside the application (its own histogram; the /metrics route
    itself left out), and requests."""
    text = httpx.get(url + "/metrics").text
    # a route label may hold braces itself: route="/api/v1/records/{ref}"
    pattern = r'^proofmind_api_request_seconds_{}\{{.*route="(.*)".*\}} (\S+)$'
    total = sum(
        float(v) for r, v in re.findall(pattern.format("sum"), text, re.M) if r != "/metrics"
    )
    count = sum(
        float(v) for r, v in re.findall(pattern.format("count"), text, re.M) if r != "/metrics"
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


def in_process_app(ws: Any, keys: list[int], cache_mb: float, n: int = 20_000) -> dict[str, float]:
    """The whole ASGI application (middleware, routing or the record cache, handler) called
    in-process, without a server or a socket: what the framework adds to the handler."""
    from proofmind.api import create_app
    from proofmind.settings import ApiSettings

    app = create_app(
        ws, ApiSettings(record_cache_mb=cache_mb, rate_per_second=1e9, rate_burst=10**9)
    )
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def scope(key: int) -> dict[str, Any]:
        path = f"/api/v1/records/{key}"
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8650), "state": {},
        }  # fmt: skip

    async def run() -> list[float]:
        for key in keys:  # steady state, as over the network
            await app(scope(key), receive, send)
        rng = random.Random(1)
        times = []
        for _ in range(n):
            request = scope(rng.choice(keys))
            started = time.perf_counter()
            await app(request, receive, send)
            times.append(time.perf_counter() - started)
        return times

    times = asyncio.run(run())
    if set(statuses) != {200}:
        raise RuntimeError(f"in-process answers were {sorted(set(statuses))}, not 200")
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    generator: str,
    url: str,
    server_pid: int,
    name: str,
    paths: list[str],
    clients: int,
    seconds: float,
) -> dict[str, Any]:
    before = server_seconds(url)
    load_before = os.getloadavg()[0]
    server_cpu, own_cpu = cpu_seconds(server_pid), time.process_time()
    result: dict[str, Any] = run_load(generator, url, paths, clients, seconds)
    own_cpu, server_cpu = time.process_time() - own_cpu, cpu_seconds(server_pid) - server_cpu
    after = server_seconds(url)
    # mean time inside the app per request (middleware, routing, handler), waits included
    result["app_ms"] = (after[0] - before[0]) / max(1, after[1] - before[1]) * 1000
    # CPU per request: the server's process and the load generator's (this process)
    result["server_cpu_ms"] = server_cpu / max(1, result["requests"]) * 1000
    result["generator_cpu_ms"] = own_cpu / max(1, result["requests"]) * 1000
    result["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["generator"] = generator
    print(f"{name} × {clients} clients [{generator}]", json.dumps(result), flush=True)
    return result


def baseline(
    args: argparse.Namespace, root: Path, scenarios: dict[str, list[str]], results: dict[str, Any]
) -> None:
    """Every scenario at ``--clients`` against the baseline installation's server."""
    process, url, _ = start_server(root, python=args.baseline_python)
    try:
        asyncio.run(sweep(url, scenarios["GET /api/v1/records/{key}"]))
        for name, paths in scenarios.items():
            got = measure(args.generator, url, process.pid, name, paths, args.clients, args.seconds)
            results[f"{name} × {args.clients} clients [baseline]"] = got
            ours = results.get(f"{name} × {args.clients} clients") or results.get(
                f"{name} × {args.clients} clients (run 1)"
            )
            if ours is not None:
                got["server_cpu_ratio"] = got["server_cpu_ms"] / ours["server_cpu_ms"]
                print(f"  baseline / this server, CPU per request: {got['server_cpu_ratio']:.2f}×")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument(
        "--generator",
        choices=("lean", "httpx"),
        default="lean",
        help="load generator of every endpoint (the other one cross-checks record reads)",
    )
    parser.add_argument("--no-cross-check", action="store_true", help="skip the other generator")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the record reads at --clients clients"
    )
    parser.add_argument(
        "--baseline-python",
        help="also run every endpoint at --clients clients against the server of another "
        "installation (the interpreter of a virtualenv holding an earlier proofmind), same "
        "workspace and generator, and print the ratios",
    )
    parser.add_argument("--no-sse", action="store_true")
    parser.add_argument("--only-records", action="store_true", help="record reads only")
    args = parser.parse_args()
    from proofmind.app.paging import encode_cursor

    other = "httpx" if args.generator == "lean" else "lean"
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ws = make_workspace(Path(tmp), args.records, args.alerts)
        print(f"workspace: {args.records:,} records, {args.alerts:,} alerts in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        keys = list(range(1, args.records + 1))
        record_paths = [f"/api/v1/records/{k}" for k in keys]
        results: dict[str, Any] = {}
        # the same server with the record cache off: what the cache gives
        process, url, _ = start_server(ws.root, record_cache_mb="0")
        try:
            asyncio.run(sweep(url, record_paths))  # the same warm-up (SQLite's page cache)
            name = "GET /api/v1/records/{key} (record cache off)"
            results[f"{name} × {args.clients} clients"] = measure(
                args.generator, url, process.pid, name, record_paths, args.clients, args.seconds
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        process, url, _ = start_server(ws.root)
        try:
            scenarios = {
                "GET /api/v1/records/{key}": record_paths,
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
            # steady state: every record read once (the record cache holds all 10,000)
            asyncio.run(sweep(url, record_paths))
            for clients in sorted({args.clients, 10}, reverse=True):
                for name, paths in scenarios.items():
                    if args.only_records and paths is not record_paths:
                        continue
                    runs = args.repeat if paths is record_paths and clients == args.clients else 1
                    for run in range(runs):  # the record reads again: how much the noise moves
                        label = f"{name} × {clients} clients" + (f" (run {run + 1})" * (runs > 1))
                        results[label] = measure(
                            args.generator, url, process.pid, name, paths, clients, args.seconds
                        )
            if not args.no_cross_check:
                name = "GET /api/v1/records/{key}"
                results[f"{name} × {args.clients} clients [{other}]"] = measure(
                    other, url, process.pid, name, record_paths, args.clients, args.seconds
                )
            results["in-process record handler"] = in_process(ws, keys)
            print("in-process", json.dumps(results["in-process record handler"]), flush=True)
            for label, cache_mb in (("cache off", 0.0), ("cache on", 32.0)):
                name = f"in-process ASGI app, record {label}"
                results[name] = in_process_app(ws, keys, cache_mb)
                print(name, json.dumps(results[name]), flush=True)
            if args.baseline_python:
                baseline(args, ws.root, scenarios, results)
            if not args.no_sse:
                results["SSE"] = sse_latency(url, ws.root, alerts=100, watchers=10)
                print("SSE", json.dumps(results["SSE"]), flush=True)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        ws.close()
    print(json.dumps({"machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                      "seconds": round(time.perf_counter() - started, 1),
                      "results": results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
