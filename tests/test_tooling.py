"""The npm tools' lookup is shared by the devnet (anvil) and zk packaging (solc-js), without the
zk code depending on the chain layer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proofmind.errors import ConfigError
from proofmind.ml.zk import _verifier, find_solcjs
from proofmind.tooling import global_node_modules, node_modules_dirs

ROOT = Path(__file__).resolve().parents[1]


def test_node_modules_of_the_checkout_are_found_from_anywhere(tmp_path: Path) -> None:
    # from a folder outside the checkout, through the (editable) package's own folders
    assert ROOT / "node_modules" in list(node_modules_dirs(tmp_path))
    assert next(node_modules_dirs(ROOT / "src")) == ROOT / "node_modules"


def test_solcjs_is_found_in_node_modules() -> None:
    assert find_solcjs() == ROOT / "node_modules" / "solc"


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_solcjs_installed_with_npm_install_g_is_found_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # proofmind installed by pip: no node_modules near the cwd or the package
    monkeypatch.setattr(_verifier, "node_modules_dirs", lambda: iter(()))
    prefix = tmp_path / "npm-global"
    monkeypatch.setenv("NPM_CONFIG_PREFIX", str(prefix))  # what `npm install -g` writes to
    with pytest.raises(ConfigError, match="solc-js") as refused:
        find_solcjs()
    assert "npm install -g solc@" in (refused.value.hint or "")
    solc = prefix / "lib" / "node_modules" / "solc"
    solc.mkdir(parents=True)
    (solc / "package.json").write_text('{"name": "solc", "version": "0.8.37"}')
    assert global_node_modules() == prefix / "lib" / "node_modules"
    assert find_solcjs() == solc


def test_zk_packaging_does_not_import_the_chain_layer() -> None:
    code = (
        "import sys, proofmind.ml.zk; "
        "print(sorted(m for m in sys.modules if m.startswith('proofmind.chain')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
