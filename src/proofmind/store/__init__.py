"""Local storage: SQLite state (WAL) and the content-addressed blob store."""

from proofmind.store.blobs import BlobStore
from proofmind.store.state import StateDB

__all__ = ["BlobStore", "StateDB"]
