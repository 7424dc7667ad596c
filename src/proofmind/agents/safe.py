"""A Safe (1.4.1) on the chain: create one, and execute owner transactions signed by its owners.

proofmind deploys the Safe singleton and proxy factory from the shipped artifacts once per chain
(recorded in the workspace's deployment registry), then a Safe proxy per treasury. Owner
transactions are signed with the owners' keys as Safe{Wallet} would (EIP-712 Safe tx hash,
signatures sorted by owner address) and sent by the first owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach, deploy, load_artifact
from proofmind.errors import ContractNotFound, InputError, TransactionError

ZERO = "0x0000000000000000000000000000000000000000"
CALL = 0


def _infrastructure(chain: Chain, registry: DeploymentRegistry) -> tuple[Contract, Contract]:
    """The Safe singleton and proxy factory on this chain, deployed the first time."""
    found = []
    for name in ("Safe", "SafeProxyFactory"):
        try:
            found.append(attach(chain, name, registry))
        except ContractNotFound:
            found.append(deploy(chain, name, registry=registry)[0])
    return found[0], found[1]


def create_safe(
    chain: Chain,
    registry: DeploymentRegistry,
    owners: Sequence[LocalAccount],
    threshold: int,
    *,
    salt: int,
) -> Contract:
    """Deploy a Safe proxy with ``owners`` and ``threshold`` (from the default account)."""
    addresses = [to_checksum_address(o.address) for o in owners]
    if len(set(addresses)) != len(addresses):
        raise InputError("a Safe's owners must be distinct accounts", hint="name each owner once")
    if not 1 <= threshold <= len(addresses):
        raise InputError(
            f"threshold {threshold} is impossible with {len(addresses)} owner(s)",
            hint="pick a threshold from 1 to the number of owners",
        )
    singleton, factory = _infrastructure(chain, registry)
    abi = load_artifact("Safe").abi
    setup = chain.w3.eth.contract(abi=abi).encode_abi(
        "setup", [addresses, threshold, ZERO, b"", ZERO, ZERO, 0, ZERO]
    )
    sender = chain.sender()
    receipt = sender.transact(
        factory.functions.createProxyWithNonce(singleton.address, setup, salt)
    )
    created = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)
    if not created:  # pragma: no cover - the factory always emits it
        raise TransactionError("the Safe proxy factory did not report the new Safe")
    return safe_at(chain, str(created[0]["args"]["proxy"]))


def safe_at(chain: Chain, address: str) -> Contract:
    code = chain.w3.eth.get_code(to_checksum_address(address))
    if not code:
        raise ContractNotFound(
            f"no Safe at {address} on chain {chain.chain_id} (no code there)",
            hint="check the address, or create one with `proofmind agent safe create`",
        )
    return chain.w3.eth.contract(
        address=to_checksum_address(address), abi=load_artifact("Safe").abi
    )


def _simulate_as_safe(
    chain: Chain, safe: str, to: str, data: bytes, value: int, label: str
) -> None:
    """Run the inner call as the Safe first: a refusal is reported with the target's reason
    (the Safe itself would only say GS013)."""
    call: dict[str, Any] = {"from": safe, "to": to_checksum_address(to), "data": data}
    if value:
        call["value"] = value
    try:
        chain.w3.eth.call(call)  # type: ignore[arg-type]
    except ContractLogicError as exc:
        raise chain.sender().revert_error(exc.data, label, exc.message) from None


def owners_exec(
    chain: Chain,
    safe: Contract,
    signers: Sequence[LocalAccount],
    to: str,
    data: bytes | str,
    *,
    value: int = 0,
    label: str = "Safe transaction",
) -> Any:
    """Execute one call as the Safe, signed by ``signers`` (at least the threshold of owners)."""
    owners = {to_checksum_address(o) for o in safe.functions.getOwners().call()}
    threshold = int(safe.functions.getThreshold().call())
    chosen = [s for s in signers if to_checksum_address(s.address) in owners]
    if len(chosen) < threshold:
        raise InputError(
            f"{label} needs {threshold} owner signature(s) of Safe {safe.address}; "
            f"{len(chosen)} of the given accounts are owners",
            hint="sign with the Safe's owner accounts",
        )
    payload = bytes.fromhex(data[2:]) if isinstance(data, str) else data
    _simulate_as_safe(chain, safe.address, to, payload, value, label)
    nonce = int(safe.functions.nonce().call())
    args = (to_checksum_address(to), value, payload, CALL, 0, 0, 0, ZERO, ZERO)
    digest = safe.functions.getTransactionHash(*args, nonce).call()
    signatures = b""
    for signer in sorted(chosen[:threshold], key=lambda s: int(s.address, 16)):
        signed = signer.unsafe_sign_hash(digest)
        signatures += (
            signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
        )
    sender = chain.sender(chosen[0])
    receipt = sender.transact(safe.functions.execTransaction(*args, signatures))
    if safe.events.ExecutionFailure().process_receipt(receipt, errors=DISCARD):
        raise TransactionError(
            f"{label} through Safe {safe.address} failed inside the Safe",
            hint="simulate the call first; the target refused it",
        )
    return receipt
