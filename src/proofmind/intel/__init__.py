"""On-chain intelligence: canonical chain tables, address features, fraud scoring."""
