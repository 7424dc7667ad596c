"""A guarded treasury on the devnet: a 2-of-3 Safe holding a stablecoin, with AgentGuard enabled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from proofmind.agents.guard import Guard, create_guarded_safe
from proofmind.agents.log import DecisionLog
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy
from proofmind.monitor.store import AlertStore
from proofmind.store.state import StateDB

E18 = 10**18
DELAY = 3600


@dataclass
class Treasury:
    chain: Chain
    safe: str
    guard: Guard
    token: object
    owners: list[LocalAccount]
    agent: LocalAccount
    treasury: str
    guardian: LocalAccount
    alerts: AlertStore
    log: DecisionLog
    tmp: Path

    def policy_file(self, rules: str = "", *, expires_in: str = "7d", extra: str = "") -> Path:
        token = self.token.address  # type: ignore[attr-defined]
        text = f"""
name = "depeg-guard"
agent = 4
expires_in = "{expires_in}"
guardians = ["{self.guardian.address}"]
recipients = ["{self.treasury}"]
{extra}
[[scope]]
target = "{token}"
function = "transfer(address,uint256)"
recipient_arg = 0
amount_arg = 1
max_amount = "600e18"

[[cap]]
token = "{token}"
limit = "1000e18"
window = "1d"
timelock_above = "400e18"
{rules}
"""
        path = self.tmp / "policy.toml"
        path.write_text(text)
        return path

    def rule(self, amount: str, *, subject: str = "USDC", to: str | None = None) -> str:
        token = self.token.address  # type: ignore[attr-defined]
        return f"""
[[rule]]
detector = "depeg"
subject = "{subject}"
min_severity = "high"
[rule.action]
target = "{token}"
function = "transfer(address,uint256)"
args = ["{to or self.treasury}", "{amount}"]
"""

    def balance(self, address: str) -> int:
        return int(self.token.functions.balanceOf(address).call())  # type: ignore[attr-defined]


@pytest.fixture
def treasury(chain: Chain, tmp_path: Path) -> Iterator[Treasury]:
    registry = DeploymentRegistry(StateDB(tmp_path / "state.sqlite"))
    owners = [chain.accounts[1], chain.accounts[2], chain.accounts[3]]
    safe, guard = create_guarded_safe(chain, registry, owners, 2, delay=DELAY, salt=1)
    token, _ = deploy(chain, "RewardToken", "Test USD", "TUSD", chain.accounts[0].address)
    chain.sender().transact(token.functions.mint(safe, 1_000_000 * E18))
    alerts = AlertStore(tmp_path / "alerts.sqlite")
    log = DecisionLog(tmp_path / "decisions.sqlite")
    yield Treasury(
        chain=chain,
        safe=safe,
        guard=guard,
        token=token,
        owners=owners,
        agent=chain.accounts[4],
        treasury=chain.accounts[5].address,
        guardian=chain.accounts[6],
        alerts=alerts,
        log=log,
        tmp=tmp_path,
    )
    alerts.close()
    log.close()
