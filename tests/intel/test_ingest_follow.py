"""`proofmind ingest rpc --follow` on the shared runner: a real subprocess tails the devnet,
SIGTERM / Ctrl-C stop it at a range boundary with exit 0 and a one-line summary, and a restart
continues without gaps or duplicates; `proofmind serve --ingest` hosts the same follower as a
supervised task listed on /health and restarted with backoff when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proofmind.chain.base import Chain
from proofmind.chain.devnet import free_port
from proofmind.cli.main import main
from proofmind.workspace import Workspace
from tests.intel.test_ingest import table, url_of
from tests.locks import refused_second

pytestmark = pytest.mark.devnet


def stored_up_to(out: Path) -> int:
    """The last block the checkpoint in ``out`` says is written (-1: none yet)."""
    if not (out / "_ingest.sqlite").exists():
        return -1
    with sqlite3.connect(out / "_ingest.sqlite") as con:
        try:
            row = con.execute("SELECT next_block FROM cursors WHERE name='ingest'").fetchone()
        except sqlite3.OperationalError:  # the follower is creating its tables
            return -1
    return -1 if row is None else int(row[0]) - 1


def wait_for(out: Path, block: int, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while stored_up_to(out) < block:
        assert process is None or process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"the follower did not reach block {block}"
        time.sleep(0.05)


def mine(chain: Chain, values: range) -> None:
    """One block per ETH transfer (the devnet automines), to account 7 with these values."""
    for value in values:
        chain.sender().send({"to": chain.accounts[7].address, "value": value})


def follow(url: str, out: Path, log: Path | None = None) -> subprocess.Popen[str]:
    """The follower; its stderr piped, or written to ``log`` (to read while it runs)."""
    with contextlib.ExitStack() as files:
        stderr = subprocess.PIPE if log is None else files.enter_context(log.open("w"))
        return subprocess.Popen(
            [sys.executable, "-m", "proofmind", "ingest", "rpc", "--follow", "--url", url,
             "-o", str(out), "--poll", "0.05"],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> str:
    """Stop ``process`` with ``sig``: it exits cleanly within 10 s; its stdout."""
    return stopped(process, sig)[0]


def stopped(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    process.send_signal(sig)
    begun = time.monotonic()
    out, errors = process.communicate(timeout=20)
    errors = errors or ""  # stderr not piped: written to a file
    assert process.returncode == 0, errors
    assert time.monotonic() - begun < 10
    assert "Traceback" not in errors
    return out, errors


def check_tables(chain: Chain, out: Path, head: int) -> None:
    """Blocks 0..head exactly once, each the node's own."""
    blocks = table(out, "blocks")
    assert [b[0] for b in blocks] == list(range(head + 1))  # no gaps, no duplicates
    assert [b[1] for b in blocks] == [
        chain.w3.eth.get_block(n)["hash"].to_0x_hex() for n in range(head + 1)
    ]
    txs = table(out, "transactions")
    assert len(txs) == sum(b[8] for b in blocks)
    assert len({t[2] for t in txs}) == len(txs)


def test_follow_stops_on_sigterm_and_a_restart_continues(chain: Chain, tmp_path: Path) -> None:
    out, url = tmp_path / "chain", url_of(chain)
    first = chain.w3.eth.block_number + 1
    follower = follow(url, out)
    try:
        wait_for(out, first - 1, follower)
        mine(chain, range(1000, 1005))
        head = chain.w3.eth.block_number
        wait_for(out, head, follower)
        summary = stop(follower, signal.SIGTERM)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert summary.count("\n") == 1 and summary.startswith("stopped: ")
    assert f"{head + 1:,} blocks" in summary and f"resumes at block {head + 1}" in summary
    assert stored_up_to(out) == head
    check_tables(chain, out, head)
    values = [t[7] for t in table(out, "transactions") if t[0] >= first]
    assert sorted(int(v) for v in values) == list(range(1000, 1005))

    mine(chain, range(2000, 2003))  # while nothing follows: the restart picks them up
    follower = follow(url, out)
    try:
        wait_for(out, head + 3, follower)
        # a second ingestion into the same folder would share its checkpoint: refused, named
        refused_second(
            ["ingest", "rpc", "--url", url, "-o", str(out)], follower.pid, f"ingesting into {out}"
        )
        mine(chain, range(3000, 3002))
        head = chain.w3.eth.block_number
        wait_for(out, head, follower)
        summary = stop(follower, signal.SIGINT)  # Ctrl-C: the same clean stop
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert summary.startswith("stopped: 5 blocks, 5 transactions")
    check_tables(chain, out, head)
    values = [t[7] for t in table(out, "transactions") if t[0] >= first]
    assert sorted(int(v) for v in values) == [*range(1000, 1005), 2000, 2001, 2002, 3000, 3001]


def test_a_folder_of_another_chain_is_refused(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, url = tmp_path / "chain", url_of(chain)
    assert main(["ingest", "rpc", "--url", url, "-o", str(out), "--to", "0"]) == 0
    with sqlite3.connect(out / "_ingest.sqlite") as con:
        con.execute("UPDATE cursors SET chain_id=1")
    capsys.readouterr()
    assert main(["ingest", "rpc", "--url", url, "-o", str(out), "--follow"]) == 2
    errors = capsys.readouterr().err
    assert f"holds blocks of chain 1, not of chain {chain.chain_id}" in errors
    assert stored_up_to(out) == 0  # nothing written


def test_serve_hosts_ingestion_as_a_supervised_task(
    chain: Chain, devnet_workspace: Workspace, tmp_path: Path
) -> None:
    """`proofmind serve --ingest OUT`: follows the workspace's chain by default, listed on
    /health, ends at a range boundary on SIGTERM with exit 0."""
    out = tmp_path / "served"
    serve = subprocess.Popen(
        [sys.executable, "-m", "proofmind", "serve", "--port", "0", "--ingest", str(out),
         "--ingest-poll", "0.05", "-w", str(devnet_workspace.root)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stderr is not None
        line = serve.stderr.readline()
        while line and "proofmind API on" not in line:
            line = serve.stderr.readline()
        assert line, serve.communicate()
        api = line.split("proofmind API on ")[1].split()[0]
        mine(chain, range(4000, 4003))
        head = chain.w3.eth.block_number
        wait_for(out, head)
        with urllib.request.urlopen(api + "/health") as response:
            tasks = json.loads(response.read())["tasks"]
        assert set(tasks) == {"api", "ingest"}
        assert tasks["ingest"]["state"] == "running" and tasks["ingest"]["restarts"] == 0
        with urllib.request.urlopen(api + "/metrics") as response:
            metrics = {
                (s.name, tuple(s.labels.items())): s.value
                for family in text_string_to_metric_families(response.read().decode())
                for s in family.samples
            }
        assert metrics[("proofmind_ingest_blocks_total", ())] == head + 1  # from block 0
        assert metrics[("proofmind_ingest_next_block", ())] == head + 1
        assert metrics[("proofmind_ingest_safe_head", ())] == head
        assert metrics[("proofmind_ingest_lag_blocks", ())] == 0
        committed = metrics[("proofmind_ingest_last_commit_timestamp_seconds", ())]
        assert abs(committed - time.time()) < 60
        txs = sum(chain.w3.eth.get_block_transaction_count(n) for n in range(head + 1))
        assert metrics[("proofmind_ingest_rows_total", (("table", "transactions"),))] == txs > 0
        serve.send_signal(signal.SIGTERM)
        _, errors = serve.communicate(timeout=20)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate()
    assert serve.returncode == 0, errors
    assert "ingest stopped" in errors
    check_tables(chain, out, head)


def test_a_failing_ingest_task_is_restarted_with_backoff(
    devnet_workspace: Workspace, tmp_path: Path
) -> None:
    """A node that cannot be reached: the task fails, is reported, and waits to start again."""
    from proofmind.app.hosting import ingest_service
    from proofmind.app.runner import Supervisor

    dead = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    supervisor = Supervisor(backoff=0.05, max_backoff=0.2)
    supervisor.add("ingest", ingest_service(devnet_workspace, tmp_path / "out", url=dead))

    async def run() -> None:
        shutdown = asyncio.Event()
        runner = asyncio.create_task(supervisor.run(shutdown))
        deadline = time.monotonic() + 20
        while supervisor.status["ingest"].restarts < 2:
            assert time.monotonic() < deadline, supervisor.health()
            await asyncio.sleep(0.02)
        assert supervisor.health()["status"] in ("degraded", "ok")
        shutdown.set()
        await asyncio.wait_for(runner, 10)

    asyncio.run(run())
    status = supervisor.status["ingest"]
    assert status.state == "stopped"
    assert status.last_error is not None and "cannot reach" in status.last_error
    assert not (tmp_path / "out").exists()  # nothing written


def test_shutdown_ends_the_run_at_a_range_boundary(chain: Chain, tmp_path: Path) -> None:
    """Shutdown set while a range is being read: that range is written and committed, the next
    one (already being fetched) is dropped, and the next run continues after it."""
    from proofmind.intel.ingest import IngestReport, ingest, ingest_async

    mine(chain, range(5000, 5006))
    head, url, out = chain.w3.eth.block_number, url_of(chain), tmp_path / "out"

    async def first_range() -> IngestReport:
        shutdown = asyncio.Event()
        return await ingest_async(
            chain.w3, url, out, chain_id=chain.chain_id, range_blocks=2, follow=True,
            progress=lambda _: shutdown.set(), shutdown=shutdown,
        )  # fmt: skip

    report = asyncio.run(first_range())
    assert report.blocks == 2
    assert stored_up_to(out) == 1
    assert json.loads((out / "_ingest.json").read_text())["next_block"] == 2
    check_tables(chain, out, 1)
    rest = ingest(chain.w3, url, out, chain_id=chain.chain_id, range_blocks=2)
    assert rest.blocks == head - 1
    check_tables(chain, out, head)


def test_a_report_given_again_counts_on_across_runs(chain: Chain, tmp_path: Path) -> None:
    """A hosted ingestion's task restarts run `ingest_async` again with the same report: its
    counts (its metrics' counters) go on from the last run's, and where it is (next block,
    safe head) is the new run's."""
    from proofmind.intel.ingest import IngestReport, ingest_async

    mine(chain, range(5100, 5104))
    head, url, out = chain.w3.eth.block_number, url_of(chain), tmp_path / "out"
    report = IngestReport()
    asyncio.run(ingest_async(chain.w3, url, out, chain_id=chain.chain_id, end=1, report=report))
    assert (report.blocks, report.next_block, report.safe_head) == (2, 2, head)
    first_rows, committed = report.rows["transactions"], report.committed_at
    assert committed is not None
    again = asyncio.run(ingest_async(chain.w3, url, out, chain_id=chain.chain_id, report=report))
    assert again is report
    assert (report.blocks, report.next_block, report.safe_head) == (head + 1, head + 1, head)
    assert report.committed_at is not None and report.committed_at >= committed
    assert report.rows["transactions"] == len(table(out, "transactions")) > first_rows


def test_follow_waits_out_a_node_outage(chain: Chain, tmp_path: Path) -> None:
    """The node stops answering for a while (a restart, a provider's outage): the follower
    says so, waits, and ingests the blocks mined meanwhile once the node is back at its URL
    (it exited at the first refused connection before)."""
    from tests.rpc_proxy import rpc_proxy

    out, log = tmp_path / "chain", tmp_path / "follower.log"
    mine(chain, range(5990, 5991))  # the follower's tip is past genesis (whose check it skips)
    with rpc_proxy(url_of(chain)) as proxy:
        follower = follow(proxy["url"], out, log)
        wait_for(out, chain.w3.eth.block_number, follower)
    try:  # the proxy is closed: connections to its URL are refused
        mine(chain, range(6000, 6003))
        # each request first spends its own retries (seconds, with jitter); then the round
        # fails and the follower says it waits
        deadline = time.monotonic() + 60
        while "; retrying in 2 s" not in log.read_text():
            assert follower.poll() is None, (follower.communicate(), log.read_text())
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        port = int(proxy["url"].rsplit(":", 1)[1])
        with rpc_proxy(url_of(chain), port=port):  # back at the same URL
            head = chain.w3.eth.block_number
            wait_for(out, head, follower)
            summary, _ = stopped(follower, signal.SIGTERM)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert "Traceback" not in log.read_text()
    check_tables(chain, out, head)
    values = [t[7] for t in table(out, "transactions") if int(t[7]) >= 6000]
    assert sorted(int(v) for v in values) == [6000, 6001, 6002]
    assert summary.startswith("stopped: ")
