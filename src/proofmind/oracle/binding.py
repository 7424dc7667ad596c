"""The state of an oracle node or a challenge watcher belongs to one InferenceOracle.

Request ids start at 1 on every InferenceOracle, and both keep their work by request id: a node
whose queue holds another oracle's request 7 takes the new oracle's request 7 for one it has
seen and never answers it; a watcher would treat a new dispute by an old one's voting deadline.
So the state database records the oracle (chain id and address) it serves. Opened for another
oracle, a database with no work left is kept under a new name (``oracle-node.31337-0x5FbDB231
.sqlite``) and a new one is started; one with work left is refused, since moving it aside would
abandon that work.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from proofmind.errors import InputError
from proofmind.store.state import StateDB

log = logging.getLogger("proofmind.oracle")
BINDING_KEY = "oracle.bound_to"  # kv: "CHAIN_ID:ORACLE_ADDRESS"


def open_bound_state(
    db_path: Path,
    chain_id: int,
    oracle_address: str,
    *,
    role: str,
    open_work: Callable[[StateDB], int],
    work: str,
    hint: str,
) -> StateDB:
    """``db_path``'s state database for the oracle at ``oracle_address`` on ``chain_id``.
    ``role`` names the user of the state in messages ("oracle node"), ``open_work`` counts what
    is left to do in it, ``work`` says what that is ("requests") and ``hint`` what to do when
    some is left."""
    binding = f"{chain_id}:{oracle_address}"
    state = StateDB(db_path)
    bound = state.get_value(BINDING_KEY)
    if bound is None:  # a new database, or one from before the binding: it is this oracle's
        state.set_value(BINDING_KEY, binding)
        return state
    if bound.lower() == binding.lower():
        return state
    old_chain, _, old_oracle = bound.partition(":")
    try:
        left = open_work(state)
    finally:
        state.close()
    if left:
        raise InputError(
            f"the {role}'s state {db_path} belongs to the InferenceOracle at {old_oracle} on "
            f"chain {old_chain}, and {left} of its {work} are still open; this {role} serves "
            f"the one at {oracle_address} on chain {chain_id}",
            hint=hint.format(name=db_path.name),
        )
    stem = f"{db_path.stem}.{old_chain}-{old_oracle[:10]}"
    archive = db_path.with_name(stem + db_path.suffix)
    n = 1
    while archive.exists():
        n += 1
        archive = db_path.with_name(f"{stem}-{n}{db_path.suffix}")
    for suffix in ("", "-wal", "-shm"):  # close() checkpointed the WAL: these are usually gone
        part = Path(str(db_path) + suffix)
        if part.exists():
            os.replace(part, Path(str(archive) + suffix))
    log.warning(
        "the %s's state %s belonged to the InferenceOracle at %s on chain %s (none of its %s "
        "open): kept as %s; starting a new one for the oracle at %s on chain %s",
        role, db_path, old_oracle, old_chain, work, archive.name, oracle_address, chain_id,
    )  # fmt: skip
    state = StateDB(db_path)
    state.set_value(BINDING_KEY, binding)
    return state
