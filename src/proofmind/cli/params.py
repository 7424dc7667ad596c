"""Typed command-line values, checked while the command line is parsed, before any work starts.

Every command that takes an address, an output file or an output folder uses these parsers, so
the same bad value gets the same one-line error everywhere. Kept free of heavy imports: this
module loads with the CLI, before any command runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from proofmind.addresses import parse_address as _parse_address
from proofmind.errors import InputError

T = TypeVar("T")

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="PROOFMIND_WORKSPACE",
        help="The .proofmind workspace (default: the nearest one above the current directory).",
        show_default=False,
    ),
]
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT96_MAX = 2**96 - 1
UINT256_MAX = 2**256 - 1


def check_listen(host: str, port: int, option: str) -> None:
    """Refuse, naming ``option``, an address this process cannot listen on now (a port
    another process holds, a host that is not this machine's), before any work starts: the
    servers would otherwise fail later, on their own thread."""
    import errno
    import socket

    if port == 0:  # any free port
        return
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(
            f"{option}: cannot listen on {host!r}: {exc.strerror}",
            hint="give an address of this machine: 127.0.0.1 (this machine only) or 0.0.0.0",
        ) from exc
    family, kind, protocol, _, address = found[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            probe.bind(address)
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            raise InputError(
                f"{option}: cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="another process listens there: stop it, or give another port"
                if taken
                else "give an address of this machine and a port you may use (1024 or above)",
            ) from exc


def parse_address(text: str, what: str = "address") -> str:
    """The checksummed address ``text`` names (see :func:`proofmind.addresses.parse_address`,
    which the application layer uses too: the same words from the CLI and the API)."""
    return _parse_address(text, what)


def _for_click(parse: Callable[[str], T]) -> Callable[[str], T]:
    """A parser whose InputError becomes Click's BadParameter, so the error names the option."""
    import typer

    def parser(text: str) -> T:
        try:
            return parse(text)
        except InputError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parser


def _address(text: str) -> str:
    return parse_address(str(text))


def check_writable(path: Path, *, folder: bool) -> Path:
    """Fail now, not after the work, when ``path`` cannot be written: the nearest existing
    folder above it must be a folder we can create files in, and ``path`` itself, if it exists,
    must be a folder (``folder``) or a file. Nothing is left behind by the check."""
    kind = "output folder" if folder else "output file"
    if path.exists():
        if folder and not path.is_dir():
            raise InputError(f"{kind} {path} is a file", hint="give a folder (or a new name)")
        if not folder and path.is_dir():
            raise InputError(f"{kind} {path} is a folder", hint="give a file name")
    parent = path if folder and path.is_dir() else path.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(
            f"cannot write {kind} {path}: {existing} is a file, not a folder",
            hint="choose a path whose folders are folders",
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".proofmind-write-check-", dir=existing)
    except OSError as exc:
        raise InputError(
            f"cannot write {kind} {path}: {existing} is not writable ({exc.strerror})",
            hint="choose a folder you can write to",
        ) from exc
    os.close(fd)
    os.unlink(probe)
    return path


def _output_dir(text: str) -> Path:
    return check_writable(Path(text), folder=True)


def _output_file(text: str) -> Path:
    return check_writable(Path(text), folder=False)


def _direction(text: str) -> str:
    from proofmind.app.records import parse_direction  # the API's check and words

    return parse_direction(text)


# Typer parsers: an address; a folder the command creates or writes into; a file it writes;
# a lineage direction (ancestors, descendants, both)
address = _for_click(_address)
output_dir = _for_click(_output_dir)
output_file = _for_click(_output_file)
direction = _for_click(_direction)


class Engine(StrEnum):
    """Where `fraud features|score` compute: in-process DuckDB, or a Spark cluster."""

    duckdb = "duckdb"
    spark = "spark"


# Where a command runs, one definition each (the same flag, type and help everywhere):
# `fraud features|score` on DuckDB or Spark, and the dataset commitments of `provenance
# dataset|check` in local processes, on Spark or on Ray.
EngineOption = Annotated[
    Engine,
    typer.Option(
        case_sensitive=False,
        help="duckdb: this machine. spark: a Spark cluster (`pip install 'proofmind\\[spark]'`, "
        "Java 17+).",
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--master",
        help="Spark master URL (local[*], spark://HOST:7077, yarn, k8s://…); "
        "default local[*]. Only with --engine spark.",
        show_default=False,
    ),
]
ClusterMasterOption = Annotated[
    str | None,
    typer.Option("--master", help="Spark master or Ray address (default: this machine)."),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Local processes / Ray CPUs (default: all cores)."),
]
