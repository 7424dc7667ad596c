"""What domain code keeps locally: a folder for its files, the SQLite state and the blob store.

Domain modules (provenance, ownership, oracle, intel, gov, services) take a :class:`Stores`,
never the workspace: how a workspace is found, configured and connected to a chain is the
application layer's business (``proofmind.app``). A :class:`~proofmind.workspace.Workspace`
is a ``Stores``; so is :class:`LocalStores`, built from the three parts directly.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from proofmind.store.blobs import BlobStore
from proofmind.store.state import StateDB


def from_project(root: Path, path: str) -> str | None:
    """``path`` (absolute and resolved, as the ledger keeps paths) relative to the project
    folder, the one holding the stores' ``root``; None when it lies elsewhere."""
    project = _project_prefix(root)
    return path[len(project) :] if path.startswith(project) else None


@functools.lru_cache(maxsize=64)
def _project_prefix(root: Path) -> str:
    return str(root.parent.resolve()).rstrip(os.sep) + os.sep


class Stores(Protocol):
    @property
    def root(self) -> Path:
        """The folder where domain code keeps files (datasets, runs, reward trees, …)."""
        ...

    @property
    def state(self) -> StateDB: ...

    @property
    def blobs(self) -> BlobStore: ...


@dataclass(frozen=True)
class LocalStores:
    """A :class:`Stores` from its parts (:meth:`at`: ``root/state.sqlite`` and ``root/blobs``)."""

    root: Path
    state: StateDB
    blobs: BlobStore

    @classmethod
    def at(cls, root: Path) -> LocalStores:
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, StateDB(root / "state.sqlite"), BlobStore(root / "blobs"))
