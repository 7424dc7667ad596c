"""Dead letters delivered again: listed with their last error (`monitor deliveries`), queued
again once the receiver is fixed (`monitor redeliver`), sent under their old Idempotency-Key
and first in their sink's order; an alert a reorg retracted since, and a retraction of an alert
the sink never got, are left dead; bad input refused with nothing changed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from proofmind.cli.main import main
from proofmind.errors import InputError, NotFound
from proofmind.monitor.sinks import (
    DeliveryError,
    JsonlSink,
    WebhookSink,
    deliver_due,
    public_sink_name,
)
from proofmind.monitor.store import AlertStore
from proofmind.workspace import Workspace
from tests.monitor.test_live import Receiver
from tests.monitor.test_mutes import _at


def _drain(store: AlertStore, sinks: list[Any]) -> None:
    """Deliver until nothing is pending (no backoff, two tries each)."""
    for _ in range(20):
        deliver_due(store, sinks, max_attempts=2, backoff=0.0)
        if not any(store.pending(s.name) for s in sinks):
            return
    raise AssertionError("deliveries still pending")


def _keys(receiver: Receiver) -> list[tuple[str, str, int]]:
    return [
        (h["Idempotency-Key"], json.loads(b)["event"], json.loads(b)["alert"]["block"])
        for h, b in receiver.received
    ]


def test_dead_letters_are_listed_and_delivered_again_in_order(
    tmp_path: Path, receiver: Receiver
) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    hook, lines = WebhookSink(receiver.url, secret="s"), JsonlSink(tmp_path / "a.jsonl")
    sinks = [hook, lines]
    names = [s.name for s in sinks]
    store.commit_range([(_at(47), None), (_at(48), None)], names, 48, {})
    receiver.status = 500
    _drain(store, sinks)
    dead = store.deliveries(status="dead")
    assert [(d.id, d.event, d.subject, d.attempts, d.last_error) for d in dead] == [
        (3, "alert", "FEI", 2, "HTTP 500"),  # newest first
        (1, "alert", "FEI", 2, "HTTP 500"),
    ]
    assert {d.sink for d in dead} == {hook.name}
    assert [d.id for d in store.deliveries(sink="webhook")] == [3, 1]  # a kind of sink
    assert [d.id for d in store.deliveries(sink=lines.name)] == [4, 2]  # a sink's full name
    assert store.deliveries(sink="web") == []  # not a kind: no prefix match
    assert [d.to_dict()["status"] for d in store.deliveries(sink="jsonl")] == ["delivered"] * 2

    store.rewind(48, names)  # a reorg drops block 48: its alert retracted, retractions queued
    receiver.status, receiver.received = 200, []
    _drain(store, sinks)
    # the webhook never got alert 2: its retraction is not sent there; the file's is
    assert receiver.received == []
    assert [(d.id, d.status) for d in store.deliveries(alert_id=2)] == [
        (6, "delivered"),
        (5, "skipped"),
        (4, "delivered"),
        (3, "dead"),
    ]
    assert [d.id for d in store.deliveries(status="dead")] == [3, 1]
    store.commit_range([(_at(50), None)], names, 50, {})  # queued after the dead letters

    done = store.redeliver()
    assert [(d.id, d.status, d.attempts) for d in done.queued] == [(1, "pending", 0)]
    assert [(d.id, why) for d, why in done.skipped] == [
        (3, "alert 2 was retracted since (a reorg)")
    ]
    _drain(store, sinks)
    # the dead letter first, under its old key; then what was queued after it
    assert _keys(receiver) == [("proofmind-1", "alert", 47), ("proofmind-7", "alert", 50)]
    assert [d.id for d in store.deliveries(status="dead")] == [3]  # left dead
    assert store.redeliver(sink="jsonl").queued == ()  # the file's sink has none
    store.close()


def test_a_retraction_of_an_alert_the_sink_never_got_is_not_sent(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Not after a dead letter, nor to a sink added since the alert: the receiver would be told
    to drop an alert it does not know. A store of an earlier version may hold such a
    retraction as a dead letter: `redeliver` leaves it dead and says why."""
    store = AlertStore(tmp_path / "alerts.sqlite")
    hook = WebhookSink(receiver.url, secret="s")
    store.commit_range([(_at(47), None)], ["terminal"], 47, {})  # before the webhook was added
    store.rewind(47, ["terminal", hook.name])
    counts = deliver_due(store, [hook], max_attempts=2, backoff=0.0)
    assert (counts["skipped"], counts["delivered"], receiver.received) == (1, 0, [])
    [skipped] = store.deliveries(sink="webhook")
    assert (skipped.event, skipped.status) == ("retraction", "skipped")

    with sqlite3.connect(tmp_path / "alerts.sqlite") as old:  # as an earlier version left it
        old.execute("UPDATE outbox SET status = 'dead' WHERE id = ?", (skipped.id,))
    done = store.redeliver()
    assert done.queued == ()
    assert [(d.id, why) for d, why in done.skipped] == [
        (skipped.id, "the sink never got alert 1 to retract")
    ]
    store.close()


def test_a_body_the_receiver_refuses_is_not_retried_and_holds_nothing_up(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A 422 (or 413, or 400) refuses the body itself: the delivery is a dead letter after
    one try, and the next one is sent in the same pass instead of waiting behind its retries.
    A 500 is retried as before."""
    store = AlertStore(tmp_path / "alerts.sqlite")
    hook = WebhookSink(receiver.url, secret="s")
    store.commit_range([(_at(47), None), (_at(48), None)], [hook.name], 48, {})
    receiver.status = 422
    counts = deliver_due(store, [hook], max_attempts=8, backoff=60.0)
    assert (counts["dead"], counts["retried"], len(receiver.received)) == (2, 0, 2)
    [(_, said)] = {(d.attempts, d.last_error) for d in store.deliveries(status="dead")}
    assert said == "HTTP 422 (the receiver cannot process the body: not retried)"
    assert "`monitor redeliver` once fixed" in caplog.text and "/hook" not in caplog.text
    receiver.status = 400  # Slack's and Discord's answer to a payload they reject
    store.commit_range([(_at(49), None)], [hook.name], 49, {})
    counts = deliver_due(store, [hook], max_attempts=8, backoff=60.0)
    assert (counts["dead"], counts["retried"]) == (1, 0)
    said = {d.last_error for d in store.deliveries(status="dead")}
    assert "HTTP 400 (the receiver rejected the request as malformed: not retried)" in said
    receiver.status = 500
    store.commit_range([(_at(50), None)], [hook.name], 50, {})
    counts = deliver_due(store, [hook], max_attempts=8, backoff=60.0)
    assert (counts["dead"], counts["retried"]) == (0, 1)  # waits 60 s for its next try
    store.close()


def test_a_redirect_is_not_followed(tmp_path: Path, receiver: Receiver) -> None:
    """A 301 would turn the POST into a GET without a body, which the receiver may answer
    200: the delivery would count as delivered with nothing received. It is a failure that
    names where the receiver redirects to (scheme and host only)."""
    store = AlertStore(tmp_path / "alerts.sqlite")
    hook = WebhookSink(receiver.url, secret="s")
    store.commit_range([(_at(47), None)], [hook.name], 47, {})
    receiver.status = 301
    receiver.headers = {"Location": f"{receiver.url}/s3cret-moved"}
    counts = deliver_due(store, [hook], max_attempts=1)
    assert counts["dead"] == 1 and receiver.gets == [] and len(receiver.received) == 1
    [dead] = store.deliveries(status="dead")
    host = receiver.url.rsplit("/", 1)[0]
    assert dead.last_error == (
        f"HTTP 301 (a redirect to {host}/…, not followed: give the URL it redirects to)"
    )
    store.close()


def test_redeliver_refuses_what_is_not_a_dead_letter_and_changes_nothing(
    tmp_path: Path, receiver: Receiver
) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    hook = WebhookSink(receiver.url, secret="s")
    store.commit_range([(_at(47), None)], [hook.name], 47, {})
    receiver.status = 500
    deliver_due(store, [hook], max_attempts=1)  # dead at once
    receiver.status = 200
    store.commit_range([(_at(48), None)], [hook.name], 48, {})
    deliver_due(store, [hook], max_attempts=1)
    assert [(d.id, d.status) for d in store.deliveries()] == [(2, "delivered"), (1, "dead")]
    with pytest.raises(InputError, match=r"only dead letters .* delivery 2 is delivered"):
        store.redeliver([1, 2])
    with pytest.raises(NotFound, match="no delivery 8, 9"):
        store.redeliver([1, 9, 8])
    with pytest.raises(InputError, match="unknown delivery status 'gone'"):
        store.deliveries(status="gone")
    assert [(d.id, d.status) for d in store.deliveries()] == [(2, "delivered"), (1, "dead")]
    assert store.redeliver([]) == store.redeliver(sink="nosuch")  # nothing queued
    assert [d.id for d in store.redeliver([1]).queued] == [1]
    store.close()


def test_deliveries_and_redeliver_from_the_cli(
    ws: Workspace, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--workspace", str(ws.root)]
    assert main(["monitor", "deliveries", *where]) == 0
    assert "No deliveries." in capsys.readouterr().err
    assert main(["monitor", "redeliver", "--all", *where]) == 0
    assert "No dead letters." in capsys.readouterr().err
    assert main(["monitor", "redeliver", "4", *where]) == 2
    assert "no delivery 4: this workspace has no alert store yet" in capsys.readouterr().err
    store = AlertStore.for_workspace(ws.root)
    hook = WebhookSink(receiver.url, secret="s")
    store.commit_range([(_at(47), None)], [hook.name], 47, {})
    receiver.status = 503
    deliver_due(store, [hook], max_attempts=1)
    store.close()

    assert main(["monitor", "deliveries", "--status", "dead", *where]) == 0
    out = capsys.readouterr().out
    assert "1 deliveries" in out and "HTTP 503" in out and "webhook:http" in out
    assert "/hook" not in out  # the webhook's name as logs show it: its path may be a key
    shown = public_sink_name(hook.name)
    for sink in ("webhook", shown):  # a kind, or the name as listed
        assert main(["monitor", "deliveries", "--sink", sink, "--json", *where]) == 0
        [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert (row["id"], row["status"], row["last_error"], row["sink"]) == (
            1,
            "dead",
            "HTTP 503",
            hook.name,  # the JSON has the name in full, as the store and the API
        )
    assert main(["monitor", "deliveries", "--alert", "1", "--json", *where]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [1]
    assert main(["monitor", "deliveries", "--alert", "2", *where]) == 0
    assert "No deliveries of alert 2." in capsys.readouterr().err
    assert main(["monitor", "alerts", "1", *where]) == 0  # in full, with where it went
    said = capsys.readouterr().err
    assert f"alert → {shown}: dead after 1 tries (HTTP 503)" in said and "/hook" not in said
    assert "`monitor redeliver 1`" in said
    for args, message in [
        (["redeliver"], "no dead letter named: give their ids, or --all"),
        (["redeliver", "1", "--all"], "give the ids of dead letters or --all, not both"),
        (["redeliver", "1", "--sink", "webhook"], "--sink goes with --all"),
        (["redeliver", "2"], "no delivery 2 in this workspace's alert store"),
        (["redeliver", "0"], "greater than or equal to 1"),
        (["deliveries", "--status", "lost"], "unknown delivery status 'lost'"),
    ]:
        assert main(["monitor", *args, *where]) == 2, args
        said = capsys.readouterr().err
        assert message in said and "Traceback" not in said, args

    assert main(["monitor", "redeliver", "--all", "--sink", shown, "--json", *where]) == 0
    said = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in said["queued"]] == [1] and said["skipped"] == []
    assert main(["monitor", "redeliver", "1", *where]) == 2  # pending now: not a dead letter
    assert "delivery 1 is pending" in capsys.readouterr().err
    receiver.status = 200
    store = AlertStore.for_workspace(ws.root)
    assert deliver_due(store, [hook])["delivered"] == 1
    store.close()
    assert _keys(receiver)[-1] == ("proofmind-1", "alert", 47)
    assert main(["monitor", "redeliver", "--all", "--sink", "webhook", *where]) == 0
    assert "No dead letters." in capsys.readouterr().err


def test_the_backlog_and_public_sink_names(tmp_path: Path) -> None:
    from proofmind.monitor.metrics import metrics_text, outbox_families
    from proofmind.monitor.sinks import public_sink_name

    url = "https://user:pw@hooks.example.com:8443/catch/123/s3cret?token=x"
    shown = public_sink_name(f"webhook:{url}")
    assert shown.startswith("webhook:https://hooks.example.com:8443/…#") and "s3cret" not in shown
    assert "pw" not in shown and shown != public_sink_name(f"webhook:{url}2")
    for name in ("terminal", "slack:1a2b3c4d5e6f", "jsonl:/var/log/alerts.jsonl"):
        assert public_sink_name(name) == name
    store = AlertStore(tmp_path / "alerts.sqlite")
    assert store.oldest_pending() == {}
    store.commit_range([(_at(47), None)], ["terminal", f"webhook:{url}"], 47, {})
    stored = store.deliveries()[0]
    [alert] = store.query()
    # a refused connection's error (logged and stored) leaves out the path and query too
    with pytest.raises(DeliveryError) as refused:
        WebhookSink("http://127.0.0.1:9/catch/s3cret?token=x", timeout=1).deliver(1, "alert", alert)
    said = str(refused.value)
    assert "ConnectionError" in said and "s3cret" not in said and "token=x" not in said, said
    later = alert.stored_at + 90
    assert store.oldest_pending(later) == {"terminal": 90.0, f"webhook:{url}": 90.0}
    store.delivered([stored.id])  # the newest row: the webhook's
    store.commit_range([(_at(48), None)], ["terminal"], 48, {})
    assert set(store.oldest_pending(later)) == {"terminal"}
    store.delivered([d.id for d in store.deliveries(sink="terminal", status="pending")])
    store.rewind(47, ["terminal"])  # a retraction waits from its alert's retraction
    retracted = store.get(alert.id)
    assert retracted is not None and retracted.retracted_at is not None
    assert store.oldest_pending(later) == {"terminal": later - retracted.retracted_at}
    text = metrics_text(outbox_families(store, later)).decode()
    assert 'proofmind_monitor_outbox{sink="terminal",status="pending"}' in text
    assert "s3cret" not in text and "# TYPE proofmind_monitor_outbox gauge" in text
    assert "proofmind_monitor_outbox_oldest_pending_seconds" in text
    store.close()
