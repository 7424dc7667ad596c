"""Backends and connection errors: unreachable URL, wrong chain, rpc without URL, keystore."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from proofmind.chain.accounts import Keystore
from proofmind.chain.base import Chain
from proofmind.chain.connect import connect, open_chain
from proofmind.chain.contracts import deploy
from proofmind.chain.devnet import free_port
from proofmind.chain.inprocess import InProcessBackend
from proofmind.chain.rpc import RpcBackend, redact_url
from proofmind.errors import (
    ConfigError,
    ConnectionFailed,
    InputError,
    InsufficientFunds,
    KeystoreError,
    WrongChain,
)
from proofmind.settings import ChainSettings, DevnetSettings, KeystoreSettings, TxSettings


def test_unreachable_rpc_names_the_url_and_fix() -> None:
    url = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    with pytest.raises(ConnectionFailed) as info:
        open_chain(RpcBackend(url, timeout=2))
    message = str(info.value)
    assert url in message and "connection refused" in message and "node is running" in message
    assert "\n" not in message


def test_rpc_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        RpcBackend("ws:/nope")


def test_rpc_backend_needs_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROOFMIND_CHAIN_RPC_URL"):
        connect(
            ChainSettings(backend="rpc"),
            devnet=DevnetSettings(),
            chain_dir=tmp_path,
            tx=TxSettings(),
            keystore_dir=tmp_path,
        )


def test_api_keys_in_urls_are_redacted() -> None:
    redacted = redact_url("https://user:pw@mainnet.example.io/v3/0123456789abcdef0123456789abcdef")
    assert "pw" not in redacted and "0123456789abcdef" not in redacted
    assert redacted.startswith("https://mainnet.example.io/v3/")


@pytest.mark.devnet
def test_wrong_chain_id_is_refused(chain: Chain) -> None:
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    with pytest.raises(WrongChain, match=r"is chain 31337, but chain 1 is expected"):
        open_chain(RpcBackend(url), expected_chain_id=1)


@pytest.mark.devnet
def test_rpc_backend_signs_with_keystore_account(chain: Chain, tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "keys")
    address = keystore.create("ops", "correct horse")
    rpc = connect(
        ChainSettings(backend="rpc", rpc_url=chain.w3.provider.endpoint_uri, account="ops"),  # type: ignore[attr-defined]
        devnet=DevnetSettings(),
        chain_dir=tmp_path,
        tx=TxSettings(),
        keystore_dir=tmp_path / "keys",
        keystore=KeystoreSettings(password="correct horse"),
    )
    assert [a.address for a in rpc.accounts] == [address]
    with pytest.raises(InsufficientFunds, match=f"fund {address}"):
        rpc.sender().send({"to": chain.accounts[1].address, "value": 1})
    chain.sender().send({"to": address, "value": 10**18})
    receipt = rpc.sender().send({"to": chain.accounts[1].address, "value": 1})
    assert receipt["status"] == 1


def test_keystore_round_trip_and_refusals(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path)
    key = Account.create().key
    address = keystore.import_key("alice", key, "pw-1")
    assert keystore.unlock("alice", "pw-1").address == address
    assert keystore.names() == [("alice", address)]
    raw = (tmp_path / "alice.json").read_text()
    assert key.hex() not in raw
    assert (tmp_path / "alice.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeystoreError, match="wrong password"):
        keystore.unlock("alice", "pw-2")
    with pytest.raises(KeystoreError, match="already exists"):
        keystore.create("alice", "pw")
    with pytest.raises(KeystoreError, match="no keystore account named 'bob'"):
        keystore.unlock("bob", "pw")
    with pytest.raises(InputError, match="invalid account name"):
        keystore.create("../evil", "pw")
    with pytest.raises(InputError, match="not a valid secp256k1 key"):
        keystore.import_key("carol", "0x1234", "pw")
    with pytest.raises(KeystoreError) as info:
        keystore.unlock("alice", "nope")
    assert key.hex() not in str(info.value)


def test_inprocess_backend_sends_and_deploys() -> None:
    chain = open_chain(InProcessBackend())
    receiver = Account.create().address
    chain.sender().send({"to": receiver, "value": 5})
    chain.sender().send({"to": receiver, "value": 6})
    assert chain.w3.eth.get_balance(receiver) == 11
    snapshot = chain.snapshot()
    chain.sender().send({"to": receiver, "value": 1})
    chain.revert(snapshot)
    assert chain.w3.eth.get_balance(receiver) == 11
    contract, _ = deploy(chain, "MerkleCommitments")  # cancun bytecode runs on py-evm too
    chain.sender().transact(contract.functions.commit(b"\x05" * 32, 2, "inprocess"))
    assert contract.functions.commitmentCount().call() == 1
