"""Appeals without a chain: the EIP-712 round trip and the flagged lists an appeal changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import CryptoError, InputError
from proofmind.intel.appeals import Appeal, FlaggedList, sign_appeal
from proofmind.intel.sybil import merkle_root

KEYS = st.integers(1, 2**255).map(lambda n: "0x" + n.to_bytes(32, "big").hex())
ROOTS = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
REASONS = st.text(min_size=1, max_size=80).filter(lambda t: t.strip() != "")
ADDRESSES = st.integers(1, 2**160 - 2).map(lambda n: "0x" + n.to_bytes(20, "big").hex())


def _appeal(key: str = "0x" + "11" * 32, **fields: object) -> Appeal:
    args: dict[str, object] = {
        "nonce": 7,
        "deadline": 2_000_000_000,
        "chain_id": 31337,
    } | fields
    return sign_appeal(key, "0x" + "ab" * 32, "one person, one wallet", **args)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(KEYS, ROOTS, REASONS, st.integers(0, 2**256 - 1), st.integers(0, 2**64))
def test_a_signed_appeal_recovers_its_own_address(
    key: str, root: str, reason: str, nonce: int, deadline: int
) -> None:
    appeal = sign_appeal(key, root, reason, nonce=nonce, deadline=deadline, chain_id=1)
    assert appeal.account == Account.from_key(key).address
    assert appeal.signer() == appeal.account
    appeal.check_signature()
    again = Appeal.loads(json.dumps(appeal.to_json()))  # through the file format
    assert again == appeal and again.id == appeal.id
    # any change to a signed field leaves the signature recovering someone else
    for changed in (
        Appeal(appeal.account, root, reason + ".", nonce, deadline, 1, appeal.signature),
        Appeal(appeal.account, root, reason, nonce ^ 1, deadline, 1, appeal.signature),
        Appeal(appeal.account, root, reason, nonce, deadline, 2, appeal.signature),
    ):
        assert changed.id != appeal.id
        with pytest.raises(CryptoError, match="not by the appealing address"):
            changed.check_signature()


def test_an_edited_file_is_refused() -> None:
    data = _appeal().to_json()
    data["reason"] = "something else"
    with pytest.raises(CryptoError, match="do not hash to its id"):
        Appeal.from_json(data)
    del data["id"]  # without the id, the signature catches it
    with pytest.raises(CryptoError, match="not by the appealing address"):
        Appeal.from_json(data).check_signature()
    signature = _appeal().to_json()
    signature["signature"] = signature["signature"][:-4] + "0000"
    with pytest.raises(CryptoError):
        Appeal.from_json(signature).check_signature()
    with pytest.raises(InputError, match="not a signed appeal"):
        Appeal.loads('{"format": "x"}')
    with pytest.raises(InputError, match="needs a reason"):
        Appeal(_appeal().account, "0x" + "ab" * 32, "  ", 1, 1, 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(ADDRESSES, min_size=1, max_size=24, unique=True), st.data())
def test_removing_appealed_addresses_gives_a_list_without_them(
    flagged: list[str], data: st.DataObject
) -> None:
    before = FlaggedList.of(flagged)
    assert before.root == merkle_root(before.addresses)  # the root `sybil detect` prints
    removed = data.draw(st.lists(st.sampled_from(flagged), unique=True, max_size=len(flagged)))
    after = before.without(removed)
    kept = [a for a in before.addresses if a.lower() not in {r.lower() for r in removed}]
    assert list(after.addresses) == kept
    tree = after.flagged_tree()
    for address in removed:  # absent: no membership leaf, and a valid non-membership proof
        assert address not in after
        low, high, proof = after.exclusion_proof(address)
        assert int(low, 16) < int(address, 16) < int(high, 16)
        assert StandardMerkleTree.verify_root(
            after.exclusion_root, ["address", "address"], [low, high], proof
        )
        if tree is not None:
            with pytest.raises((InputError, ValueError, KeyError)):
                tree.get_proof([address])
    for address in kept:  # the others' proofs are still valid against the new root
        assert tree is not None
        proof = tree.get_proof([address])
        assert StandardMerkleTree.verify_root(after.root, ["address"], [address], proof)
        with pytest.raises(InputError, match="no gap"):
            after.exclusion_proof(address)
    outsider = data.draw(ADDRESSES)
    if outsider not in before:
        low, high, proof = after.exclusion_proof(outsider)
        assert StandardMerkleTree.verify_root(
            after.exclusion_root, ["address", "address"], [low, high], proof
        )


@settings(max_examples=30, deadline=None)
@given(st.lists(ADDRESSES, min_size=1, max_size=16, unique=True), ADDRESSES)
def test_no_gap_covers_a_flagged_address(flagged: list[str], probe: str) -> None:
    """The gaps tile the address space minus the flagged addresses: exactly one gap holds an
    address off the list, none holds one on it."""
    listed = FlaggedList.of(flagged)
    holding = [g for g in listed.gaps() if int(g[0], 16) < int(probe, 16) < int(g[1], 16)]
    assert len(holding) == (0 if probe in listed else 1)


def test_an_empty_list_has_one_gap() -> None:
    empty = FlaggedList.of([])
    assert empty.root == "0x" + "00" * 32
    assert [(int(lo, 16), int(hi, 16)) for lo, hi in empty.gaps()] == [(0, 2**160 - 1)]
    low, high, proof = empty.exclusion_proof("0x" + "12" * 20)
    assert proof == [] and int(low, 16) == 0 and int(high, 16) == 2**160 - 1


def test_sign_with_an_encrypted_keystore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from proofmind.cli.main import main

    key = "0x" + "42" * 32
    keystore = Account.encrypt(key, "pw", kdf="pbkdf2", iterations=16)
    (tmp_path / "me.json").write_text(json.dumps(keystore))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROOFMIND_KEYSTORE_PASSWORD", "pw")
    argv = ["sybil", "appeal", "sign", "--key", "me.json", "--report", "0x" + "ab" * 32]
    assert main([*argv, "--reason", "mine", "--nonce", "3", "-o", "a.json"]) == 0
    appeal = Appeal.loads((tmp_path / "a.json").read_text())
    assert appeal.account == Account.from_key(key).address and appeal.nonce == 3
    appeal.check_signature()
    monkeypatch.setenv("PROOFMIND_KEYSTORE_PASSWORD", "wrong")
    capfd.readouterr()
    assert main([*argv, "--reason", "mine", "-o", "b.json"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot unlock the keystore me.json" in err[0]
    assert not (tmp_path / "b.json").exists()
