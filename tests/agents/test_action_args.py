"""A rule's or an MCP client's action arguments to calldata: each is read strictly for its ABI
type (the text "false" is false, not a true non-empty string), and a policy whose rule cannot
be encoded is refused when it is loaded, naming the rule, not when the rule first fires."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi.abi import decode
from hypothesis import given
from hypothesis import strategies as st

from proofmind.agents.guard import encode_action
from proofmind.agents.policy import ActionSpec, encode_args, load_policy
from proofmind.errors import InputError

A, B = "0x" + "11" * 20, "0x" + "22" * 20
SET_RECIPIENT = "setRecipient(address,address,bool)"


@pytest.mark.parametrize(("text", "flag"), [("false", False), ("False", False), ("0", False),
                                            (False, False), ("true", True), (" TRUE ", True),
                                            ("1", True), (True, True)])  # fmt: skip
def test_bool_text_reads_as_written(text: object, flag: bool) -> None:
    data = encode_args(SET_RECIPIENT, [A, B, text])
    assert decode(["address", "address", "bool"], data)[2] is flag


@pytest.mark.parametrize(
    ("function", "args", "phrase"),
    [
        (SET_RECIPIENT, [A, B, "maybe"], "argument 2 of setRecipient(address,address,bool) (bool)"),
        (SET_RECIPIENT, [A, B, "yes"], "is not a bool"),
        ("f(int8)", ["-129"], "does not fit in int8"),
        ("f(int8)", ["1.5"], "is not a whole number"),
        ("f(int256)", ["inf"], "is not a whole number"),
        ("f(uint8)", ["256"], "does not fit in uint8"),
        ("f(uint256)", ["inf"], "not a whole, non-negative number"),
        # refused as written: expanding a billion digits would hang the MCP server
        ("f(uint256)", ["1e999999999"], "does not fit in 256 bits (more than 78 digits)"),
        ("f(int256)", ["-1e999999999"], "does not fit in 256 bits"),
        ("f(uint256)", ["1e78"], "does not fit in 256 bits"),
        ("f(bytes32)", ["0x" + "ab" * 31], "is 31 bytes, bytes32 takes 32"),
        ("f(bytes)", ["0xabc"], "is not 0x-prefixed hex"),
        ("f(string)", [5], "is not text"),
        ("f(address)", ["0x" + "ab" * 19], "is not an address"),
        ("f(uint256[])", [["1", "x"]], "do not fit f(uint256[])"),
        ("f(uint256,uint256)", ["1"], "takes 2 argument(s), 1 given"),
    ],
)
def test_argument_that_does_not_fit_is_named(
    function: str, args: list[object], phrase: str
) -> None:
    with pytest.raises(ValueError, match=None) as wrong:
        encode_args(function, args)
    assert phrase in str(wrong.value)
    with pytest.raises(InputError) as refused:  # what a rule or an MCP client gets
        encode_action(ActionSpec(target=A, function=function, args=args))
    assert phrase in refused.value.message


@given(
    st.integers(-(2**255), 2**255 - 1),
    st.integers(0, 2**256 - 1),
    st.booleans(),
    st.binary(min_size=32, max_size=32),
)
def test_values_round_trip(signed: int, unsigned: int, flag: bool, word: bytes) -> None:
    args = [str(signed), str(unsigned), str(flag).lower(), "0x" + word.hex()]
    data = encode_args("f(int256,uint256,bool,bytes32)", args)
    assert decode(["int256", "uint256", "bool", "bytes32"], data) == (signed, unsigned, flag, word)


def test_policy_with_an_unencodable_rule_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    rule = f"""
[[rule]]
detector = "depeg"
[rule.action]
target = "{A}"
function = "{SET_RECIPIENT}"
args = ["{A}", "{B}", "%s"]
"""
    head = f'name = "p"\nagent = 4\nexpires_in = "7d"\nrecipients = ["{B}"]\n'
    path.write_text(head + rule % "false")
    assert load_policy(path).rule[0].action.args[2] == "false"
    path.write_text(head + rule % "no")
    with pytest.raises(InputError) as refused:
        load_policy(path)
    assert refused.value.message.startswith(f"policy {path} is invalid: rule.0.action.args: ")
    assert "'no' is not a bool" in refused.value.message
    path.write_text(head + rule % "true" + 'value = "inf"\n')
    with pytest.raises(InputError) as infinite:
        load_policy(path)  # an infinite amount is refused too, not an OverflowError
    assert "rule.0.action.value: 'inf' is not a whole, non-negative number" in str(infinite.value)
    path.write_text(head + rule % "true" + 'value = "1e999999999"\n')
    with pytest.raises(InputError) as huge:
        load_policy(path)  # not expanded to a billion digits first
    assert "rule.0.action.value: '1e999999999' does not fit in 256 bits" in str(huge.value)


@pytest.mark.parametrize(
    ("expires_in", "phrase"),
    [
        ("366d", "at most 365 days (the guard's longest grant), got 31,622,400 seconds"),
        ("0", "more than 0"),
        ("9" * 4000 + "d", "is not a duration"),  # not expanded, not Python's digit-limit error
    ],
)
def test_policy_expiry_beyond_what_the_guard_grants_is_refused_at_load(
    tmp_path: Path, expires_in: str, phrase: str
) -> None:
    """The guard grants for at most 365 days: a longer expires_in was sent to the chain and
    reverted there (BadExpiry), or failed to encode as uint64; the file is refused instead."""
    path = tmp_path / "policy.toml"
    path.write_text(f'name = "p"\nagent = 4\nexpires_in = "365d"\nrecipients = ["{B}"]\n')
    assert load_policy(path).expires_in == 365 * 86_400
    path.write_text(path.read_text().replace('"365d"', f'"{expires_in}"'))
    with pytest.raises(InputError) as refused:
        load_policy(path)
    assert phrase in str(refused.value)
