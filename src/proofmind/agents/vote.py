"""An agent votes in a Governor from an outcome forecast — through its guard.

The Safe holds (and has delegated to itself) the voting power; the policy scopes the Governor's
``castVoteWithReason``. The forecast's P(pass) becomes For / Against, or Abstain when it is too
close to call; the decision record carries the forecast, and the policy can name the forecast
model's ledger record, so `proofmind verify` on the vote leads to the model that decided it.
"""

from __future__ import annotations

from typing import Any

from proofmind.agents.tools import AgentTools
from proofmind.errors import InputError

CAST = "castVoteWithReason(uint256,uint8,string)"
AGAINST, FOR, ABSTAIN = 0, 1, 2


def support_for(p_pass: float, *, band: float = 0.1) -> int:
    """For above 0.5 + band, Against below 0.5 - band, Abstain in between."""
    if not 0.0 <= p_pass <= 1.0:
        raise InputError(f"P(pass) {p_pass} is not a probability")
    if not 0.0 <= band < 0.5:
        raise InputError(f"abstain band {band} must be in [0, 0.5)")
    if p_pass >= 0.5 + band:
        return FOR
    if p_pass <= 0.5 - band:
        return AGAINST
    return ABSTAIN


def vote_from_forecast(
    tools: AgentTools,
    governor: str,
    proposal_id: int,
    p_pass: float,
    *,
    forecast: str = "",
    band: float = 0.1,
) -> dict[str, Any]:
    """Cast the Safe's vote on ``proposal_id`` as the forecast says, through the guard."""
    support = support_for(p_pass, band=band)
    label = ("against", "for", "abstain")[support]
    reason = f"forecast P(pass) = {p_pass:.3f} -> {label}" + (
        f" (forecast record {forecast})" if forecast else ""
    )
    return tools.propose_action(
        governor, CAST, [str(proposal_id), str(support), reason], "0", reason
    )
