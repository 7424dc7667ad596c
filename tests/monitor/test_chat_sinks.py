"""Slack and Discord channels as sinks: the message each gets for an alert and a retraction,
through the store's outbox to an incoming-webhook receiver run here; a 429 is retried after
the Retry-After it gives; the webhook URL (a secret) is not the sink's stored name."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from proofmind.monitor.api import Alert
from proofmind.monitor.sinks import ChatSink, deliver_due
from proofmind.monitor.store import AlertStore


class Channel:
    """An incoming webhook on a free port: answers each POST with the next of ``answers``
    (status, headers), then 204 as Discord does (Slack says 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        channel = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                channel.received.append((time.monotonic(), json.loads(body)))
                status, headers = channel.answers.pop(0) if channel.answers else (204, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhooks/1/secret-token"


@pytest.fixture
def channel() -> Iterator[Channel]:
    c = Channel()
    yield c
    c.server.shutdown()


DEPEG = Alert(
    detector="depeg",
    severity="high",
    subject="FEI",
    time=1_655_870_940.0,  # 2022-06-22 04:09 UTC
    score=0.029,
    explanation="FEI trades 2.9% below its peg of 1 (median of the last 3 prices) <@here> *now*",
    evidence={},
    block=47,
    kind="depeg",
)


def _deliver_all(store: AlertStore, sink: ChatSink, deadline: float = 10.0) -> dict[str, int]:
    totals = {"delivered": 0, "retried": 0, "dead": 0}
    stop = time.monotonic() + deadline
    while store.outbox_counts().get((sink.name, "pending"), 0):  # due now or later
        for key, value in deliver_due(store, [sink], backoff=0.05).items():
            totals[key] += value
        if time.monotonic() > stop:
            break
        time.sleep(0.05)
    return totals


@pytest.mark.parametrize("kind", ["slack", "discord"])
def test_a_channel_gets_the_alert_and_its_retraction(
    tmp_path: Path, channel: Channel, kind: str
) -> None:
    sink = ChatSink(kind, channel.url)
    assert "secret-token" not in sink.name and sink.name.startswith(f"{kind}:")
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(DEPEG, "0xabc")], [sink.name], 47, {})
    store.rewind(47, [sink.name])  # a reorg dropped block 47: the alert is retracted
    channel.answers = [(429, {"Retry-After": "1"})]  # rate limited once
    totals = _deliver_all(store, sink)
    assert totals == {"delivered": 2, "retried": 1, "dead": 0}
    (refused, _), (first, alert), (_, retraction) = channel.received
    assert first - refused >= 0.9  # waited the Retry-After, not the 0.05 s backoff
    if kind == "slack":
        text = alert["text"]
        assert text.splitlines() == [
            "*HIGH depeg: FEI*",
            "FEI trades 2.9% below its peg of 1 (median of the last 3 prices) &lt;@here&gt; *now*",
            "block 47 · 2022-06-22 04:09:00 UTC · proofmind alert 1",
        ]
        assert retraction["text"].startswith("*RETRACTED (a reorg dropped block 47): HIGH depeg")
    else:
        assert alert["allowed_mentions"] == {"parse": []}  # <@here> pings nobody
        assert alert["content"].splitlines()[1].endswith(r"<@here> \*now\*")
        assert alert["content"].startswith("**HIGH depeg: FEI**\n")
        assert retraction["content"].startswith("**RETRACTED (a reorg dropped block 47)")
    store.close()


def test_a_long_explanation_is_cut_to_the_channels_limit(tmp_path: Path, channel: Channel) -> None:
    sink = ChatSink("discord", channel.url)
    store = AlertStore(tmp_path / "alerts.sqlite")
    long = replace(DEPEG, explanation="x" * 5000)
    store.commit_range([(long, None)], [sink.name], 47, {})
    assert _deliver_all(store, sink)["delivered"] == 1
    content = channel.received[0][1]["content"]
    assert len(content) == 2000 and "x…\nblock 47" in content
    store.close()


def test_a_channel_that_keeps_failing_ends_in_dead_letters(
    tmp_path: Path, channel: Channel
) -> None:
    sink = ChatSink("slack", channel.url)
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(DEPEG, None)], [sink.name], 47, {})
    channel.answers = [(500, {}), (500, {}), (500, {})]
    for _ in range(3):
        deliver_due(store, [sink], max_attempts=3, backoff=0.0)
    assert len(channel.received) == 3 and not store.pending(sink.name)
    [(_, name, event, alert_id, error)] = store.dead_letters()
    assert (name, event, alert_id, error) == (sink.name, "alert", 1, "HTTP 500")
    store.close()
