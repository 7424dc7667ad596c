"""Signed contributions: ids equal the contract's, assembly de-duplicates, bad ones are refused."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from proofmind.chain.base import Chain, utc
from proofmind.chain.contracts import deploy
from proofmind.crypto.eip712 import typed_data_hash
from proofmind.errors import ContractReverted, InputError
from proofmind.ownership.contributions import (
    REVOKE_TYPES,
    Contribution,
    assemble,
    contribute,
    dataset_id,
    licence_hash,
    revocation_message,
    sign_revocation,
)

pytestmark = pytest.mark.devnet
HEADER = "address,flag\n"


def write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


@pytest.fixture
def setup(chain: Chain, tmp_path: Path) -> tuple[Chain, object, list[tuple[Contribution, Path]]]:
    registry, _ = deploy(chain, "ContributionRegistry")
    files = [
        write(tmp_path / "alice.csv", ["0x01,1", "0x02,0", "0x03,1"]),
        write(tmp_path / "bob.csv", ["0x03,1", "0x04,0"]),  # 0x03 duplicates alice's row
        write(tmp_path / "carol.csv", ["0x05,1"]),
    ]
    expiry = int(time.time()) + 86_400
    items = []
    for account, data in zip(chain.accounts[1:4], files, strict=True):
        c = contribute(
            account,
            data,
            dataset="fraud-labels",
            licence="CC-BY-4.0",
            expiry=expiry,
            nonce=0,
            chain_id=chain.chain_id,
            registry=registry.address,
            work_dir=tmp_path / "work",
        )
        items.append((c, data))
    return chain, registry, items


def test_the_id_is_the_contracts_and_the_json_round_trips(setup: tuple, tmp_path: Path) -> None:
    _, registry, items = setup
    c = items[0][0]
    on_chain = registry.functions.contributionId(
        dataset_id("fraud-labels"),
        bytes.fromhex(c.rows_root[2:]),
        c.row_count,
        licence_hash("CC-BY-4.0"),
        True,
        c.expiry,
        0,
    ).call()
    assert "0x" + on_chain.hex() == c.id
    path = tmp_path / "c.json"
    import json

    path.write_text(json.dumps(c.to_json()))
    assert Contribution.load(path) == c


def test_assembly_keeps_each_row_once(setup: tuple, tmp_path: Path) -> None:
    _, registry, items = setup
    out = tmp_path / "assembled.csv"
    assembly = assemble(
        items, dataset="fraud-labels", output=out, registry=registry, work_dir=tmp_path / "w"
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "address,flag,contributor"
    assert len(lines) == 1 + 5
    bob = items[1][0].contributor
    assert assembly.rows[bob] == 1 and assembly.duplicates[bob] == 1
    assert assembly.hash.startswith("0x") and len(assembly.document()["contributions"]) == 3


def test_a_revoked_contribution_is_refused(setup: tuple, tmp_path: Path) -> None:
    chain, registry, items = setup
    carol = chain.accounts[3]
    chain.sender(carol).transact(registry.functions.revoke(bytes.fromhex(items[2][0].id[2:])))
    with pytest.raises(InputError, match="was revoked on-chain") as refused:
        assemble(
            items,
            dataset="fraud-labels",
            output=tmp_path / "a.csv",
            registry=registry,
            work_dir=tmp_path / "w",
        )
    assert not (tmp_path / "a.csv").exists()
    # when, as a date, and what the curator does about it: leave that file's contribution out
    at = registry.functions.revokedAt(
        items[2][0].contributor, bytes.fromhex(items[2][0].id[2:])
    ).call()
    assert f"revoked on-chain at {utc(at)}: the contributor withdrew consent" in str(refused.value)
    assert refused.value.hint == f"leave the contribution of {items[2][1].name} out of the assembly"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: replace(c, contributor="0x" + "22" * 20), "not by the contributor it names"),
        (lambda c: replace(c, row_count=c.row_count + 1), "not by the contributor it names"),
        (lambda c: replace(c, signature="0x1234"), "signature"),
    ],
)
def test_a_signature_that_does_not_match_is_refused(
    setup: tuple, tmp_path: Path, change: object, message: str
) -> None:
    _, registry, items = setup
    items = [(change(items[0][0]), items[0][1]), *items[1:]]  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        assemble(
            items,
            dataset="fraud-labels",
            output=tmp_path / "a.csv",
            registry=registry,
            work_dir=tmp_path / "w",
        )


def test_expired_replayed_or_swapped_contributions_are_refused(
    setup: tuple, tmp_path: Path
) -> None:
    _, registry, items = setup
    kwargs = {
        "dataset": "fraud-labels",
        "output": tmp_path / "a.csv",
        "registry": registry,
        "work_dir": tmp_path / "w",
    }
    with pytest.raises(InputError, match="expired at"):
        assemble(items, now=items[0][0].expiry + 1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="appear more than once"):
        assemble([*items, items[0]], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="is for dataset 'fraud-labels', not 'other'"):
        assemble(items, **{**kwargs, "dataset": "other"})  # type: ignore[arg-type]
    # the signed rows are alice's; bob's file in their place does not match
    with pytest.raises(InputError, match="does not hold the signed rows"):
        assemble([(items[0][0], items[1][1]), items[2]], **kwargs)  # type: ignore[arg-type]


def test_a_relayed_revocation_signed_in_python(setup: tuple) -> None:
    chain, registry, items = setup
    carol, contribution = chain.accounts[3], items[2][0]
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    message = revocation_message(contribution, nonce=0, deadline=deadline)
    theirs = registry.functions.revokeDigest(
        message["contributor"], message["contribution"], 0, deadline
    ).call()
    ours = typed_data_hash(contribution.domain, REVOKE_TYPES, "Revoke", message)
    assert theirs == ours
    signature = sign_revocation(carol, contribution, nonce=0, deadline=deadline)
    relayer = chain.accounts[1]
    call = registry.functions.revokeFor(carol.address, message["contribution"], deadline, signature)
    chain.sender(relayer).transact(call)
    assert registry.functions.isRevoked(carol.address, message["contribution"]).call()


def test_a_cancelled_nonce_voids_an_unrelayed_revocation(setup: tuple) -> None:
    chain, registry, items = setup
    carol, contribution = chain.accounts[3], items[2][0]
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    stuck = sign_revocation(carol, contribution, nonce=0, deadline=deadline)
    chain.sender(carol).transact(registry.functions.useNonce())
    call = registry.functions.revokeFor(
        carol.address, bytes.fromhex(contribution.id[2:]), deadline, stuck
    )
    with pytest.raises(ContractReverted, match="InvalidSignature"):
        chain.sender(chain.accounts[1]).transact(call)


@pytest.mark.parametrize("where", ["registry", "chain"])
def test_a_contribution_for_another_registry_or_chain_is_refused(
    setup: tuple, tmp_path: Path, where: str
) -> None:
    # its revocation lives elsewhere: the local lookup would always answer "not revoked"
    chain, registry, items = setup
    other, _ = deploy(chain, "ContributionRegistry")
    alice, data = items[0]
    if where == "registry":
        moved = replace(alice, registry=other.address)
        message = f"signed for the ContributionRegistry at {other.address}"
    else:
        moved = replace(alice, chain_id=chain.chain_id + 1)
        message = f"signed for chain {chain.chain_id + 1}, but the registry checked is on"
    resigned = contribute(
        chain.accounts[1],
        data,
        dataset=moved.dataset,
        licence=moved.licence,
        expiry=moved.expiry,
        nonce=moved.nonce,
        chain_id=moved.chain_id,
        registry=moved.registry,
        work_dir=tmp_path / "work",
    )
    with pytest.raises(InputError, match=message):
        assemble(
            [(resigned, data), *items[1:]],
            dataset="fraud-labels",
            output=tmp_path / "a.csv",
            registry=registry,
            work_dir=tmp_path / "w",
        )
    assert not (tmp_path / "a.csv").exists()


def test_an_expiry_in_the_past_cannot_be_signed(chain: Chain, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is in the past"):
        contribute(
            chain.accounts[1],
            write(tmp_path / "d.csv", ["0x01,1"]),
            dataset="d",
            licence="MIT",
            expiry=1,
            nonce=0,
            chain_id=chain.chain_id,
            registry="0x" + "00" * 20,
            work_dir=tmp_path,
        )
