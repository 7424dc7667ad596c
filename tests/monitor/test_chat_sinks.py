"""Slack, Discord and Telegram channels as sinks: the message each gets for an alert and a
retraction, through the store's outbox to a receiver run here (an incoming webhook, or a local
Bot API server); a 429 is retried after the Retry-After it gives; the webhook URL and the bot's
token (secrets) are neither the sink's stored name nor in its errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from proofmind.chain.base import Chain
from proofmind.monitor.api import Alert
from proofmind.monitor.sinks import DELIVERY_RESULTS, ChatSink, deliver_due, public_sink_name
from proofmind.monitor.store import AlertStore
from proofmind.workspace import init_workspace


def counted(**results: int) -> dict[str, int]:
    """deliver_due's counts: these results, 0 for the others."""
    return dict.fromkeys(DELIVERY_RESULTS, 0) | results


class Channel:
    """An incoming webhook on a free port: answers each POST with the next of ``answers``
    (status, headers, body), then 204 as Discord does (Slack says 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.paths: list[str] = []
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        channel = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                channel.received.append((time.monotonic(), json.loads(body)))
                channel.paths.append(self.path)
                status, headers, said = (
                    channel.answers.pop(0) if channel.answers else (204, {}, b"")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/api/webhooks/1/secret-token"


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


def _deliver_all(store: AlertStore, sink: Any, deadline: float = 10.0) -> dict[str, int]:
    totals = dict.fromkeys(DELIVERY_RESULTS, 0)
    stop = time.monotonic() + deadline
    while store.outbox_counts().get((sink.name, "pending"), 0):  # due now or later
        for key, value in deliver_due(store, [sink], backoff=0.05).items():
            totals[key] += value
        if time.monotonic() > stop:
            break
        time.sleep(0.05)
    return totals


def test_retry_after_in_seconds_or_as_an_http_date(tmp_path: Path, channel: Channel) -> None:
    """Retry-After is read as seconds or as an HTTP date (RFC 9110); a webhook's 503 that
    gives one is not retried before it, nor a Telegram 429 that says when in its body."""
    from email.utils import formatdate

    from proofmind.monitor.sinks import WebhookSink, _retry_after

    now = 1_790_000_000.0
    assert _retry_after("120", now) == 120.0
    assert _retry_after(formatdate(now + 90, usegmt=True), now) == 90.0
    assert _retry_after("Fri, 01 Jan 2021 00:00:00 GMT", now) == 0.0  # already past
    assert _retry_after("soon", now) is None and _retry_after(None) is None
    sink = WebhookSink(channel.url, secret="s")
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(DEPEG, "0xabc")], [sink.name], 47, {})
    channel.answers = [(503, {"Retry-After": formatdate(time.time() + 2, usegmt=True)}, b"")]
    assert _deliver_all(store, sink) == counted(delivered=1, retried=1)
    (refused, _), (delivered, body) = channel.received
    assert delivered - refused >= 0.9 and body["alert"]["subject"] == "FEI"
    store.close()
    # Telegram says it in the body of its 429 (read, at most 64 KiB of it)
    bot = ChatSink.telegram("@alerts", "1:token", api=channel.base)
    store = AlertStore(tmp_path / "telegram.sqlite")
    store.commit_range([(DEPEG, "0xabc")], [bot.name], 47, {})
    said = b'{"ok": false, "error_code": 429, "parameters": {"retry_after": 1}}'
    channel.answers, channel.received = [(429, {}, said)], []
    assert _deliver_all(store, bot) == counted(delivered=1, retried=1)
    (refused, _), (delivered, _) = channel.received
    assert delivered - refused >= 0.9
    store.close()


@pytest.mark.parametrize("kind", ["slack", "discord"])
def test_a_channel_gets_the_alert_and_its_retraction(
    tmp_path: Path, channel: Channel, kind: str
) -> None:
    sink = ChatSink(kind, channel.url)
    assert "secret-token" not in sink.name and sink.name.startswith(f"{kind}:")
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(DEPEG, "0xabc")], [sink.name], 47, {})
    store.rewind(47, [sink.name])  # a reorg dropped block 47: the alert is retracted
    channel.answers = [(429, {"Retry-After": "1"}, b"")]  # rate limited once
    totals = _deliver_all(store, sink)
    assert totals == counted(delivered=2, retried=1)
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
        # the blocks show it as written: plain text, which mrkdwn's * and _ do not touch
        assert alert["blocks"] == [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "HIGH depeg: FEI", "emoji": False},
            },
            {
                "type": "section",
                "text": {"type": "plain_text", "text": DEPEG.explanation, "emoji": False},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "plain_text",
                        "text": "block 47 · 2022-06-22 04:09:00 UTC · proofmind alert 1",
                        "emoji": False,
                    }
                ],
            },
        ]
        header = retraction["blocks"][0]["text"]["text"]
        assert header == "RETRACTED (a reorg dropped block 47): HIGH depeg: FEI"
    else:
        assert alert["allowed_mentions"] == {"parse": []}  # <@here> pings nobody
        assert alert["content"].splitlines()[1].endswith(r"<@here> \*now\*")
        assert alert["content"].startswith("**HIGH depeg: FEI**\n")
        assert retraction["content"].startswith("**RETRACTED (a reorg dropped block 47)")
    store.close()


def test_a_long_explanation_is_cut_to_the_channels_limit(tmp_path: Path, channel: Channel) -> None:
    sink = ChatSink("discord", channel.url)
    store = AlertStore(tmp_path / "alerts.sqlite")
    long = replace(DEPEG, explanation="x_" * 2500)  # each _ escaped: 7,500 characters
    store.commit_range([(long, None)], [sink.name], 47, {})
    assert _deliver_all(store, sink)["delivered"] == 1
    content = channel.received[0][1]["content"]
    assert len(content) == 2000 and "…\nblock 47" in content
    store.close()


def test_a_channel_that_keeps_failing_ends_in_dead_letters(
    tmp_path: Path, channel: Channel
) -> None:
    sink = ChatSink("slack", channel.url)
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(DEPEG, None)], [sink.name], 47, {})
    channel.answers = [(500, {}, b"")] * 3
    for _ in range(3):
        deliver_due(store, [sink], max_attempts=3, backoff=0.0)
    assert len(channel.received) == 3 and not store.pending(sink.name)
    [dead] = store.deliveries(status="dead")
    assert (dead.sink, dead.event, dead.alert_id, dead.last_error) == (
        sink.name,
        "alert",
        1,
        "HTTP 500",
    )
    store.close()


TOKEN = "123456:AAH-secret-token-of-the-bot_0123"


def test_a_telegram_bot_sends_plain_text_and_waits_when_told(
    tmp_path: Path, channel: Channel
) -> None:
    """Telegram's Bot API (here a local Bot API server, as ``PROOFMIND_MONITOR_TELEGRAM_API``
    names one): sendMessage to the chat; its 429 says when to retry in the JSON body."""
    sink = ChatSink.telegram("-1001234567890", TOKEN, api=channel.base)
    assert sink.name == "telegram:-1001234567890"
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.commit_range([(DEPEG, None)], [sink.name], 47, {})
    told = json.dumps({"ok": False, "error_code": 429, "parameters": {"retry_after": 1}})
    channel.answers = [(429, {}, told.encode())]
    assert _deliver_all(store, sink) == counted(delivered=1, retried=1)
    (refused, _), (sent, message) = channel.received
    assert sent - refused >= 0.9
    assert channel.paths == [f"/bot{TOKEN}/sendMessage"] * 2
    assert message["chat_id"] == "-1001234567890" and message["disable_web_page_preview"]
    assert message["text"].splitlines()[0] == "HIGH depeg: FEI"  # plain text: nothing escaped
    assert "<@here> *now*" in message["text"]
    store.close()


def test_a_channel_out_of_reach_fails_without_showing_its_secret(tmp_path: Path) -> None:
    from proofmind.monitor.sinks import DeliveryError

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for sink in (
        ChatSink.telegram("@proofmind_alerts", TOKEN, api=f"http://127.0.0.1:{port}"),
        ChatSink("slack", f"http://127.0.0.1:{port}/services/T0/B0/secret-token"),
    ):
        stored = AlertStore(tmp_path / f"{sink.kind}.sqlite")
        [alert_id] = stored.commit_range([(DEPEG, None)], [sink.name], 47, {})
        alert = stored.get(alert_id)
        assert alert is not None
        with pytest.raises(DeliveryError, match="ConnectionError") as caught:
            sink.deliver(1, "alert", alert)
        assert "secret-token" not in str(caught.value) and TOKEN not in str(caught.value)
        stored.close()


@pytest.mark.devnet
def test_monitor_run_posts_to_the_channels_it_is_given(
    chain: Chain, tmp_path: Path, channel: Channel
) -> None:
    """`proofmind monitor run` as a user starts it: a Discord webhook on the command line, a
    Telegram chat with the bot's token (and a local Bot API server) in the environment; a
    watched transfer on the devnet reaches both as a message; the start line names the sinks
    without their secrets."""
    workspace, _ = init_workspace(tmp_path)
    root = workspace.root
    workspace.close()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")},
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
        "PROOFMIND_MONITOR_TELEGRAM_TOKEN": TOKEN,
        "PROOFMIND_MONITOR_TELEGRAM_API": channel.base,
    }
    watched = chain.accounts[8].address
    start = chain.w3.eth.block_number + 1
    chain.sender().send({"to": watched, "value": 10**18})
    head = chain.w3.eth.block_number
    run = subprocess.run(
        [sys.executable, "-m", "proofmind", "monitor", "run", "-w", str(root),
         "--params", json.dumps({"watch": {"addresses": [watched]}}),
         "--from-block", str(start), "--until-block", str(head), "--no-terminal",
         "--discord", channel.url, "--telegram", "-1001234567890"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "telegram:-1001234567890" in run.stderr and "discord:" in run.stderr
    assert "secret-token" not in run.stderr and TOKEN not in run.stderr
    messages = sorted((m for _, m in channel.received), key=lambda m: "chat_id" in m)
    assert [sorted(m) for m in messages] == [
        ["allowed_mentions", "content", "username"],
        ["chat_id", "disable_web_page_preview", "text"],
    ]
    assert watched.lower() in messages[0]["content"] and watched.lower() in messages[1]["text"]
    assert channel.paths.count(f"/bot{TOKEN}/sendMessage") == 1


def test_min_severity_keeps_lower_alerts_in_the_store_only(
    tmp_path: Path, channel: Channel
) -> None:
    """`--min-severity high`: a medium alert and its retraction are passed over (handled, not
    sent), a high one is sent; the store keeps both."""
    from proofmind.monitor.sinks import AtLeast

    sink = AtLeast(ChatSink("slack", channel.url), "high")
    store = AlertStore(tmp_path / "alerts.sqlite")
    medium = replace(DEPEG, severity="medium", subject="USDC", block=46)
    store.commit_range([(medium, None), (DEPEG, None)], [sink.name], 47, {})
    store.rewind(46, [sink.name])  # both retracted
    assert _deliver_all(store, sink) == counted(delivered=2, filtered=2)
    texts = [m["text"].splitlines()[0] for _, m in channel.received]
    assert texts == ["*HIGH depeg: FEI*", "*RETRACTED (a reorg dropped block 47): HIGH depeg: FEI*"]
    assert store.count() == 2
    store.close()
    with pytest.raises(ValueError, match="unknown severity 'loud'"):
        AtLeast(sink, "loud")


def test_a_floor_per_kind_of_sink(tmp_path: Path, channel: Channel) -> None:
    """`--min-severity slack=high`: the JSON-lines file gets every alert and the channel only
    the high one; a floor for every sink applies where no kind's floor does; a floor for a kind
    the run does not send to is refused."""
    from proofmind.cli.monitor_run import at_least, described, severity_floors
    from proofmind.errors import InputError
    from proofmind.monitor.sinks import JsonlSink

    floors = severity_floors(["SLACK=high"], ["jsonl", "slack"])
    assert floors == {"slack": "high"}
    jsonl, slack = at_least(
        [JsonlSink(tmp_path / "a.jsonl"), ChatSink("slack", channel.url)], floors
    )
    assert described([jsonl, slack]).endswith("(high and above)")
    assert f"{jsonl.name}," in described([jsonl, slack])
    store = AlertStore(tmp_path / "alerts.sqlite")
    medium = replace(DEPEG, severity="medium", subject="USDC", block=46)
    store.commit_range([(medium, None), (DEPEG, None)], [jsonl.name, slack.name], 47, {})
    _deliver_all(store, jsonl)
    _deliver_all(store, slack)
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert [json.loads(line)["alert"]["subject"] for line in lines] == ["USDC", "FEI"]
    assert [m["text"].splitlines()[0] for _, m in channel.received] == ["*HIGH depeg: FEI*"]
    store.close()
    both = severity_floors(["medium", "jsonl=critical"], ["terminal", "jsonl"])
    kinds = [(s.name, s.severity) for s in at_least([jsonl, slack.sink], both)]
    assert kinds == [(jsonl.name, "critical"), (slack.name, "medium")]
    with pytest.raises(InputError, match="is for telegram alerts, and this run sends none"):
        severity_floors(["telegram=critical"], ["terminal", "slack"])
    with pytest.raises(InputError, match="repeats the floor for slack"):
        severity_floors(["slack=high", "slack=low"], ["slack"])


def test_a_cooldown_holds_a_detectors_repeats_on_a_subject(tmp_path: Path) -> None:
    """`--cooldown 1h`: after a detector's alert on a subject, its repeats on that subject
    within the hour (by the alerts' times) are held, unless more severe; other detectors and
    subjects are not; a held alert's retraction is held too; a retracted alert holds nothing
    back; a restart counts from what the store says was sent. The next alert sent says how many
    were held since the last one (retracted ones not counted)."""
    from proofmind.cli.monitor_run import at_least, cooldowns, described
    from proofmind.errors import InputError
    from proofmind.monitor.sinks import JsonlSink, SinkPolicy

    path = tmp_path / "a.jsonl"
    [sink] = at_least([JsonlSink(path)], {}, cooldowns(["1h"], ["jsonl"]))
    assert isinstance(sink, SinkPolicy) and sink.cooldown == 3600
    assert "a detector's repeats on a subject held 1h" in described([sink])
    store = AlertStore(tmp_path / "alerts.sqlite")

    def at(block: int, minutes: int, **changes: str) -> tuple[Alert, None]:
        return replace(DEPEG, block=block, time=DEPEG.time + 60 * minutes, **changes), None

    raised = [
        at(1, 0),  # sent
        at(2, 10),  # held: 10 minutes after
        at(3, 20, severity="critical"),  # sent: more severe
        at(4, 30),  # held: 10 minutes after the critical one
        at(5, 30, detector="volatility", kind="volatility"),  # sent: another detector
        at(6, 30, subject="USDC"),  # sent: another subject
        at(7, 80),  # sent: an hour after the critical one
    ]
    store.commit_range(raised, [sink.name], 7, {})
    assert deliver_due(store, [sink]) == counted(delivered=5, throttled=2)

    def sent() -> list[tuple[str, int]]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return [(r["event"], r["alert"]["block"]) for r in rows]

    assert sent() == [("alert", b) for b in (1, 3, 5, 6, 7)]

    def held() -> list[int]:
        return [json.loads(line).get("held", 0) for line in path.read_text().splitlines()]

    assert held() == [0, 1, 0, 0, 1]  # 3 says 2 was held, 7 says 4 was
    store.rewind(4, [sink.name])  # blocks 4..7 dropped: 4's retraction held, as 4 was
    again = [at(4, 35), at(5, 85)]  # the new branch: 35 minutes after 3, then 85
    store.commit_range(again, [sink.name], 5, {})
    assert deliver_due(store, [sink]) == counted(delivered=4, throttled=2)
    assert sent()[5:] == [("retraction", 5), ("retraction", 6), ("retraction", 7), ("alert", 5)]
    assert held()[5:] == [0, 0, 0, 1]  # the new 4, not the retracted one

    restarted = SinkPolicy(JsonlSink(path), cooldown=3600)  # nothing remembered: the store
    store.commit_range([at(6, 90), at(7, 150)], [sink.name], 7, {})
    assert deliver_due(store, [restarted]) == counted(delivered=1, throttled=1)
    assert sent()[-1] == ("alert", 7) and held()[-1] == 1
    assert [d.status for d in store.deliveries(status="throttled")] == ["throttled"] * 5
    store.close()
    with pytest.raises(InputError, match="--cooldown 'soon' is not a span of time"):
        cooldowns(["slack=soon"], ["slack"])
    with pytest.raises(InputError, match="is for slack alerts, and this run sends none"):
        cooldowns(["slack=1h"], ["jsonl"])
    with pytest.raises(InputError, match="repeats the cooldown for every sink"):
        cooldowns(["1h", "2h"], ["jsonl"])


def test_a_message_says_how_many_repeats_were_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The alert after a cooldown says how many repeats were held back: in a channel's
    message (text and Slack's blocks), on the terminal, and as ``held`` in the JSON."""
    from proofmind.monitor.sinks import TerminalSink, payload

    store = AlertStore(tmp_path / "alerts.sqlite")
    odd = replace(DEPEG, subject="[FEI]", explanation="2.9% below [peg]")  # no Rich markup
    [alert_id] = store.commit_range([(odd, None)], ["terminal"], 47, {})
    alert = store.get(alert_id)
    assert alert is not None
    said = "12 repeats held back by the cooldown since the last one"
    slack = ChatSink("slack", "https://hooks.slack.com/services/T0/B0/x").message(
        "alert", alert, 12
    )
    assert said in slack["text"].splitlines()[-1]
    assert said in slack["blocks"][-1]["elements"][0]["text"]
    telegram = ChatSink.telegram("@alerts", "1:token").message("alert", alert, 1)
    assert "1 repeat held back by the cooldown" in telegram["text"]
    assert "held back" not in ChatSink("discord", "https://d/x").message("alert", alert)["content"]
    assert (payload(1, "alert", alert, 12)["held"], "held" in payload(1, "alert", alert)) == (
        12,
        False,
    )
    TerminalSink().deliver(1, "alert", alert, held=12)
    shown = capsys.readouterr().out
    assert "[FEI]: 2.9% below [peg]" in shown and f"({said})" in shown, shown
    store.close()


def test_test_sinks_sends_one_test_alert_and_says_how_each_went(
    channel: Channel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`monitor test-sinks`: a signed "test" delivery to a webhook and a TEST message to a
    channel, once each (no retry), nothing stored; a sink that fails is named, exit 1."""
    from proofmind.cli.main import main
    from proofmind.monitor.sinks import SECRET_ENV

    monkeypatch.setenv(SECRET_ENV, "s3")
    hook = f"{channel.base}/hook"
    assert main(["monitor", "test-sinks", "--webhook", hook, "--slack", channel.url]) == 0
    said = capsys.readouterr().err
    assert said.count("took the test alert") == 2 and "secret-token" not in said
    (_, sent), (_, posted) = channel.received
    assert (sent["event"], sent["delivery"], sent["alert"]["detector"]) == ("test", 0, "test")
    assert posted["text"].startswith("*TEST: proofmind can post here*")
    channel.answers = [(404, {}, b"no_service")]
    assert main(["monitor", "test-sinks", "--discord", channel.url, "--webhook", hook]) == 1
    said = capsys.readouterr().err
    shown = public_sink_name(f"webhook:{hook}")  # no path: it may be a key
    assert f"failed: {shown}: HTTP 404" in said and "/hook" not in said  # webhooks go first
    assert "ok: discord:" in said and "secret-token" not in said
    assert "1 of 2 sink(s) did not take the test alert" in said
    assert len(channel.received) == 4  # one each, no retry
    assert main(["monitor", "test-sinks"]) == 2
    assert "no sink to test" in capsys.readouterr().err
