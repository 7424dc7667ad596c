"""Wording shared by every layer's messages."""

from __future__ import annotations


def count_of(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` with its noun, singular for one: ``1 row``, ``1,024 rows``."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"
