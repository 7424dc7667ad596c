"""Ingestion against recorded node answers: the rows must equal the golden output.

The tape and the golden rows come from tests/intel/record_ingest_tape.py (re-run it when the
table format changes on purpose, and review the diff of ingest_golden.json)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from proofmind.chain.rpc import http_web3
from proofmind.errors import ChainError
from proofmind.intel.ingest import ingest
from tests.intel.record_ingest_tape import CHAIN_ID, DATA, golden_rows
from tests.intel.rpc_replay import replaying


def tape() -> dict[str, object]:
    return dict(json.loads(gzip.decompress((DATA / "ingest_tape.json.gz").read_bytes())))


def test_replayed_answers_give_the_golden_rows(tmp_path: Path) -> None:
    with replaying(tape()) as url:
        report = ingest(http_web3(url), url, tmp_path / "out", chain_id=CHAIN_ID, range_blocks=5)
    golden = json.loads((DATA / "ingest_golden.json").read_text())
    assert golden_rows(tmp_path / "out") == golden
    assert report.blocks == len(golden["blocks"]) == 13
    assert report.rows["erc20_transfers"] == 5 and report.rows["native_transfers"] == 6


def test_a_node_that_lacks_an_answer_is_a_clear_error(tmp_path: Path) -> None:
    answers = tape()
    receipts = [k for k in answers if k.startswith('["eth_getBlockReceipts"')]
    del answers[receipts[0]]
    with replaying(answers) as url, pytest.raises(ChainError, match="not recorded"):
        ingest(http_web3(url), url, tmp_path / "out", chain_id=CHAIN_ID, range_blocks=5)
