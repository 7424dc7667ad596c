"""What a Governor proposal's actions do, from their calldata: the 4-byte selector of each call
against a table of well-known functions, arguments decoded. A proposal that moves funds
(ERC-20 transfer / approve / transferFrom, ether sent) is flagged ``treasury``; one that
replaces contract code (UUPS ``upgradeTo``/``upgradeToAndCall``, ProxyAdmin ``upgrade``/
``upgradeAndCall``, beacon ``upgradeTo``) ``upgrade``; one that hands over control
(ownership, roles, the Governor's timelock) ``control``; a known setter of a parameter
(Governor settings, quorum, common ``set…``) ``parameter``. Anything else is a ``call``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from proofmind.crypto import keccak256

# signature → kind; the selectors are computed from the signatures (no hand-typed hex)
KNOWN: dict[str, str] = {
    "transfer(address,uint256)": "treasury",
    "approve(address,uint256)": "treasury",
    "transferFrom(address,address,uint256)": "treasury",
    "increaseAllowance(address,uint256)": "treasury",
    "safeTransferFrom(address,address,uint256)": "treasury",
    "release(address)": "treasury",
    "upgradeTo(address)": "upgrade",
    "upgradeToAndCall(address,bytes)": "upgrade",
    "upgrade(address,address)": "upgrade",
    "upgradeAndCall(address,address,bytes)": "upgrade",
    "changeProxyAdmin(address,address)": "upgrade",
    "changeAdmin(address)": "upgrade",
    "transferOwnership(address)": "control",
    "renounceOwnership()": "control",
    "grantRole(bytes32,address)": "control",
    "revokeRole(bytes32,address)": "control",
    "updateTimelock(address)": "control",
    "updateDelay(uint256)": "parameter",
    "setVotingDelay(uint48)": "parameter",
    "setVotingPeriod(uint32)": "parameter",
    "setProposalThreshold(uint256)": "parameter",
    "updateQuorumNumerator(uint256)": "parameter",
    "setLateQuorumVoteExtension(uint48)": "parameter",
    "setFee(uint256)": "parameter",
    "setFeeTo(address)": "parameter",
    "setRate(uint256)": "parameter",
    "setCap(uint256)": "parameter",
    "setLimit(uint256)": "parameter",
    "setThreshold(uint256)": "parameter",
    "setOracle(address)": "parameter",
    "setPriceOracle(address)": "parameter",
    "setReserveFactor(uint256)": "parameter",
    "pause()": "control",
    "unpause()": "control",
}
KINDS = ("treasury", "upgrade", "control", "parameter", "call")


def selector(signature: str) -> str:
    return "0x" + keccak256(signature.encode()).hex()[:8]


SELECTORS: dict[str, tuple[str, str]] = {selector(s): (s, k) for s, k in KNOWN.items()}


@dataclass(frozen=True)
class ActionFlag:
    """One proposal action: its kind, the function called, and the decoded arguments."""

    index: int
    target: str
    kind: str
    function: str
    detail: str


def _args(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    return [a for a in inner.split(",") if a]


def flag_action(index: int, target: str, value: int, calldata: str | bytes) -> ActionFlag:
    """Classify one action (``target``, ``value`` in wei, ``calldata``)."""
    if isinstance(calldata, str):
        data = bytes.fromhex(calldata.removeprefix("0x"))
    else:
        data = bytes(calldata)
    target = target.lower()
    if len(data) < 4:
        if value > 0:
            return ActionFlag(index, target, "treasury", "(ether)", f"sends {value} wei")
        return ActionFlag(index, target, "call", "(empty)", "")
    found = SELECTORS.get("0x" + data[:4].hex())
    if found is None:
        kind = "treasury" if value > 0 else "call"
        detail = f"selector 0x{data[:4].hex()}" + (f", sends {value} wei" if value else "")
        return ActionFlag(index, target, kind, "(unknown)", detail)
    signature, kind = found
    try:
        values: Sequence[Any] = decode(_args(signature), data[4:])
        detail = ", ".join(_show(v) for v in values)
    except (DecodingError, ValueError, OverflowError):  # still says which function was called
        detail = "arguments do not decode"
    if value > 0:
        detail += f"; sends {value} wei"
        kind = kind if kind != "call" else "treasury"
    return ActionFlag(index, target, kind, signature, detail)


def _show(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex() if len(v) <= 32 else f"{len(v)} bytes"
    return str(v)


def flag_proposal(
    targets: Sequence[str], values: Sequence[int], calldatas: Sequence[str | bytes]
) -> list[ActionFlag]:
    """Each action of a proposal, classified."""
    return [
        flag_action(i, t, v, c)
        for i, (t, v, c) in enumerate(zip(targets, values, calldatas, strict=True))
    ]
