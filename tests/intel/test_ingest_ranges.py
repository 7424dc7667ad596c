"""`ingest rpc` ranges: an impossible range is refused before anything is written, and the
checkpoint never moves past blocks that were read (a range beyond the head once saved the
checkpoint there, after which `--from 0` silently ingested nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.errors import InputError
from proofmind.intel.ingest import ingest, saved_next_block
from tests.intel.test_ingest import table, url_of

pytestmark = pytest.mark.devnet


def test_impossible_ranges_are_refused_and_leave_no_checkpoint(
    chain: Chain, tmp_path: Path
) -> None:
    chain.mine(6)
    head = chain.w3.eth.block_number
    out = tmp_path / "chain"

    def run(**kwargs: object) -> object:
        return ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(InputError, match="--to 5 is before --from 10"):
        run(start=10, end=5)
    with pytest.raises(InputError, match=f"--to {head + 1000} is beyond .* block {head}"):
        run(start=head + 990, end=head + 1000)
    with pytest.raises(InputError, match="beyond"):
        run(start=head + 1)
    with pytest.raises(InputError, match=f"beyond the chain's last readable block {head - 2}"):
        run(end=head, confirmations=2)
    assert not out.exists()  # nothing written, no checkpoint saved
    report = run(start=0, end=3)
    assert report.blocks == 4 and saved_next_block(out) == 4
    assert [b[0] for b in table(out, "blocks")] == [0, 1, 2, 3]


def test_a_range_that_disagrees_with_the_checkpoint_says_so(chain: Chain, tmp_path: Path) -> None:
    chain.mine(6)
    out = tmp_path / "chain"
    ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, start=0, end=2)
    with pytest.raises(InputError, match="holds blocks up to 2 and resumes at block 3, not at"):
        ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, start=0, end=4)
    with pytest.raises(InputError, match="--to 1 asks for nothing new"):
        ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, end=1)
    assert saved_next_block(out) == 3
    # resuming (no --from, or --from the checkpoint) reads on from block 3
    more = ingest(chain.w3, url_of(chain), out, chain_id=chain.chain_id, start=3, end=4)
    assert more.blocks == 2 and saved_next_block(out) == 5
    assert [b[0] for b in table(out, "blocks")] == [0, 1, 2, 3, 4]
