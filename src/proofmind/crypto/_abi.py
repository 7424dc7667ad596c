"""``abi.encode`` of table rows, as OpenZeppelin's StandardMerkleTree hashes them into leaves.

Rows whose types are all static one-word types (address, bool, (u)intN, bytesN) are encoded a
column at a time: a whole column is checked with a few C-level passes (types, lengths, range)
and converted in one list comprehension, so a million rows cost little more than their two
keccak256 calls each. Any other type goes through eth-abi row by row. Values are accepted in the
forms an OZ ``standard-v1`` JSON dump uses: numbers as decimal or 0x-hex strings, bytes as
0x-hex, booleans also as "true"/"false".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi.abi import default_codec
from eth_abi.abi import encode as eth_abi_encode
from eth_abi.exceptions import EncodingError, ParseError
from eth_abi.grammar import ABIType, BasicType, TupleType, parse

from proofmind.crypto.keccak import keccak_256
from proofmind.errors import InputError

# Rows are encoded and hashed in chunks: large enough to amortise the column passes, small
# enough that the temporary per-column lists stay in cache-friendly sizes.
_CHUNK = 1 << 15
_ZERO = b"\x00" * 32
_FALSE = _ZERO
_TRUE = b"\x00" * 31 + b"\x01"
_HINT = (
    "check each value against its type: addresses as 0x + 40 hex, integers in range "
    "(ints or decimal strings), bytesN as 0x-hex of at most N bytes, booleans as true/false"
)


@dataclass(frozen=True)
class _WordType:
    """A static ABI type that encodes to exactly one 32-byte word."""

    one: Callable[[Any], bytes]  # one value, strictly checked; ValueError says why
    column: Callable[[Sequence[Any]], list[bytes] | None]  # None: some value needs `one`


# -- address --------------------------------------------------------------------------------


def _address_one(value: Any) -> bytes:
    if isinstance(value, bytes) and len(value) == 20:
        return _ZERO[:12] + value
    if not isinstance(value, str) or len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise ValueError(f"{value!r} is not an address (0x followed by 40 hex digits)")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError(f"{value!r} is not an address: it has non-hex digits") from None
    if len(raw) != 20:
        raise ValueError(f"{value!r} is not an address: it has non-hex digits")
    return _ZERO[:12] + raw


def _address_column(col: Sequence[Any]) -> list[bytes] | None:
    if set(map(type, col)) != {str} or set(map(len, col)) != {42}:
        return None
    joined = "".join(col)
    if joined[0::42].count("0") != len(col) or joined[1::42].count("x") != len(col):
        return None
    pad, fromhex = _ZERO[:12], bytes.fromhex
    try:
        words = [pad + fromhex(a[2:]) for a in col]
    except ValueError:
        return None
    # fromhex skips whitespace, so a value with spaces in it decodes to fewer bytes
    return words if set(map(len, words)) == {32} else None


_ADDRESS = _WordType(_address_one, _address_column)


# -- bool -----------------------------------------------------------------------------------


def _bool_one(value: Any) -> bytes:
    if value is True or value == "true":
        return _TRUE
    if value is False or value == "false":
        return _FALSE
    raise ValueError(f"{value!r} is not a bool (true/false)")


def _bool_column(col: Sequence[Any]) -> list[bytes] | None:
    if set(map(type, col)) != {bool}:
        return None
    return [_TRUE if v else _FALSE for v in col]


_BOOL = _WordType(_bool_one, _bool_column)


# -- (u)intN --------------------------------------------------------------------------------


def parse_int(value: Any) -> int:
    """An int from an int or a decimal / 0x-hex string (the forms OZ dumps use)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a bool, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        body = value[1:] if value[:1] == "-" else value
        sign = -1 if body is not value else 1
        digits = body[2:] if body[:2] in ("0x", "0X") else body
        base = 16 if digits is not body else 10
        # int() alone would also take spaces, underscores and non-ASCII digits
        if digits and digits.isascii() and digits.isalnum():
            try:
                return sign * int(digits, base)
            except ValueError:
                pass
        raise ValueError(f"{value!r} is not an integer (decimal or 0x-hex)")
    raise ValueError(f"{value!r} is not an integer")


def _int_type(bits: int, signed: bool) -> _WordType:
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    name = f"{'int' if signed else 'uint'}{bits}"

    def one(value: Any) -> bytes:
        number = parse_int(value)
        if not low <= number < high:
            raise ValueError(f"{value!r} does not fit {name} (range {low}..{high - 1})")
        return number.to_bytes(32, "big", signed=signed)

    def column(col: Sequence[Any]) -> list[bytes] | None:
        if set(map(type, col)) != {int} or min(col) < low or max(col) >= high:
            return None
        if signed:
            return [n.to_bytes(32, "big", signed=True) for n in col]
        return [n.to_bytes(32, "big") for n in col]

    return _WordType(one, column)


# -- bytesN ---------------------------------------------------------------------------------


def _fixed_bytes_type(size: int) -> _WordType:
    pad = _ZERO[size:]

    def one(value: Any) -> bytes:
        data = value
        if isinstance(value, str):
            if value[:2] not in ("0x", "0X"):
                raise ValueError(f"{value!r} is not 0x-hex")
            try:
                data = bytes.fromhex(value[2:])
            except ValueError:
                raise ValueError(f"{value!r} is not 0x-hex") from None
            if len(value) != 2 + 2 * len(data):
                raise ValueError(f"{value!r} is not 0x-hex")
        if not isinstance(data, bytes) or len(data) > size:
            raise ValueError(f"{value!r} does not fit bytes{size}")
        return data + _ZERO[len(data) :]

    def column(col: Sequence[Any]) -> list[bytes] | None:
        kinds = set(map(type, col))
        if kinds == {bytes}:
            if set(map(len, col)) != {size}:
                return None
            return list(col) if size == 32 else [v + pad for v in col]
        if kinds != {str} or set(map(len, col)) != {2 + 2 * size}:
            return None
        stride = 2 + 2 * size
        joined = "".join(col)
        if joined[0::stride].count("0") != len(col) or joined[1::stride].count("x") != len(col):
            return None
        fromhex = bytes.fromhex
        try:
            words = [fromhex(v[2:]) + pad for v in col]
        except ValueError:
            return None
        return words if set(map(len, words)) == {32} else None

    return _WordType(one, column)


def _word_type(abi_type: ABIType) -> _WordType | None:
    if not isinstance(abi_type, BasicType) or abi_type.is_array:
        return None
    base, sub = abi_type.base, abi_type.sub
    if base == "address":
        return _ADDRESS
    if base == "bool":
        return _BOOL
    if base in ("uint", "int") and (sub is None or isinstance(sub, int)):
        return _int_type(256 if sub is None else sub, signed=base == "int")  # "uint" = uint256
    if base == "bytes" and isinstance(sub, int):
        return _fixed_bytes_type(sub)
    return None


# -- the slow path: eth-abi -----------------------------------------------------------------


def _normalise(abi_type: ABIType, value: Any) -> Any:
    """Turn the JSON forms (numbers and bytes as strings) into what eth-abi takes."""
    if abi_type.is_array:
        if isinstance(value, list | tuple):
            return [_normalise(abi_type.item_type, v) for v in value]
        return value
    if isinstance(abi_type, TupleType):
        if isinstance(value, list | tuple) and len(value) == len(abi_type.components):
            return tuple(_normalise(t, v) for t, v in zip(abi_type.components, value, strict=True))
        return value
    if isinstance(abi_type, BasicType) and isinstance(value, str):
        if abi_type.base in ("uint", "int"):
            return parse_int(value)
        if abi_type.base == "bytes" and value[:2] in ("0x", "0X"):
            return bytes.fromhex(value[2:])
        if abi_type.base == "bool" and value in ("true", "false"):
            return value == "true"
    return value


# -- rows -----------------------------------------------------------------------------------


def _parse_type(kind: str, types: Sequence[str]) -> ABIType:
    try:
        if isinstance(kind, str) and default_codec.is_encodable_type(kind):
            parsed: ABIType = parse(kind)  # a functools.cache wrapper, so untyped
            return parsed
    except ParseError:
        pass
    raise InputError(
        f"{kind!r} in the leaf encoding {list(types)} is not an ABI type",
        hint='use Solidity type names, e.g. ["address", "uint256"]',
    )


class RowEncoder:
    """abi.encode for one fixed list of types, and the OZ leaf hash of a row."""

    def __init__(self, types: Sequence[str]) -> None:
        if isinstance(types, str) or not types:
            raise InputError(
                f"a leaf encoding is a non-empty list of ABI types, got {types!r}",
                hint='e.g. ["address", "uint256"]',
            )
        self.types = tuple(types)
        self._abi_types = [_parse_type(t, types) for t in self.types]
        words = [_word_type(t) for t in self._abi_types]
        self._words: list[_WordType] | None = (
            None if any(w is None for w in words) else [w for w in words if w is not None]
        )

    def encode(self, row: Sequence[Any], index: int | None = None) -> bytes:
        """``abi.encode(row...)``; InputError naming the row (by ``index``) if it does not fit."""
        self._check_arity(row, index)
        try:
            if self._words is not None:
                return b"".join([w.one(v) for w, v in zip(self._words, row, strict=True)])
            values = [_normalise(t, v) for t, v in zip(self._abi_types, row, strict=True)]
            return eth_abi_encode(self.types, values)
        except (ValueError, TypeError, OverflowError, EncodingError) as exc:
            raise InputError(
                f"{_row_name(index)} cannot be ABI-encoded as {list(self.types)}: {exc}",
                hint=_HINT,
            ) from None

    def leaf(self, row: Sequence[Any], index: int | None = None) -> bytes:
        keccak = keccak_256
        return keccak(keccak(self.encode(row, index)).digest()).digest()

    def leaves(self, rows: Sequence[Sequence[Any]]) -> list[bytes]:
        """The leaf hash of every row, in order: the hot loop of building a large tree."""
        words = self._words
        if words is None:
            return [self.leaf(row, n) for n, row in enumerate(rows)]
        out: list[bytes] = []
        for start in range(0, len(rows), _CHUNK):
            out += self._static_leaves(words, rows[start : start + _CHUNK], start)
        return out

    def _static_leaves(
        self, word_types: list[_WordType], rows: Sequence[Sequence[Any]], offset: int
    ) -> list[bytes]:
        width = len(word_types)
        # C-level passes first; the per-row check only runs to find and name a bad row
        plain = set(map(type, rows)) <= {list, tuple}
        if not (plain and set(map(len, rows)) == {width}):
            for n, row in enumerate(rows):
                self._check_arity(row, offset + n)
        columns: list[list[bytes]] = []
        for j, word in enumerate(word_types):
            column = [row[j] for row in rows]  # zip(*rows) is ~20x slower for long chunks
            words = word.column(column)
            if words is None:
                # something in this column is unusual: redo it value by value, which either
                # accepts the other forms (strings, bytes) or names the bad row
                words = [self._one(word, v, offset + n) for n, v in enumerate(column)]
            columns.append(words)
        keccak = keccak_256
        if width == 1:
            return [keccak(keccak(a).digest()).digest() for a in columns[0]]
        if width == 2:
            return [keccak(keccak(a + b).digest()).digest() for a, b in zip(*columns, strict=True)]
        return [keccak(keccak(b"".join(ws)).digest()).digest() for ws in zip(*columns, strict=True)]

    def _one(self, word: _WordType, value: Any, index: int) -> bytes:
        try:
            return word.one(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InputError(
                f"{_row_name(index)} cannot be ABI-encoded as {list(self.types)}: {exc}",
                hint=_HINT,
            ) from None

    def _check_arity(self, row: Sequence[Any], index: int | None) -> None:
        if isinstance(row, str | bytes) or not isinstance(row, Sequence):
            raise InputError(
                f"{_row_name(index)} is {row!r:.80}, not a list of values",
                hint=f"give each row as a list with one value per type of {list(self.types)}",
            )
        if len(row) != len(self.types):
            raise InputError(
                f"{_row_name(index)} has {len(row)} value(s) but the leaf encoding "
                f"{list(self.types)} has {len(self.types)}",
                hint="give one value per type",
            )


@lru_cache(maxsize=128)
def row_encoder(types: tuple[str, ...]) -> RowEncoder:
    """A cached encoder, so hashing rows one at a time does not re-parse the types."""
    return RowEncoder(types)


def _row_name(index: int | None) -> str:
    return "the row" if index is None else f"row {index}"
