"""The public API is exactly what __all__ says, and every name resolves."""

from __future__ import annotations

import subprocess
import sys

import proofmind

EXPECTED = {
    "__version__",
    "Workspace",
    "init_workspace",
    "open_workspace",
    "ChainSettings",
    "DevnetSettings",
    "TxSettings",
    "Chain",
    "ChainBackend",
    "TxSender",
    "DeploymentRegistry",
    "deploy",
    "attach",
    "load_artifact",
    "LogReader",
    "ReorgSafeCursor",
    "Reorg",
    "BlockRange",
    "keccak256",
    "StandardMerkleTree",
    "MultiProof",
    "Eip712Domain",
    "sign_typed_data",
    "recover_typed_data",
    "track_run",
    "record_dataset",
    "register_model",
    "verify_path",
    "Ledger",
    "ProofmindError",
    "Stores",
    "LocalStores",
    "deploy_suite",
    "zk_preflight",
    "zk_package",
    "zk_prove",
    "ZkPackage",
    "OracleClient",
    "OracleMode",
    "OracleTerms",
    "load_package",
    "package_model",
    "register_oracle_model",
    "Contribution",
    "contribute",
    "assemble_dataset",
    "value_contributions",
    "publish_epoch",
    "RewardsClient",
    "import_etherscan",
    "address_features",
    "train_fraud_registered",
    "detect_sybils",
    "train_sybil_registered",
}


def test_all_is_pinned() -> None:
    assert set(proofmind.__all__) == EXPECTED


def test_all_matches_the_lazy_table() -> None:
    assert set(proofmind.__all__) - {"__version__"} == set(proofmind._EXPORTS)


def test_every_name_resolves() -> None:
    for name in proofmind.__all__:
        assert getattr(proofmind, name) is not None, name


def test_import_is_lazy() -> None:
    code = "import sys, proofmind; print('web3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_commit_dataset_is_a_deprecated_alias_of_record_dataset() -> None:
    import pytest

    with pytest.warns(DeprecationWarning, match="record_dataset"):
        alias = proofmind.commit_dataset
    assert alias is proofmind.record_dataset
    with pytest.warns(DeprecationWarning, match="record_dataset"):
        from proofmind.provenance import commit_dataset
    from proofmind.provenance.api import commit

    assert commit_dataset is commit
