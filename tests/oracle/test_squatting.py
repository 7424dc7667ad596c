"""A model registered by someone else, or with terms that differ from the package, is neither
served nor watched: the node and the watcher lock no bond on it and say why in one line."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from proofmind.app.oracle_service import register
from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.errors import InputError
from proofmind.ml import zk
from proofmind.oracle.client import (
    Mode,
    ModelPolicy,
    OracleClient,
    Status,
    Terms,
    deploy_verifier,
    model_key,
    oracle_model_id,
    save_package,
)
from proofmind.oracle.node import NodeConfig, OracleNode
from proofmind.oracle.watcher import Watcher
from proofmind.workspace import init_workspace

Pair = tuple[zk.Package, zk.Package]


@pytest.mark.devnet
def test_a_squatted_model_is_neither_served_nor_watched(
    chain: Chain,
    tmp_path: Path,
    zk_pair: Pair,
    sample_inputs: list[list[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pkg, other = zk_pair
    contract, _ = deploy(chain, "InferenceOracle")
    oracle = OracleClient(chain, contract)
    owner, attacker = chain.default_account, chain.accounts[6]
    zk_id = oracle.register_package(pkg, Terms(Mode.ZK))  # the owner serves zk only
    oracle.deposit(10**19)  # the node's whole balance
    # the attacker registers the package's other mode under the same key, with the node's
    # whole balance as the bond and a verifier of another circuit
    squat = Terms(Mode.OPTIMISTIC, bond=10**19, challenge_window=5)
    squatted = oracle.register_package(
        pkg, squat, verifier=oracle.deploy_verifier(other), account=attacker
    )
    assert squatted == oracle_model_id(pkg, Mode.OPTIMISTIC, attacker.address)
    assert squatted != oracle_model_id(pkg, Mode.OPTIMISTIC, owner.address)
    start = chain.w3.eth.block_number + 1
    bait = oracle.request(squatted, sample_inputs[0], account=attacker)
    node = OracleNode(
        chain, oracle, tmp_path / "n.sqlite", [pkg], config=NodeConfig(start_block=start)
    )
    try:
        assert set(node.served) == {"0x" + zk_id.hex()}
        asyncio.run(node.step())
    finally:
        node.close()
    assert oracle.state(bait).status == Status.PENDING  # no bond locked on it
    assert oracle.balance(owner.address) == 10**19
    # a node or watcher told to trust the attacker still refuses: the terms are not the package's
    trusting = ModelPolicy(attacker.address, max_bond=10**20)
    with (
        caplog.at_level(logging.ERROR, logger="proofmind.oracle"),
        pytest.raises(InputError, match="none of the given models"),
    ):
        Watcher(chain, oracle, tmp_path / "w.sqlite", [pkg], policy=trusting)
    (line,) = [r.message for r in caplog.records if "refusing to watch" in r.message]
    assert "is not the package's verifier" in line


@pytest.mark.devnet
def test_terms_outside_the_policy_are_refused_in_one_line(
    chain: Chain, tmp_path: Path, zk_pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    pkg = zk_pair[0]
    contract, _ = deploy(chain, "InferenceOracle")
    oracle = OracleClient(chain, contract)
    verifier = oracle.deploy_verifier(pkg)
    oracle.register_package(pkg, Terms(Mode.ZK), verifier=verifier)
    oracle.register_package(pkg, Terms(Mode.OPTIMISTIC, bond=5 * 10**18), verifier=verifier)
    with caplog.at_level(logging.ERROR, logger="proofmind.oracle"):
        node = OracleNode(chain, oracle, tmp_path / "n.sqlite", [pkg])
        node.close()
        with pytest.raises(InputError, match="none of the given models"):
            Watcher(chain, oracle, tmp_path / "w.sqlite", [pkg])
    assert [s.mode for s in node.served.values()] == [Mode.ZK]
    refused = [r.message for r in caplog.records if "refusing" in r.message]
    assert len(refused) == 2
    assert all("bond 5000000000000000000 wei is over the cap of" in m for m in refused)
    # a wider cap, and the committee of a model without a verifier must be trusted
    members = tuple(a.address for a in chain.accounts[3:6])
    committee_terms = Terms(Mode.OPTIMISTIC, quorum=2, committee=members)
    oracle.register(
        model_key(pkg, Mode.OPTIMISTIC),
        verifier=None,
        input_length=pkg.input_size,
        output_length=pkg.output_size,
        terms=committee_terms,
        account=chain.accounts[2],
    )
    strict = ModelPolicy(chain.accounts[2].address, committee=frozenset(members[:2]))
    with caplog.at_level(logging.ERROR, logger="proofmind.oracle"), pytest.raises(InputError):
        Watcher(chain, oracle, tmp_path / "w2.sqlite", [pkg], policy=strict)
    assert any(
        f"committee members {members[2]} are not trusted" in r.message for r in caplog.records
    )
    loose = ModelPolicy(chain.accounts[2].address, committee=frozenset(m.lower() for m in members))
    assert Watcher(chain, oracle, tmp_path / "w3.sqlite", [pkg], policy=loose).served


@pytest.mark.devnet
def test_register_reports_success_only_for_its_own_matching_model(
    chain: Chain, tmp_path: Path, zk_pair: Pair
) -> None:
    pkg = zk_pair[0]
    ws, _ = init_workspace(tmp_path)
    for path in pkg.paths.values():
        ws.blobs.put_file(path)
    save_package(ws, pkg)
    verifier = deploy_verifier(chain, pkg)
    ws.state.set_value(f"zk.verifier.{chain.chain_id}.0x{pkg.model_id.hex()}", verifier)
    # someone registered the package's key first, under its own address
    squatter = chain.accounts[6]
    OracleClient.open(chain, ws).register_package(
        pkg, Terms(Mode.OPTIMISTIC, bond=10**19), verifier=verifier, account=squatter
    )
    oracle, model_id = register(ws, chain, pkg.name, Terms(Mode.OPTIMISTIC))
    assert oracle.model(model_id)["owner"] == chain.default_account.address
    assert int(oracle.model(model_id)["bond"]) == Terms(Mode.OPTIMISTIC).bond
    assert register(ws, chain, pkg.name, Terms(Mode.OPTIMISTIC))[1] == model_id  # idempotent
    with pytest.raises(
        InputError, match="already registered in optimistic mode with other terms: bond"
    ):
        register(ws, chain, pkg.name, Terms(Mode.OPTIMISTIC, bond=2 * 10**17))
