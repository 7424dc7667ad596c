"""verify pinpoints every kind of tampering, and untouched lineages verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofmind.provenance import runs
from proofmind.provenance.api import CARD_SUFFIX
from proofmind.provenance.runs import LOG_FILE, file_keccak

from .conftest import Lineage

pytestmark = pytest.mark.devnet


def problems(lineage: Lineage, path: Path | None = None) -> list[str]:
    report = lineage.verify(path)
    return [p for f in report.findings for p in f.problems]


def test_untouched_lineage_verifies(lineage: Lineage) -> None:
    report = lineage.verify()
    assert report.ok, report.to_json()
    assert [f.record.kind_name for f in report.findings] == ["model", "run", "dataset"]
    assert "run 'fraud-test' logged this model as 'model.bin'" in report.findings[0].notes
    assert lineage.verify(lineage.data).ok
    assert lineage.verify(lineage.run_dir).ok


def test_a_changed_row_is_pinpointed(lineage: Lineage) -> None:
    part = lineage.data / "part-1.csv"
    lines = part.read_text().splitlines()
    lines[5] = lines[5].replace(",1000", ",2000")  # value of dataset row 24
    part.write_text("\n".join(lines) + "\n")
    found = problems(lineage)
    assert "file part-1.csv changed (its SHA-256 differs from the manifest)" in found
    assert "row 24 differs (line 6 of part-1.csv, data row 4)" in found
    assert not any("row 23 " in p or "row 25 " in p for p in found)


def test_a_removed_file_and_an_added_file(lineage: Lineage) -> None:
    (lineage.data / "part-1.csv").rename(lineage.data / "extra.csv")
    found = problems(lineage, lineage.data)
    assert "file part-1.csv is missing (it held rows 20–39)" in found
    assert "file extra.csv was added" in found


def test_a_formatting_only_change_is_a_file_change(lineage: Lineage) -> None:
    part = lineage.data / "part-0.csv"
    part.write_text(part.read_text().replace("\n", "\r\n"))
    found = problems(lineage, lineage.data)
    assert found == ["file part-0.csv changed (its SHA-256 differs from the manifest)"]


def test_an_edited_log_entry_is_pinpointed(lineage: Lineage) -> None:
    log = lineage.run_dir / LOG_FILE
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    entries[3]["data"]["values"]["loss"] = 0.01
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    found = problems(lineage, lineage.run_dir)
    assert "log entry 3 (metric) was modified: its content no longer matches its hash" in found
    assert any(p.startswith("log entry 3 (metric) differs") and "values.loss" in p for p in found)


def test_a_truncated_log(lineage: Lineage) -> None:
    log = lineage.run_dir / LOG_FILE
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:4]) + "\n")
    found = problems(lineage, lineage.run_dir)
    assert any(p.startswith("the run log is truncated: it stops at entry 3") for p in found)
    assert any(p.startswith("the log lost entries 4–") for p in found)


def test_a_changed_artifact_byte(lineage: Lineage) -> None:
    lineage.artifact.write_text("trained on three parts\n")
    found = problems(lineage, lineage.run_dir)
    assert len(found) == 1
    said, kept = found[0].split("; the logged copy is kept at ")
    assert said == (
        "artifact notes.txt changed: byte 12 is 0x68, was 0x77; 9 bytes differ in all; "
        "size is 23 bytes, was 21"
    )
    assert not Path(kept).is_absolute()  # from the project folder, as the API shows paths too
    assert (lineage.ws.root.parent / kept).read_text() == "trained on two parts\n"  # restores it


def test_an_artifact_altered_with_its_workspace_copy(lineage: Lineage) -> None:
    """The anchored hash still catches it; the message says the copy cannot locate it."""
    kept = lineage.ws.blobs.path_of(file_keccak(lineage.artifact))
    for file in (lineage.artifact, kept):
        file.chmod(0o644)
        file.write_text("trained on six parts\n")
    (found,) = problems(lineage, lineage.run_dir)
    assert found.startswith("artifact notes.txt changed: keccak256 is 0x")
    shown = kept.resolve().relative_to(lineage.ws.root.resolve().parent)
    assert found.endswith(f"the workspace's copy at {shown} was altered the same way")


def test_a_changed_model_byte(lineage: Lineage) -> None:
    data = bytearray(lineage.model.read_bytes())
    data[700] ^= 0x01
    lineage.model.write_bytes(bytes(data))
    found = problems(lineage)
    said = f"model model.bin changed: byte 700 is 0x{data[700]:02x}, was 0x{data[700] ^ 1:02x}"
    assert any(p.startswith(f"{said}; the logged copy is kept at ") for p in found), found


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        (b"a" * 100, b"a" * 100, (None, 0, 100, 100)),
        (b"a" * 100, b"a" * 99 + b"b", (99, 1, 100, 100)),
        (b"ab" * 50, b"ba" * 50 + b"c", (0, 100, 101, 100)),
        (b"abc", b"ab", (None, 0, 2, 3)),
        (b"", b"x", (None, 0, 1, 0)),
    ],
)
def test_byte_diff_across_chunks(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    before: bytes,
    now: bytes,
    expected: tuple[int | None, int, int, int],
) -> None:
    monkeypatch.setattr(runs, "DIFF_CHUNK", 7)  # many chunks, a ragged last one
    (tmp_path / "a").write_bytes(before)
    (tmp_path / "b").write_bytes(now)
    assert runs.byte_diff(tmp_path / "a", tmp_path / "b") == expected


def test_a_changed_model_card_field(lineage: Lineage) -> None:
    card = lineage.model.with_name(lineage.model.name + CARD_SUFFIX)
    document = json.loads(card.read_text())
    document["card"]["metrics"]["f1"] = 0.99
    card.write_text(json.dumps(document))
    assert problems(lineage) == ["model card field metrics.f1: 0.93 → 0.99"]


def test_a_forged_card_signature(lineage: Lineage) -> None:
    card = lineage.model.with_name(lineage.model.name + CARD_SUFFIX)
    document = json.loads(card.read_text())
    document["signature"]["signer"] = "0x" + "11" * 20
    card.write_text(json.dumps(document))
    found = problems(lineage)
    assert len(found) == 1 and found[0].startswith("model card signature: the card says it was")
