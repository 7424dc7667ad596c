"""Talking to `InferenceOracle`: deploy verifiers, register models, request, answer
(fulfil with a proof, propose, finalize), challenge, and read requests back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach, deploy
from proofmind.chain.sender import gas_limit
from proofmind.errors import ContractNotFound, InputError
from proofmind.ml.zk import VALUE_BITS, Package, Proof
from proofmind.store.stores import Stores


class Mode(IntEnum):
    ZK = 1
    OPTIMISTIC = 2


class Status(IntEnum):
    NONE = 0
    PENDING = 1
    PROPOSED = 2
    DISPUTED = 3
    FULFILLED = 4
    REFUNDED = 5


@dataclass(frozen=True)
class Terms:
    """A model's terms on the oracle (fee and bond in wei, windows in blocks)."""

    mode: Mode
    fee: int = 10**15
    bond: int = 10**17
    challenge_window: int = 5
    timeout: int = 300
    value_bits: int = VALUE_BITS
    quorum: int = 0
    committee: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RequestState:
    request_id: int
    requester: str
    callback_gas_limit: int
    deadline: int
    status: Status
    model_id: bytes
    input_hash: bytes
    output_hash: bytes
    node: str
    challenge_ends: int
    fee: int


# the most wei a node or watcher locks on one answer or dispute unless configured otherwise
DEFAULT_MAX_BOND = 10**18


def model_key(pkg: Package, mode: Mode) -> bytes:
    """The key a packaged model is registered under in ``mode`` (one package, two modes)."""
    from proofmind.crypto.keccak import keccak256

    return keccak256(pkg.model_id + bytes([int(mode)]))


def oracle_model_id(pkg: Package, mode: Mode, owner: str) -> bytes:
    """The oracle's id of ``pkg`` served in ``mode`` as registered by ``owner``: ids live in
    the registrant's namespace, so another account cannot take the id this one expects."""
    from eth_abi.abi import encode

    from proofmind.crypto.keccak import keccak256

    return keccak256(
        encode(["address", "bytes32"], [to_checksum_address(owner), model_key(pkg, mode)])
    )


def commitment(request_id: int, sender: str, proof: bytes) -> bytes:
    """keccak256(abi.encode(requestId, sender, keccak256(proof))): what `commit` records."""
    from eth_abi.abi import encode

    from proofmind.crypto.keccak import keccak256

    return keccak256(
        encode(
            ["uint256", "address", "bytes32"],
            [request_id, to_checksum_address(sender), keccak256(proof)],
        )
    )


def io_hash(values: Sequence[int]) -> bytes:
    """keccak256(abi.encode(int256[])) — the commitment the oracle stores for an input/output."""
    from eth_abi.abi import encode

    from proofmind.crypto.keccak import keccak256

    return keccak256(encode(["int256[]"], [list(values)]))


def deploy_verifier(chain: Chain, pkg: Package) -> str:
    """Deploy the package's EZKL verifier; returns its address."""
    receipt = chain.sender().deploy(
        pkg.verifier_abi, pkg.verifier_bytecode, label=f"deploy verifier of {pkg.name}"
    )
    return str(receipt["contractAddress"])


def verifier_runtime(chain: Chain, pkg: Package) -> bytes:
    """The code the package's verifier has once deployed (its creation code run in eth_call)."""
    return bytes(chain.w3.eth.call({"data": pkg.verifier_bytecode}))  # type: ignore[typeddict-item]


@dataclass(frozen=True)
class ModelPolicy:
    """What a node or watcher accepts of a model before it locks a bond on it: the owner it
    trusts, a cap on the bond, and (optionally) the only accounts a committee may hold."""

    owner: str
    max_bond: int = DEFAULT_MAX_BOND
    committee: frozenset[str] | None = None


def model_problem(
    oracle: OracleClient, pkg: Package, mode: Mode, policy: ModelPolicy, runtime: bytes
) -> str | None:
    """Why the on-chain model ``pkg``/``mode`` of ``policy.owner`` must not be served or
    watched (None when it matches the package and the policy; "not registered" when absent).
    ``runtime`` is the package's verifier code (:func:`verifier_runtime`)."""
    model_id = oracle_model_id(pkg, mode, policy.owner)
    if not oracle.model_exists(model_id):
        return "not registered"
    m = oracle.model(model_id)
    expected = {
        "owner": (m["owner"].lower(), policy.owner.lower()),
        "mode": (int(m["mode"]), int(mode)),
        "input length": (int(m["inputLength"]), pkg.input_size),
        "output length": (int(m["outputLength"]), pkg.output_size),
        "value bits": (int(m["valueBits"]), VALUE_BITS),
    }
    for name, (got, want) in expected.items():
        if got != want:
            return f"{name} {got} is not the package's {want}"
    if int(m["bond"]) > policy.max_bond:
        return f"bond {m['bond']} wei is over the cap of {policy.max_bond} wei"
    verifier = str(m["verifier"])
    if int(verifier, 16) != 0:
        code = bytes(oracle.chain.w3.eth.get_code(to_checksum_address(verifier)))
        if code != runtime:
            return f"verifier {verifier} is not the package's verifier"
        return None
    committee = oracle.committee(model_id)
    if not committee or 2 * int(m["quorum"]) <= len(committee):
        return f"quorum {m['quorum']} is not a majority of a committee of {len(committee)}"
    if policy.committee is not None:
        trusted = {a.lower() for a in policy.committee}
        strangers = sorted(a for a in committee if a.lower() not in trusted)
        if strangers:
            return f"committee members {', '.join(strangers)} are not trusted"
    return None


class OracleClient:
    def __init__(self, chain: Chain, oracle: Contract) -> None:
        self.chain = chain
        self.oracle = oracle

    @classmethod
    def open(cls, chain: Chain, workspace: Stores, *, deploy_missing: bool = True) -> OracleClient:
        """The workspace's InferenceOracle on this chain (deployed first when missing)."""
        registry = DeploymentRegistry(workspace.state)
        try:
            return cls(chain, attach(chain, "InferenceOracle", registry))
        except ContractNotFound:
            if not deploy_missing:
                raise
        contract, _ = deploy(chain, "InferenceOracle", registry=registry)
        return cls(chain, contract)

    @property
    def address(self) -> str:
        return str(self.oracle.address)

    def _sender(self, account: LocalAccount | None) -> Any:
        return self.chain.sender(account)

    def reveal_gas(self, fn: Any, sender: Any) -> int:
        """Gas for revealing a commitment made in the latest block. A revealing call must run
        in a later block than its commitment, so it is estimated against the pending block
        (estimating against the latest one would see it revert as too early)."""
        from web3.exceptions import ContractLogicError

        tx = {"from": sender.address, "to": self.address, "data": fn._encode_transaction_data()}
        try:
            estimate = self.chain.w3.eth.estimate_gas(tx, "pending")  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise sender.revert_error(exc.data, f"{fn.fn_name}()", exc.message) from None
        return gas_limit(estimate, sender.settings)

    # -- models ----------------------------------------------------------------------------

    def deploy_verifier(self, pkg: Package) -> str:
        return deploy_verifier(self.chain, pkg)

    def model_exists(self, model_id: bytes) -> bool:
        return bool(self.oracle.functions.models(model_id).call()[0] != "0x" + "0" * 40)

    def register(
        self,
        key: bytes,
        *,
        verifier: str | None,
        input_length: int,
        output_length: int,
        terms: Terms,
        account: LocalAccount | None = None,
    ) -> dict[str, Any]:
        cfg = (
            to_checksum_address(verifier) if verifier else "0x" + "0" * 40,
            int(terms.mode),
            input_length,
            output_length,
            terms.value_bits,
            terms.fee,
            terms.bond,
            terms.challenge_window,
            terms.timeout,
            terms.quorum,
            [to_checksum_address(a) for a in terms.committee],
        )
        fn = self.oracle.functions.registerModel(key, cfg)
        return dict(self._sender(account).transact(fn))

    def register_package(
        self,
        pkg: Package,
        terms: Terms,
        *,
        verifier: str | None = None,
        account: LocalAccount | None = None,
    ) -> bytes:
        """Serve a packaged model in ``terms.mode`` (deploying its verifier unless given, or
        without one when ``terms.committee`` settles disputes); returns the oracle's model id."""
        owner = (account or self.chain.default_account).address
        if terms.committee:  # disputes settled by the committee's re-execution, not by proof
            verifier = None
        elif verifier is None:
            verifier = self.deploy_verifier(pkg)
        self.register(
            model_key(pkg, terms.mode),
            verifier=verifier,
            input_length=pkg.input_size,
            output_length=pkg.output_size,
            terms=terms,
            account=account,
        )
        return oracle_model_id(pkg, terms.mode, owner)

    def update_model(
        self, model_id: bytes, fee: int, active: bool, account: LocalAccount | None = None
    ) -> dict[str, Any]:
        """Set a model's fee and whether it takes requests (its owner only: the other terms
        are fixed at registration)."""
        fn = self.oracle.functions.updateModel(model_id, fee, active)
        return dict(self._sender(account).transact(fn))

    def committee(self, model_id: bytes) -> list[str]:
        return [str(a) for a in self.oracle.functions.committeeOf(model_id).call()]

    def model(self, model_id: bytes) -> dict[str, Any]:
        names = [
            o["name"]
            for o in self.oracle.functions.getModel(model_id).abi["outputs"][0]["components"]
        ]
        return dict(zip(names, self.oracle.functions.getModel(model_id).call(), strict=True))

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        model_id: bytes,
        values: Sequence[int],
        *,
        callback_gas: int = 0,
        fee: int | None = None,
        account: LocalAccount | None = None,
    ) -> int:
        """Send a request from ``account`` (an EOA: it reads the answer from events)."""
        if fee is None:
            fee = int(self.model(model_id)["fee"])
        fn = self.oracle.functions.requestInference(model_id, list(values), callback_gas)
        receipt = self._sender(account).transact(fn, value=fee)
        (event,) = self.oracle.events.InferenceRequested().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["requestId"])

    def state(self, request_id: int) -> RequestState:
        return self.to_state(request_id, self.oracle.functions.getRequest(request_id).call())

    @staticmethod
    def to_state(request_id: int, r: Sequence[Any]) -> RequestState:
        return RequestState(
            request_id, r[0], r[1], r[2], Status(r[3]), r[4], r[5], r[6], r[7], r[8], r[9]
        )

    def fulfill(
        self, request_id: int, proof: Proof, account: LocalAccount | None = None
    ) -> dict[str, Any]:
        """Commit to ``proof``, then (its receipt is in: a later block) reveal it as the answer
        to a zk request; returns the fulfilment's receipt."""
        self.commit(request_id, proof.proof, account)
        fn = self.oracle.functions.fulfill(request_id, proof.input, proof.output, proof.proof)
        sender = self._sender(account)
        return dict(sender.transact(fn, gas=self.reveal_gas(fn, sender)))

    def propose(
        self,
        request_ids: Sequence[int],
        outputs: Sequence[Sequence[int]],
        account: LocalAccount | None = None,
    ) -> dict[str, Any]:
        fn = self.oracle.functions.propose(list(request_ids), [list(o) for o in outputs])
        return dict(self._sender(account).transact(fn))

    def finalize(
        self,
        request_ids: Sequence[int],
        outputs: Sequence[Sequence[int]],
        account: LocalAccount | None = None,
    ) -> dict[str, Any]:
        fn = self.oracle.functions.finalize(list(request_ids), [list(o) for o in outputs])
        return dict(self._sender(account).transact(fn))

    def commit(
        self, request_id: int, proof: bytes, account: LocalAccount | None = None
    ) -> dict[str, Any]:
        """Commit to ``proof`` for ``request_id`` before revealing it (``challenge`` or zk
        ``fulfill``): whoever copies the revealed proof has no commitment of its own."""
        sender = account or self.chain.default_account
        fn = self.oracle.functions.commit(request_id, commitment(request_id, sender.address, proof))
        return dict(self._sender(account).transact(fn))

    def challenge(
        self, request_id: int, proof: Proof, account: LocalAccount | None = None
    ) -> dict[str, Any]:
        """Commit to ``proof``, then (in a later block: the commitment's receipt is in) reveal
        it as a challenge of the proposal of ``request_id``."""
        self.commit(request_id, proof.proof, account)
        fn = self.oracle.functions.challenge(request_id, proof.input, proof.output, proof.proof)
        sender = self._sender(account)
        return dict(sender.transact(fn, gas=self.reveal_gas(fn, sender)))

    def dispute(self, request_id: int, account: LocalAccount | None = None) -> dict[str, Any]:
        """Dispute a proposal of a committee model (locks a bond equal to the proposer's)."""
        return dict(self._sender(account).transact(self.oracle.functions.dispute(request_id)))

    def vote(
        self, request_id: int, output: Sequence[int], account: LocalAccount | None = None
    ) -> dict[str, Any]:
        """A committee member's re-executed output for a disputed request."""
        fn = self.oracle.functions.vote(request_id, list(output))
        return dict(self._sender(account).transact(fn))

    def abandon_dispute(
        self, request_id: int, account: LocalAccount | None = None
    ) -> dict[str, Any]:
        """Close a committee dispute that reached no quorum in time: bonds back, fee refunded."""
        fn = self.oracle.functions.abandonDispute(request_id)
        return dict(self._sender(account).transact(fn))

    def voting_ends(self, request_id: int) -> int:
        """Last block at which the committee may vote on a disputed request."""
        return int(self.oracle.functions.disputes(request_id).call()[1])

    def is_committee_member(self, model_id: bytes, account: str) -> bool:
        fn = self.oracle.functions.isCommitteeMember(model_id, to_checksum_address(account))
        return bool(fn.call())

    def deposit(self, amount: int, account: LocalAccount | None = None) -> dict[str, Any]:
        return dict(self._sender(account).transact(self.oracle.functions.deposit(), value=amount))

    def withdraw(self, amount: int, account: LocalAccount | None = None) -> dict[str, Any]:
        fn = self.oracle.functions.withdraw(amount)
        return dict(self._sender(account).transact(fn))

    def refund(self, request_id: int, account: LocalAccount | None = None) -> dict[str, Any]:
        """Credit an unanswered request's fee back to its requester, after its deadline."""
        fn = self.oracle.functions.refund(request_id)
        return dict(self._sender(account).transact(fn))

    def balance(self, account: str) -> int:
        return int(self.oracle.functions.balanceOf(to_checksum_address(account)).call())


# -- packages kept in the workspace ----------------------------------------------------------

_KEY = "zk.package."


def save_package(workspace: Stores, pkg: Package) -> str:
    """Store the package's manifest in the blob store and name it in the workspace state."""
    digest = workspace.blobs.put(json.dumps(pkg.manifest(), sort_keys=True).encode())
    workspace.state.set_value(_KEY + pkg.name, digest)
    workspace.state.set_value(_KEY + "0x" + pkg.model_id.hex(), digest)
    return digest


def load_package(workspace: Stores, name_or_id: str) -> Package:
    digest = workspace.state.get_value(_KEY + name_or_id)
    if digest is None:
        raise InputError(
            f"no packaged model named {name_or_id!r} in this workspace",
            hint="package it with `proofmind model package MODEL.onnx --calibration FILE`",
        )
    manifest = json.loads(workspace.blobs.get(digest))
    pkg = Package.from_manifest(manifest, workspace.blobs.path_of)
    missing = [role for role, path in pkg.paths.items() if not path.is_file()]
    if missing:
        raise InputError(
            f"package {pkg.name} is missing its {', '.join(missing)} file(s) in the blob store",
            hint="package the model again",
        )
    return pkg
