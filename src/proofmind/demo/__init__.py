"""`proofmind demo`: the end-to-end story on the local devnet, in one command.

Each step prints one line; the run ends with a summary of what was proved on-chain.

The chapters: ``story`` (the run itself and its first steps: devnet, contracts, a dataset
commitment, row proofs, a tampered row), ``lineage`` (training, model, anchoring, verify),
``ownership`` (contributions, values, rewards), ``oracle`` (EZKL proofs for an airdrop),
``monitor`` (a price feed and the depeg alert) and ``agent`` (a guarded Safe agent).
"""

from proofmind.demo.story import DemoReport, dashboard_url, load_sample, run_demo

__all__ = ["DemoReport", "dashboard_url", "load_sample", "run_demo"]
