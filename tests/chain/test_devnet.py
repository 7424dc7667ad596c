"""The devnet lifecycle against real anvil processes: start, reuse, persist, kill, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from proofmind.chain.connect import open_chain
from proofmind.chain.contracts import deploy
from proofmind.chain.devnet import Devnet, DevnetBackend, find_anvil
from proofmind.errors import NodeNotInstalled
from proofmind.settings import DevnetSettings

pytestmark = pytest.mark.devnet


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[Devnet]:
    node = Devnet(tmp_path / "chain", DevnetSettings(state_interval=1))
    yield node
    node.down()


def test_up_starts_on_loopback_and_reuses(devnet: Devnet) -> None:
    record, started = devnet.up()
    assert started
    assert record.rpc_url.startswith("http://127.0.0.1:")
    again, started_again = Devnet(devnet.chain_dir, devnet.settings).up()
    assert not started_again
    assert again.pid == record.pid
    status = devnet.status()
    assert status.running and status.block_number == 0


def test_state_survives_sigkill(devnet: Devnet) -> None:
    devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    stranger = Account.create().address
    sent_at = time.time()
    contract, _ = deploy(chain, "MerkleCommitments")
    chain.sender().transact(contract.functions.commit(b"\x07" * 32, 1, "kept"))
    chain.sender().send({"to": stranger, "value": 12345})
    assert devnet.wait_persisted(sent_at)
    record = devnet.read_record()
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    devnet._proc.wait(timeout=5)  # type: ignore[union-attr]  # reap it, as init would
    assert not devnet.status().running

    restarted, started = devnet.up()
    assert started and restarted.pid != record.pid
    chain = open_chain(DevnetBackend(devnet))
    assert chain.w3.eth.get_balance(stranger) == 12345
    assert chain.w3.eth.block_number == 3
    revived = chain.w3.eth.contract(address=contract.address, abi=contract.abi)
    assert revived.functions.commitmentOf(b"\x07" * 32).call()[4] == "kept"


def test_down_saves_state_and_is_idempotent(devnet: Devnet) -> None:
    devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    stranger = Account.create().address
    chain.sender().send({"to": stranger, "value": 7})
    assert devnet.down() is True
    assert devnet.down() is False
    assert not devnet.status().running
    devnet.up()
    assert open_chain(DevnetBackend(devnet)).w3.eth.get_balance(stranger) == 7


def test_a_restart_keeps_its_url_while_the_port_is_free(devnet: Devnet) -> None:
    """A wallet or a `--url` pointed at the devnet still reaches it after `chain down` / `up`;
    when another process took the port meanwhile, it starts on a free one."""
    first, _ = devnet.up()
    devnet.down()
    again, started = devnet.up()
    assert started and again.rpc_url == first.rpc_url
    devnet.down()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", first.port))
        holder.listen()
        elsewhere, started = devnet.up()
    assert started and elsewhere.port != first.port and devnet.status().running


def test_a_cursor_at_genesis_reads_on_when_a_restart_makes_genesis_again(
    devnet: Devnet, tmp_path: Path
) -> None:
    """Restarted from its saved state, anvil sometimes brings back another genesis block (its
    dumps can hold more than one) and keeps every later block. A follower that had read only
    genesis (a young devnet) took that for a reorg below its memory and stopped; it reads on."""
    from proofmind.chain.events import BlockRange, ReorgSafeCursor
    from proofmind.store.state import StateDB

    devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    state = StateDB(tmp_path / "cursor.sqlite")
    cursor = ReorgSafeCursor(chain.w3, state, "c", chain_id=chain.chain_id, max_blocks=1)
    first = cursor.poll()
    assert isinstance(first, BlockRange) and (first.start, first.end) == (0, 0)
    cursor.commit(first)
    genesis = chain.w3.eth.get_block(0)["hash"]
    for _ in range(12):  # a few restarts, seconds apart, bring another genesis back (2-5 here)
        chain.sender().send({"to": Account.create().address, "value": 1})
        time.sleep(1.2)
        devnet.down()
        devnet.up()
        chain = open_chain(DevnetBackend(devnet))
        if chain.w3.eth.get_block(0)["hash"] != genesis:
            break
    if chain.w3.eth.get_block(0)["hash"] == genesis:  # anvil's doing, not ours: the cursor's
        # side is tested without it (test_a_cursor_that_remembers_another_genesis_reads_on)
        pytest.skip("anvil kept its genesis block over 12 restarts this time")
    chain.sender().send({"to": Account.create().address, "value": 7})
    cursor = ReorgSafeCursor(chain.w3, state, "c", chain_id=chain.chain_id)
    read = []
    while (step := cursor.poll()) is not None:
        assert isinstance(step, BlockRange), step  # no Reorg, no ReorgDetected
        cursor.commit(step)
        read += range(step.start, step.end + 1)
    assert read == list(range(1, chain.w3.eth.block_number + 1))
    # a cursor that starts now reads the new genesis, whose block 1 names the one before: it
    # waited for another block 1 for ever (`ingest rpc` from block 0 wrote genesis only)
    assert chain.w3.eth.get_block(1)["parentHash"] != chain.w3.eth.get_block(0)["hash"]
    fresh = ReorgSafeCursor(chain.w3, state, "fresh", chain_id=chain.chain_id, max_blocks=1)
    read = []
    while (step := fresh.poll()) is not None:
        assert isinstance(step, BlockRange), step
        fresh.commit(step)
        read += range(step.start, step.end + 1)
    assert read == list(range(chain.w3.eth.block_number + 1))
    state.close()


def test_truncated_state_falls_back_to_last_good_copy(devnet: Devnet) -> None:
    devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    stranger = Account.create().address
    chain.sender().send({"to": stranger, "value": 99})
    devnet.down()
    devnet.up()  # keeps a backup of the good state
    devnet.down()
    good = devnet.state_file.read_text()
    devnet.state_file.write_text(good[: len(good) // 2])  # a dump cut short
    devnet.up()
    assert open_chain(DevnetBackend(devnet)).w3.eth.get_balance(stranger) == 99


def test_missing_anvil_says_how_to_install(tmp_path: Path) -> None:
    settings = DevnetSettings(anvil_path=tmp_path / "no-such-anvil")
    with pytest.raises(NodeNotInstalled, match="npm ci") as info:
        Devnet(tmp_path, settings).up()
    assert "PROOFMIND_DEVNET_ANVIL_PATH" in str(info.value)


def test_finds_anvil_in_node_modules(repo_root: Path) -> None:
    found = find_anvil(DevnetSettings(), search_from=repo_root)
    assert found.name == "anvil" and "node_modules" in str(found)


def test_stale_record_is_replaced(devnet: Devnet) -> None:
    devnet.chain_dir.mkdir(parents=True)
    devnet.record_path.write_text(
        json.dumps({"pid": 999_999, "rpc_url": "http://127.0.0.1:1", "port": 1, "chain_id": 1,
                    "anvil_path": "x", "state_file": "y", "started_at": 0.0})
    )  # fmt: skip
    assert not devnet.status().running
    record, started = devnet.up()
    assert started and record.pid != 999_999


def _anvils_serving(state_file: Path) -> list[int]:
    """Live anvil processes whose state file is ``state_file``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"anvil") and str(state_file).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def test_two_concurrent_chain_up_start_one_node(tmp_path: Path) -> None:
    """`proofmind chain up & proofmind chain up & wait`: one starts, the other reuses it."""
    import subprocess
    import sys

    from proofmind.workspace import init_workspace

    ws, _ = init_workspace(tmp_path)
    env = {**os.environ, "PROOFMIND_WORKSPACE": str(ws.root)}
    command = [sys.executable, "-m", "proofmind", "chain"]
    state_file = Devnet(ws.chain_dir, ws.devnet_settings()).state_file
    try:
        procs = [
            subprocess.Popen([*command, "up"], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = sorted(p.communicate(timeout=60)[0] for p in procs)
        assert [p.returncode for p in procs] == [0, 0]
        assert outputs[0].startswith("Reusing devnet") and outputs[1].startswith("Started"), outputs
        pids = {line.split("pid ")[1].split(")")[0] for line in outputs}
        assert len(pids) == 1, outputs
        assert _anvils_serving(state_file) == [int(pids.pop())]
    finally:
        down = subprocess.run([*command, "down"], env=env, capture_output=True, check=False)
        assert down.returncode == 0
        deadline = time.monotonic() + 10
        while _anvils_serving(state_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _anvils_serving(state_file) == [], "`chain down` left an anvil running"


def test_a_restart_never_resumes_before_a_persisted_block(devnet: Devnet) -> None:
    """anvil's own dump may be older than the state proofmind saw saved (a dump of an older
    state landing late, or cut short): the start resumes from the newer backup."""
    record, _ = devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    devnet.persist(record.rpc_url)
    older = devnet.state_file.read_bytes()
    stranger = Account.create().address
    receipt = chain.sender().send({"to": stranger, "value": 4242})
    assert devnet.persist(record.rpc_url) >= receipt["blockNumber"]
    assert chain.wait_confirmed(receipt["blockNumber"], timeout=1.0)
    os.kill(record.pid, signal.SIGKILL)
    devnet._proc.wait(timeout=5)  # type: ignore[union-attr]
    devnet.state_file.write_bytes(older)
    devnet.up()
    assert open_chain(DevnetBackend(devnet)).w3.eth.get_balance(stranger) == 4242


def test_two_concurrent_starts_share_one_node(devnet: Devnet) -> None:
    """Two starts racing (released together): the lock makes the second wait and reuse."""
    import threading

    barrier = threading.Barrier(2)
    results: list[tuple[int, bool]] = []

    def start() -> None:
        node = Devnet(devnet.chain_dir, devnet.settings)
        barrier.wait()
        record, started = node.up()
        results.append((record.pid, started))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert sorted(started for _, started in results) == [False, True]
        assert len({pid for pid, _ in results}) == 1
        assert _anvils_serving(devnet.state_file) == [results[0][0]]
    finally:
        for pid in _anvils_serving(devnet.state_file):
            os.kill(pid, signal.SIGTERM)


def test_deleting_the_state_resets_the_chain_for_good(devnet: Devnet) -> None:
    """The backup of a discarded chain is never resumed from later."""
    record, _ = devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    stranger = Account.create().address
    chain.sender().send({"to": stranger, "value": 5})
    devnet.persist(record.rpc_url)
    devnet.down()
    devnet.state_file.unlink()  # the user resets the chain
    reset_at = time.time()
    devnet.up()
    assert not devnet.backup_file.exists()
    assert devnet.wait_persisted(reset_at)  # anvil saved the new chain
    record = devnet.read_record()
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    devnet._proc.wait(timeout=5)  # type: ignore[union-attr]
    devnet.up()
    assert open_chain(DevnetBackend(devnet)).w3.eth.get_balance(stranger) == 0


def test_saves_of_the_state_at_once_wait_their_turn(devnet: Devnet) -> None:
    """Two threads of one process (a service's agent and its alert anchoring) saving at once:
    each saves in turn; before, both wrote one temporary file and one failed to rename it."""
    from tests.locks import at_once

    record, _ = devnet.up()
    chain = open_chain(DevnetBackend(devnet))
    chain.sender().send({"to": Account.create().address, "value": 1})
    assert at_once(4, lambda: devnet.persist(record.rpc_url)) == []
    assert devnet.persisted_block() == chain.w3.eth.block_number
    assert not list(devnet.chain_dir.glob("*.tmp"))


def test_a_port_another_node_holds_is_refused_not_taken_for_ours(
    devnet: Devnet, tmp_path: Path
) -> None:
    """A fixed [devnet] port where another node listens (another workspace's devnet, a node
    left running): anvil cannot bind it, and that node used to answer the start's probe, so
    the workspace went on with someone else's chain. Now the start refuses and says why."""
    from proofmind.errors import ChainError

    other, _ = devnet.up()  # the node already on the port
    taken = Devnet(tmp_path / "mine", DevnetSettings(port=other.port))
    with pytest.raises(ChainError, match=rf"port {other.port} on 127.0.0.1 is in use"):
        taken.up()
    assert taken.read_record() is None  # nothing recorded: no chain to talk to
    assert devnet.status().running  # the other node is untouched


def test_a_picked_port_taken_before_anvil_binds_it_is_picked_again(
    devnet: Devnet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port the devnet picks is free when checked, not reserved: another devnet starting at
    the same moment (tests on two workers) can bind it first, and anvil exits with "Address
    already in use". The start picks another port instead of failing; after three ports taken
    in a row it says so."""
    import proofmind.chain.devnet as devnet_module
    from proofmind.errors import ChainError

    real_free_port = devnet_module.free_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        picks = iter([held])
        monkeypatch.setattr(
            devnet_module, "free_port", lambda host: next(picks, None) or real_free_port(host)
        )
        record, started = devnet.up()
        assert started and record.port != held and devnet.status().running
        assert "Address already in use" in devnet.log_file.read_text()
        devnet.down()

        devnet.port_file.unlink()
        monkeypatch.setattr(devnet_module, "free_port", lambda host: held)
        with pytest.raises(ChainError, match=rf"could not listen on port {held}.*took it"):
            devnet.up()
        assert not devnet.status().running
