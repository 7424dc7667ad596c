"""The `.proofmind/` workspace: config, SQLite state, keystore, chain state and blobs.

Found like git finds its repository: ``PROOFMIND_WORKSPACE`` if set, else the nearest
``.proofmind/`` in the current directory or one of its parents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from proofmind.errors import WorkspaceError
from proofmind.settings import ChainSettings, DevnetSettings, KeystoreSettings, TxSettings
from proofmind.store.blobs import BlobStore
from proofmind.store.state import StateDB

if TYPE_CHECKING:
    from proofmind.chain.base import Chain

WORKSPACE_DIR = ".proofmind"
CONFIG_FILE = "config.toml"

_DEFAULT_CONFIG: dict[str, dict[str, object]] = {
    "chain": {"backend": "devnet"},
    "devnet": {"chain_id": 31337, "accounts": 10, "balance_ether": 10_000},
    "tx": {"gas_multiplier": 1.2, "max_retries": 4, "receipt_timeout": 120.0},
}


@dataclass
class Workspace:
    """An opened workspace. Create with :func:`init_workspace` or :func:`open_workspace`."""

    root: Path
    _state: StateDB | None = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def keystore_dir(self) -> Path:
        return self.root / "keystore"

    @property
    def chain_dir(self) -> Path:
        return self.root / "chain"

    @property
    def blobs(self) -> BlobStore:
        return BlobStore(self.root / "blobs")

    @property
    def state(self) -> StateDB:
        if self._state is None:
            self._state = StateDB(self.root / "state.sqlite")
        return self._state

    def chain_settings(self, **overrides: object) -> ChainSettings:
        return ChainSettings.load(self.config_path, **overrides)  # type: ignore[no-any-return]

    def devnet_settings(self, **overrides: object) -> DevnetSettings:
        return DevnetSettings.load(self.config_path, **overrides)  # type: ignore[no-any-return]

    def tx_settings(self, **overrides: object) -> TxSettings:
        return TxSettings.load(self.config_path, **overrides)  # type: ignore[no-any-return]

    def keystore_settings(self) -> KeystoreSettings:
        return KeystoreSettings.load(self.config_path)  # type: ignore[no-any-return]

    def connect(self, **chain_overrides: object) -> Chain:
        """Connect to the chain this workspace is configured for."""
        from proofmind.chain.connect import connect

        return connect(
            self.chain_settings(**chain_overrides),
            devnet=self.devnet_settings(),
            chain_dir=self.chain_dir,
            tx=self.tx_settings(),
            keystore_dir=self.keystore_dir,
            keystore=self.keystore_settings(),
        )

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None


def init_workspace(directory: Path) -> tuple[Workspace, bool]:
    """Create (or complete) ``directory/.proofmind``. Returns the workspace and whether it
    was newly created. Existing files are never overwritten."""
    root = directory / WORKSPACE_DIR if directory.name != WORKSPACE_DIR else directory
    if root.exists() and not root.is_dir():
        raise WorkspaceError(
            f"{root} exists and is not a directory", hint="move the file away and run init again"
        )
    created = not root.exists()
    try:
        for sub in ("", "keystore", "chain", "blobs"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "keystore", 0o700)
        config = root / CONFIG_FILE
        if not config.exists():
            tmp = config.with_suffix(".tmp")
            tmp.write_bytes(tomli_w.dumps(_DEFAULT_CONFIG).encode())
            tmp.replace(config)
    except OSError as exc:
        raise WorkspaceError(
            f"cannot create workspace at {root}: {exc}",
            hint="choose a directory you can write to",
        ) from exc
    workspace = Workspace(root)
    workspace.state  # noqa: B018 - creates state.sqlite with its schema
    return workspace, created


def find_workspace(start: Path | None = None, env_path: str | None = None) -> Path | None:
    """The workspace directory in effect, or None when there is none."""
    if env_path:
        path = Path(env_path).expanduser()
        return path if path.name == WORKSPACE_DIR else path / WORKSPACE_DIR
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / WORKSPACE_DIR).is_dir():
            return candidate / WORKSPACE_DIR
    return None


def open_workspace(path: Path | None = None, *, env_path: str | None = None) -> Workspace:
    """Open an existing workspace, or raise WorkspaceError saying how to create one."""
    root = path if path is not None else find_workspace(env_path=env_path)
    if root is not None and root.name != WORKSPACE_DIR and (root / WORKSPACE_DIR).is_dir():
        root = root / WORKSPACE_DIR
    if root is None or not (root / CONFIG_FILE).is_file():
        where = root or Path.cwd()
        raise WorkspaceError(
            f"no proofmind workspace at {where}",
            hint="run `proofmind init` in your project directory (or set PROOFMIND_WORKSPACE)",
        )
    return Workspace(root)
