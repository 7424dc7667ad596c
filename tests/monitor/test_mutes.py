"""Mutes: a subject's alerts silenced for a while (stored in it, or waiting for delivery when
it starts) are stored and listed but reach no sink, nor do their retractions; `monitor mute /
mutes / unmute` from the CLI, bad input refused."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from proofmind.cli.main import main
from proofmind.monitor.api import Alert
from proofmind.monitor.sinks import JsonlSink, deliver_due
from proofmind.monitor.store import AlertStore
from proofmind.workspace import Workspace
from tests.monitor.test_chat_sinks import counted

DEPEG = Alert(
    detector="depeg",
    severity="high",
    subject="FEI",
    time=1_655_870_940.0,
    score=0.029,
    explanation="FEI trades 2.9% below its peg",
    evidence={},
    block=47,
    kind="depeg",
)


def _at(block: int, **changes: str) -> Alert:
    """DEPEG in ``block`` (an alert's key holds its time: one a block apart)."""
    return replace(DEPEG, block=block, time=DEPEG.time + 12 * (block - 47), **changes)


def _lines(path: Path) -> list[tuple[str, str, int | None]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["event"], r["alert"]["subject"], r["alert"]["block"]) for r in rows]


def test_a_mute_silences_its_subjects_alerts_and_their_retractions(tmp_path: Path) -> None:
    """Alerts stored while a mute holds, and those still waiting for delivery when it
    starts (a backlog), reach no sink, nor do their retractions; an alert a sink got before
    the mute is not recalled, and its retraction is sent."""
    store = AlertStore(tmp_path / "alerts.sqlite")
    sink = JsonlSink(tmp_path / "alerts.jsonl")
    store.commit_range([(_at(46), None)], [sink.name], 46, {})
    assert deliver_due(store, [sink])["delivered"] == 1  # got before the mute
    store.commit_range([(DEPEG, None)], [sink.name], 47, {})  # stored before it, not sent yet
    time.sleep(0.01)
    fei = store.mute("fei", 3600, reason="winding down")  # any case, any detector
    only_watch = store.mute("0xAB", 3600, detector="watch")
    assert (fei.subject, fei.detector, only_watch.subject) == ("fei", None, "0xab")
    later = [
        (_at(48), None),  # muted
        (_at(49, subject="USDC"), None),  # another subject
        (_at(50, detector="watch", subject="0xab"), None),  # muted
        (_at(51, subject="0xab"), None),  # the depeg detector's: not muted
    ]
    store.commit_range(later, [sink.name], 51, {})
    counts = deliver_due(store, [sink])
    assert counts == counted(delivered=2, muted=3)  # 47 too: delivered in the mute
    assert _lines(tmp_path / "alerts.jsonl") == [
        ("alert", "FEI", 46),
        ("alert", "USDC", 49),
        ("alert", "0xab", 51),
    ]
    store.rewind(46, [sink.name])  # a reorg drops 46..51: the muted alerts' retractions too
    assert deliver_due(store, [sink]) == counted(delivered=3, muted=3)
    assert [e for e in _lines(tmp_path / "alerts.jsonl") if e[0] == "retraction"] == [
        ("retraction", "FEI", 46),  # the sink got alert 46: told to drop it, mute or not
        ("retraction", "USDC", 49),
        ("retraction", "0xab", 51),
    ]
    assert store.outbox_counts()[(sink.name, "muted")] == 6
    assert store.count() == 6  # every alert kept

    store.commit_range([(_at(55), None)], [sink.name], 55, {})  # in the mute, not sent yet
    ended = store.unmute(fei.id)
    # ended now, an hour early: to within the 2 s a stepping wall clock may move between readings
    assert ended is not None and abs(ended.until - time.time()) < 2 < fei.until - ended.until
    store.commit_range([(_at(60), None)], [sink.name], 60, {})
    # 55, stored in the mute, stays silent although sent after it; 60 is delivered
    assert deliver_due(store, [sink]) == counted(delivered=1, muted=1)
    assert _lines(tmp_path / "alerts.jsonl")[-1] == ("alert", "FEI", 60)
    assert [m.id for m in store.mutes(active_at=time.time())] == [only_watch.id]
    assert [m.id for m in store.mutes()] == [fei.id, only_watch.id]
    assert store.unmute(99) is None
    store.close()


def test_a_mute_of_a_pattern_covers_every_subject_it_matches(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    sink = JsonlSink(tmp_path / "alerts.jsonl")
    store.mute("*", 3600, detector="volatility")  # a detector silenced on every subject
    store.mute("0xAB*", 3600)  # any case, like a plain subject
    store.mute("[", 3600)  # an unclosed bracket matches itself only
    later = [
        (_at(48, detector="volatility", kind="volatility"), None),  # muted: any subject
        (_at(49, subject="0xabcdef"), None),  # muted: 0xab*
        (_at(50, subject="0xcdab"), None),  # delivered: does not start with 0xab
        (_at(51, subject="FEI"), None),  # delivered: the depeg detector's
    ]
    store.commit_range(later, [sink.name], 51, {})
    assert deliver_due(store, [sink]) == counted(delivered=2, muted=2)
    assert _lines(tmp_path / "alerts.jsonl") == [("alert", "0xcdab", 50), ("alert", "FEI", 51)]
    store.close()


def test_mute_mutes_and_unmute_from_the_cli(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--workspace", str(ws.root)]
    assert main(["monitor", "mutes", *where]) == 0
    assert "no alert store yet" in capsys.readouterr().err
    assert main(["monitor", "mute", "FEI", "--for", "2h", "--reason", "wind-down", *where]) == 0
    err = capsys.readouterr().err
    assert "mute 1: alerts on FEI stored until" in err and "monitor unmute 1" in err
    address = "0xAB5801a7D398351b8bE11C439e05C5B3259aeC9B"
    assert main(["monitor", "mute", address, "-d", "watch", "--for", "30m", "--json", *where]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["subject"], shown["detector"]) == (2, address.lower(), "watch")
    started = shown["starts_at"]
    assert shown["until"] > started
    assert main(["monitor", "mutes", *where]) == 0
    out = capsys.readouterr().out
    assert "2 mutes holding now" in out and "wind-down" in out and "0xab5801…9aec9b" in out
    assert main(["monitor", "unmute", "1", *where]) == 0
    assert "mute 1 ended" in capsys.readouterr().err
    assert main(["monitor", "mutes", "--json", *where]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [2]
    assert main(["monitor", "mutes", "--all", *where]) == 0
    assert "(ended)" in capsys.readouterr().out
    assert main(["monitor", "mute", "*", "-d", "volatility", "--for", "1h", *where]) == 0
    assert "mute 3: volatility's alerts on every subject" in capsys.readouterr().err
    assert main(["monitor", "mute", "[0x]ab*", "--for", "1h", *where]) == 0
    assert "alerts on subjects matching [0x]ab*" in capsys.readouterr().err
    assert main(["monitor", "mutes", *where]) == 0
    assert "[0x]ab*" in capsys.readouterr().out  # shown as given, not read as markup
    for args, message in [
        (["mute", "FEI", "--for", "0h"], "--for '0h' is not a span of time"),
        (["mute", "FEI", "--for", "tomorrow"], "--for 'tomorrow' is not a span of time"),
        (["mute", "FEI", "-d", "nosuch"], "--detector 'nosuch': no detector of that name"),
        (["mute", " "], "the subject to mute is empty"),
        (["mute", "FEI", "--reason", "x" * 501], "--reason is longer than 500"),
        (["unmute", "7"], "no mute 7 in this workspace"),
    ]:
        assert main(["monitor", *args, *where]) == 2, args
        said = capsys.readouterr().err
        assert message in said and "Traceback" not in said, args
    store = AlertStore.for_workspace(ws.root)
    assert len(store.mutes()) == 4  # the refused ones stored nothing
    store.close()
