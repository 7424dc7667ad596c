"""Ingest a chain from any JSON-RPC endpoint into the canonical Parquet tables.

Blocks advance through a :class:`~proofmind.chain.events.ReorgSafeCursor` (persisted in
``OUT/_ingest.sqlite``), so ingestion resumes where it stopped and, in follow mode, undoes the
blocks a reorganisation replaced. Each committed range is one Parquet file per table
(``OUT/<table>/block_range=N/part-START-END.parquet``); a range is written first and committed
second, so a crash in between replays it, overwriting its own files: no duplicates, no gaps.
Committed parts are merged as they accumulate (16 of one size into one, crash-safe through a
journal), so a follower's one-block commits do not leave a file per block.

Fetching is asynchronous batched JSON-RPC (``eth_getBlockByNumber`` with full transactions and
``eth_getBlockReceipts``) through the chain layer's :class:`~proofmind.chain.batch.BatchedRpc`:
several batches in flight, the batch size halving when the node refuses or times out and
growing back on success, and HTTP 429 / rate-limit errors answered with exponential backoff
(the chain layer's retry policy; no error message shows the URL's secrets).

:func:`ingest_async` is the asyncio service (requests on the caller's loop, the cursor and the
writes on one worker thread; a shutdown event stops it at a range boundary); :func:`ingest`
runs it to its end for a synchronous caller. The `IngestReport` it fills as it goes gives a
hosted ingestion's Prometheus metrics (:func:`ingest_families`).

The parts: ``_transport`` (fetching), ``_mapper`` (blocks and receipts → rows, pure),
``_tables`` (the Parquet files), ``_driver`` (range checks, the cursor loop), ``_metrics``
(Prometheus metrics of a hosted ingestion).
"""

from proofmind.intel.ingest._driver import (
    IngestReport,
    check_range,
    ingest,
    ingest_async,
    saved_next_block,
)
from proofmind.intel.ingest._mapper import TABLES, TRANSFER_TOPIC, block_rows
from proofmind.intel.ingest._metrics import ingest_families
from proofmind.intel.ingest._tables import SCHEMAS, undo_from, write_range

__all__ = [
    "SCHEMAS",
    "TABLES",
    "TRANSFER_TOPIC",
    "IngestReport",
    "block_rows",
    "check_range",
    "ingest",
    "ingest_async",
    "ingest_families",
    "saved_next_block",
    "undo_from",
    "write_range",
]
