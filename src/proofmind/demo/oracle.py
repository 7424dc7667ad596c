"""The demo's oracle chapter: the fraud model trained earlier becomes an ONNX circuit; an
airdrop asks the oracle for each claimant's risk score; the oracle node proves the answers with
EZKL; the chain verifies them and the airdrop pays only the low-risk claimant.

The claimants' wallets are devnet accounts standing in for two accounts of the data sample
(the sample's accounts are real mainnet addresses whose keys nobody here has)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from proofmind.app.oracle import NODE_DB
from proofmind.app.oracle_service import package_model, register, verifier_of
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach, deploy
from proofmind.crypto.keccak import keccak256_file
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.demo.lineage import LineageDemo, features
from proofmind.errors import InputError
from proofmind.ml import zk
from proofmind.ml.onnx_models import mlp_onnx
from proofmind.oracle.client import Mode, Terms, load_package
from proofmind.oracle.node import NodeConfig, OracleNode
from proofmind.provenance import Ledger
from proofmind.workspace import Workspace

NAME = "fraud-risk"
AMOUNT = 100 * 10**18


@dataclass
class OracleDemo:
    model_id: str = ""
    logrows: int = 0
    verify_gas: list[int] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    paid: dict[str, int] = field(default_factory=dict)
    stand_ins: dict[str, str] = field(default_factory=dict)


def _onnx(lineage: LineageDemo) -> None:
    """The logistic regression with its standardisation folded into the weights."""
    saved = np.load(lineage.model)
    w = saved["weights"] / saved["std"]
    b = float(saved["bias"][0] - np.sum(saved["weights"] * saved["mean"] / saved["std"]))
    mlp_onnx([(w.reshape(-1, 1), [b])], lineage.folder / f"{NAME}.onnx", name=NAME)


def _package(
    lineage: LineageDemo, workspace: Workspace, chain: Chain, x: NDArray[np.float64]
) -> zk.Package:
    try:
        pkg = load_package(workspace, NAME)
        verifier_of(workspace, chain, pkg)
        if pkg.digests["model"] == "0x" + keccak256_file(lineage.folder / f"{NAME}.onnx").hex():
            return pkg
    except InputError:
        pass
    calibration = lineage.folder / f"{NAME}-calibration.csv"
    np.savetxt(calibration, x, delimiter=",")
    return package_model(
        workspace, chain, lineage.folder / f"{NAME}.onnx", calibration, name=NAME
    ).package


def run(lineage: LineageDemo, workspace: Workspace, chain: Chain) -> OracleDemo:
    demo = OracleDemo()
    _onnx(lineage)
    x, _, accounts = features(lineage.transactions, lineage.labels)
    pkg = _package(lineage, workspace, chain, x)
    Ledger(workspace).anchor(chain)  # the circuit's record, made after the lineage was anchored
    demo.logrows = pkg.logrows
    oracle, model_id = register(workspace, chain, NAME, Terms(Mode.ZK, fee=10**15))
    demo.model_id = "0x" + model_id.hex()

    # two claimants: the sample's least and most risky accounts, by the circuit's own score
    inputs = [zk.quantize(row, pkg.input_scale) for row in x]
    scores = [zk.circuit_output(pkg, v)[0] for v in inputs]
    honest, flagged = int(np.argmin(scores)), int(np.argmax(scores))
    wallets = {"honest": chain.accounts[6], "flagged": chain.accounts[7]}
    picks = {"honest": honest, "flagged": flagged}
    demo.stand_ins = {who: accounts[i] for who, i in picks.items()}
    rows = [[wallets[who].address, inputs[i]] for who, i in picks.items()]
    tree = StandardMerkleTree.of(rows, ["address", "int256[]"])

    registry = DeploymentRegistry(workspace.state)
    token = attach(chain, "RewardToken", registry)
    threshold = zk.quantize([0.5], pkg.output_scale)[0]
    owner = chain.sender().address
    airdrop, _ = deploy(
        chain,
        "SybilGatedAirdrop",
        oracle.address,
        token.address,
        model_id,
        AMOUNT,
        threshold,
        owner,
    )
    chain.sender().transact(token.functions.mint(airdrop.address, 2 * AMOUNT))
    chain.sender().transact(airdrop.functions.setFeaturesRoot(tree.root))

    before = {who: int(token.functions.balanceOf(w.address).call()) for who, w in wallets.items()}
    start = int(chain.w3.eth.block_number) + 1
    for i, who in enumerate(picks):
        call = airdrop.functions.claim(rows[i][1], tree.get_proof(i))
        chain.sender(wallets[who]).transact(call, value=10**15)

    node = OracleNode(
        chain,
        oracle,
        workspace.root / NODE_DB,  # the workspace node's queue: the dashboard lists it
        [pkg],
        config=NodeConfig(start_block=start, cursor_name=f"demo-{start}"),
    )
    try:
        asyncio.run(node.step())  # proves and sends; the devnet mines at once
        # then the receipts, read back, until the queue (and the dashboard) say done: a zk
        # answer takes a commit and a reveal, each sent in one step and read back in the next,
        # and a transaction sent again after a refusal takes a step more (a busy machine)
        deadline = time.monotonic() + 120
        while node.queue.open_count() and time.monotonic() < deadline:
            if not asyncio.run(node.step()):
                time.sleep(0.2)
    finally:
        node.close()
    fulfilled = oracle.oracle.events.InferenceFulfilled().get_logs(from_block=start)
    for event in fulfilled:
        receipt = chain.w3.eth.get_transaction_receipt(event["transactionHash"])
        demo.verify_gas.append(int(receipt["gasUsed"]))
    for who, wallet in wallets.items():
        demo.scores[who] = scores[picks[who]] / 2**pkg.output_scale
        demo.paid[who] = int(token.functions.balanceOf(wallet.address).call()) - before[who]
    return demo
