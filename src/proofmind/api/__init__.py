"""The HTTP API (FastAPI): ``create_app(workspace)``; `proofmind serve` runs it."""

from __future__ import annotations

from proofmind.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
