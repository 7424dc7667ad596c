"""`proofmind monitor alerts`: the stored alerts listed newest first with filters, as a table or
JSON lines, one alert in full; bad filters and absent alerts are one-line errors."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from proofmind.cli.main import main
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore
from proofmind.workspace import Workspace


def _alert(n: int) -> Alert:
    return Alert(
        detector="depeg" if n % 5 == 0 else "watch",
        severity="medium" if n % 3 == 0 else "high",
        subject="FEI" if n % 5 == 0 else f"0x{n:040x}",
        time=1_700_000_000.0 + 3600 * n,
        score=float(n),
        explanation=f"alert {n}",
        evidence={"n": n},
        block=100 + n,
        kind="transfer",
    )


def test_alerts_listed_filtered_and_shown(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--workspace", str(ws.root)]
    assert main(["monitor", "alerts", *where]) == 0
    assert "no alert store yet" in capsys.readouterr().err
    assert main(["monitor", "alerts", "7", *where]) == 2
    assert "no alert 7: this workspace has no alert store yet" in capsys.readouterr().err

    store = AlertStore.for_workspace(ws.root)
    for n in range(1, 26):
        store.add(_alert(n))
    store.retract_from_block(124)  # alerts 24 and 25
    assert main(["monitor", "alerts", "--limit", "3", *where]) == 0
    out, err = capsys.readouterr()
    assert "3 of 25 alerts, newest first" in out
    assert [int(k) for k in (line.split("│")[1].strip() for line in out.splitlines()
            if line.startswith("│")) if k] == [25, 24, 23]  # fmt: skip
    assert "retracted: alert 25" in out and "22 more" in err

    assert main(["monitor", "alerts", "-d", "depeg", "--status", "active", "--json", *where]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [20, 15, 10, 5]
    assert {(r["subject"], r["status"]) for r in rows} == {("FEI", "active")}
    assert main(["monitor", "alerts", "--severity", "medium", "--json", *where]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 8  # 3, 6, … 24

    pasted = "0x" + f"{11:040x}".upper()  # an address in another case (...000B)
    assert main(["monitor", "alerts", "--subject", pasted, "--json", *where]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [11]
    assert main(["monitor", "alerts", "25", "--json", *where]) == 0
    one = json.loads(capsys.readouterr().out)
    assert (one["status"], one["evidence"], one["block"]) == ("retracted", {"n": 25}, 125)

    # alert n's time is 1_700_000_000 + 3600 n: 2023-11-14 22:13:20 UTC + n hours
    span = ["--since", "2023-11-15T18:13:20", "--until", "2023-11-15T21:00Z", "--json"]
    assert main(["monitor", "alerts", *span, *where]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [22, 21, 20]
    assert main(["monitor", "alerts", "--since", "1700072000", "-d", "depeg", *where]) == 0
    assert "2 of 2 alerts" in capsys.readouterr().out  # 25 and 20: from hour 20 on
    assert main(["monitor", "alerts", "--since", "7d", *where]) == 0  # 2023's alerts are older
    assert "No alert matches these filters." in capsys.readouterr().err

    assert main(["monitor", "alerts", "--subject", "nobody", *where]) == 0
    assert "No alert matches these filters." in capsys.readouterr().err
    for bad, said in (
        (["99"], "no alert 99 in this workspace's alert store"),
        (["--status", "gone"], "unknown alert status 'gone'"),
        (["--severity", "huge"], "unknown severity 'huge'"),
        (["--since", "last week"], "--since 'last week' is not a time"),
        (["--until", "-5"], "--until '-5' is not a time"),
        (["--since", "2023-11-16", "--until", "2023-11-15"], "the time range is empty: until"),
    ):
        assert main(["monitor", "alerts", *bad, *where]) == 2
        assert said in capsys.readouterr().err


def test_moments_given_for_alert_times() -> None:
    """ISO 8601 in UTC unless zoned, unix seconds, a span before now; anything else an error
    that names the option and the forms."""
    from proofmind.app.alerts import parse_moment
    from proofmind.errors import InputError

    june = 1_655_856_000.0  # 2022-06-22 00:00 UTC
    assert parse_moment("2022-06-22") == june
    assert parse_moment("2022-06-22T04:00") == june + 4 * 3600
    assert parse_moment("2022-06-22T06:00+02:00") == june + 4 * 3600
    assert parse_moment("2022-06-22T04:00:00Z") == june + 4 * 3600
    assert parse_moment(" 1655856000 ") == june
    assert parse_moment("24h", now=june) == june - 86400
    assert parse_moment("30m", now=june) == june - 1800
    assert parse_moment("2w", now=june) == june - 14 * 86400
    with pytest.raises(InputError, match="not a time in seconds \\(milliseconds\\?\\)"):
        parse_moment("1655856000000", "--since")
    for bad in ("", "soon", "nan", "-1", "2022-13-01", "5y"):
        with pytest.raises(InputError, match=r"--since .* is not a time") as caught:
            parse_moment(bad, "--since")
        assert "span before now (30m, 24h, 7d, 2w)" in (caught.value.hint or "")


def test_follow_shows_new_alerts_and_retractions_until_ctrl_c(ws: Workspace) -> None:
    """`monitor alerts --follow --json` as a process: it waits for the store, shows the
    alerts stored while it runs (filtered) and a retraction of one, and stops cleanly on
    SIGINT."""
    import os
    import queue
    import signal
    import subprocess
    import sys
    import threading

    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "proofmind", "monitor", "alerts", "--follow", "--json",
         "--detector", "depeg", "-w", str(ws.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    try:
        time.sleep(2.0)  # started, and waiting for a store that does not exist yet
        store = AlertStore.for_workspace(ws.root)
        for n in (1, 5):  # 1 is a watch alert: filtered out
            store.commit_range([(_alert(n), None)], [], 100 + n, {})
        seen = json.loads(lines.get(timeout=15))
        assert (seen["id"], seen["detector"], seen["status"]) == (2, "depeg", "active")
        store.rewind(105, [])  # a reorg drops block 105: alert 2 is retracted
        again = json.loads(lines.get(timeout=15))
        assert (again["id"], again["status"]) == (2, "retracted")
        store.commit_range([(_alert(10), None)], [], 110, {})
        assert json.loads(lines.get(timeout=15))["id"] == 3
        time.sleep(1.5)
        assert lines.empty()  # each shown once
        store.close()
        for leftover in ("", "-wal", "-shm"):  # `rm alerts.sqlite*`, the follower still reading
            Path(f"{store.path}{leftover}").unlink(missing_ok=True)
        # a monitor started again on a new store: ids from 1 again
        store = AlertStore.for_workspace(ws.root)
        store.commit_range([(_alert(15), None)], [], 115, {})
        renewed = json.loads(lines.get(timeout=15))
        assert (renewed["id"], renewed["explanation"]) == (1, "alert 15")
        store.close()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "following new alerts" in err and "stopped following" in err
    assert "the alert store was replaced: following it from its alerts stored since" in err


def test_follow_is_not_for_one_alert(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "alerts", "3", "--follow", "--workspace", str(ws.root)]) == 2
    assert "--follow shows alerts as they come, not one alert" in capsys.readouterr().err


def test_a_store_deleted_while_open_elsewhere_says_what_is_in_the_way(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """`rm alerts.sqlite` while another process reads it leaves its write-ahead log and index
    in use: a new store cannot be made at that name until they go too, and the error says so."""
    import subprocess
    import sys

    from proofmind.errors import WorkspaceError

    store = AlertStore.for_workspace(ws.root)
    store.add(_alert(1))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from proofmind.monitor.store import AlertStore; "
         f"s = AlertStore(Path({str(store.path)!r})); s.last_id(); print('open', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        store.path.unlink()  # `store` reads on, as a running agent or API would
        with pytest.raises(WorkspaceError, match="disk I/O error") as refused:
            AlertStore.for_workspace(ws.root)
        hint = refused.value.hint or ""
        assert hint.startswith("alerts.sqlite-wal") and "may belong to a deleted copy" in hint
        assert "a running process still has open: stop that process, or delete" in hint
        with caplog.at_level(logging.WARNING, logger="proofmind.monitor"):
            assert not store.reopen_if_replaced()  # the new file cannot be opened: not yet
        assert "the alert store was replaced, but cannot open" in caplog.text
        assert store.last_id() == 1  # the old store, still read
        for leftover in ("-wal", "-shm"):
            Path(f"{store.path}{leftover}").unlink(missing_ok=True)
        fresh = AlertStore.for_workspace(ws.root)  # the processes reading the old one go on
        assert fresh.last_id() == 0
        fresh.add(_alert(2))
        assert store.reopen_if_replaced() and store.last_id() == 1  # the new store's alert
        assert store.get(1).alert.explanation == "alert 2"  # type: ignore[union-attr]
        fresh.close()
        store.close()
    finally:
        holder.communicate("", timeout=15)
