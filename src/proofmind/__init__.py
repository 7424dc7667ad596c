"""proofmind: trustworthy AI with Web3, and smarter, safer Web3 with AI."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
