"""Appeals end to end on the devnet, through the CLI: a sybil report's flagged list is set on a
SybilGatedAirdrop; a flagged address signs an appeal, the reviewer accepts it, the new root
goes on-chain and the address claims and is paid; a rejected one still cannot; tampered, misdirected
and replayed appeals are refused with one clear line and change nothing."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from proofmind.chain.accounts import Keystore
from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.cli.main import main
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import ContractReverted
from proofmind.intel.appeals import FlaggedList
from proofmind.intel.sybil import merkle_root
from proofmind.workspace import init_workspace, open_workspace

FEATURES = [3, -2]
OWNER = 9  # the workspace's account: deploys nothing, owns the airdrop, reviews appeals


def _airdrop(
    chain: Chain, claimants: list[LocalAccount]
) -> tuple[Any, StandardMerkleTree, Any, Any]:
    """An airdrop (funded) whose oracle serves an optimistic model, so a claim is a real
    request that a node answers, and whose features root holds every claimant."""
    owner = chain.accounts[OWNER].address
    oracle, _ = deploy(chain, "InferenceOracle")
    token, _ = deploy(chain, "RewardToken", "Drop", "DROP", chain.sender().address)
    key = b"sybil-risk".ljust(32, b"\0")
    config = (
        "0x" + "00" * 20, 2, len(FEATURES), 1, 64, 0, 1, 2, 100, 1, [chain.accounts[5].address]
    )  # fmt: skip
    chain.sender().transact(oracle.functions.registerModel(key, config))
    model_id = oracle.functions.modelIdOf(chain.sender().address, key).call()
    airdrop, _ = deploy(
        chain, "SybilGatedAirdrop", oracle.address, token.address, model_id, 100, 2048, owner
    )
    tree = StandardMerkleTree.of(
        [[a.address, FEATURES] for a in claimants], ["address", "int256[]"]
    )
    chain.sender(chain.accounts[OWNER]).transact(airdrop.functions.setFeaturesRoot(tree.root))
    chain.sender().transact(token.functions.mint(airdrop.address, 1_000))
    return airdrop, tree, oracle, token


def _answer(chain: Chain, oracle: Any, request_id: int, score: int) -> None:
    """A node answers optimistically; nobody disputes; after the window it is final and the
    oracle calls the airdrop back."""
    node = chain.sender(chain.accounts[6])
    node.transact(oracle.functions.deposit(), value=10)
    node.transact(oracle.functions.propose([request_id], [[score]]))
    chain.mine(3)
    node.transact(oracle.functions.finalize([request_id], [[score]]))


@pytest.fixture
def project(chain: Chain, tmp_path: Path) -> Iterator[dict[str, Any]]:
    workspace, _ = init_workspace(tmp_path)
    Keystore(workspace.keystore_dir).import_key("reviewer", chain.accounts[OWNER].key, "pw")
    workspace.close()
    env = {
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_ACCOUNT": "reviewer",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
    }
    flagged_accounts = [chain.accounts[1], chain.accounts[2]]
    honest = chain.accounts[3]
    airdrop, tree, oracle, token = _airdrop(chain, [*flagged_accounts, honest])
    report = tmp_path / "sybil"
    report.mkdir()
    others = ["0x" + f"{n:040x}" for n in (0x1234, 0xBEEF, 0xC0FFEE)]  # the rest of the farm
    addresses = [a.address for a in flagged_accounts] + others
    (report / "flagged.txt").write_text("".join(a + "\n" for a in sorted(addresses)))
    # as `sybil detect` writes it: report.md states the root of flagged.txt
    stated = f"- Merkle root of the flagged list: `{merkle_root(addresses)}`\n"
    (report / "report.md").write_text(stated)
    for n, account in enumerate(flagged_accounts):
        (tmp_path / f"key{n}").write_text(account.key.to_0x_hex() + "\n")
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("PROOFMIND_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.setenv("COLUMNS", "200")
        mp.chdir(tmp_path)
        yield {
            "root": tmp_path,
            "chain": chain,
            "airdrop": airdrop,
            "oracle": oracle,
            "token": token,
            "tree": tree,
            "flagged": flagged_accounts,
            "honest": honest,
            "report": report,
        }


def _run(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def _claim(p: dict[str, Any], account: LocalAccount, low: str, high: str, proof: list[str]) -> Any:
    tree: StandardMerkleTree = p["tree"]
    index = next(i for i, v in enumerate(tree.values) if v[0] == account.address)
    fn = p["airdrop"].functions.claimUnflagged(FEATURES, tree.get_proof(index), low, high, proof)
    return p["chain"].sender(account).transact(fn)


def _state(root: Path) -> list[Any]:
    rows: list[Any] = []
    with sqlite3.connect(root / ".proofmind" / "state.sqlite") as conn:
        rows += conn.execute("SELECT key, status FROM records ORDER BY key").fetchall()
    path = root / ".proofmind" / "appeals.sqlite"
    if path.exists():
        with sqlite3.connect(path) as conn:
            for table in ("lists", "appeals", "decisions"):
                rows += conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    return rows


@pytest.mark.devnet
def test_an_accepted_appeal_lets_the_address_claim_a_rejected_one_does_not(
    project: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    p = project
    airdrop, (cleared, refused), honest = p["airdrop"], p["flagged"], p["honest"]
    code, out, err = _run(
        capfd, "sybil", "appeal", "publish", "sybil", "--airdrop", airdrop.address
    )
    assert code == 0, err
    listed = FlaggedList.of((p["report"] / "flagged.txt").read_text().split())
    assert airdrop.functions.flaggedRoot().call() == bytes.fromhex(listed.root[2:])
    assert airdrop.functions.exclusionRoot().call() == bytes.fromhex(listed.exclusion_root[2:])

    # flagged: there is no gap to prove, and a neighbour's gap does not fit
    neighbour = listed.exclusion_proof(honest.address)
    with pytest.raises(ContractReverted, match="Flagged"):
        _claim(p, cleared, *neighbour)
    for n in (0, 1):
        code, out, err = _run(
            capfd, "sybil", "appeal", "sign", "--key", f"key{n}", "--report", "sybil",
            "--reason", "one person: KYC at the exchange", "-o", f"appeal{n}.json",
        )  # fmt: skip
        assert code == 0, err
        code, out, err = _run(capfd, "sybil", "appeal", "submit", f"appeal{n}.json")
        assert code == 0, err
    ids = [json.loads((p["root"] / f"appeal{n}.json").read_text())["id"] for n in (0, 1)]

    code, out, err = _run(
        capfd, "sybil", "appeal", "decide", ids[0][:12], "--accept", "--reason", "separate funding"
    )
    assert code == 0, err
    after = listed.without([cleared.address])
    assert after.root in out
    assert airdrop.functions.flaggedRoot().call() == bytes.fromhex(after.root[2:])
    assert airdrop.functions.exclusionRoot().call() == bytes.fromhex(after.exclusion_root[2:])
    code, out, err = _run(capfd, "sybil", "appeal", "proof", cleared.address)
    assert code == 0, err
    gap = json.loads(out)
    assert gap["root"] == after.root
    receipt = _claim(p, cleared, gap["low"], gap["high"], gap["proof"])
    assert airdrop.functions.claims(cleared.address).call() == 1  # Pending: the oracle asked
    (event,) = airdrop.events.ClaimRequested().process_receipt(receipt, errors=DISCARD)
    _answer(p["chain"], p["oracle"], event["args"]["requestId"], 300)  # low risk
    assert airdrop.functions.claims(cleared.address).call() == 2  # Paid
    assert p["token"].functions.balanceOf(cleared.address).call() == 100

    code, out, err = _run(
        capfd, "sybil", "appeal", "decide", ids[1][:12], "--reject", "--reason", "farm funder"
    )
    assert code == 0, err
    assert airdrop.functions.flaggedRoot().call() == bytes.fromhex(after.root[2:])  # unchanged
    code, out, err = _run(capfd, "sybil", "appeal", "proof", refused.address)
    assert code == 2 and "no gap" in err
    for gap_of_another in (after.exclusion_proof(honest.address), neighbour):
        with pytest.raises(ContractReverted, match="Flagged"):
            _claim(p, refused, *gap_of_another)
    # an honest address was never flagged and claims with its gap
    assert _claim(p, honest, *after.exclusion_proof(honest.address))["status"] == 1

    code, out, err = _run(capfd, "sybil", "appeal", "list")
    assert code == 0 and "accepted" in out and "rejected" in out
    assert all(appeal_id in out for appeal_id in ids)  # whole when piped, not cut to 12
    code, out, err = _run(capfd, "sybil", "appeal", "show", ids[0])
    assert code == 0, err
    assert f"signed by  {cleared.address}" in out and after.root in out
    assert "sybil flagged list" in out  # the new list's record is shown too
    # the history is anchored: appeal → decision → new list, each a parent of the next
    workspace = open_workspace(p["root"])
    try:
        from proofmind.provenance.ledger import Ledger

        ledger = Ledger(workspace)
        newest = next(r for r in ledger.all() if r.uri.endswith(after.root))
        chain_of = ledger.ancestors(newest)
        uris = [r.uri.split("/")[3] for r in chain_of]
        assert {"flagged", "decision", "appeal"} <= set(uris)
        assert all(r.anchored for r in chain_of)
    finally:
        workspace.close()


@pytest.mark.devnet
def test_tampered_misdirected_and_replayed_appeals_are_refused(
    project: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    p = project
    root: Path = p["root"]
    assert _run(capfd, "sybil", "appeal", "publish", "sybil")[0] == 0
    code, _, err = _run(
        capfd, "sybil", "appeal", "sign", "--key", "key0", "--report", "sybil",
        "--reason", "mine", "--nonce", "5", "-o", "a.json",
    )  # fmt: skip
    assert code == 0, err
    good = json.loads((root / "a.json").read_text())

    def attempt(name: str, document: dict[str, Any], needle: str) -> None:
        (root / name).write_text(json.dumps(document))
        before = _state(root)
        code, out, err = _run(capfd, "sybil", "appeal", "submit", name)
        assert code in (1, 2), (code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], err
        assert _state(root) == before, "a refused appeal wrote something"

    forged = dict(good, signature=good["signature"][:-10] + "0" * 8 + good["signature"][-2:])
    attempt("forged.json", forged, "not by the appealing address")
    attempt("edited.json", dict(good, reason="other"), "do not hash to its id")
    # signed properly, but against a root no report of this workspace has
    code, _, err = _run(
        capfd, "sybil", "appeal", "sign", "--key", "key0", "--report", "0x" + "12" * 32,
        "--reason", "mine", "-o", "wrong.json",
    )  # fmt: skip
    assert code == 0, err
    attempt("wrong.json", json.loads((root / "wrong.json").read_text()), "no flagged list")
    code, _, err = _run(
        capfd, "sybil", "appeal", "sign", "--key", "key0", "--report", "sybil",
        "--reason", "mine", "--chain-id", "1", "-o", "chain1.json",
    )  # fmt: skip
    assert code == 0, err
    attempt("chain1.json", json.loads((root / "chain1.json").read_text()), "chain 1")

    assert _run(capfd, "sybil", "appeal", "submit", "a.json")[0] == 0
    attempt("again.json", good, "already submitted")
    code, _, err = _run(
        capfd, "sybil", "appeal", "sign", "--key", "key0", "--report", "sybil",
        "--reason", "a new reason, the old nonce", "--nonce", "5", "-o", "b.json",
    )  # fmt: skip
    assert code == 0, err
    attempt("b.json", json.loads((root / "b.json").read_text()), "nonce 5")
    code, _, err = _run(capfd, "sybil", "appeal", "decide", good["id"], "--reject", "--reason", "n")
    assert code == 0, err
    before = _state(root)
    code, _, err = _run(capfd, "sybil", "appeal", "decide", good["id"], "--accept", "--reason", "y")
    assert code == 2 and "already rejected" in err
    assert _state(root) == before


@pytest.mark.devnet
def test_a_list_changed_on_the_airdrop_since_is_not_overwritten(
    project: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    p = project
    airdrop, chain = p["airdrop"], p["chain"]
    assert _run(capfd, "sybil", "appeal", "publish", "sybil", "--airdrop", airdrop.address)[0] == 0
    code, _, err = _run(
        capfd, "sybil", "appeal", "sign", "--key", "key0", "--report", "sybil",
        "--reason", "mine", "-o", "a.json",
    )  # fmt: skip
    assert code == 0, err
    assert _run(capfd, "sybil", "appeal", "submit", "a.json")[0] == 0
    other = FlaggedList.of([p["honest"].address])  # the owner set another list meanwhile
    fn = airdrop.functions.setFlaggedList(
        bytes.fromhex(other.root[2:]), bytes.fromhex(other.exclusion_root[2:])
    )
    chain.sender(chain.accounts[OWNER]).transact(fn)
    before = _state(p["root"])
    appeal_id = json.loads((p["root"] / "a.json").read_text())["id"]
    code, _, err = _run(capfd, "sybil", "appeal", "decide", appeal_id, "--accept", "--reason", "y")
    assert code == 2 and f"holds the flagged list {other.root}" in err, err
    assert _state(p["root"]) == before
    assert airdrop.functions.flaggedRoot().call() == bytes.fromhex(other.root[2:])
