"""The guarded-agent scenario of `proofmind demo`, on the session devnet."""

from __future__ import annotations

from pathlib import Path

from proofmind.agents.log import DecisionLog
from proofmind.chain.base import Chain
from proofmind.demo import agent as demo_agent
from proofmind.workspace import init_workspace


def test_the_demo_scenario_runs_every_step(chain: Chain, tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path)
    demo = demo_agent.run(ws, chain)
    assert demo.moved == 300 * 10**18
    assert demo.vetoed.startswith("0x")
    assert demo.over_cap_error.startswith("CapExceeded")
    assert demo.expired_error == "GrantExpired"
    assert demo.trace is not None and demo.trace.ok
    assert [item["kind"] for item in demo.trace.lineage] == ["model", "model", "run", "dataset"]
    # one alert (FEI's real depeg of 22 June 2022) -> one move; the MCP moves: one vetoed, one
    # executed within the cap, one refused after the grant expired
    assert demo.alert.startswith("FEI trades 2.2% below its peg")
    assert demo.decisions == {"executed": 2, "vetoed": 1, "refused": 1}
    log = DecisionLog.for_workspace(ws.root)
    why = [d.record["explanation"] for d in reversed(log.query())]
    assert why == [
        "FEI lost its peg: move 300 DUSD of the treasury to the reserve",
        "requested over MCP: move more while the peg is off",
        "requested over MCP",  # no reason given: no dangling colon
        "requested over MCP",
    ]
    log.close()
    ws.close()
