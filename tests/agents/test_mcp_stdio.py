"""`proofmind mcp` as an MCP client starts it: a real stdio server process, real tools."""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from proofmind.agents.log import DecisionLog
from proofmind.agents.policy import load_policy
from proofmind.chain.accounts import Keystore
from proofmind.workspace import init_workspace
from tests.agents.conftest import E18, Treasury


def test_an_mcp_client_drives_the_agent_through_the_stdio_server(treasury: Treasury) -> None:
    ws, _ = init_workspace(treasury.tmp / "ws")
    Keystore(ws.keystore_dir).import_key("agent", treasury.agent.key, "pw")
    DecisionLog.for_workspace(ws.root).add_agent(
        "t", treasury.chain.chain_id, treasury.safe, treasury.guard.address
    )
    ws.close()
    policy_path = treasury.policy_file()
    text = policy_path.read_text().replace("agent = 4", f'agent = "{treasury.agent.address}"')
    policy_path.write_text(text)
    treasury.guard.grant(treasury.owners, load_policy(policy_path), treasury.agent.address)
    env = {
        **os.environ,
        "PROOFMIND_WORKSPACE": str(ws.root),
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": str(treasury.chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_ACCOUNT": "agent",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "proofmind", "mcp", str(policy_path), "--safe", "t"],
        env=env,
    )
    token = str(treasury.token.address)  # type: ignore[attr-defined]
    seen: dict[str, object] = {}

    async def run() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = await client.list_tools()
            seen["tools"] = sorted(t.name for t in tools.tools)
            status = await client.call_tool("guard_status", {})
            seen["status"] = json.loads(status.content[0].text)  # type: ignore[union-attr]
            sent = await client.call_tool(
                "propose_action",
                {
                    "target": token,
                    "function": "transfer(address,uint256)",
                    "args": [treasury.treasury, "20e18"],
                    "reason": "rebalance",
                },
            )
            seen["sent"] = json.loads(sent.content[0].text)  # type: ignore[union-attr]

    anyio.run(run)
    assert seen["tools"] == [
        "decision_log",
        "guard_status",
        "propose_action",
        "read_alerts",
        "sybil_status",
    ]
    assert seen["status"]["active"] is True  # type: ignore[index]
    assert seen["sent"]["status"] == "executed"  # type: ignore[index]
    assert treasury.balance(treasury.treasury) == 20 * E18
