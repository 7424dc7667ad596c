"""The supervised sybil model: validated the way a new airdrop will test it, calibrated,
thresholded for a false-positive target, saved, and applied later to candidates it never saw.

- *Grouped cross-validation.* Sybils come in farms. Candidates are grouped by their Leiden
  community joined with the root of their funding tree (two communities fed by one funder
  are one group), and whole groups are held out (``StratifiedGroupKFold``): a farm never
  sits on both sides. Stratified CV by address is reported beside it, and so is the rule
  baseline "same connected component as a known sybil", fitted on the same folds (its
  community twin would be empty by construction: no test community holds a training row).
- *Calibration.* Platt scaling of the LightGBM score, fitted on the grouped out-of-fold scores
  (monotone, so the ranking and every threshold keep their meaning).
- *False positives first.* The flag threshold is the lowest that flags at most ``max_fpr`` of
  the eligible candidates. Its false-positive rate is estimated without looking at the fold it
  is measured on (each fold's threshold is chosen on the others), with a cluster-bootstrap
  interval; so are the unsupervised flags' rates.
- *A model folder* (`SybilModel.save`): ``model.txt`` (LightGBM), ``model.json`` (feature
  schema, graph settings and the hub list, calibration, threshold, training candidates,
  cross-validated metrics with intervals) and ``training_scores.csv``.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.intel.sybil_features import FEATURES
from proofmind.intel.sybil_metrics import Ranking, bootstrap, fpr_threshold, rates

if TYPE_CHECKING:
    import lightgbm as lgb

    from proofmind.intel.sybil import SybilResult

FORMAT = "proofmind-sybil-model/2"
TRAINER = "sybil-lightgbm"  # how a registered run names this trainer, for `verify --reproduce`
ROUNDS = 300
FOLDS = 5
SEED = 1
BOOTSTRAP = 1000
RECALL_TARGET = 0.7  # precision is reported at this recall …
FPR_TARGET = 0.02  # … and recall at this false-positive rate
FILES = ("model.txt", "model.json", "training_scores.csv")
Metrics = dict[str, tuple[float, float, float]]  # name → (value, 95% CI low, high)


def lightgbm_params(seed: int = SEED) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 20,
        "verbosity": -1,
        "seed": seed,
        # the same scores on every run: see fraud.PARAMS
        "num_threads": 2,
        "deterministic": True,
        "force_col_wise": True,
    }


@dataclass(frozen=True)
class GraphSettings:
    """How the graph is built: what `sybil score` must repeat to compute the same features."""

    hub_degree: int = 100
    hubs: tuple[str, ...] = ()  # hubs named by the user (besides those found by degree)
    min_cluster: int = 8
    seed: int = SEED


@dataclass(frozen=True)
class Platt:
    """P(sybil) = sigmoid(slope · logit(score) + intercept)."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, score: NDArray[np.float64]) -> NDArray[np.float64]:
        z = self.slope * _logit(score) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def fit_platt(score: NDArray[np.float64], y: NDArray[np.int64]) -> Platt:
    """Logistic regression of the labels on the logit of the scores, with Platt's smoothed
    targets ((N+ + 1) / (N+ + 2) for positives, 1 / (N- + 2) for negatives), so that
    perfectly separated scores still give a finite, sensible fit (Newton's method)."""
    x = _logit(score)
    positives, negatives = int((y == 1).sum()), int((y != 1).sum())
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = np.maximum(p * (1 - p), 1e-12)
        gradient = np.array([((p - target) * x).sum(), (p - target).sum()])
        hessian = np.array([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]])
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        step *= min(1.0, 5.0 / max(float(np.abs(step).max()), 1e-300))  # damped far away
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return Platt(float(a), float(b))


def _logit(score: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(np.asarray(score, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def cv_groups(community: NDArray[np.int64], funding_root: Sequence[str]) -> NDArray[np.int64]:
    """A group per candidate: communities joined when one funding tree reaches into both."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    roots: dict[str, int] = {}
    for c, root in zip(community.tolist(), funding_root, strict=True):
        find(c)
        if root:
            other = roots.setdefault(root, c)
            a, b = find(c), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([find(c) for c in community.tolist()], dtype=np.int64)


def grouped_folds(
    groups: NDArray[np.int64], y: NDArray[np.int64], folds: int, seed: int
) -> NDArray[np.int64]:
    """A fold per row such that all rows of a group share one fold, with the classes as evenly
    spread as whole groups allow (scikit-learn's ``StratifiedGroupKFold``)."""
    from sklearn.model_selection import StratifiedGroupKFold

    fold = np.empty(len(groups), dtype=np.int64)
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        fold[test] = k
    return fold


def _train(x: NDArray[np.float64], y: NDArray[np.int64], seed: int) -> lgb.Booster:
    import lightgbm as lgb

    data = lgb.Dataset(x, y, feature_name=FEATURES, free_raw_data=False)
    return lgb.train(lightgbm_params(seed), data, ROUNDS)


@dataclass
class CrossValidation:
    rows: NDArray[np.int64]  # the labelled candidates' rows in the result
    y: NDArray[np.int64]
    groups: NDArray[np.int64]
    fold: NDArray[np.int64]  # grouped
    by_address: NDArray[np.float64]  # out-of-fold scores, stratified CV by address
    grouped: NDArray[np.float64]  # out-of-fold scores, grouped CV
    calibration: Platt
    threshold: float  # on calibrated P(sybil), for max_fpr on all grouped out-of-fold scores
    max_fpr: float
    metrics: Metrics = field(default_factory=dict)


def labelled_rows(
    result: SybilResult, labels: Mapping[str, int], folds: int = FOLDS
) -> NDArray[np.int64]:
    """The labelled candidates' rows; an error when cross-validation cannot work."""
    rows = np.array([i for i, a in enumerate(result.addresses) if a in labels], dtype=np.int64)
    counts = np.bincount([labels[result.addresses[i]] for i in rows], minlength=2)
    if len(rows) < 2 * folds or counts.min() < folds:
        raise InputError(
            f"{len(rows)} labelled candidates ({counts[1]} sybil, {counts[0]} not): too few to "
            f"train a model ({folds}-fold CV needs at least {folds} of each)",
            hint="label more candidates (is_sybil 0 and 1), or run without labels",
        )
    return rows


def cross_validate(
    result: SybilResult,
    labels: Mapping[str, int],
    *,
    seed: int = SEED,
    folds: int = FOLDS,
    max_fpr: float = FPR_TARGET,
    samples: int = BOOTSTRAP,
) -> CrossValidation:
    """Grouped and by-address cross-validation, the rule baselines, the calibration and the
    threshold, and every metric with a cluster-bootstrap 95% interval."""
    from proofmind.intel.fraud import stratified_folds

    rows = labelled_rows(result, labels, folds)
    y = np.array([labels[result.addresses[i]] for i in rows], dtype=np.int64)
    x = result.features[rows]
    groups = cv_groups(result.community, result.funding_root)[rows]
    for label, name in ((1, "sybil"), (0, "eligible")):
        spread = len(np.unique(groups[y == label]))
        if spread < folds:
            raise InputError(
                f"the labelled {name} candidates sit in {spread} group(s) (community and "
                f"funder): {folds}-fold grouped cross-validation needs {folds} or more",
                hint="label candidates from more clusters",
            )
    fold = grouped_folds(groups, y, folds, seed)
    by_address_fold = stratified_folds(y, folds, seed)
    by_address = np.zeros(len(y))
    grouped = np.zeros(len(y))
    component = result.component[rows] if result.component is not None else groups
    baseline_component = np.zeros(len(y), dtype=bool)
    for k in range(folds):
        train, test = by_address_fold != k, by_address_fold == k
        by_address[test] = _train(x[train], y[train], seed).predict(x[test])
        train, test = fold != k, fold == k
        grouped[test] = _train(x[train], y[train], seed).predict(x[test])
        sybil = train & (y == 1)
        baseline_component[test] = np.isin(component[test], component[sybil])
    calibration = fit_platt(grouped, y)
    p = calibration(grouped)
    # each fold flagged at the threshold the other folds' scores choose: the FPR estimate
    # does not see the rows it is measured on
    nested = np.zeros(len(y), dtype=bool)
    for k in range(folds):
        test = fold == k
        nested[test] = p[test] >= fpr_threshold(y[~test], p[~test], max_fpr)
    flagged = result.flagged[rows]
    rankings = {
        "": Ranking(y, by_address),
        "grouped_": Ranking(y, grouped),
        "baseline_component_": Ranking(y, baseline_component.astype(np.float64)),
    }

    def metrics(w: NDArray[np.float64]) -> dict[str, float]:
        out = {f"{name}roc_auc": r.roc_auc(w) for name, r in rankings.items()}
        grouped_ranking = rankings["grouped_"]
        out["grouped_pr_auc"] = grouped_ranking.average_precision(w)
        out[f"grouped_precision_at_recall_{RECALL_TARGET}"] = grouped_ranking.precision_at_recall(
            w, RECALL_TARGET
        )
        out[f"grouped_recall_at_fpr_{FPR_TARGET}"] = grouped_ranking.recall_at_fpr(w, FPR_TARGET)
        for name, flags in (
            ("at_threshold", nested),
            ("unsupervised", flagged),
            ("baseline_component", baseline_component),
        ):
            for rate, value in rates(y, flags, w).items():
                out[f"{rate}_{name}" if name == "at_threshold" else f"{name}_{rate}"] = value
        out["grouped_brier"] = float((w * (p - y) ** 2).sum() / w.sum())
        return out

    cv = CrossValidation(
        rows,
        y,
        groups,
        fold,
        by_address,
        grouped,
        calibration,
        fpr_threshold(y, p, max_fpr),
        max_fpr,
    )
    cv.metrics = bootstrap(groups, metrics, samples=samples, seed=seed)
    return cv


@dataclass
class Scores:
    addresses: list[str]
    p_sybil: NDArray[np.float64]
    flag: NDArray[np.bool_]
    community: NDArray[np.int64]
    community_candidates: NDArray[np.float64]
    community_flagged: NDArray[np.bool_]
    evidence: list[str]
    in_training: NDArray[np.bool_]

    COLUMNS = (
        "address",
        "p_sybil",
        "flag",
        "community",
        "community_candidates",
        "community_flagged",
        "community_evidence",
        "in_training",
    )

    def rows(self) -> list[tuple[Any, ...]]:
        return [
            (a, float(p), int(f), int(c), int(n), int(cf), e, int(t))
            for a, p, f, c, n, cf, e, t in zip(
                self.addresses,
                self.p_sybil.tolist(),
                self.flag.tolist(),
                self.community.tolist(),
                self.community_candidates.tolist(),
                self.community_flagged.tolist(),
                self.evidence,
                self.in_training.tolist(),
                strict=True,
            )
        ]

    def write(self, path: Path) -> None:
        """CSV (floats written exactly, as Python's shortest round-trip text) or, for a name
        ending in .parquet, Parquet; written to a temporary file first, then renamed."""
        tmp = path.with_name(f".{path.name}.partial")
        try:
            if path.suffix == ".parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                columns = list(zip(*self.rows(), strict=True)) if self.addresses else []
                table = pa.table(
                    {name: list(col) for name, col in zip(self.COLUMNS, columns, strict=True)}
                    if columns
                    else {name: [] for name in self.COLUMNS}
                )
                pq.write_table(table, tmp)
            else:
                with tmp.open("w", newline="", encoding="utf-8") as f:
                    writer = csv.writer(f, lineterminator="\n")
                    writer.writerow(self.COLUMNS)
                    for row in self.rows():
                        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputError(f"cannot write {path}: {exc}") from exc


@dataclass
class SybilModel:
    """A trained sybil model with everything scoring needs to compute the same features."""

    booster: Any  # lightgbm.Booster
    settings: GraphSettings
    hub_list: list[str]
    calibration: Platt
    threshold: float
    max_fpr: float
    candidates: list[str]
    meta: dict[str, tuple[float, float]]
    labelled: int
    sybils: int
    metrics: Metrics = field(default_factory=dict)

    def predict(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Calibrated P(sybil) of feature rows."""
        return self.calibration(np.asarray(self.booster.predict(features), dtype=np.float64))

    def sidecar(self) -> dict[str, Any]:
        from proofmind.intel import sybil

        return {
            "format": FORMAT,
            "features": FEATURES,
            "lightgbm": {"params": lightgbm_params(self.settings.seed), "rounds": ROUNDS},
            "graph": {
                "hub_degree": self.settings.hub_degree,
                "hubs_given": list(self.settings.hubs),
                "hub_list": self.hub_list,
                "min_cluster": self.settings.min_cluster,
                "seed": self.settings.seed,
                "communities": "Leiden, modularity, weighted by transfers per pair",
                "corroboration": {
                    "shared_counterparty_share": sybil.SHARED_COUNTERPARTY,
                    "burst_seconds": sybil.BURST_SECONDS,
                    "burst_share": sybil.BURST_SHARE,
                },
            },
            "calibration": {
                "method": "platt",
                "slope": self.calibration.slope,
                "intercept": self.calibration.intercept,
                "fitted_on": "grouped out-of-fold scores",
            },
            "threshold": {"p_sybil": self.threshold, "max_fpr": self.max_fpr},
            "training": {
                "labelled": self.labelled,
                "sybils": self.sybils,
                "candidates": self.candidates,
                "meta": {a: list(self.meta[a]) for a in self.candidates if a in self.meta},
            },
            "cross_validation": {k: list(v) for k, v in self.metrics.items()},
        }

    def save(self, folder: Path, training_scores: Scores) -> list[Path]:
        """Write the model folder (each file whole, or not at all); returns the files."""
        folder.mkdir(parents=True, exist_ok=True)
        texts = {
            "model.txt": self.booster.model_to_string(),
            "model.json": json.dumps(self.sidecar(), indent=1, allow_nan=True) + "\n",
        }
        for name, text in texts.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, folder / name)
        training_scores.write(folder / "training_scores.csv")
        return [folder / name for name in FILES]

    @classmethod
    def load(cls, folder: Path) -> SybilModel:
        import lightgbm as lgb

        try:
            sidecar = json.loads((folder / "model.json").read_text(encoding="utf-8"))
            booster = lgb.Booster(model_str=(folder / "model.txt").read_text(encoding="utf-8"))
        except (OSError, ValueError, lgb.basic.LightGBMError) as exc:
            raise InputError(
                f"{folder} is not a sybil model: {exc}",
                hint="give the folder `proofmind sybil train` wrote",
            ) from exc
        if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
            raise InputError(
                f"{folder} was written by another version of proofmind",
                hint="retrain it with `proofmind sybil train`",
            )
        if sidecar.get("features") != FEATURES or booster.feature_name() != FEATURES:
            raise InputError(
                f"{folder} was trained on other features than this version computes",
                hint="retrain it with `proofmind sybil train`",
            )
        graph, training = sidecar["graph"], sidecar["training"]
        return cls(
            booster,
            GraphSettings(
                graph["hub_degree"],
                tuple(graph["hubs_given"]),
                graph["min_cluster"],
                graph["seed"],
            ),
            list(graph["hub_list"]),
            Platt(sidecar["calibration"]["slope"], sidecar["calibration"]["intercept"]),
            float(sidecar["threshold"]["p_sybil"]),
            float(sidecar["threshold"]["max_fpr"]),
            list(training["candidates"]),
            {a: (float(v[0]), float(v[1])) for a, v in training["meta"].items()},
            int(training["labelled"]),
            int(training["sybils"]),
            {
                k: (float(a), float(b), float(c))
                for k, (a, b, c) in sidecar["cross_validation"].items()
            },
        )


@dataclass
class Training:
    model: SybilModel
    result: SybilResult
    cv: CrossValidation
    scores: Scores  # of the training candidates, by the final model


def train(
    edges: Sequence[Path],
    candidates: list[str],
    labels: Mapping[str, int],
    meta: Mapping[str, tuple[float, float]],
    settings: GraphSettings = GraphSettings(),
    *,
    max_fpr: float = FPR_TARGET,
    folds: int = FOLDS,
    samples: int = BOOTSTRAP,
) -> Training:
    """Cross-validate, calibrate, choose the threshold and train on every labelled candidate."""
    from proofmind.intel.sybil import detect

    result = detect(
        edges,
        candidates,
        meta=dict(meta),
        hub_degree=settings.hub_degree,
        hubs=settings.hubs,
        min_cluster=settings.min_cluster,
        seed=settings.seed,
    )
    cv = cross_validate(
        result, labels, seed=settings.seed, folds=folds, max_fpr=max_fpr, samples=samples
    )
    booster = _train(result.features[cv.rows], cv.y, settings.seed)
    model = SybilModel(
        booster,
        settings,
        result.hub_list,
        cv.calibration,
        cv.threshold,
        max_fpr,
        list(dict.fromkeys(candidates)),
        {a: meta[a] for a in candidates if a in meta},
        len(cv.y),
        int(cv.y.sum()),
        cv.metrics,
    )
    return Training(model, result, cv, _scores(model, result, candidates))


def score(
    model: SybilModel,
    edges: Sequence[Path],
    candidates: list[str],
    meta: Mapping[str, tuple[float, float]] | None = None,
) -> Scores:
    """Calibrated P(sybil) of ``candidates``, in training or not, on the given (same or
    updated) graph. The graph is built with the training's settings and hub list, and the
    training candidates are candidates here too: the community features count candidates,
    so they are computed in the same context as in training."""
    from proofmind.intel.sybil import detect

    if not candidates:
        raise InputError("no candidate addresses to score")
    union = list(dict.fromkeys([*model.candidates, *candidates]))
    settings = model.settings
    result = detect(
        edges,
        union,
        meta={**model.meta, **(meta or {})},
        hub_degree=settings.hub_degree,
        hubs=[*settings.hubs, *model.hub_list],
        min_cluster=settings.min_cluster,
        seed=settings.seed,
    )
    return _scores(model, result, candidates)


def _scores(model: SybilModel, result: SybilResult, candidates: list[str]) -> Scores:
    position = {a: i for i, a in enumerate(result.addresses)}
    rows = np.array([position[a] for a in candidates], dtype=np.int64)
    p = model.predict(result.features[rows])
    training = set(model.candidates)
    evidence = [result.evidence[i] if result.flagged[i] else "" for i in rows.tolist()]
    return Scores(
        list(candidates),
        p,
        p >= model.threshold,
        result.community[rows],
        result.unsupervised[rows],
        result.flagged[rows],
        evidence,
        np.array([a in training for a in candidates], dtype=bool),
    )


COMPARISON_HEADER = (
    "",
    "ROC-AUC",
    f"precision at recall {RECALL_TARGET}",
    f"recall at FPR {FPR_TARGET:.0%}",
    "FPR of its flags",
    "recall of its flags",
)


def comparison(metrics: Metrics, max_fpr: float = FPR_TARGET) -> list[tuple[str, ...]]:
    """The model beside the rule baselines and the unsupervised flags, as table rows (values
    with their 95% intervals; blank where a metric does not apply)."""

    def show(name: str, percent: bool = False) -> str:
        if name not in metrics:
            return ""
        value, low, high = metrics[name]
        if percent:
            return f"{value:.1%} ({low:.1%}–{high:.1%})"
        return f"{value:.3f} ({low:.3f}–{high:.3f})"

    prc, rfp = f"precision_at_recall_{RECALL_TARGET}", f"recall_at_fpr_{FPR_TARGET}"
    return [
        (
            f"model, CV grouped by community and funder (flag: ≤ {max_fpr:.1%} FPR)",
            show("grouped_roc_auc"), show(f"grouped_{prc}"), show(f"grouped_{rfp}", True),
            show("fpr_at_threshold", True), show("recall_at_threshold", True),
        ),
        ("model, CV by address", show("roc_auc"), "", "", "", ""),
        (
            "baseline: same component as a known sybil",
            show("baseline_component_roc_auc"), "", "",
            show("baseline_component_fpr", True), show("baseline_component_recall", True),
        ),
        (
            "unsupervised flags (corroborated communities)", "", "", "",
            show("unsupervised_fpr", True), show("unsupervised_recall", True),
        ),
    ]  # fmt: skip


def comparison_markdown(metrics: Metrics, max_fpr: float = FPR_TARGET) -> list[str]:
    lines = [
        "| " + " | ".join(COMPARISON_HEADER) + " |",
        "|---" + "|---:" * (len(COMPARISON_HEADER) - 1) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in comparison(metrics, max_fpr)]
    lines += [
        "",
        "Values with 95% cluster-bootstrap intervals (whole groups resampled). FPR: the share "
        "of eligible (non-sybil) candidates flagged; the model's is measured on each fold at "
        "the threshold the other folds chose.",
    ]
    return lines


def flat_metrics(model: SybilModel) -> dict[str, float]:
    """The cross-validated metrics as a run logs them: value, and the interval's ends."""
    out: dict[str, float] = {}
    for name, (value, low, high) in model.metrics.items():
        for key, number in ((name, value), (f"{name}_ci_low", low), (f"{name}_ci_high", high)):
            if np.isfinite(number):
                out[key] = number
    out["threshold_p_sybil"] = model.threshold
    return out


def run_params(
    edges: Sequence[Path],
    candidates_path: Path,
    settings: GraphSettings,
    max_fpr: float,
    folds: int = FOLDS,
    samples: int = BOOTSTRAP,
) -> dict[str, Any]:
    """What a registered run logs: the settings as they are, plus how to train again."""
    from importlib.metadata import version

    return {
        "trainer": TRAINER,
        "inputs": {
            "edges": [str(Path(p).resolve()) for p in edges],
            "candidates": str(candidates_path.resolve()),
        },
        "outputs": {"files": list(FILES)},
        "hub_degree": settings.hub_degree,
        "hubs": list(settings.hubs),
        "min_cluster": settings.min_cluster,
        "seed": settings.seed,
        "folds": folds,
        "bootstrap": samples,
        "max_fpr": max_fpr,
        "rounds": ROUNDS,
        "lightgbm": lightgbm_params(settings.seed),
        "libraries": {
            name: version(name)
            for name in ("duckdb", "igraph", "leidenalg", "lightgbm", "numpy", "scikit-learn")
        },
    }


def fit_params(params: Mapping[str, Any], folder: Path) -> tuple[Training, list[Path]]:
    """Train as a run's logged ``params`` say, writing the model folder into ``folder``."""
    from proofmind.intel.sybil import read_candidates

    inputs = params["inputs"]
    candidates_path = Path(inputs["candidates"])
    candidates, labels, meta = read_candidates(candidates_path)
    if not labels:
        raise InputError(
            f"{candidates_path} has no is_sybil labels to train on",
            hint="give a CSV with address,is_sybil (1 = sybil, 0 = eligible)",
        )
    settings = GraphSettings(
        int(params["hub_degree"]), tuple(params["hubs"]), int(params["min_cluster"]),
        int(params["seed"]),
    )  # fmt: skip
    training = train(
        [Path(p) for p in inputs["edges"]], candidates, labels, meta, settings,
        max_fpr=float(params["max_fpr"]), folds=int(params["folds"]),
        samples=int(params["bootstrap"]),
    )  # fmt: skip
    return training, training.model.save(folder, training.scores)


def retrain(params: Mapping[str, Any], folder: Path) -> tuple[list[Path], dict[str, float]]:
    """Train again from a registered run's logged parameters, into ``folder``: the files
    written and the cross-validated metrics (for `proofmind verify --reproduce`)."""
    missing = {"inputs", "hub_degree", "hubs", "min_cluster", "seed", "folds", "bootstrap",
               "max_fpr"} - set(params)  # fmt: skip
    if missing:
        raise InputError(
            f"the run did not log {', '.join(sorted(missing))}, which training again needs",
            hint="it was logged by an older proofmind: train and register it again",
        )
    training, written = fit_params(params, folder)
    return written, flat_metrics(training.model)
