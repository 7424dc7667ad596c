"""Workspace, settings, SQLite state and the blob store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proofmind.errors import ConfigError, InputError, WorkspaceError
from proofmind.settings import ChainSettings, DevnetSettings, TxSettings
from proofmind.store.blobs import BlobStore
from proofmind.store.state import StateDB
from proofmind.workspace import find_workspace, init_workspace, open_workspace


def test_init_creates_every_part(tmp_path: Path) -> None:
    workspace, created = init_workspace(tmp_path)
    assert created
    root = tmp_path / ".proofmind"
    for part in ("config.toml", "state.sqlite", "keystore", "chain", "blobs"):
        assert (root / part).exists(), part
    assert workspace.state.journal_mode() == "wal"
    assert (root / "keystore").stat().st_mode & 0o777 == 0o700


def test_init_twice_keeps_existing_files(tmp_path: Path) -> None:
    workspace, _ = init_workspace(tmp_path)
    workspace.config_path.write_text('[chain]\nbackend = "inprocess"\n')
    workspace.state.set_value("k", "v")
    again, created = init_workspace(tmp_path)
    assert not created
    assert again.chain_settings().backend == "inprocess"
    assert again.state.get_value("k") == "v"


def test_open_finds_workspace_in_parent(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_workspace(nested) == tmp_path / ".proofmind"


def test_open_without_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="proofmind init"):
        open_workspace(tmp_path / "nowhere")


def test_settings_priority_env_over_toml_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[devnet]\nchain_id = 1337\naccounts = 3\n[chain]\nbackend = "rpc"\n')
    assert DevnetSettings.load(config).accounts == 3
    monkeypatch.setenv("PROOFMIND_DEVNET_ACCOUNTS", "5")
    settings = DevnetSettings.load(config)
    assert (settings.chain_id, settings.accounts) == (1337, 5)
    assert DevnetSettings.load(config, accounts=7).accounts == 7
    assert ChainSettings.load(config).backend == "rpc"


def test_invalid_setting_names_field_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROOFMIND_CHAIN_BACKEND", "mainnet-please")
    with pytest.raises(ConfigError, match=r"chain\.backend.*PROOFMIND_CHAIN_BACKEND"):
        ChainSettings.load(None)


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            "[tx]\nconfirmation = 12\n",
            r"\[tx\] confirmation is not a setting \(did you mean confirmations\?\)",
        ),
        (
            '[chain]\nurl = "http://127.0.0.1:8545"\n',
            r"\[chain\] url is not a setting \(did you mean rpc_url\?\)",
        ),
        (
            '[chian]\nbackend = "rpc"\n',
            r"has \[chian\], which is not a table .*\(did you mean chain\?\)",
        ),
        ('backend = "rpc"\n', r"has \[backend\], which is not a table"),
        ('[monitor]\nwebhook = "x"\n', r"has \[monitor\], which is not a table"),
        ('chain = "rpc"\n', r"\[chain\] in .* must be a table"),
        (
            '[keystore]\npassword = "hunter2"\n',
            r"\[keystore\] password is read from the environment only",
        ),
    ],
)
def test_a_misspelt_setting_or_table_is_refused_with_the_nearest(
    tmp_path: Path, toml: str, said: str
) -> None:
    """A typo must not leave the default in force silently (no confirmations on a real chain),
    whichever component's settings are read first."""
    config = tmp_path / "config.toml"
    config.write_text(toml)
    for settings in (ChainSettings, TxSettings, DevnetSettings):
        with pytest.raises(ConfigError, match=said):
            settings.load(config)


def test_a_misspelt_environment_variable_is_refused_with_the_nearest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROOFMIND_TX_CONFIRMATION", "12")
    with pytest.raises(ConfigError, match="PROOFMIND_TX_CONFIRMATION is not a setting") as found:
        ChainSettings.load(None)
    assert "did you mean PROOFMIND_TX_CONFIRMATIONS?" in str(found.value)
    monkeypatch.delenv("PROOFMIND_TX_CONFIRMATION")
    monkeypatch.setenv("proofmind_tx_confirmations", "12")  # names are read ignoring case
    monkeypatch.setenv("PROOFMIND_WORKSPACE", "/elsewhere")  # not a table's: not checked
    assert TxSettings.load(None).confirmations == 12


def test_every_setting_of_every_table_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[chain]\nbackend = "rpc"\nrpc_url = "http://x"\nchain_id = 1\naccount = "a"\n'
        "request_timeout = 5\n[tx]\nconfirmations = 3\n[devnet]\nport = 0\n"
        '[keystore]\n[oracle]\nmax_bond_wei = 1\n[api]\nport = 0\nevent_loop = "asyncio"\n'
    )
    assert ChainSettings.load(config).chain_id == 1
    assert TxSettings.load(config).confirmations == 3


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[chain\nbackend=")
    with pytest.raises(ConfigError, match="cannot read config file"):
        ChainSettings.load(config)


def test_state_transaction_is_atomic(tmp_path: Path) -> None:
    state = StateDB(tmp_path / "s.sqlite")
    state.set_value("a", "1")
    with pytest.raises(RuntimeError), state.transaction() as conn:
        conn.execute("INSERT INTO kv(key, value) VALUES('b', '2')")
        raise RuntimeError("crash mid-write")
    assert state.get_value("b") is None
    assert state.get_value("a") == "1"


def test_state_rejects_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(WorkspaceError, match="not a proofmind state database"):
        StateDB(path)


def test_state_rejects_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(WorkspaceError, match="newer"):
        StateDB(path)


def test_blob_store_round_trip_and_corruption(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"hello")
    assert digest == "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"
    assert store.get(digest) == b"hello"
    assert store.put(b"hello") == digest
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 3_000_000)
    file_digest = store.put_file(source)
    assert store.get(file_digest) == source.read_bytes()
    store.path_of(digest).write_bytes(b"tampered")
    with pytest.raises(WorkspaceError, match="corrupted"):
        store.get(digest)
    with pytest.raises(InputError, match="not a blob hash"):
        store.get("0x1234")
    with pytest.raises(WorkspaceError, match="not in the store"):
        store.get("0x" + "ab" * 32)
