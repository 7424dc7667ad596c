"""Where the tools proofmind installs from npm live (anvil, solc-js): the node_modules folders
near the working directory or the installed package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def node_modules_dirs(search_from: Path | None = None) -> Iterator[Path]:
    """node_modules folders in the cwd (or ``search_from``) and the package's folders, and up."""
    for start in (search_from or Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start.resolve(), *start.resolve().parents):
            if (folder / "node_modules").is_dir():
                yield folder / "node_modules"
