"""The `proofmind` command line. Thin: each command imports what it needs when it runs."""

from proofmind.cli.main import main

__all__ = ["main"]
