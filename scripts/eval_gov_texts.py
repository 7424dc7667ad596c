"""Score proofmind's governance text analysis on the MakerDAO polls of
../shared/datasets/governance_texts (AGPL: read here, never shipped): summaries against the
authors' one-line summaries (ROUGE-L, next to the lead-sentence baseline; templated and
free-form summaries apart), whether every number of a summary is in the body, and the category
rules against the polls' own categories mapped to proofmind's five (multi-label F1).

    .venv/bin/python scripts/eval_gov_texts.py [path/to/maker_polls.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from proofmind.gov import text as gt

DEFAULT = (
    Path(__file__).resolve().parents[2] / "shared/datasets/governance_texts/maker_polls.jsonl.gz"
)
# MakerDAO's poll categories → proofmind's; the rest (MIPs, Governance, impact levels, ...)
# say nothing about the kind of change and map to none.
MAKER = {
    "Risk Variable": "parameter change",
    "Rates": "parameter change",
    "Auctions": "parameter change",
    "Collateral": "onboarding",
    "Greenlight": "onboarding",
    "Budget": "treasury",
    "Misc Budget": "treasury",
    "Core Unit": "treasury",
    "Transfer": "treasury",
    "Technical": "upgrade",
    "Bridge": "upgrade",
    "Oracles": "upgrade",
}
TEMPLATES = ("signal your support", "this poll proposes", "signal your preference")


def load(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def templated(summary: str) -> bool:
    return summary.strip().lower().startswith(TEMPLATES)


def interval(values: list[float], seed: int = 0, n: int = 1000) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main(path: Path) -> None:
    polls = load(path)
    started = time.perf_counter()
    scores: dict[str, dict[str, list[float]]] = {
        m: {"all": [], "templated": [], "free-form": []} for m in gt.SUMMARISERS
    }
    supported = {m: 0 for m in gt.SUMMARISERS}
    truth, predicted = [], []
    for poll in polls:
        body, title = poll["body"], poll["title"]
        units = gt.plain_sentences(body)
        kind = "templated" if templated(poll["summary"]) else "free-form"
        for method in gt.SUMMARISERS:
            summary = " ".join(gt.summarise(units, 1, method, title))
            r = gt.rouge_l(summary, poll["summary"])
            scores[method]["all"].append(r)
            scores[method][kind].append(r)
            supported[method] += gt.numbers_supported(summary, body)
        mapped = {MAKER[c] for c in poll["categories"] if c in MAKER}
        if poll["categories"]:
            truth.append(mapped or {"other"})
            predicted.append({e.label for e in gt.categorise(title, units)})
    elapsed = time.perf_counter() - started
    print(f"{len(polls)} polls in {elapsed:.1f} s")
    print("ROUGE-L F1 against the authors' summaries (mean [95% bootstrap interval]):")
    for method in gt.SUMMARISERS:
        cells = []
        for kind in ("all", "templated", "free-form"):
            m, lo, hi = interval(scores[method][kind])
            cells.append(f"{kind} ({len(scores[method][kind])}) {m:.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"  {method:9} " + " | ".join(cells))
    for method in gt.SUMMARISERS:
        print(f"  numbers in the body: {method} {supported[method]}/{len(polls)}")
    f1 = gt.multilabel_f1(truth, predicted, gt.CATEGORIES)
    print(
        f"categories ({len(truth)} polls with categories): "
        + ", ".join(f"{k} {v:.3f}" for k, v in f1.items())
    )
    support = {c: sum(c in t for t in truth) for c in gt.CATEGORIES}
    print("  support: " + ", ".join(f"{k} {v}" for k, v in support.items()))
    reference = classifier_cv([p for p in polls if p["categories"]], truth)
    print(
        "  reference, a TF-IDF + logistic classifier trained on these polls (5-fold CV, not "
        "shipped): " + ", ".join(f"{k} {v:.3f}" for k, v in reference.items())
    )


def classifier_cv(polls: list[dict[str, Any]], truth: list[set[str]]) -> dict[str, float]:
    """Multi-label F1 of one-vs-rest logistic regressions on TF-IDF of title + body, 5-fold
    cross-validated: what learning from these labels reaches, to compare the rules with."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    texts = [p["title"] + "\n" + " ".join(gt.plain_sentences(p["body"])) for p in polls]
    binarizer = MultiLabelBinarizer(classes=list(gt.CATEGORIES))
    y = binarizer.fit_transform(truth)
    predicted: list[set[str]] = [set() for _ in polls]
    for train, test in KFold(5, shuffle=True, random_state=0).split(texts):
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        x = vectorizer.fit_transform([texts[i] for i in train])
        model = OneVsRestClassifier(LogisticRegression(C=4.0, max_iter=2000))
        model.fit(x, y[train])
        out = model.predict(vectorizer.transform([texts[i] for i in test]))
        for i, row in zip(test, out, strict=True):
            predicted[i] = {c for c, on in zip(gt.CATEGORIES, row, strict=True) if on} or {"other"}
    return gt.multilabel_f1(truth, predicted, gt.CATEGORIES)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
