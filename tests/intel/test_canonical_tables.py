"""One canonical schema: the same transactions ingested from a node (`ingest rpc`) and from an
Etherscan export (`ingest etherscan`) give the same table, column types and values."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.ingest import ingest
from proofmind.intel.tables import sql_columns
from tests.intel.test_fraud import TX_HEADER
from tests.intel.test_ingest import traffic, url_of

pytestmark = pytest.mark.devnet


def etherscan_export(chain: Chain, first: int, last: int, path: Path) -> None:
    """Blocks first..last as an Etherscan txlist export, written from the node's answers."""
    lines = [TX_HEADER]
    for number in range(first, last + 1):
        block = chain.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            receipt = chain.w3.eth.get_transaction_receipt(tx["hash"])
            data = tx["input"].to_0x_hex()
            cells = [
                tx["from"], number, block["timestamp"], tx["hash"].to_0x_hex(), tx["nonce"],
                block["hash"].to_0x_hex(), tx["transactionIndex"], tx["from"], tx.get("to") or "",
                tx["value"], tx["gas"], receipt["effectiveGasPrice"], 1 - receipt["status"],
                receipt["status"], data, receipt.get("contractAddress") or "",
                receipt["cumulativeGasUsed"], receipt["gasUsed"], data[:10], "",
            ]  # fmt: skip
            lines.append(",".join(str(c) for c in cells))
    path.write_text("\n".join(lines) + "\n")


def test_node_and_export_give_the_same_table(chain: Chain, tmp_path: Path) -> None:
    first = chain.w3.eth.block_number + 1
    traffic(chain, transfers=3, tokens=2)
    sender = chain.sender()
    sender.send({"to": chain.accounts[3].address, "value": 123 * 10**18 + 456_789})  # > 2^53 wei
    last = chain.w3.eth.block_number
    ingest(chain.w3, url_of(chain), tmp_path / "rpc", chain_id=chain.chain_id)
    etherscan_export(chain, first, last, tmp_path / "txlist.csv")
    report = import_etherscan([tmp_path / "txlist.csv"], tmp_path / "es")
    assert not report.bad_rows

    names = ", ".join(name for name, _ in sql_columns("transactions"))
    tables = []
    for folder in ("rpc", "es"):
        con = connect(tmp_path / folder)
        types = con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE transactions)"
        ).fetchall()
        assert [(n, t.replace(" ", "")) for n, t in types] == sql_columns("transactions")
        tables.append(
            con.execute(
                f"SELECT {names} FROM transactions "
                "WHERE block_number BETWEEN ? AND ? ORDER BY hash",
                [first, last],
            ).fetchall()
        )
    assert len(tables[0]) == last - first + 1  # one transaction a block (automine)
    assert tables[0] == tables[1]
    assert any(row[7] == 123 * 10**18 + 456_789 for row in tables[0])  # exact, not a DOUBLE


def test_duckdb_connections_draw_no_progress_bar_of_their_own(tmp_path: Path) -> None:
    """DuckDB's terminal progress bar would write between a command's lines (and over its
    own Rich bars): every connection proofmind opens has it off."""
    from proofmind.gov.tables import _duckdb
    from proofmind.intel.etherscan import new_connection

    setting = "SELECT current_setting('enable_progress_bar')"
    for con in (new_connection(), connect(tmp_path), _duckdb(tmp_path / ".spill")):
        assert con.execute(setting).fetchone() == (False,)
