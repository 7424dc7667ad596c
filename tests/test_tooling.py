"""The npm tools' lookup is shared by the devnet (anvil) and zk packaging (solc-js), without the
zk code depending on the chain layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from proofmind.ml.zk import find_solcjs
from proofmind.tooling import node_modules_dirs

ROOT = Path(__file__).resolve().parents[1]


def test_node_modules_of_the_checkout_are_found_from_anywhere(tmp_path: Path) -> None:
    # from a folder outside the checkout, through the (editable) package's own folders
    assert ROOT / "node_modules" in list(node_modules_dirs(tmp_path))
    assert next(node_modules_dirs(ROOT / "src")) == ROOT / "node_modules"


def test_solcjs_is_found_in_node_modules() -> None:
    assert find_solcjs() == ROOT / "node_modules" / "solc"


def test_zk_packaging_does_not_import_the_chain_layer() -> None:
    code = (
        "import sys, proofmind.ml.zk; "
        "print(sorted(m for m in sys.modules if m.startswith('proofmind.chain')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
