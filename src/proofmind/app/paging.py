"""Keyset pagination shared by every list: a page of items and an opaque cursor to the next.

The cursor only carries the last key seen, so asking for the next page costs one indexed
lookup however deep the list goes (an OFFSET would scan everything before it).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from proofmind.errors import InputError

T = TypeVar("T")

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: Sequence[T] = field(default_factory=tuple)
    next_cursor: str | None = None


def encode_cursor(scope: str, last_key: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{last_key}".encode()).decode().rstrip("=")


def decode_cursor(scope: str, cursor: str | None) -> int | None:
    """The last key a cursor of ``scope`` names (None for the first page)."""
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        name, _, key = text.partition(":")
        if name != scope or not key.isdigit():
            raise ValueError(text)
        return int(key)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InputError(
            f"cursor {cursor[:40]!r} is not a cursor of this list",
            hint="pass the next_cursor of the previous page unchanged, or none for the first page",
        ) from exc


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def encode_text_cursor(scope: str, last_key: str) -> str:
    """A cursor after a text key (a name): lists ordered by name page the same way."""
    return base64.urlsafe_b64encode(f"{scope}:{last_key}".encode()).decode().rstrip("=")


def decode_text_cursor(scope: str, cursor: str | None) -> str | None:
    """The last text key a cursor of ``scope`` names (None for the first page)."""
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        name, sep, key = text.partition(":")
        if name != scope or not sep:
            raise ValueError(text)
        return key
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InputError(
            f"cursor {cursor[:40]!r} is not a cursor of this list",
            hint="pass the next_cursor of the previous page unchanged, or none for the first page",
        ) from exc


def page_of(items: Sequence[T], limit: int, cursor: Callable[[T], str]) -> Page[T]:
    """The page of the first ``limit`` of ``items`` (read as ``limit + 1``: one more tells
    whether a next page exists), its cursor made from the last item shown."""
    shown = items[:limit]
    more = len(items) > limit and bool(shown)
    return Page(shown, cursor(shown[-1]) if more else None)
