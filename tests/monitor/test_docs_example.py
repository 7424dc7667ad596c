"""The custom detector in docs/monitor.md runs as written and stays under 40 lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from proofmind.monitor import Detector
from proofmind.monitor.prices import read_prices
from proofmind.monitor.replay import replay

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_detector_runs_and_restores() -> None:
    text = (REPO / "docs/monitor.md").read_text(encoding="utf-8")
    code = re.search(r"## Writing your own.*?```python\n(.*?)```", text, re.S)
    assert code is not None
    assert len(code.group(1).splitlines()) < 40
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/monitor.md", "exec"), namespace)
    jump = namespace["JumpDetector"]
    assert issubclass(jump, Detector)
    series = read_prices(REPO / "src/proofmind/monitor/data/sample_prices.csv")
    alerts = replay(series, [jump(limit=0.05)])
    # the two one-print glitches of USDX, each seen going and coming back
    assert [a.subject for a in alerts] == ["USDX"] * 4
    restored = jump.from_state(jump(limit=0.05).to_state())
    assert restored.limit == 0.05
