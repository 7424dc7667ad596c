"""The devnet lifecycle against real anvil processes: start, reuse, persist, kill, stop."""

from __future__ import annotations

import json
import os
import signal
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
