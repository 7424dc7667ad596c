"""Where a dataset's files live: a local path, a URI of a file system PyArrow opens (file://,
hdfs://, s3://, gs://, abfs://, …), or a PyArrow ``FileSystem`` object with a path inside it.

A :class:`Location` is small and picklable: it travels with every task, and each worker opens
the file system itself (:meth:`Location.filesystem`, cached per process) and reads only the
files or byte ranges of its task. The dataset's bytes never pass through the driver.

A URI must be percent-encoded (``%20`` for a space); a literal space is accepted and encoded.
``s3a://``/``s3n://`` (Hadoop's names) are read as ``s3://``, ``gcs://`` as ``gs://``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from proofmind.errors import ConfigError, InputError
from proofmind.provenance.dataset._encoding import SUFFIXES

_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}
KNOWN = "file://, hdfs://, viewfs://, s3:// (s3a://), gs://, abfs:// or abfss://"
HDFS_HINT = (
    "set JAVA_HOME, ARROW_LIBHDFS_DIR (the folder holding libhdfs.so, in a Hadoop install's "
    "lib/native) and CLASSPATH=$(hadoop classpath --glob); or use --engine spark, which reads "
    "hdfs:// through Spark's own Hadoop client"
)


def is_uri(text: str | Path) -> bool:
    """True for ``scheme://…`` (a Windows drive letter ``C:\\`` is a path)."""
    return isinstance(text, str) and _URI.match(text) is not None


def scheme_of(uri: str) -> str:
    found = _URI.match(uri)
    return found.group(1).lower() if found else ""


def normalise_uri(uri: str) -> str:
    """``uri`` as PyArrow parses it: spaces encoded, Hadoop's scheme aliases mapped."""
    scheme = scheme_of(uri)
    uri = uri.replace(" ", "%20")
    if scheme in _ALIASES:
        uri = _ALIASES[scheme] + uri[len(scheme) :]
    return uri


_SECRET = re.compile(r"(?i)secret|token|password|passwd|credential|signature|key")


def without_secrets(uri: str) -> str:
    """``uri`` without credentials (``user:secret@``, ``?secret_key=…``, ``?session_token=…``):
    what messages show and the ledger keeps. The workers' environment supplies them."""
    if not is_uri(uri):
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = urlencode([(k, v) for k, v in query if not _SECRET.search(k)], safe=":/")
    if netloc == parts.netloc and len(kept) == len(parts.query):
        return uri  # nothing secret: exactly as given
    return urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment))


@functools.lru_cache(maxsize=16)
def _from_uri(uri: str) -> tuple[Any, str]:
    from pyarrow import ArrowException
    from pyarrow.fs import FileSystem

    scheme = scheme_of(uri)
    try:
        return FileSystem.from_uri(uri)  # type: ignore[no-any-return]
    except (ArrowException, OSError, ValueError) as exc:
        shown = without_secrets(uri)
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if "Unrecognized filesystem type" in text:
            raise InputError(
                f"{shown}: unknown file system {scheme}://",
                hint=f"give a local path or a {KNOWN} URI "
                "(--engine spark also reads any scheme its Hadoop has a connector for)",
            ) from exc
        if "Cannot parse URI" in text:
            raise InputError(
                f"{shown} is not a valid URI ({first})",
                hint="percent-encode special characters, e.g. a space as %20",
            ) from exc
        if scheme in ("hdfs", "viewfs") and ("libjvm" in text or "libhdfs" in text):
            raise ConfigError(
                f"{shown}: reading {scheme}:// needs libhdfs and a Java runtime, and this "
                "machine has not got them",
                hint=HDFS_HINT,
            ) from exc
        if "compiled without" in text or "not built with" in text.lower():
            raise ConfigError(
                f"{shown}: this PyArrow cannot read {scheme}:// ({first})",
                hint="pip install --upgrade pyarrow (the PyPI wheels read s3, gs and abfs)",
            ) from exc
        raise InputError(
            f"cannot open {shown}: {first}",
            hint="check the URI, the network and the credentials in your environment",
        ) from exc


@dataclass(frozen=True)
class Location:
    """The file system a dataset's files are read from, as every worker opens it.

    ``given`` is what the user wrote (the record keeps it) and ``root`` the dataset's path
    inside the file system; ``uri`` is re-resolved on each worker, ``fs`` is a PyArrow
    ``FileSystem`` object handed in directly (pickled to the workers). Both None: the local
    file system, files named by absolute paths."""

    given: str
    root: str
    uri: str | None = None
    fs: Any = None

    @property
    def local(self) -> bool:
        return self.uri is None and self.fs is None

    @property
    def shown(self) -> str:
        """``given`` as messages show it (no credentials)."""
        return without_secrets(self.given)

    def filesystem(self) -> Any:
        if self.fs is not None:
            return self.fs
        if self.uri is not None:
            return _from_uri(self.uri)[0]
        from pyarrow.fs import LocalFileSystem

        return LocalFileSystem()

    def display(self, inner: str) -> str:
        """How a file is named in messages: its path, or its place under the given URI."""
        if self.local or not inner.startswith(self.root):
            return inner
        return self.shown.rstrip("/") + inner[len(self.root.rstrip("/")) :]

    def open(self, inner: str) -> Any:
        """A random-access binary file (PyArrow ``NativeFile``) for ``inner``."""
        try:
            return self.filesystem().open_input_file(inner)
        except (OSError, ValueError) as exc:
            text = str(exc).strip()
            raise InputError(
                f"cannot read {self.display(inner)}: {text.splitlines()[0] if text else exc}",
                hint="check the file",
            ) from exc


def locate(source: str | Path, filesystem: Any = None) -> Location:
    """The :class:`Location` of ``source``: a URI, or a path (inside ``filesystem`` when given,
    e.g. a ``pyarrow.fs.SubTreeFileSystem``)."""
    if filesystem is not None:
        root = "" if str(source) in ("", ".", "./") else str(source)
        return Location(root, root, fs=filesystem)
    if is_uri(str(source)):
        given = str(source)
        uri = normalise_uri(given)
        return Location(given, _from_uri(uri)[1], uri=uri)  # fails here, in one line
    resolved = str(Path(source).resolve())
    return Location(resolved, resolved)


def list_files(location: Location) -> list[tuple[str, str]]:
    """(relative POSIX name, path inside the file system) of every data file at
    ``location``, in commit order: the rules of a local folder (hidden ones skipped)."""
    from pyarrow.fs import FileSelector, FileType

    fs, root = location.filesystem(), location.root
    try:
        info = fs.get_file_info(root)
        if info.type == FileType.File:
            name = PurePosixPath(root).name
            if not name.endswith(SUFFIXES):
                raise InputError(
                    f"{location.shown} is not a CSV or Parquet file",
                    hint="commit a .csv, .csv.gz or .parquet file, or a folder of them",
                )
            return [(name, root)]
        if info.type != FileType.Directory:
            raise InputError(f"{location.shown} does not exist", hint="check the path or URI")
        entries = fs.get_file_info(FileSelector(root, recursive=True))
    except OSError as exc:
        raise InputError(
            f"cannot list {location.shown}: {str(exc).splitlines()[0]}",
            hint="check the URI, the network and the credentials in your environment",
        ) from exc
    base = root.rstrip("/")
    found = []
    for entry in entries:
        if entry.type != FileType.File:
            continue
        rel = entry.path[len(base) :].lstrip("/") if base else entry.path
        parts = rel.split("/")
        if any(p.startswith(".") for p in parts) or not rel.endswith(SUFFIXES):
            continue
        found.append((rel, entry.path))
    if not found:
        raise InputError(
            f"{location.shown} holds no .csv, .csv.gz or .parquet file",
            hint="point at your data files",
        )
    return sorted(found)


def default_name(given: str) -> str:
    """The record name of a dataset at URI ``given``: its last path part, suffix dropped."""
    name = unquote(PurePosixPath(urlsplit(given.replace(" ", "%20")).path).name)
    for suffix in SUFFIXES:
        name = name.removesuffix(suffix)
    return name or "dataset"


@dataclass(frozen=True)
class RemoteFile:
    """A data file inside a :class:`Location`, opened by the worker that reads it."""

    location: Location
    inner: str

    def __str__(self) -> str:
        return self.location.display(self.inner)

    @property
    def name(self) -> str:
        return PurePosixPath(self.inner).name

    def open(self, mode: str = "rb") -> Any:
        return self.location.open(self.inner)

    def size(self) -> int:
        try:
            return int(self.location.filesystem().get_file_info(self.inner).size or 0)
        except OSError as exc:
            raise InputError(f"cannot read {self}: {str(exc).splitlines()[0]}") from exc


@dataclass(frozen=True)
class BytesFile:
    """A data file already read whole (as Spark's Hadoop reader hands it to a task)."""

    label: str
    data: bytes

    def __str__(self) -> str:
        return self.label

    @property
    def name(self) -> str:
        return PurePosixPath(self.label).name

    def open(self, mode: str = "rb") -> Any:
        import pyarrow as pa

        return pa.BufferReader(self.data)

    def size(self) -> int:
        return len(self.data)
