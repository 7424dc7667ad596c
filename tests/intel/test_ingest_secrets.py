"""No error, log line or metric ever shows a node URL's secret, however the node fails.

Ingestion runs against a real local server at URLs that carry an API key in the path, in the
query, or a basic-auth password. The server refuses connections, answers 429 or 500, sends a
body that is not JSON, or hangs up; for the batched (asynchronous) path it answers single calls
from the devnet and misbehaves on batches only. Everything a user or an operator could see is
collected — the error and its whole chain, every log record at DEBUG level of every logger,
stdout and stderr, the Prometheus registry — and searched for the secrets.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from prometheus_client import REGISTRY, generate_latest

from proofmind.chain.base import Chain
from proofmind.chain.devnet import free_port
from proofmind.chain.retry import RetryPolicy
from proofmind.chain.rpc import http_web3
from proofmind.cli.main import main
from proofmind.errors import ProofmindError
from proofmind.intel.ingest import ingest

TOKEN = "9aa3d95b3bc440fa88ea12eaa4456161"
QUERY_KEY = "Qk3yS3cr3tValue"
PASSWORD = "hunter2-Pa55word"
SECRETS = (TOKEN, QUERY_KEY, PASSWORD, quote(PASSWORD))
FAST = RetryPolicy(retries=2, backoff=0.01)


def secret_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/v3/{TOKEN}",
        f"http://127.0.0.1:{port}/rpc?apikey={QUERY_KEY}",
        f"http://operator:{PASSWORD}@127.0.0.1:{port}/",
    ]


@contextmanager
def misbehaving_node(mode: str, upstream: str | None = None) -> Iterator[int]:
    """A JSON-RPC server on any path. ``mode``: an HTTP status, "not-json" or "hang-up" for
    every request, or "batch-..." to answer single calls from ``upstream`` and fail batches."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            failure = mode.removeprefix("batch-")
            if mode.startswith("batch-") and not isinstance(json.loads(body), list):
                assert upstream is not None
                answer = requests.post(
                    upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30
                )
                self._send(answer.status_code, answer.content)
            elif failure == "hang-up":
                self.close_connection = True  # no answer at all
            elif failure == "not-json":
                self._send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            else:
                self._send(int(failure), b'{"error": "no"}')

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def everything_shown(
    error: BaseException | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> str:
    shown = []
    if error is not None:
        shown += traceback.format_exception(error)  # with every cause and context
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    shown += [formatter.format(record) for record in caplog.records]
    out, err = capsys.readouterr()
    shown += [out, err, generate_latest(REGISTRY).decode()]
    return "\n".join(shown)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into:\n{text}"


def run_ingest(url: str, out: Path) -> ProofmindError:
    with pytest.raises(ProofmindError) as info:
        ingest(http_web3(url, timeout=5), url, out, chain_id=31337, end=3, retry=FAST)
    return info.value


@pytest.mark.parametrize("mode", ["401", "429", "500", "not-json", "hang-up"])
def test_a_failing_node_never_shows_the_secret(
    mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with misbehaving_node(mode) as port:
        for i, url in enumerate(secret_urls(port)):
            error = run_ingest(url, tmp_path / str(i))
            assert "127.0.0.1" in str(error) or "node" in str(error)
            assert_no_secret(everything_shown(error, caplog, capsys))
            caplog.clear()


def test_a_refused_connection_never_shows_the_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for i, url in enumerate(secret_urls(free_port("127.0.0.1"))):
        error = run_ingest(url, tmp_path / str(i))
        assert "did not answer" in str(error)
        assert_no_secret(everything_shown(error, caplog, capsys))


@pytest.mark.devnet
@pytest.mark.parametrize("mode", ["batch-429", "batch-500", "batch-not-json", "batch-hang-up"])
def test_failing_batches_never_show_the_secret(
    mode: str,
    chain: Chain,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    chain.w3.provider.make_request("anvil_mine", ["0x3"])  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)  # blocks 0..3 exist: the range is valid, the batches fail
    with misbehaving_node(mode, upstream) as port:
        for i, url in enumerate(secret_urls(port)):
            error = run_ingest(url, tmp_path / str(i))
            # the batched path failed (single calls, e.g. the block number, were answered)
            assert "kept refusing" in str(error) or "cannot reach" in str(error), error
            assert_no_secret(everything_shown(error, caplog, capsys))
            caplog.clear()


@pytest.mark.parametrize("mode", ["refused", "401", "500", "not-json"])
def test_the_ingest_command_never_shows_the_secret(
    mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)

    def check(port: int) -> None:
        for url in secret_urls(port):
            code = main(["ingest", "rpc", "--url", url, "-o", str(tmp_path / "out"), "--to", "3"])
            shown = everything_shown(None, caplog, capsys)
            assert code != 0 and "error: " in shown and "http://127.0.0.1:" in shown, shown
            assert_no_secret(shown)
            caplog.clear()

    if mode == "refused":
        check(free_port("127.0.0.1"))
    else:
        with misbehaving_node(mode) as port:
            check(port)


def test_logs_would_have_shown_the_secret_without_the_filter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the searches above can fail: web3 writes the full URL at DEBUG level
    from proofmind.chain import redact

    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("web3.providers.HTTPProvider")
    with misbehaving_node("500") as port:
        w3 = http_web3(secret_urls(port)[0])
        logger.removeFilter(redact._FILTER)
        try:
            with pytest.raises(requests.HTTPError):
                w3.provider.make_request("eth_chainId", [])  # type: ignore[arg-type]
        finally:
            redact.protect_transport_logs()
    assert any(TOKEN in r.getMessage() for r in caplog.records)
