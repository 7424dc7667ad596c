"""The sybil features on a funding tree small enough to work out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from proofmind.intel.sybil import detect
from proofmind.intel.sybil_features import FAMILIES, FEATURES


def addr(n: int) -> str:
    return f"0x{n:040x}"


G, F, S = addr(1), addr(2), addr(3)  # G funds F; F funds A, B, C; A, B, C sweep to S
A, B, C, D, E = (addr(n) for n in (10, 11, 12, 13, 14))  # A funds D; E has no transfer


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, dict[str, float]]:
    edges = [(G, F), (F, A), (F, B), (F, C), (A, D), (A, S), (B, S), (C, S)]
    path = tmp_path / "edges.csv"
    path.write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b in edges))
    t0 = 1_650_000_000.0
    meta = {
        A: (100.0, t0),
        B: (104.0, t0 + 1800),  # half an hour after A, a similar amount
        C: (5000.0, t0 + 2 * 86_400),  # two days later
        D: (100.0, t0 + 30),  # within a minute of A
        E: (float("nan"), float("nan")),
    }
    result = detect([path], [A, B, C, D, E], meta=meta)
    return {
        a: dict(zip(FEATURES, row.tolist(), strict=True))
        for a, row in zip(result.addresses, result.features, strict=True)
    }


def test_the_funding_tree(tree: dict[str, dict[str, float]]) -> None:
    a, c, d, e = tree[A], tree[C], tree[D], tree[E]
    assert a["funder_fanout"] == 3 and a["funder_siblings"] == 2  # F funded A, B, C
    assert a["siblings_started_within_day"] == 1 and a["siblings_started_within_hour"] == 1
    assert c["siblings_started_within_day"] == 0
    assert a["funding_depth"] == 2 and d["funding_depth"] == 3  # A ← F ← G; D ← A ← F ← G
    assert d["funder_is_candidate"] == 1 and a["funder_is_candidate"] == 0
    assert a["tree_candidates"] == 4 and e["tree_candidates"] == 0  # A, B, C, D under G
    assert a["sink_fanin"] == 2  # B and C also sweep to S
    assert e["funding_depth"] == 0 and e["funder_fanout"] == 0


def test_degree_structure_and_isolated_candidates(tree: dict[str, dict[str, float]]) -> None:
    a, d, e = tree[A], tree[D], tree[E]
    assert a["senders"] == 1 and a["receivers"] == 2  # F; D and S
    assert a["degree_without_hubs"] == 3 and a["neighbour_degree_max"] == 4  # F: G, A, B, C
    assert a["candidate_neighbours"] == 1  # D
    assert d["leaf_neighbours"] == 0 and a["leaf_neighbours"] == 1  # D has only A
    assert e["degree"] == 0 and e["community_candidates"] == 1 and e["component_size"] == 1


def test_behavioural_similarity(tree: dict[str, dict[str, float]]) -> None:
    a, c, e = tree[A], tree[C], tree[E]
    assert a["started_within_minute"] == 1  # D
    assert a["similar_volume_within_hour"] == 2  # B (104 vs 100) and D (100)
    assert c["similar_volume_within_hour"] == 0
    if a["community_candidates"] > 1:
        assert 0.0 <= a["community_similar_volume"] <= 1.0
    assert np.isnan(e["started_within_minute"]) and np.isnan(e["log_volume"])


def test_every_feature_belongs_to_one_family() -> None:
    listed = [name for family in FAMILIES.values() for name in family]
    assert sorted(listed) == sorted(FEATURES) and len(set(FEATURES)) == len(FEATURES)


def test_with_timestamps_the_primary_funder_is_the_first_sender(tmp_path: Path) -> None:
    """X sent to A first; F sent later but funded three addresses. Without timestamps F is A's
    primary funder (the larger fan-out), with them X is."""
    x = addr(5)
    edges = [(x, A, 100), (F, A, 200), (F, B, 200), (F, C, 200)]
    timed, untimed = tmp_path / "timed.csv", tmp_path / "untimed.csv"
    timed.write_text("from,to,timestamp\n" + "".join(f"{a},{b},{t}\n" for a, b, t in edges))
    untimed.write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b, _ in edges))
    fanout = FEATURES.index("funder_fanout")
    assert detect([timed], [A]).features[0, fanout] == 1  # X funded only A
    assert detect([untimed], [A]).features[0, fanout] == 3  # F funded A, B and C
