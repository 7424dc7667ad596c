"""Contract handles: compiled artifacts shipped in the package, deploy, attach, and the
per-chain deployment registry kept in the workspace's SQLite state."""

from __future__ import annotations

import builtins
import functools
import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

from eth_utils.address import to_checksum_address
from web3.contract import Contract

from proofmind.chain.base import Chain
from proofmind.crypto.keccak import keccak256
from proofmind.errors import ContractNotFound, WorkspaceError
from proofmind.store.state import StateDB

ARTIFACT_PACKAGE = "proofmind.artifacts.contracts"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract as written by scripts/compile_contracts.mjs."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    source_hash: str
    source_path: str

    @property
    def artifact_hash(self) -> str:
        """Identifies exactly this build: keccak of the creation bytecode and ABI."""
        payload = self.bytecode.encode() + json.dumps(self.abi, sort_keys=True).encode()
        return "0x" + keccak256(payload).hex()


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    name: str
    address: str
    tx_hash: str
    block_number: int
    artifact_hash: str
    deployer: str
    deployed_at: float


def artifact_names() -> list[str]:
    folder = resources.files(ARTIFACT_PACKAGE)
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json") and entry.name != "index.json"
    )


@functools.cache
def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name``; ContractNotFound lists the known names."""
    names = artifact_names()
    if name not in names:
        raise ContractNotFound(
            f"no compiled contract named {name!r} (known: {', '.join(names) or 'none'})",
            hint="check the spelling; new contracts need `npm run compile` (see docs/contracts.md)",
        )
    raw = json.loads(resources.files(ARTIFACT_PACKAGE).joinpath(f"{name}.json").read_text())
    return Artifact(
        name=raw["contractName"],
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
        compiler_version=raw["compiler"]["version"],
        source_hash=raw["sourceHash"],
        source_path=raw["sourcePath"],
    )


@functools.cache
def load_all_abis() -> tuple[list[dict[str, Any]], ...]:
    return tuple(load_artifact(name).abi for name in artifact_names())


class DeploymentRegistry:
    """Which contract lives at which address, per chain id."""

    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record(self, deployment: Deployment) -> None:
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO deployments(chain_id, name, address, tx_hash, block_number, "
                "artifact_hash, deployer, deployed_at) VALUES(?,?,?,?,?,?,?,?) "
                "ON CONFLICT(chain_id, name) DO UPDATE SET address=excluded.address, "
                "tx_hash=excluded.tx_hash, block_number=excluded.block_number, "
                "artifact_hash=excluded.artifact_hash, deployer=excluded.deployer, "
                "deployed_at=excluded.deployed_at",
                (
                    deployment.chain_id,
                    deployment.name,
                    deployment.address,
                    deployment.tx_hash,
                    deployment.block_number,
                    deployment.artifact_hash,
                    deployment.deployer,
                    deployment.deployed_at,
                ),
            )

    def get(self, chain_id: int, name: str) -> Deployment | None:
        row = self.state.conn.execute(
            "SELECT * FROM deployments WHERE chain_id=? AND name=?", (chain_id, name)
        ).fetchone()
        return None if row is None else Deployment(**dict(row))

    def list(self, chain_id: int | None = None) -> list[Deployment]:
        if chain_id is None:
            rows = self.state.conn.execute("SELECT * FROM deployments ORDER BY chain_id, name")
        else:
            rows = self.state.conn.execute(
                "SELECT * FROM deployments WHERE chain_id=? ORDER BY name", (chain_id,)
            )
        return [Deployment(**dict(row)) for row in rows]

    def forget(self, chain_id: int, name: str) -> None:
        with self.state.transaction() as conn:
            conn.execute("DELETE FROM deployments WHERE chain_id=? AND name=?", (chain_id, name))

    def reconcile(self, chain: Chain) -> builtins.list[str]:
        """Forget deployments on ``chain`` whose address has no code any more (the chain was
        reset, or restarted from a state saved before they were deployed)."""
        corrections = []
        for deployment in self.list(chain.chain_id):
            if chain.w3.eth.get_code(to_checksum_address(deployment.address)):
                continue
            self.forget(chain.chain_id, deployment.name)
            corrections.append(
                f"{deployment.name} was recorded at {deployment.address} on chain "
                f"{chain.chain_id} (block {deployment.block_number}), but there is no code "
                "there: forgotten, it is deployed again when needed"
            )
        return corrections


def deploy(
    chain: Chain, name: str, *args: Any, registry: DeploymentRegistry | None = None
) -> tuple[Contract, Deployment]:
    """Deploy contract ``name`` from the default account; record it when a registry is given.

    The registry is written only after the receipt, so a failed deployment records nothing.
    """
    artifact = load_artifact(name)
    sender = chain.sender()
    receipt = sender.deploy(artifact.abi, artifact.bytecode, *args, label=f"deploy {name}")
    address = receipt["contractAddress"]
    if address is None:  # pragma: no cover - a successful creation always has one
        raise WorkspaceError(f"deployment of {name} returned no contract address")
    deployment = Deployment(
        chain_id=chain.chain_id,
        name=name,
        address=str(address),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
        artifact_hash=artifact.artifact_hash,
        deployer=sender.address,
        deployed_at=time.time(),
    )
    if registry is not None:
        registry.record(deployment)
    return chain.w3.eth.contract(address=address, abi=artifact.abi), deployment


def attach(chain: Chain, name: str, registry: DeploymentRegistry) -> Contract:
    """The deployed ``name`` on this chain, checked to still have code there."""
    artifact = load_artifact(name)
    deployment = registry.get(chain.chain_id, name)
    if deployment is None:
        raise ContractNotFound(
            f"{name} is not deployed on chain {chain.chain_id}",
            hint=f"run `proofmind contracts deploy {name}`",
        )
    if not chain.w3.eth.get_code(to_checksum_address(deployment.address)):
        raise ContractNotFound(
            f"{name} was recorded at {deployment.address} on chain {chain.chain_id}, "
            "but there is no code there (the chain was reset)",
            hint=f"run `proofmind contracts deploy {name}` again",
        )
    return chain.w3.eth.contract(address=to_checksum_address(deployment.address), abi=artifact.abi)


def is_current(chain: Chain, deployment: Deployment) -> bool:
    """Whether the recorded deployment has code and was built from the shipped artifact."""
    code = chain.w3.eth.get_code(to_checksum_address(deployment.address))
    return bool(code) and deployment.artifact_hash == load_artifact(deployment.name).artifact_hash


# Contracts of the suite whose constructors take arguments, and what `contracts deploy` gives
# them: the reward token is owned by the deployer, the distributor pays in the suite's token.
REWARD_TOKEN = ("proofmind Data Reward", "PMDR")
_DEPENDS_ON = {"RewardDistributor": "RewardToken"}


# Example consumers, the governance pair and the replay price feed take per-use constructor
# arguments: not part of the default suite.
EXAMPLES = frozenset(
    {"SybilGatedAirdrop", "ProofmindGovernor", "ProofmindVotes", "ReplayPriceFeed"}
)
# A guarded agent's Safe and its AgentGuard module: one per treasury, made by `agent safe create`.
AGENT_CONTRACTS = frozenset({"AgentGuard", "Safe", "SafeProxyFactory"})


def suite_names() -> list[str]:
    """The contracts `contracts deploy` deploys when given no names."""
    return [name for name in artifact_names() if name not in EXAMPLES | AGENT_CONTRACTS]


def suite_order(names: list[str]) -> list[str]:
    """``names`` with every contract after the one it needs."""
    ordered: list[str] = []
    for name in names:
        need = _DEPENDS_ON.get(name)
        if need in names and need not in ordered:
            ordered.append(need)
        if name not in ordered:
            ordered.append(name)
    return ordered


def suite_args(chain: Chain, registry: DeploymentRegistry, name: str) -> tuple[Any, ...]:
    """Constructor arguments for a suite contract deployed by the default account."""
    owner = chain.sender().address
    if name == "RewardToken":
        return (*REWARD_TOKEN, owner)
    if name == "RewardDistributor":
        token = registry.get(chain.chain_id, "RewardToken")
        if token is None:
            raise ContractNotFound(
                f"RewardDistributor pays in RewardToken, which is not deployed on chain "
                f"{chain.chain_id}",
                hint="run `proofmind contracts deploy RewardToken RewardDistributor`",
            )
        return (to_checksum_address(token.address), owner)
    if name == "AgentGuard":
        raise WorkspaceError(
            "AgentGuard is a Safe module deployed for one Safe",
            hint="create a Safe with its guard: `proofmind agent safe create`",
        )
    if name in EXAMPLES:
        raise WorkspaceError(
            f"{name} is an example consumer whose constructor takes per-use arguments",
            hint="deploy it from Python (`proofmind.chain.contracts.deploy`) or see docs/oracle.md",
        )
    return ()
