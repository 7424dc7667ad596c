"""The contract artifacts shipped in the package are current with contracts/src."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from proofmind.chain.contracts import artifact_names, load_artifact

REQUIRED = {
    "contractName",
    "sourcePath",
    "abi",
    "bytecode",
    "deployedBytecode",
    "methodIdentifiers",
    "compiler",
    "settings",
    "sourceHash",
}


def test_committed_artifacts_are_current(repo_root: Path) -> None:
    node = shutil.which("node")
    if node is None or not (repo_root / "node_modules" / "solc").is_dir():
        pytest.fail("node or node_modules/solc is missing: run `npm ci` (make test does)")
    result = subprocess.run(
        [node, "scripts/compile_contracts.mjs", "--check"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_artifact_is_complete(repo_root: Path) -> None:
    folder = repo_root / "src" / "proofmind" / "artifacts" / "contracts"
    index = json.loads((folder / "index.json").read_text())
    names = artifact_names()
    assert names == index["contracts"]
    for name in artifact_names():
        raw = json.loads((folder / f"{name}.json").read_text())
        assert raw.keys() >= REQUIRED, name
        assert raw["settings"]["optimizer"] == {"enabled": True, "runs": 200}
        artifact = load_artifact(name)
        assert len(artifact.bytecode) > 2 and len(artifact.deployed_bytecode) > 2
        assert artifact.compiler_version.startswith("0.8.")
