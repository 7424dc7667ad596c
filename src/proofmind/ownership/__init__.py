"""Data ownership: signed contributions, data valuation and on-chain rewards."""
