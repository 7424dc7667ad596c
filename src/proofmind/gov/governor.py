"""OpenZeppelin Governor events → the canonical governance tables.

The events come from the chain tables that `proofmind ingest rpc` writes (``logs`` and
``blocks``, read through its reorg-safe cursor from any JSON-RPC endpoint), so a Governor on
any chain is followed by the same ingestion and checkpoint as everything else; this module only
decodes. ``ProposalCreated`` gives a proposal (title: the description's first line; body: the
description; its actions go to the ``actions`` table), ``VoteCast`` / ``VoteCastWithParams``
a vote (For → choice 1, Against → 2, Abstain → 3, as Snapshot numbers them; voting power in
token units of 18 decimals), ``ProposalQueued`` / ``ProposalExecuted`` / ``ProposalCanceled``
the status.

Times: the proposal's creation is its block's timestamp. ``voteEnd`` is a timepoint of the
token's clock — a Unix time for a timestamp clock (ERC-6372 ``mode=timestamp``), else a block
number, told apart by size (block numbers are below 10^9 on every chain in use; Unix times
have been above it since 2001). A block number is turned into a time by the block times of the
ingested blocks, beyond them by their average block interval.

Outcome: queued or executed → passed; canceled → no outcome; voting over (the latest ingested
block is past ``voteEnd``) → passed when For outweighs Against. The quorum is not in the
events, so a proposal that lost only for lack of quorum counts as passed here (its state on
chain says ``Defeated``); executed ones are always right.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from proofmind.crypto import keccak256
from proofmind.errors import InputError
from proofmind.intel.etherscan import BadRow

EVENTS = {
    "ProposalCreated": (
        "ProposalCreated(uint256,address,address[],uint256[],string[],bytes[],uint256,uint256,string)"
    ),
    "VoteCast": "VoteCast(address,uint256,uint8,uint256,string)",
    "VoteCastWithParams": "VoteCastWithParams(address,uint256,uint8,uint256,string,bytes)",
    "ProposalQueued": "ProposalQueued(uint256,uint256)",
    "ProposalExecuted": "ProposalExecuted(uint256)",
    "ProposalCanceled": "ProposalCanceled(uint256)",
}
TOPICS = {"0x" + keccak256(sig.encode()).hex(): name for name, sig in EVENTS.items()}
DATA_TYPES = {
    "ProposalCreated": [
        "uint256", "address", "address[]", "uint256[]", "string[]", "bytes[]", "uint256",
        "uint256", "string",
    ],
    "VoteCast": ["uint256", "uint8", "uint256", "string"],
    "VoteCastWithParams": ["uint256", "uint8", "uint256", "string", "bytes"],
    "ProposalQueued": ["uint256", "uint256"],
    "ProposalExecuted": ["uint256"],
    "ProposalCanceled": ["uint256"],
}  # fmt: skip
SUPPORT_CHOICE = {1: 1, 0: 2, 2: 3}  # Governor's For/Against/Abstain → Snapshot's choices 1/2/3
TIMESTAMP_CLOCK = 10**9
TOKEN_UNIT = 10**18


@dataclass
class GovernorRows:
    proposals: list[dict[str, Any]] = field(default_factory=list)
    votes: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


def read_chain_logs(
    chain: Path, governors: Iterable[str]
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The Governor event logs of ``governors`` in the chain tables at ``chain`` (in chain
    order), and the ingested blocks' timestamps."""
    from proofmind.intel.etherscan import connect

    wanted = sorted({g.lower() for g in governors})
    if not (chain / "logs").is_dir() or not (chain / "blocks").is_dir():
        raise InputError(
            f"{chain} holds no logs and blocks tables",
            hint="write them with `proofmind ingest rpc --out DIR` (receipts on) first",
        )
    con = connect(chain)
    placeholders = ", ".join("?" for _ in wanted)
    topics = ", ".join("?" for _ in TOPICS)
    cursor = con.execute(
        f"""SELECT block_number, log_index, address, topic0, topic1, data FROM logs
        WHERE lower(address) IN ({placeholders}) AND topic0 IN ({topics})
        ORDER BY block_number, log_index""",
        [*wanted, *TOPICS],
    )
    names = [d[0] for d in cursor.description]
    logs = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    times = dict(con.execute("SELECT block_number, timestamp FROM blocks").fetchall())
    return logs, {int(b): int(t) for b, t in times.items()}


def _time(timepoint: int, times: dict[int, int]) -> int:
    if timepoint >= TIMESTAMP_CLOCK:
        return timepoint
    if timepoint in times:
        return times[timepoint]
    last = max(times)
    first = min(times)
    interval = (times[last] - times[first]) / (last - first) if last > first else 12.0
    return int(times[last] + (timepoint - last) * max(interval, 1.0))


def governor_rows(
    logs: Iterable[dict[str, Any]], times: dict[int, int], dao: str, source: str
) -> GovernorRows:
    """Decode Governor event logs (dicts with block_number, log_index, topic0, topic1, data)
    into proposal, vote and action rows; undecodable logs are reported, not fatal."""
    out = GovernorRows()
    created: dict[str, dict[str, Any]] = {}
    tallies: dict[str, list[float]] = {}
    status: dict[str, str] = {}
    for log in logs:
        where = f"log {log['block_number']}:{log['log_index']} of {source}"
        name = TOPICS.get(str(log["topic0"]).lower())
        if name is None:
            continue
        try:
            values = decode(DATA_TYPES[name], bytes.fromhex(str(log["data"]).removeprefix("0x")))
        except (DecodingError, ValueError, OverflowError) as exc:
            out.bad.append(BadRow(source, None, f"{where}: {name} does not decode ({exc})"))
            continue
        at = times.get(int(log["block_number"]))
        if at is None:
            out.bad.append(BadRow(source, None, f"{where}: block not in the blocks table"))
            continue
        pid = str(values[0])
        if name == "ProposalCreated":
            _, proposer, targets, amounts, signatures, calldatas, _, vote_end, text = values
            lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
            title = lines[0].lstrip("# ").strip() if lines else f"proposal {pid}"
            created[pid] = {
                "dao": dao,
                "proposal_id": pid,
                "author": str(proposer).lower(),
                "type": "governor",
                "title": title,
                "body": str(text),
                "created_at": at,
                "voting_ends_at": _time(int(vote_end), times),
                "threshold_vp": 0.0,
                "status": "active",
                "passed": None,
                "source": where,
            }
            for i, (target, amount, signature, calldata) in enumerate(
                zip(targets, amounts, signatures, calldatas, strict=True)
            ):
                out.actions.append(
                    {
                        "dao": dao,
                        "proposal_id": pid,
                        "action_index": i,
                        "target": str(target).lower(),
                        "value": str(amount),
                        "signature": str(signature),
                        "calldata": "0x" + bytes(calldata).hex(),
                    }
                )
        elif name in ("VoteCast", "VoteCastWithParams"):
            voter = "0x" + str(log["topic1"])[-40:].lower()
            support, weight = int(values[1]), int(values[2])
            out.votes.append(
                {
                    "dao": dao,
                    "proposal_id": pid,
                    "voter": voter,
                    "choice": json.dumps(SUPPORT_CHOICE.get(support, support)),
                    "vp": weight / TOKEN_UNIT,
                    "created_at": at,
                }
            )
            tally = tallies.setdefault(pid, [0.0, 0.0, 0.0])
            if support in (0, 1, 2):
                tally[support] += weight / TOKEN_UNIT
        else:
            status[pid] = {
                "ProposalQueued": "queued",
                "ProposalExecuted": "executed",
                "ProposalCanceled": "canceled",
            }[name]
    now = max(times.values()) if times else 0
    for pid, row in created.items():
        against, for_, _ = tallies.get(pid, [0.0, 0.0, 0.0])
        if pid in status:
            row["status"] = status[pid]
            row["passed"] = {"queued": 1, "executed": 1}.get(status[pid])
        elif now > row["voting_ends_at"]:
            row["status"] = "succeeded" if for_ > against else "defeated"
            row["passed"] = int(for_ > against)
        out.proposals.append(row)
    return out


STATE_ABI = [
    {"name": n, "type": "function", "stateMutability": "view",
     "inputs": [{"name": "x", "type": "uint256"}], "outputs": [{"name": "", "type": "uint256"}]}
    for n in ("state", "quorum", "proposalSnapshot")
]  # fmt: skip
# IGovernor.ProposalState → (status, passed)
STATES = {
    0: ("pending", None),
    1: ("active", None),
    2: ("canceled", None),
    3: ("defeated", 0),
    4: ("succeeded", 1),
    5: ("queued", 1),
    6: ("expired", 1),  # succeeded, then not executed in time
    7: ("executed", 1),
}


def apply_chain_state(w3: Any, governor: str, proposals: list[dict[str, Any]]) -> int:
    """Settle the proposals of ``governor`` by asking the chain (``w3``): the Governor's
    ``state()`` (which knows the quorum) gives status and outcome, ``quorum(snapshot)`` the
    threshold in token units (left 0 while the snapshot is in the future). Returns how many
    proposals it settled."""
    from eth_utils.address import to_checksum_address
    from web3.exceptions import ContractLogicError

    contract = w3.eth.contract(address=to_checksum_address(governor), abi=STATE_ABI)
    settled = 0
    for row in proposals:
        pid = int(row["proposal_id"])
        try:
            state = int(contract.functions.state(pid).call())
        except ContractLogicError as exc:
            raise InputError(
                f"{governor} does not know proposal {pid}: {exc}",
                hint="is --rpc the chain the events were ingested from?",
            ) from exc
        row["status"], row["passed"] = STATES.get(state, (f"state {state}", None))
        try:
            snapshot = int(contract.functions.proposalSnapshot(pid).call())
            row["threshold_vp"] = int(contract.functions.quorum(snapshot).call()) / TOKEN_UNIT
        except ContractLogicError:  # a snapshot in the future: no quorum yet
            pass
        settled += 1
    return settled
