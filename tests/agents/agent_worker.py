"""An agent process for the crash tests: runs the runtime until killed (or until nothing is open).

python -m tests.agents.agent_worker RPC_URL GUARD POLICY ALERTS_DB DECISIONS_DB  (key on stdin)
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from eth_account import Account

from proofmind.agents.guard import Guard
from proofmind.agents.log import DecisionLog
from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from proofmind.chain.connect import open_chain
from proofmind.chain.rpc import RpcBackend
from proofmind.monitor.store import AlertStore
from proofmind.settings import TxSettings


def main() -> None:
    url, guard_address, policy_path, alerts_db, decisions_db = sys.argv[1:6]
    agent = Account.from_key(sys.stdin.readline().strip())
    chain = open_chain(RpcBackend(url, signers=[agent]), tx=TxSettings(poll_interval=0.01))
    log = DecisionLog(Path(decisions_db))
    runtime = AgentRuntime(
        Guard(chain, guard_address),
        agent,
        load_policy(Path(policy_path)),
        AlertStore(Path(alerts_db)),
        log,
    )
    runtime.run(threading.Event(), interval=0.01)


if __name__ == "__main__":
    main()
