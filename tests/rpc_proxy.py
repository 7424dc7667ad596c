"""A real JSON-RPC proxy on 127.0.0.1 that forwards to a node and misbehaves like hosted
providers do: refuses eth_getLogs over more than ``max_log_range`` blocks, answers HTTP 429
to the first ``throttle`` requests, loses the answer to the first ``lose_sends``
eth_sendRawTransaction requests (forwarded to the node, answered 502), and answers 503 to
everything while ``stats["down"]`` is set (an outage, switched by the test). Closed, it
refuses connections; opened again on its ``port``, it is back at the same URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@contextmanager
def rpc_proxy(
    upstream: str,
    *,
    max_log_range: int | None = None,
    throttle: int = 0,
    lose_sends: int = 0,
    port: int = 0,
) -> Iterator[dict[str, Any]]:
    stats: dict[str, Any] = {
        "url": "", "refused": 0, "throttled": 0, "requests": 0, "lost": 0, "down": False,
        "unavailable": 0,
    }  # fmt: skip
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                stats["requests"] += 1
                throttled = stats["throttled"] < throttle
                if throttled:
                    stats["throttled"] += 1
                stats["unavailable"] += bool(stats["down"])
            if stats["down"]:
                self._send(503, b'{"error": "service unavailable"}')
                return
            if throttled:
                self._send(429, b'{"error": "rate limited"}')
                return
            payload = json.loads(body)
            refusal = self._refusal(payload)
            if refusal is not None:
                stats["refused"] += 1
                self._send(200, json.dumps(refusal).encode())
                return
            upstream_response = requests.post(
                upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30
            )
            sending = (
                isinstance(payload, dict) and payload.get("method") == "eth_sendRawTransaction"
            )
            with lock:
                lose = sending and stats["lost"] < lose_sends
                stats["lost"] += lose
            if lose:
                self._send(502, b'{"error": "bad gateway"}')  # the node has it; the answer is lost
                return
            self._send(upstream_response.status_code, upstream_response.content)

        def _refusal(self, payload: Any) -> dict[str, Any] | None:
            if max_log_range is None or isinstance(payload, list):
                return None
            if payload.get("method") != "eth_getLogs":
                return None
            params = payload["params"][0]
            span = int(params["toBlock"], 16) - int(params["fromBlock"], 16) + 1
            if span <= max_log_range:
                return None
            return {
                "jsonrpc": "2.0",
                "id": payload["id"],
                "error": {"code": -32005, "message": "query returned more than 10000 results"},
            }

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)  # port: one closed before
    stats["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stats
    finally:
        server.shutdown()
        server.server_close()
