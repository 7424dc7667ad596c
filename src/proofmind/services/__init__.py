"""Use cases that join domains (here: the monitor's alerts anchored on the provenance ledger)."""
