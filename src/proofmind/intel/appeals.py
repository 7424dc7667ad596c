"""Appeals against a sybil report, and the flagged lists they change. Pure: no workspace, no chain.

An address owner signs an EIP-712 ``Appeal`` (the address, the flagged-list root of the report
that flagged it, a reason, a nonce and a deadline) with its own key; anyone can check who signed
it. A flagged list has two roots, both OpenZeppelin StandardMerkleTrees:

* the *flagged root* (leaves: ``address``), the one `sybil detect` prints and appeals name;
* the *exclusion root* (leaves: ``(address low, address high)``), the gaps between consecutive
  flagged addresses in sorted order with ``0x0`` and ``0xff…ff`` at the ends. An address that
  is not flagged falls strictly inside exactly one gap, a flagged one inside none, so a claimant
  proves it is *not* on the list with one ordinary Merkle proof (``SybilGatedAirdrop``).

An accepted appeal removes its address from the list; both roots are recomputed.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from proofmind.crypto.eip712 import recover_typed_data, sign_typed_data, typed_data_hash
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import CryptoError, InputError

__all__ = [
    "APPEAL_FORMAT",
    "APPEAL_TYPES",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "MAX_REASON",
    "Appeal",
    "FlaggedList",
    "appeal_domain",
    "parse_root",
    "sign_appeal",
]

APPEAL_FORMAT = "proofmind-sybil-appeal-v1"
DOMAIN_NAME = "proofmind sybil appeal"
DOMAIN_VERSION = "1"
MAX_REASON = 2_000  # characters
APPEAL_TYPES = {
    "Appeal": [
        {"name": "account", "type": "address"},
        {"name": "reportRoot", "type": "bytes32"},
        {"name": "reason", "type": "string"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
LOWEST = "0x" + "00" * 20
HIGHEST = "0x" + "ff" * 20
ZERO_ROOT = "0x" + "00" * 32
UINT256_MAX = 2**256 - 1


def appeal_domain(chain_id: int) -> dict[str, Any]:
    """Appeals are bound to a chain (the one the flagged list is enforced on), not a contract:
    the same report may gate several airdrops."""
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id}


def parse_root(value: object, what: str) -> str:
    text = str(value).lower()
    if not (text.startswith("0x") and len(text) == 66):
        raise InputError(f"{what} {value!r} is not a 32-byte root", hint="0x + 64 hex digits")
    try:
        bytes.fromhex(text[2:])
    except ValueError:
        raise InputError(f"{what} {value!r} is not hex", hint="0x + 64 hex digits") from None
    return text


def _uint(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise InputError(f"{what} must be an integer from 0 to 2^256-1, got {value!r}")
    return value


def _address(value: object, what: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise InputError(
            f"{what} {value!r} is not an address",
            hint="0x + 40 hex digits (EIP-55 checksummed or all lower-case)",
        )
    return to_checksum_address(value)


@dataclass(frozen=True)
class Appeal:
    """A signed appeal. ``id`` is its EIP-712 digest: two appeals with the same id are one."""

    account: str
    report_root: str
    reason: str
    nonce: int
    deadline: int
    chain_id: int
    signature: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "account", _address(self.account, "appeal account"))
        object.__setattr__(self, "report_root", parse_root(self.report_root, "appeal report root"))
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise InputError("an appeal needs a reason", hint="say why the address is not a sybil")
        if len(self.reason) > MAX_REASON:
            raise InputError(
                f"the appeal's reason is {len(self.reason):,} characters, more than {MAX_REASON:,}",
                hint="shorten it; link to a longer statement",
            )
        _uint(self.nonce, "appeal nonce")
        _uint(self.deadline, "appeal deadline")
        _uint(self.chain_id, "appeal chain id")

    def message(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "reportRoot": bytes.fromhex(self.report_root[2:]),
            "reason": self.reason,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    @property
    def id(self) -> str:
        digest = typed_data_hash(
            appeal_domain(self.chain_id), APPEAL_TYPES, "Appeal", self.message()
        )
        return "0x" + digest.hex()

    def signer(self) -> str:
        """The address that signed this appeal; CryptoError when the signature is malformed."""
        if not self.signature:
            raise CryptoError(
                f"appeal {self.id} is not signed", hint="sign it with `sybil appeal sign`"
            )
        return recover_typed_data(
            self.signature, appeal_domain(self.chain_id), APPEAL_TYPES, "Appeal", self.message()
        )

    def check_signature(self) -> None:
        """CryptoError unless the appealing address itself signed exactly this appeal."""
        signer = self.signer()
        if signer != self.account:
            raise CryptoError(
                f"appeal {self.id}: the signature is by {signer}, not by the appealing address "
                f"{self.account} (the appeal was altered after signing, or signed with another "
                "key)",
                hint="sign the appeal again with the appealing address's key",
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": APPEAL_FORMAT,
            "id": self.id,
            "account": self.account,
            "reportRoot": self.report_root,
            "reason": self.reason,
            "nonce": str(self.nonce),
            "deadline": self.deadline,
            "chainId": self.chain_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: object, source: str = "the appeal") -> Appeal:
        if not isinstance(data, Mapping) or data.get("format") != APPEAL_FORMAT:
            raise InputError(
                f"{source} is not a signed appeal (format {APPEAL_FORMAT!r})",
                hint="give the JSON file `proofmind sybil appeal sign` wrote",
            )
        try:
            nonce = int(str(data["nonce"]), 10)
            appeal = cls(
                account=data["account"],
                report_root=data["reportRoot"],
                reason=data["reason"],
                nonce=nonce,
                deadline=data["deadline"],
                chain_id=data["chainId"],
                signature=str(data["signature"]),
            )
        except KeyError as exc:
            raise InputError(f"{source} has no field {exc.args[0]!r}") from None
        except ValueError:
            raise InputError(f"{source}: nonce {data.get('nonce')!r} is not an integer") from None
        if "id" in data and str(data["id"]).lower() != appeal.id:
            raise CryptoError(
                f"{source}: its fields do not hash to its id {data['id']} (altered after signing?)",
                hint="sign the appeal again",
            )
        return appeal

    @classmethod
    def loads(cls, text: str, source: str = "the appeal") -> Appeal:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{source} is not JSON: {exc}") from None
        return cls.from_json(data, source)


def sign_appeal(
    key: Any,
    report_root: str,
    reason: str,
    *,
    nonce: int,
    deadline: int,
    chain_id: int,
) -> Appeal:
    """An appeal for the key's own address, signed with it (a LocalAccount or a private key)."""
    from eth_account import Account

    try:
        account = key if hasattr(key, "address") else Account.from_key(key)
    except (ValueError, TypeError):
        raise InputError("the key is not a valid private key", hint="0x + 64 hex digits") from None
    unsigned = Appeal(account.address, report_root, reason, nonce, deadline, chain_id)
    signature = sign_typed_data(
        account, appeal_domain(chain_id), APPEAL_TYPES, "Appeal", unsigned.message()
    )
    return Appeal(
        unsigned.account, unsigned.report_root, reason, nonce, deadline, chain_id,
        "0x" + signature.hex(),
    )  # fmt: skip


# ------------------------------------------------------------------ flagged lists


@dataclass(frozen=True)
class FlaggedList:
    """A sorted, de-duplicated list of flagged addresses (checksummed) and its two trees."""

    addresses: tuple[str, ...]

    @classmethod
    def of(cls, addresses: Iterable[str]) -> FlaggedList:
        unique = {_address(a, "flagged address").lower() for a in addresses}
        if LOWEST in unique or HIGHEST in unique:
            raise InputError("the zero address and 0xff…ff cannot be flagged (they end the gaps)")
        return cls(tuple(to_checksum_address(a) for a in sorted(unique)))

    def __contains__(self, account: object) -> bool:
        return isinstance(account, str) and account.lower() in self._lower

    def __len__(self) -> int:
        return len(self.addresses)

    @property
    def _lower(self) -> frozenset[str]:
        return frozenset(a.lower() for a in self.addresses)

    def flagged_tree(self) -> StandardMerkleTree | None:
        if not self.addresses:
            return None
        return StandardMerkleTree.of([[a] for a in self.addresses], ["address"])

    @property
    def root(self) -> str:
        """The flagged root, as `sybil detect` computes it (zero for an empty list)."""
        tree = self.flagged_tree()
        return ZERO_ROOT if tree is None else tree.root_hex

    def gaps(self) -> list[tuple[str, str]]:
        ends = [LOWEST, *(a.lower() for a in self.addresses), HIGHEST]
        pairs = itertools.pairwise(ends)
        return [(to_checksum_address(lo), to_checksum_address(hi)) for lo, hi in pairs]

    def exclusion_tree(self) -> StandardMerkleTree:
        return StandardMerkleTree.of([list(g) for g in self.gaps()], ["address", "address"])

    @property
    def exclusion_root(self) -> str:
        return self.exclusion_tree().root_hex

    def exclusion_proof(self, account: str) -> tuple[str, str, list[str]]:
        """(low, high, proof) showing ``account`` is not flagged; InputError if it is."""
        account = _address(account, "account")
        key = int(account, 16)
        if account in self or key in (0, int(HIGHEST, 16)):
            raise InputError(f"{account} is on the flagged list {self.root}: it has no gap")
        gaps = self.gaps()
        lows = [int(lo, 16) for lo, _ in gaps]
        index = bisect.bisect_right(lows, key) - 1
        tree = self.exclusion_tree()
        low, high = gaps[index]
        proof = tree.get_proof([low, high])
        return low, high, ["0x" + p.hex() for p in proof]

    def without(self, removed: Sequence[str]) -> FlaggedList:
        gone = {a.lower() for a in removed}
        return FlaggedList(tuple(a for a in self.addresses if a.lower() not in gone))
