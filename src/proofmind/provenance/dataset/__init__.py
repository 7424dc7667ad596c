"""Dataset commitments: CSV / Parquet files or a folder of them → one Merkle root over rows.

Encoding ``proofmind-rows-v1`` (docs/provenance.md has the full rules):

* A dataset is one file, or every ``.csv``, ``.csv.gz`` and ``.parquet`` file under a folder
  (hidden ones skipped), in order of their relative POSIX paths. All must have the same schema.
* A row's canonical bytes are its cells joined by ``0x1f``, UTF-8. A CSV cell is its text as
  written (after unquoting), so nothing is lost to type inference (wei amounts stay exact);
  a Parquet cell is Arrow's string form of the value. ``\\`` becomes ``\\\\``, ``0x1f`` becomes
  ``\\u`` and a null becomes ``\\N``.
* ``rowHash = keccak256(row bytes)``; leaf ``i`` = ``keccak256(uint64be(i) ‖ rowHash)``; the
  tree is OpenZeppelin's (sorted pairs, leaves in row order, ``sortLeaves: false``), so
  ``MerkleProof.verify(proof, root, leaf)`` checks a row on-chain.

The manifest (schema, row count, each file's SHA-256 and row range) is canonical JSON; its
hash goes on-chain with the root, so a file changed in a way rows do not show is caught too.

The parts: ``_encoding`` (row bytes, leaves and the manifest format), ``_reading`` (files,
schemas, batches, leaves), ``_commit`` (the tree and the published folder) and ``_check``
(re-deriving a dataset and pinpointing changed rows).
"""

from proofmind.provenance.dataset._check import (
    MAX_LISTED_ROWS,
    DatasetCheck,
    check_dataset,
    csv_lines,
)
from proofmind.provenance.dataset._commit import (
    Commitment,
    RowProof,
    commit_dataset,
    load_commitment,
    load_manifest,
    publish_commitment,
)
from proofmind.provenance.dataset._encoding import (
    CHUNKED_FORMAT,
    ENCODING,
    MANIFEST_FORMAT,
    SUFFIXES,
    DataFile,
    Manifest,
    canonical_json,
    row_bytes,
    row_leaf,
)
from proofmind.provenance.dataset._location import Location, is_uri, locate, without_secrets
from proofmind.provenance.dataset._reading import dataset_files

__all__ = [
    "CHUNKED_FORMAT",
    "ENCODING",
    "MANIFEST_FORMAT",
    "MAX_LISTED_ROWS",
    "SUFFIXES",
    "Commitment",
    "DataFile",
    "DatasetCheck",
    "Location",
    "Manifest",
    "RowProof",
    "canonical_json",
    "check_dataset",
    "commit_dataset",
    "csv_lines",
    "dataset_files",
    "is_uri",
    "load_commitment",
    "load_manifest",
    "locate",
    "publish_commitment",
    "row_bytes",
    "row_leaf",
    "without_secrets",
]
