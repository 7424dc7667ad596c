"""State bound to one InferenceOracle: kept aside when another oracle is served and nothing is
left to do, refused while work is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.errors import InputError
from proofmind.oracle.binding import BINDING_KEY, open_bound_state
from proofmind.store.state import StateDB

A = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def _open(path: Path, oracle: str, left: int = 0, chain_id: int = 31337) -> StateDB:
    count = lambda _: left  # noqa: E731
    return open_bound_state(
        path, chain_id, oracle, role="node", open_work=count, work="jobs", hint="see {name}"
    )


def test_a_state_is_kept_aside_for_another_oracle_and_never_lost(tmp_path: Path) -> None:
    db = tmp_path / "node.sqlite"
    state = _open(db, A)
    state.set_value("mark", "a")
    state.close()
    again = _open(db, A.lower())  # the same oracle, whatever the case of its address
    assert again.get_value("mark") == "a"
    again.close()

    with pytest.raises(InputError, match=r"2 of its jobs are still open.* — see node\.sqlite"):
        _open(db, B, left=2)
    refused = StateDB(db)  # left as it was
    assert refused.get_value("mark") == "a" and refused.get_value(BINDING_KEY) == f"31337:{A}"
    refused.close()

    fresh = _open(db, B)
    assert fresh.get_value("mark") is None and fresh.get_value(BINDING_KEY) == f"31337:{B}"
    fresh.set_value("mark", "b")
    fresh.close()
    kept = StateDB(tmp_path / f"node.31337-{A[:10]}.sqlite")
    assert kept.get_value("mark") == "a"
    kept.close()

    # back to A, then B again: the second copy of A's state does not overwrite the first
    _open(db, A).close()
    _open(db, B).close()
    assert sorted(p.name for p in tmp_path.glob("node.*.sqlite")) == [
        f"node.31337-{A[:10]}-2.sqlite",
        f"node.31337-{A[:10]}.sqlite",
        f"node.31337-{B[:10]}.sqlite",
    ]
    # another chain with the same address is another oracle
    _open(db, B, chain_id=1).close()
    assert (tmp_path / f"node.31337-{B[:10]}-2.sqlite").is_file()
