"""Re-record the ingestion tape and its golden output (run by hand when the format changes):

    .venv/bin/python -m tests.intel.record_ingest_tape

It starts a throw-away devnet, makes a little traffic (ETH and ERC-20 transfers, a contract
creation), ingests it through a recording proxy, and writes the node's answers and the rows
proofmind made from them to tests/intel/data/.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from proofmind.chain.devnet import Devnet
from proofmind.intel.ingest import ingest
from proofmind.workspace import init_workspace
from tests.intel.rpc_replay import recording
from tests.intel.test_ingest import traffic

DATA = Path(__file__).parent / "data"
CHAIN_ID = 31337


def golden_rows(out: Path) -> dict[str, list[dict[str, object]]]:
    """The rows of every table, as JSON values (exact wei decimals as their digits)."""
    from decimal import Decimal

    import pyarrow.parquet as pq

    def plain(value: object) -> object:
        return str(int(value)) if isinstance(value, Decimal) else value

    rows = {}
    for table in ("blocks", "transactions", "logs", "erc20_transfers", "native_transfers"):
        files = sorted((out / table).glob("**/*.parquet"))
        rows[table] = [
            {k: plain(v) for k, v in r.items()} for f in files for r in pq.read_table(f).to_pylist()
        ]
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        ws, _ = init_workspace(Path(folder))
        chain = ws.connect()
        try:
            traffic(chain, transfers=6, tokens=4)
            tape: dict[str, object] = {}
            with recording(chain.backend.record.rpc_url, tape) as url:  # type: ignore[attr-defined]
                from proofmind.chain.rpc import http_web3

                ingest(http_web3(url), url, Path(folder) / "out", chain_id=CHAIN_ID, range_blocks=5)
            DATA.mkdir(exist_ok=True)
            (DATA / "ingest_tape.json.gz").write_bytes(
                gzip.compress(json.dumps(tape, sort_keys=True).encode(), mtime=0)
            )
            golden = golden_rows(Path(folder) / "out")
            (DATA / "ingest_golden.json").write_text(
                json.dumps(golden, indent=1, sort_keys=True) + "\n"
            )
            print({k: len(v) for k, v in golden.items()}, len(tape), "answers")
        finally:
            Devnet(ws.chain_dir, ws.devnet_settings()).down()
            ws.close()


if __name__ == "__main__":
    main()
