"""The application layer: typed use cases over a workspace that the HTTP API (and, where they
do the same thing, the CLI) call, so that no capability is implemented twice.

Each function receives the workspace (and the chain, when it reads one) explicitly.
"""

from __future__ import annotations

from proofmind.app.alerts import AlertFilter, alerts_after, get_alert, list_alerts
from proofmind.app.apikeys import ApiKey, check_key, create_key, list_keys, revoke_key
from proofmind.app.paging import Page
from proofmind.app.records import counts, get_record, list_records, record_lineage, record_view

__all__ = [
    "AlertFilter",
    "ApiKey",
    "Page",
    "alerts_after",
    "check_key",
    "counts",
    "create_key",
    "get_alert",
    "get_record",
    "list_alerts",
    "list_keys",
    "list_records",
    "record_lineage",
    "record_view",
    "revoke_key",
]
