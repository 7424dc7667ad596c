"""How commands that write chain-backed state treat it: the workspace's mirrors of the chain
are reconciled before they are trusted, and a command reports what it did on-chain only once
that is confirmed (deep enough, and saved by the devnet). Imported only when such a command
runs."""

from __future__ import annotations

from proofmind.chain.base import Chain
from proofmind.chain.reconcile import Mirror, reconcile
from proofmind.cli.consoles import TextConsole
from proofmind.text import count_of

_notes = TextConsole(stderr=True, soft_wrap=True)


def show_corrections(corrections: list[str]) -> None:
    for line in corrections:
        _notes.print(f"[yellow]corrected:[/yellow] {line}", markup=True, highlight=False)


def settle(chain: Chain, *mirrors: Mirror) -> None:
    """Reconcile ``mirrors`` with ``chain`` and say what was corrected."""
    show_corrections(reconcile(chain, *mirrors))


def confirm(chain: Chain) -> None:
    """Wait until what this command sent is confirmed; say so when it is not yet."""
    head = int(chain.w3.eth.block_number)
    if not chain.wait_confirmed(head):
        depth = count_of(chain.tx_settings.confirmations, "block")
        _notes.print(
            f"[yellow]note:[/yellow] block {head} is not yet {depth} deep; the next "
            "command checks it against the chain again",
            markup=True,
            highlight=False,
        )
