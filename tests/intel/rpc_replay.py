"""Record a node's JSON-RPC answers, and replay them from a file: a node frozen in time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


def _key(request: dict[str, Any]) -> str:
    return json.dumps([request["method"], request.get("params", [])], sort_keys=True)


@contextmanager
def serve(answer: Any) -> Iterator[str]:
    """A local JSON-RPC server whose answers come from ``answer(request) -> response``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            batch = payload if isinstance(payload, list) else [payload]
            out = [answer(r) for r in batch]
            body = json.dumps(out if isinstance(payload, list) else out[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def recording(upstream: str, tape: dict[str, Any]) -> Iterator[str]:
    """Forward to ``upstream`` and keep every answer in ``tape``."""
    lock = threading.Lock()

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(upstream, json=request, timeout=30).json()
        with lock:
            tape[_key(request)] = response.get("result")
        return response

    with serve(answer) as url:
        yield url


@contextmanager
def replaying(tape: dict[str, Any]) -> Iterator[str]:
    """Answer from ``tape``; a request it does not hold is an error, as a strict node's."""

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        key = _key(request)
        if key not in tape:
            return {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32000, "message": f"not recorded: {key}"},
            }
        return {"jsonrpc": "2.0", "id": request["id"], "result": tape[key]}

    with serve(answer) as url:
        yield url
