"""Where the tools proofmind installs from npm live (anvil, solc-js): the node_modules folders
near the working directory or the installed package, then npm's global folder."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


def node_modules_dirs(search_from: Path | None = None) -> Iterator[Path]:
    """node_modules folders in the cwd (or ``search_from``) and the package's folders, and up."""
    for start in (search_from or Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start.resolve(), *start.resolve().parents):
            if (folder / "node_modules").is_dir():
                yield folder / "node_modules"


def global_node_modules() -> Path | None:
    """npm's global node_modules folder (``npm root -g``: where ``npm install -g`` puts a
    package), or None without npm. For a proofmind installed with pip, outside its checkout."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        done = subprocess.run(
            [npm, "root", "-g"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    root = Path(done.stdout.strip())
    return root if done.returncode == 0 and root.is_absolute() and root.is_dir() else None
