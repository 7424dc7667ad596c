"""Turn command-line strings into ABI-typed values, with errors that name the argument."""

from __future__ import annotations

import json
import re
from typing import Any

from proofmind.cli.params import parse_address
from proofmind.errors import InputError

_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def parse_args(fn_name: str, inputs: list[dict[str, Any]], raw: list[str]) -> list[Any]:
    if len(raw) != len(inputs):
        wanted = ", ".join(f"{i['type']} {i.get('name') or '_'}" for i in inputs) or "none"
        raise InputError(
            f"{fn_name} takes {len(inputs)} argument(s) ({wanted}), got {len(raw)}",
            hint="pass one value per parameter; arrays and tuples as JSON",
        )
    return [
        _parse(fn_name, param.get("name") or f"#{n}", param, text)
        for n, (param, text) in enumerate(zip(inputs, raw, strict=True))
    ]


def _parse(fn: str, name: str, param: dict[str, Any], text: Any) -> Any:
    kind = str(param["type"])
    try:
        array = _ARRAY.match(kind)
        if array or kind.startswith("tuple"):
            value = json.loads(text) if isinstance(text, str) else text
            if array:
                inner = {**param, "type": array.group(1)}
                return [_parse(fn, f"{name}[{i}]", inner, v) for i, v in enumerate(value)]
            parts = param.get("components", [])
            return tuple(
                _parse(fn, f"{name}.{c['name']}", c, v) for c, v in zip(parts, value, strict=True)
            )
        return _scalar(kind, text)
    except InputError as exc:
        raise InputError(
            f"argument {name} of {fn} must be {kind}: {exc.message}", hint=exc.hint
        ) from exc
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"argument {name} of {fn} must be {kind}, got {text!r}",
            hint=_HINTS.get(kind.rstrip("0123456789"), "check the value"),
        ) from exc


def _scalar(kind: str, text: Any) -> Any:
    if kind == "address":
        if not isinstance(text, str):
            raise ValueError("not an address")
        return parse_address(text)
    if kind.startswith(("uint", "int")):
        value = int(text, 0) if isinstance(text, str) else int(text)
        bits = int(kind.lstrip("uint") or 256)
        low, high = (0, 2**bits) if kind.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1))
        if not low <= value < high:
            raise ValueError("out of range")
        return value
    if kind == "bool":
        lowered = str(text).lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError("not a bool")
        return lowered in ("true", "1")
    if kind.startswith("bytes"):
        data = bytes.fromhex(str(text).removeprefix("0x"))
        size = kind.removeprefix("bytes")
        if size and len(data) != int(size):
            raise ValueError(f"needs {size} bytes")
        return data
    if kind == "string":
        return str(text)
    raise ValueError(f"unsupported type {kind}")


_HINTS = {
    "address": "pass a 0x-prefixed 40-hex-digit address",
    "uint": "pass a non-negative integer in range (decimal or 0x hex)",
    "int": "pass an integer in range (decimal or 0x hex)",
    "bool": "pass true or false",
    "bytes": "pass 0x-prefixed hex of the right length",
}


def show(value: Any) -> str:
    """A value as a user would type it back in (arrays and tuples as JSON)."""
    if isinstance(value, list | tuple):
        return json.dumps(_plain(value))
    return str(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | str):
        return value
    return str(value)
