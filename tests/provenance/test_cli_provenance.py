"""provenance and verify from the command line: exit 0 only when everything matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import assert_one_line_error, run

pytestmark = pytest.mark.devnet


def test_commit_anchor_verify_tamper(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    data = tmp_path / "d.csv"
    data.write_text("account,flag\n" + "".join(f"0x{n:040x},{n % 2}\n" for n in range(30)))
    try:
        committed = run("provenance", "dataset", "d.csv", "--name", "labels [v2]", cwd=tmp_path)
        assert committed.returncode == 0, committed.stderr
        assert "Committed labels [v2]: 30 rows in 1 file," in committed.stdout
        anchored = run("provenance", "anchor", cwd=tmp_path)
        assert anchored.returncode == 0, anchored.stderr
        assert "gas/record" in anchored.stdout
        listed = run("provenance", "list", cwd=tmp_path, env={"COLUMNS": "80"})
        (record,) = json.loads(run("provenance", "lineage", cwd=tmp_path).stdout)["records"]
        # piped, the table keeps both hashes whole, past the 80 columns Rich would cut it to
        assert record["content_hash"] in listed.stdout and record["record_id"] in listed.stdout
        assert "labels [v2]" in listed.stdout  # a name with brackets, not taken for markup
        ok = run("verify", "d.csv", cwd=tmp_path)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "d.csv: verified" in ok.stdout

        proof = json.loads(run("provenance", "proof", "d.csv", "--row", "7", cwd=tmp_path).stdout)
        assert proof["row"] == 7 and len(proof["proof"]) == 5
        dot = run("provenance", "lineage", "--format", "dot", cwd=tmp_path)
        assert dot.stdout.startswith("digraph lineage {")

        data.write_text(data.read_text().replace(f"0x{7:040x},1", f"0x{7:040x},0"))
        bad = run("verify", "d.csv", "--json", cwd=tmp_path)
        assert bad.returncode == 1
        report = json.loads(bad.stdout)
        assert not report["ok"]
        assert "row 7 differs (line 9 of d.csv, data row 7)" in report["records"][0]["problems"]

        missing = run("verify", "nope.csv", cwd=tmp_path)
        assert missing.returncode == 2
        assert_one_line_error(missing, "nope.csv does not exist")
        drifted = tmp_path / "e.csv"
        drifted.write_text("a,b\n1,2\n3\n")
        assert_one_line_error(
            run("provenance", "dataset", "e.csv", cwd=tmp_path), "e.csv, line 3: expected 2"
        )
    finally:
        run("chain", "down", cwd=tmp_path)
