"""An agent policy file (TOML): what the guard allows on-chain, and the rules the agent follows.

The on-chain half (scopes, recipients, caps, guardians, expiry) is what `agent policy grant`
writes to the AgentGuard through the Safe; the off-chain half (rules) is what `agent run` decides
with. The guard enforces the first whatever the second says.

Amounts are strings of base units, with an optional exponent (``"250e18"``); durations are a
number of seconds or ``"30m"``, ``"12h"``, ``"7d"``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from eth_abi.abi import encode
from eth_abi.exceptions import EncodingError
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import is_address, to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from proofmind.errors import InputError

NATIVE = "native"
NO_ARG = 255
MAX_UINT128 = 2**128 - 1
SEVERITIES = ("info", "low", "medium", "high", "critical")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
MAX_GRANT_SECONDS = 365 * 86_400  # AgentGuard.MAX_GRANT_DURATION
# no ABI integer has more than 78 digits (2**256 - 1 ≈ 1.2e77); a larger exponent ("1e999999")
# is refused before it is expanded, which takes seconds to hours (an MCP client sends any text)
MAX_DIGITS = 78


def parse_amount(value: Any) -> int:
    """``"250e18"`` / ``"1000"`` / ``1000`` -> an integer number of base units."""
    return _whole(value, signed=False)


def _whole(value: Any, *, signed: bool) -> int:
    """``value`` as an integer (``signed``: it may be negative; else an amount, not below 0),
    written plainly or with an exponent; ValueError says what it is not."""
    try:
        number = Decimal(str(value).strip().replace("_", ""))
    except InvalidOperation:
        what = "an integer" if signed else "an amount (base units, e.g. '250e18')"
        raise ValueError(f"{value!r} is not {what}") from None
    if (
        not number.is_finite()
        or number != number.to_integral_value()
        or (number < 0 and not signed)
    ):
        what = "a whole number" if signed else "a whole, non-negative number of base units"
        raise ValueError(f"{value!r} is not {what}")
    if number and number.adjusted() >= MAX_DIGITS:
        raise ValueError(f"{value!r} does not fit in 256 bits (more than {MAX_DIGITS} digits)")
    return int(number)


def parse_duration(value: Any) -> int:
    match = _DURATION.match(str(value))
    if not match or len(match.group(1)) > 12:
        raise ValueError(f"{value!r} is not a duration (seconds, or e.g. '30m', '12h', '7d')")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _address(value: Any) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{value!r} is not an address (0x followed by 40 hex digits)")
    if value != value.lower() and value != to_checksum_address(value):
        raise ValueError(f"{value!r} has a wrong checksum (mixed case that does not match)")
    return to_checksum_address(value)


def _token(value: Any) -> str:
    return NATIVE if value == NATIVE else _address(value)


Address = Annotated[str, BeforeValidator(_address)]
Token = Annotated[str, BeforeValidator(_token)]
Amount = Annotated[int, BeforeValidator(parse_amount)]
Duration = Annotated[int, BeforeValidator(parse_duration)]


def selector_of(function: str) -> bytes:
    """4-byte selector of ``"transfer(address,uint256)"``; ``native`` -> 0x00000000."""
    if function == NATIVE:
        return b"\x00" * 4
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\([A-Za-z0-9_,\[\]]*\)", function):
        raise ValueError(
            f"{function!r} is not a function signature like 'transfer(address,uint256)'"
        )
    return bytes(function_signature_to_4byte_selector(function))


def parameter_types(function: str) -> list[str]:
    """``"transfer(address,uint256)"`` -> ``["address", "uint256"]`` (none for ``native``)."""
    if function == NATIVE:
        return []
    return [t for t in function[function.index("(") + 1 : -1].split(",") if t]


def encode_args(function: str, args: list[Any]) -> bytes:
    """The ABI encoding of ``args`` for ``function``'s parameters (the calldata after the
    selector); ValueError names the argument that does not fit its type."""
    types = parameter_types(function)
    if len(types) != len(args):
        raise ValueError(f"{function} takes {len(types)} argument(s), {len(args)} given")
    values = []
    for n, (kind, value) in enumerate(zip(types, args, strict=True)):
        try:
            values.append(_abi_value(kind, value))
        except ValueError as exc:
            raise ValueError(f"argument {n} of {function} ({kind}): {exc}") from None
    try:
        return bytes(encode(types, values))
    except (EncodingError, TypeError, OverflowError) as exc:
        raise ValueError(f"arguments {args!r} do not fit {function}: {exc}") from None


def _abi_value(kind: str, value: Any) -> Any:
    """One argument as eth_abi takes it; text is read strictly for its type ("false" is false)."""
    if kind == "address":
        return _address(value)
    integer = re.fullmatch(r"(u?)int(\d*)", kind)
    if integer:
        signed = not integer.group(1)
        number = _whole(value, signed=signed)
        bits = int(integer.group(2) or 256)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        if not low <= number < high:
            raise ValueError(f"{value!r} does not fit in {kind}")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0"):
            raise ValueError(f"{value!r} is not a bool (true or false)")
        return text in ("true", "1")
    if kind.startswith("bytes") and "[" not in kind:
        if not isinstance(value, str) or not re.fullmatch(r"(0x)?([0-9a-fA-F]{2})*", value):
            raise ValueError(f"{value!r} is not 0x-prefixed hex")
        data = bytes.fromhex(value.removeprefix("0x"))
        size = kind.removeprefix("bytes")
        if size and len(data) != int(size):
            raise ValueError(f"{value!r} is {len(data)} bytes, {kind} takes {size}")
        return data
    if kind == "string" and not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value  # arrays and tuples: eth_abi checks them


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScopeSpec(_Strict):
    target: Address
    function: str = Field(description="signature, e.g. 'transfer(address,uint256)', or 'native'")
    recipient_arg: int | None = Field(None, ge=0, le=254)
    amount_arg: int | None = Field(None, ge=0, le=254)
    cap_token: Token | None = None
    max_amount: Amount = 0

    @property
    def selector(self) -> bytes:
        return selector_of(self.function)

    def on_chain(self) -> tuple[bool, int, int, str, int]:
        """The AgentGuard.Scope tuple."""
        cap = self.cap_token
        if cap is None:
            cap = self.target if self.amount_arg is not None else NATIVE
        return (
            True,
            NO_ARG if self.recipient_arg is None else self.recipient_arg,
            NO_ARG if self.amount_arg is None else self.amount_arg,
            "0x" + "00" * 20 if cap == NATIVE else cap,
            self.max_amount,
        )


class CapSpec(_Strict):
    token: Token
    limit: Amount
    window: Duration
    timelock_above: Amount | None = None

    def on_chain(self) -> tuple[str, int, int, int]:
        token = "0x" + "00" * 20 if self.token == NATIVE else self.token
        above = MAX_UINT128 if self.timelock_above is None else self.timelock_above
        return token, self.limit, self.window, above


class ActionSpec(_Strict):
    target: Address
    function: str = NATIVE
    args: list[Any] = Field(default_factory=list)
    value: Amount = 0


class RuleSpec(_Strict):
    """When an alert matches every given field, propose ``action``."""

    detector: str | None = None
    kind: str | None = None
    subject: str | None = None
    min_severity: Literal["info", "low", "medium", "high", "critical"] = "info"
    action: ActionSpec
    explanation: str = ""


class ModelSpec(_Strict):
    """An ONNX model that gates the rules: a matching rule acts only when the model's output on
    the alert's features reaches ``act_above``."""

    path: Path = Field(description="the .onnx file, relative to the policy file")
    features: list[str] = Field(
        min_length=1, description="alert fields in model-input order: score, evidence.NAME"
    )
    act_above: float = 0.5


class LlmSpec(_Strict):
    """An LLM behind an OpenAI-compatible chat-completions endpoint that picks which of the
    policy's rules (if any) to apply to an alert. It can only choose among the rules' actions;
    the guard bounds whatever it picks. Never required, never a default."""

    endpoint: str = Field(pattern=r"^https?://", description="base URL, e.g. http://host/v1")
    model: str
    api_key_env: str | None = Field(None, description="environment variable with the API key")
    timeout: float = Field(20.0, gt=0, le=300)


class Policy(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    agent: int | str = Field(description="devnet account index, or keystore name")
    expires_in: Duration
    guardians: list[Address] = Field(default_factory=list)
    recipients: list[Address] = Field(default_factory=list)
    scope: list[ScopeSpec] = Field(default_factory=list)
    cap: list[CapSpec] = Field(default_factory=list)
    rule: list[RuleSpec] = Field(default_factory=list)
    model_record: str | None = Field(
        None, description="provenance record id of the model the rules come from, if any"
    )
    model: ModelSpec | None = None
    llm: LlmSpec | None = None
    source_hash: str = ""

    @property
    def policy_hash(self) -> str:
        return self.source_hash


def load_policy(path: Path) -> Policy:
    """Read and check a policy file; every problem names the file and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read policy {path}: {exc.strerror}", hint="give the path of a .toml policy"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"policy {path} is not valid TOML: {exc}", hint="fix the file") from None
    data["source_hash"] = "0x" + hashlib.sha256(raw).hexdigest()
    try:
        policy = Policy.model_validate(data)
        for function in [s.function for s in policy.scope] + [
            r.action.function for r in policy.rule
        ]:
            selector_of(function)
        for n, rule in enumerate(policy.rule):
            try:
                encode_args(rule.action.function, rule.action.args)
            except ValueError as exc:
                raise ValueError(f"rule.{n}.action.args: {exc}") from None
    except (ValidationError, ValueError) as exc:
        raise InputError(
            f"policy {path} is invalid: {_first_problem(exc)}", hint="see docs/agents.md"
        ) from None
    if policy.model is not None:
        resolved = (path.parent / policy.model.path).resolve()
        if not resolved.is_file():
            raise InputError(
                f"policy {path}: model.path {policy.model.path} does not exist (looked for "
                f"{resolved})",
                hint="give the .onnx file's path relative to the policy file",
            )
        policy = policy.model_copy(
            update={"model": policy.model.model_copy(update={"path": resolved})}
        )
    if not 0 < policy.expires_in <= MAX_GRANT_SECONDS:
        raise InputError(
            f"policy {path}: expires_in must be more than 0 and at most 365 days (the guard's "
            f"longest grant), got {policy.expires_in:,} seconds",
            hint="e.g. '7d'; renew a grant before it ends with `proofmind agent policy renew`",
        )
    return policy


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}"
    return str(exc)
