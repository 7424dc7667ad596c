"""Alerts through the API, and `proofmind serve` as a real process: an alert stored in the
workspace reaches a Server-Sent Events client within 2 s; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from web3 import Web3

from proofmind.chain.base import Chain
from proofmind.client import Client
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore
from proofmind.workspace import Workspace
from tests.monitor.test_live import Receiver

from .conftest import MakeApi


def alert(n: int, *, detector: str = "watch", severity: str = "high") -> Alert:
    return Alert(
        detector=detector,
        severity=severity,  # type: ignore[arg-type]
        subject=f"0x{n:040x}",
        time=1_700_000_000.0 + n,
        score=float(n),
        explanation=f"alert {n}",
        evidence={"n": n},
        block=100 + n,
        kind="transfer",
    )


def test_alert_pages_and_filters(ws: Workspace, make_api: MakeApi) -> None:
    store = AlertStore.for_workspace(ws.root)
    for n in range(1, 26):
        store.add(alert(n, detector="watch" if n % 5 else "funding-fan-out"))
    store.retract_from_block(124)  # alerts 24 and 25
    api, http = make_api()
    first = api.alerts(limit=10)
    assert [a["id"] for a in first["items"]] == list(range(25, 15, -1))
    assert first["total"] == 25
    seen = [a["id"] for a in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = api.alerts(limit=10, cursor=cursor)
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(range(25, 0, -1))
    fan = api.alerts(detector="funding-fan-out")
    assert [a["id"] for a in fan["items"]] == [25, 20, 15, 10, 5] and fan["total"] == 5
    assert [a["id"] for a in api.alerts(status="retracted")["items"]] == [25, 24]
    pasted = "0x" + f"{11:040x}".upper()  # an address in another case than stored
    assert [a["id"] for a in api.alerts(subject=pasted)["items"]] == [11]
    # the alerts' own times (1_700_000_000 + n): since inclusive, until not, in any form
    window = api.alerts(since=1_700_000_020, until="2023-11-14T22:13:43Z")
    assert [a["id"] for a in window["items"]] == [22, 21, 20] and window["total"] == 3
    assert api.alerts(since="2023-11-14 22:13:40+00:00", detector="watch")["total"] == 4
    assert api.alerts(since="1h")["total"] == 0  # 2023's alerts are older than an hour
    for query, said in (
        ({"since": "yesterday"}, "since 'yesterday' is not a time"),
        ({"since": "2023-11-15", "until": "2023-11-14"}, "the time range is empty"),
    ):
        answer = http.get("/api/v1/alerts", params=query)
        assert answer.status_code == 400 and said in answer.text, answer.text
    one = api.alert(7)
    assert one["explanation"] == "alert 7" and one["evidence"] == {"n": 7}
    etag = http.get("/api/v1/alerts/7").headers["etag"]
    assert http.get("/api/v1/alerts/7", headers={"If-None-Match": etag}).status_code == 304
    assert api.overview()["alerts"] == {"total": 25, "active": 23, "last_id": 25}
    store.close()


def test_a_replaced_alert_store_is_followed(ws: Workspace, make_api: MakeApi) -> None:
    """A monitor started again on a new store (the file deleted and made again) while the API
    runs: the API's open connection would keep reading the old file for good."""
    store = AlertStore.for_workspace(ws.root)
    for n in range(1, 4):
        store.add(alert(n))
    api, _ = make_api()
    assert api.overview()["alerts"]["total"] == 3
    store.close()
    store.path.unlink()
    again = AlertStore.for_workspace(ws.root)
    again.add(alert(9))
    assert [a["explanation"] for a in api.alerts()["items"]] == ["alert 9"]
    assert api.overview()["alerts"] == {"total": 1, "active": 1, "last_id": 1}
    again.close()


def test_the_live_stream_follows_a_replaced_store(ws: Workspace) -> None:
    """Its position is an alert id: in a new store (ids from 1 again) the stream would stay
    silent until the new ids passed the old ones. It streams the new store's alerts stored
    since its last poll instead (not those stored before it: history)."""
    from proofmind.api.services import AlertHub

    path = ws.root / "monitor" / "alerts.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    reader, writer = AlertStore(path), AlertStore(path)
    for n in range(1, 6):
        writer.add(alert(n))

    async def follow() -> list[str]:
        hub = AlertHub(lambda: reader, poll=1.0)
        async with hub.subscribe() as queue:
            writer.add(alert(6))
            got = [(await asyncio.wait_for(queue.get(), 5)).alert.explanation]
            await asyncio.sleep(0.3)  # the hub has polled again and waits: swap the store now
            writer.close()
            path.unlink()  # a monitor started again on a new store
            fresh = AlertStore(path)
            fresh.add(alert(20))
            with sqlite3.connect(path) as conn:  # stored an hour ago: history, not news
                conn.execute("UPDATE alerts SET stored_at = stored_at - 3600")
            fresh.add(alert(21))  # id 2 of the new store: below the stream's position, news
            got.append((await asyncio.wait_for(queue.get(), 5)).alert.explanation)
            fresh.add(alert(22))
            got.append((await asyncio.wait_for(queue.get(), 5)).alert.explanation)
            fresh.close()
        await hub.close()
        return got

    assert asyncio.run(follow()) == ["alert 6", "alert 21", "alert 22"]
    reader.close()


@pytest.fixture
def served(
    ws: Workspace, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`proofmind serve --port 0` over ``ws`` (more arguments and environment by indirect
    parametrization); its URL, read from its first line."""
    args, extra_env = getattr(request, "param", ([], {}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    env["PROOFMIND_API_SSE_POLL_SECONDS"] = "0.1"
    env |= {k: v(request) if callable(v) else v for k, v in extra_env.items()}
    args = [a(request) if callable(a) else a for a in args]
    process = subprocess.Popen(
        [sys.executable, "-m", "proofmind", "serve", "--port", "0", "-w", str(ws.root), *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stderr],
        daemon=True,  # type: ignore[union-attr]
    ).start()
    url = None
    deadline = time.monotonic() + 20
    while url is None and time.monotonic() < deadline:
        try:
            found = re.search(r"API on (http://\S+) ", lines.get(timeout=1))
        except queue.Empty:
            continue
        url = found.group(1) if found else None
    assert url is not None, "serve printed no URL"
    process.lines = lines  # type: ignore[attr-defined]
    yield process, url
    if process.poll() is None:
        process.kill()
        process.wait()


def test_sse_delivers_a_stored_alert_within_two_seconds(
    ws: Workspace, served: tuple[subprocess.Popen[str], str]
) -> None:
    process, url = served
    store = AlertStore.for_workspace(ws.root)
    store.add(alert(1))  # before the stream: sent only to a client that asks with after=
    received: queue.Queue[tuple[float, dict[str, object]]] = queue.Queue()
    ready = threading.Event()

    def listen() -> None:
        with Client(url, timeout=10) as api:
            stream = api.stream_alerts(timeout=15)
            ready.set()
            for item in stream:
                received.put((time.monotonic(), item))

    threading.Thread(target=listen, daemon=True).start()
    assert ready.wait(10)
    time.sleep(0.5)  # the stream is open and the hub polling
    latencies = []
    for n in range(2, 7):
        stored_at = time.monotonic()
        store.add(alert(n))
        got_at, item = received.get(timeout=2)
        assert item["explanation"] == f"alert {n}"
        latencies.append(got_at - stored_at)
    assert max(latencies) < 2.0, latencies
    with Client(url) as api:
        resumed = api.stream_alerts(after=0, timeout=5)
        assert [next(resumed)["id"] for _ in range(3)] == [1, 2, 3]
        resumed.close()  # type: ignore[attr-defined]
        health = api.health()
        assert health["status"] == "ok" and health["tasks"]["api"]["state"] == "running"
    # SIGTERM with a stream still open: the server stops cleanly, soon
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    rest: list[str] = []
    with contextlib.suppress(queue.Empty):  # the reader thread may lag behind the exit
        while not any("stopped: api stopped" in line for line in rest):
            rest.append(process.lines.get(timeout=5))  # type: ignore[attr-defined]
    assert any("stopped: api stopped" in line for line in rest), rest
    store.close()
    assert Path(ws.root / "monitor" / "alerts.sqlite").is_file()


WATCHED = "0x00000000000000000000000000000000000b0b0b"


def started_at(ws: Workspace) -> int | None:
    """The block the workspace's monitor has processed through (None: not started yet)."""
    try:
        store = AlertStore.existing(ws.root)
    except sqlite3.OperationalError:  # the monitor is making it
        return None
    if store is None:
        return None
    try:
        done = store.processed_through()
    finally:
        store.close()
    return None if done is None else done[0]


def _rpc_url(request: pytest.FixtureRequest) -> str:
    chain = request.getfixturevalue("chain")
    return str(chain.w3.provider.endpoint_uri)


@pytest.fixture
def slack() -> Iterator[Receiver]:
    """A Slack incoming webhook's stand-in: records what is posted, answers 200."""
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


MONITOR = (
    ["--monitor", "-d", "watch", "--params", json.dumps({"watch": {"addresses": [WATCHED]}}),
     "--slack", lambda request: request.getfixturevalue("slack").url],
    {"PROOFMIND_CHAIN_BACKEND": "rpc", "PROOFMIND_CHAIN_RPC_URL": _rpc_url},
)  # fmt: skip


@pytest.mark.devnet
@pytest.mark.parametrize("served", [MONITOR], indirect=True, ids=["monitor"])
def test_serve_hosts_the_monitor_whose_alerts_stream_live(
    chain: Chain, ws: Workspace, served: tuple[subprocess.Popen[str], str], slack: Receiver
) -> None:
    """`serve --monitor`: a watched transfer's alert reaches an SSE client, and the Slack
    channel given with --slack."""
    process, url = served
    with Client(url, timeout=10) as api:
        deadline = time.monotonic() + 15
        while api.health()["tasks"].get("monitor", {}).get("state") != "running":
            assert time.monotonic() < deadline, api.health()
            time.sleep(0.1)
        while started_at(ws) is None:  # the monitor has read the chain head it starts after
            assert time.monotonic() < deadline + 15, api.health()
            time.sleep(0.1)
        stream = api.stream_alerts(timeout=15)
        time.sleep(0.5)  # the stream is open and the hub polling
        sent_at = time.monotonic()
        chain.sender().send({"to": Web3.to_checksum_address(WATCHED), "value": 10**18})
        got = next(stream)
        latency = time.monotonic() - sent_at
        assert got["detector"] == "watch" and got["subject"].lower() == WATCHED
        assert latency < 5.0, latency  # the monitor polls each second, the stream 10 times
        stream.close()  # type: ignore[attr-defined]
        assert api.health()["tasks"]["monitor"]["restarts"] == 0
        deadline = time.monotonic() + 10
        while not slack.received and time.monotonic() < deadline:
            time.sleep(0.1)
        [message] = slack.deliveries()
        assert message["text"].startswith("*") and WATCHED in message["text"].lower()
        metrics = api.http.get("/metrics").text
        assert 'proofmind_task_up{task="monitor"} 1' in metrics
        # the hosted monitor's counters, and its outbox (read from the store)
        alerts = re.search(r"^proofmind_monitor_alerts_total (\S+)$", metrics, re.M)
        assert alerts is not None and float(alerts.group(1)) >= 1, metrics
        assert re.search(r"^proofmind_monitor_blocks_total [1-9]", metrics, re.M), metrics
        assert 'proofmind_monitor_outbox{sink="slack:' in metrics
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_mutes_through_the_api(ws: Workspace, make_api: MakeApi) -> None:
    """List, add and end mutes over HTTP: reads with no key, writes with an API key only, bad
    values a 400 that names them, an unknown mute a 404 (with no alert store made to answer
    it); what the API adds, the CLI's store sees."""
    from proofmind.app.apikeys import create_key
    from proofmind.client import ApiError

    _, token = create_key(ws.state, "operator")
    reader, http = make_api()
    assert reader.mutes() == []  # no alert store yet
    with pytest.raises(ApiError) as refused:
        reader.mute("FEI", "2h")
    assert refused.value.status == 401
    api, _ = make_api(api_key=token)
    with pytest.raises(ApiError) as nothing:
        api.unmute(1)
    assert nothing.value.status == 404 and AlertStore.existing(ws.root) is None  # none made
    made = api.mute("0xAB", "2h", detector="watch", reason="known trader")
    assert (made["id"], made["subject"], made["detector"]) == (1, "0xab", "watch")
    planned = datetime.fromisoformat(api.mute("FEI", "30m")["until"]).timestamp()
    assert [m["id"] for m in reader.mutes()] == [1, 2]
    asked = time.time()
    ended = datetime.fromisoformat(api.unmute(2)["until"]).timestamp()
    # ended when asked, not in 30 minutes (to the second it is shown in; the machine's clock
    # may step by a second between the server's reading and this one)
    assert abs(ended - asked) <= 2 and ended < planned - 60
    assert [m["id"] for m in reader.mutes()] == [1]
    assert [m["id"] for m in reader.mutes(every=True)] == [1, 2]
    for body, message in [
        ({"subject": "FEI", "for": "soon"}, "--for 'soon' is not a span of time"),
        ({"subject": "FEI", "detector": "nosuch"}, "no detector of that name"),
        ({"subject": " "}, "the subject to mute is empty"),
    ]:
        with pytest.raises(ApiError) as bad:
            api._post("/mutes", body)
        assert bad.value.status == 400 and message in str(bad.value), body
    with pytest.raises(ApiError) as absent:
        api.unmute(9)
    assert absent.value.status == 404
    raw = http.post("/api/v1/mutes", json={"subject": "FEI", "for": "1h", "colour": "red"},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert raw.status_code in (400, 422)  # an unknown field is refused
    store = AlertStore.for_workspace(ws.root)
    assert [(m.id, m.subject) for m in store.mutes()] == [(1, "0xab"), (2, "FEI")]
    store.close()


def test_deliveries_and_redelivery_through_the_api(ws: Workspace, make_api: MakeApi) -> None:
    """List deliveries and queue dead letters again over HTTP: an API key for both (a sink's
    name holds its webhook URL), bad values a 400 that names them, an unknown id a 404."""
    from proofmind.app.apikeys import create_key
    from proofmind.client import ApiError
    from proofmind.monitor.sinks import WebhookSink, deliver_due, public_sink_name

    _, token = create_key(ws.state, "operator")
    reader, http = make_api()
    with pytest.raises(ApiError) as refused:
        reader.deliveries()
    assert refused.value.status == 401
    api, _ = make_api(api_key=token)
    assert api.deliveries()["items"] == []  # no alert store yet
    assert api.redeliver(every=True) == {"queued": [], "skipped": []}
    store = AlertStore.for_workspace(ws.root)
    hook = WebhookSink("http://127.0.0.1:9/hook", secret="s", timeout=1)  # nobody listens
    store.add_many([(alert(1), None)])
    store.commit_range([(alert(2), None)], [hook.name, "terminal"], 2, {})
    deliver_due(store, [hook], max_attempts=1)
    page = api.deliveries(status="dead")
    [dead] = page["items"]
    assert (dead["sink"], dead["event"], dead["attempts"]) == (hook.name, "alert", 1)
    assert "ConnectionError" in dead["last_error"]
    assert [d["sink"] for d in api.deliveries(sink="terminal")["items"]] == ["terminal"]
    shown = public_sink_name(hook.name)  # the name /metrics and /health show stands for it
    assert [d["sink"] for d in api.deliveries(sink=shown)["items"]] == [hook.name]
    assert [d["id"] for d in api.deliveries(alert=2)["items"]] == [2, 1]
    assert api.deliveries(alert=1)["items"] == []  # stored with no sink
    first = api.deliveries(limit=1)
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = api.deliveries(limit=1, cursor=first["next_cursor"])
    assert rest["items"][0]["id"] < first["items"][0]["id"] and rest["next_cursor"] is None
    for body, status, message in [
        ({"ids": [1], "all": True}, 400, "not both"),
        ({}, 400, "no dead letter named"),
        ({"ids": [dead["id"]], "sink": "webhook"}, 400, "--sink goes with --all"),
        ({"ids": [2]}, 400, "delivery 2 is pending"),  # the terminal's, not a dead letter
        ({"ids": [99]}, 404, "no delivery 99"),
    ]:
        with pytest.raises(ApiError) as bad:
            api._post("/deliveries/redeliver", body)
        assert bad.value.status == status and message in str(bad.value), body
    with pytest.raises(ApiError) as unknown:
        api.deliveries(status="lost")
    assert unknown.value.status == 400 and "unknown delivery status 'lost'" in str(unknown.value)
    raw = http.post("/api/v1/deliveries/redeliver", json={"all": True, "colour": "red"},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert raw.status_code in (400, 422)  # an unknown field is refused
    metrics = http.get("/metrics").text  # the outbox, with no webhook's path in it
    assert 'proofmind_monitor_outbox{sink="webhook:http://127.0.0.1:9/…#' in metrics
    assert '",status="dead"} 1.0' in metrics and "/hook" not in metrics
    assert 'proofmind_monitor_outbox_oldest_pending_seconds{sink="terminal"}' in metrics
    done = api.redeliver([dead["id"]])
    assert [d["id"] for d in done["queued"]] == [dead["id"]] and done["skipped"] == []
    assert [d.status for d in store.deliveries(sink="webhook")] == ["pending"]
    store.close()
