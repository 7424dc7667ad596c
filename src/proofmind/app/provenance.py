"""Lineage use cases over a workspace: the public ``proofmind.track_run``, ``record_dataset``
and ``verify_path`` find the workspace (and its chain) for the caller, then hand the domain code
in :mod:`proofmind.provenance` its stores and a way to connect, explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proofmind.chain.base import Chain
from proofmind.ownership.contributions import assembly_check
from proofmind.provenance.api import Committed, commit
from proofmind.provenance.dataset import is_uri
from proofmind.provenance.runs import Run, logged_run
from proofmind.provenance.verify import VerifyReport
from proofmind.provenance.verify import verify_path as verify_in
from proofmind.workspace import Workspace, open_workspace


def workspace_of(workspace: Workspace | Path | None) -> Workspace:
    """``workspace`` itself, the one at that path, or the one the current directory is in
    (``PROOFMIND_WORKSPACE`` first, then the nearest ``.proofmind/`` upwards)."""
    return workspace if isinstance(workspace, Workspace) else open_workspace(workspace)


@contextmanager
def track_run(
    name: str,
    datasets: Sequence[str | Path] = (),
    *,
    workspace: Workspace | Path | None = None,
    directory: str | Path | None = None,
    anchor: bool = True,
) -> Iterator[Run]:
    """Log a training run; when it ends, its head becomes a lineage record, anchored on-chain
    right away — it and the records it descends from that are not anchored yet (its datasets),
    no other pending record — unless ``anchor=False``. ``datasets`` are paths
    to data files or folders; any not yet committed are committed first. Without
    ``workspace``, the workspace is found from the current directory.

    A run that raises is logged as failed and its record left pending. If anchoring fails
    (no chain, no funds), the run stays logged and pending, with a warning: run
    `proofmind provenance anchor` to retry."""
    ws = workspace_of(workspace)
    connect = ws.connect if anchor else None
    with logged_run(ws, name, datasets, directory=directory, connect=connect) as run:
        yield run


def record_dataset(
    workspace: Workspace | Path | None, path: str | Path, **options: Any
) -> Committed:
    """Commit the dataset at ``path`` (a file or folder) into the workspace's lineage ledger:
    its Merkle commitment is written under ``.proofmind/datasets`` and a dataset record is
    queued for anchoring. ``options`` are those of :func:`proofmind.provenance.api.commit`
    (``name``, ``workers``, ``engine``, ...). The same unchanged data keeps its record."""
    where = path if is_uri(str(path)) else Path(path)  # a URI needs engine=...
    return commit(workspace_of(workspace), where, **options)


def verify_path(
    workspace: Workspace | Path | None,
    path: str | Path,
    *,
    connect: Callable[[], Chain] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the model file, dataset or run folder at ``path`` and everything it came from,
    against the workspace's chain unless ``connect`` opens another."""
    ws = workspace_of(workspace)
    return verify_in(
        ws,
        path if is_uri(str(path)) else Path(path),
        connect=connect or ws.connect,
        workers=workers,
        assembly_check=assembly_check,
    )
