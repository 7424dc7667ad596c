"""The shared parsers of command-line values: addresses, output paths, oracle input values."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from proofmind.cli.params import check_writable, parse_address
from proofmind.errors import InputError


@given(st.binary(min_size=20, max_size=20))
def test_any_address_in_lower_upper_or_checksummed_case_is_accepted(raw: bytes) -> None:
    checksummed = to_checksum_address(raw)
    for text in (checksummed, checksummed.lower(), "0x" + checksummed[2:].upper()):
        assert parse_address(text) == checksummed


@given(st.binary(min_size=20, max_size=20), st.data())
def test_a_flipped_case_breaks_the_checksum(raw: bytes, data: st.DataObject) -> None:
    checksummed = to_checksum_address(raw)
    letters = [i for i, c in enumerate(checksummed) if i > 1 and c.isalpha()]
    if len(letters) < 2:
        return  # no mixed case to break
    i = data.draw(st.sampled_from(letters))
    typo = checksummed[:i] + checksummed[i].swapcase() + checksummed[i + 1 :]
    body = typo[2:]
    if body in (body.lower(), body.upper()):
        return  # a flip that made it all one case carries no checksum
    with pytest.raises(InputError, match="EIP-55"):
        parse_address(typo)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0x" + "ab" * 19, "38 hex digits"),
        ("0x" + "ab" * 21, "42 hex digits"),
        ("0x" + "zz" * 20, "not hex"),
        ("ab" * 20, "40 hex digits"),
        ("", "0 hex digits"),
    ],
)
def test_what_is_not_an_address_says_why(text: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        parse_address(text)


def test_output_checks_fail_before_work_and_leave_nothing(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert check_writable(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checked, not created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    with pytest.raises(InputError, match="afile is a file, not a folder"):
        check_writable(tmp_path / "afile" / "out", folder=True)
    with pytest.raises(InputError, match="is a file"):
        check_writable(tmp_path / "afile", folder=True)
    with pytest.raises(InputError, match="is a folder"):
        check_writable(tmp_path, folder=False)
    with pytest.raises(InputError, match="not writable"):
        check_writable(Path("/proc/x/y"), folder=True)


def test_oracle_input_is_read_by_its_syntax(tmp_path: Path) -> None:
    from proofmind.cli.oracle import parse_values

    long_list = ",".join(["0.25"] * 5000)  # far beyond any file name's length
    assert parse_values(long_list) == [0.25] * 5000
    assert parse_values("[1, 2.5, -3]") == [1.0, 2.5, -3.0]
    assert parse_values("7") == [7.0]
    (tmp_path / "x.json").write_text("[0.5, 1]")
    assert parse_values(str(tmp_path / "x.json")) == [0.5, 1.0]
    for bad, needle in [
        ("1,nan", "nan"),
        ("[1, Infinity]", "inf"),
        ("-inf", "inf"),
        ("1,abc", "abc"),
        ('[1, "x"]', "x"),
        ("[true]", "True"),
        (str(tmp_path / "missing.csv"), "neither numbers nor a file"),
    ]:
        with pytest.raises(InputError, match=needle):
            parse_values(bad)
