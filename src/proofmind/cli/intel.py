"""The `ingest` and `fraud` commands. Imported only when one of them runs."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from proofmind.cli.params import parse_address
from proofmind.errors import InputError
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import (
    Features,
    address_features,
    check_labels,
    data_tables,
    evaluate,
    explain,
    read_labels,
    require_data,
    train_model,
    with_data,
)

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def run_ingest_etherscan(files: list[Path], out: Path, strict: bool, edges: bool = False) -> None:
    if edges:
        from proofmind.intel.edges import import_edges

        report = import_edges(files, out, strict=strict)
    else:
        report = import_etherscan(files, out, strict=strict)
    for table, rows in report.tables.items():
        console.print(f"{table}: {rows:,} rows → {out / table}/ (Parquet, by block range)")
        if report.duplicates.get(table):
            console.print(
                f"  {report.duplicates[table]:,} duplicate row(s) dropped (a row that appears "
                "more than once, e.g. in two accounts' exports, is kept once)"
            )
    if report.bad_rows:
        err.print(f"{len(report.bad_rows)} malformed row(s) left out:")
        for row in report.bad_rows[:20]:
            err.print(f"  {row}")
        if len(report.bad_rows) > 20:
            err.print(f"  … and {len(report.bad_rows) - 20} more")


def _labelled_features(
    data: Path, labels_path: Path, first_n: int | None = None
) -> tuple[dict[str, int], Features]:
    """The labels and their addresses' features; an error when the data cannot back them."""
    labels = read_labels(labels_path)
    require_data(data)
    con = connect(data)
    matched = check_labels(con, labels, labels_path, data)
    console.print(f"{matched:,} of {len(labels):,} labelled addresses appear in {data}")
    return labels, address_features(con, list(labels), first_n)


def run_early_warning(data: Path, labels_path: Path, folds: int, ns: list[int]) -> None:
    """The cross-validated quality of models that see only each account's first N
    transactions, for each N, next to the full history."""
    labels = read_labels(labels_path)
    require_data(data)
    con = connect(data)
    matched = check_labels(con, labels, labels_path, data)
    table = Table(
        "history seen",
        "F1",
        "PR-AUC",
        "precision",
        "recall",
        title=f"Early warning: {folds}-fold address-disjoint CV, 95% CIs, threshold 0.5",
    )
    with err.status("training a model per history length…") as status:
        for n in [*ns, None]:
            status.update(f"history: {'full' if n is None else f'first {n}'}…")
            report = evaluate(address_features(con, list(labels), n), labels, folds=folds)
            m = report.metrics
            table.add_row(
                "full history" if n is None else f"first {n} transaction(s)",
                *(str(m[k]) for k in ("f1", "pr_auc", "precision", "recall")),
            )
    console.print(table)
    console.print(
        f"{matched:,} labelled addresses with data; a model for N is trained on features "
        "of the first N transactions only (`fraud train --first-n N`)."
    )


def run_evaluate(data: Path, labels_path: Path, folds: int) -> None:
    labels, features = _labelled_features(data, labels_path)
    report = evaluate(features, labels, folds=folds)
    table = Table(
        "metric (illicit class)", "value (95% CI)", title=f"{folds}-fold address-disjoint CV"
    )
    for name, metric in report.metrics.items():
        table.add_row(name, str(metric))
    console.print(table)
    console.print(f"{report.addresses} addresses ({report.illicit} illicit), threshold 0.5")


def run_train(
    data: Path,
    labels_path: Path,
    output: Path,
    register: bool,
    workspace: Path | None,
    mlp_onnx: Path | None = None,
    first_n: int | None = None,
) -> None:
    if first_n is not None and register:
        raise InputError(
            "--first-n cannot be combined with --register yet",
            hint="train the early-warning model without --register",
        )
    if not register:
        labels, features = _labelled_features(data, labels_path, first_n)
        rows, illicit = train_model(features, labels, output)
        console.print(f"Trained on {rows} addresses ({illicit} illicit) → {output}")
        if mlp_onnx is not None:
            from proofmind.intel.fraud import labelled
            from proofmind.intel.fraud_onnx import write_mlp

            calibration = write_mlp(*labelled(features, labels), mlp_onnx)
            console.print(
                f"Fraud MLP → {mlp_onnx} (inputs: signed log of the {len(features.names)} "
                f"features);\ncalibration inputs → {calibration} (for `proofmind model package`)"
            )
        return
    from proofmind.intel.fraud import train_registered
    from proofmind.workspace import open_workspace

    ws = open_workspace(workspace)
    record, report = train_registered(ws, data, labels_path, output, mlp_onnx)
    console.print(
        f"Trained → {output}; cross-validated F1 {report.metrics['f1']}; model record "
        f"{record.key} ({record.status}), lineage: run and {len(data_tables(data)) + 1} datasets"
    )
    if mlp_onnx is not None:
        from proofmind.intel.fraud_onnx import calibration_path

        console.print(f"Fraud MLP → {mlp_onnx}, calibration inputs → {calibration_path(mlp_onnx)}")
        console.print("  (both logged as artifacts of the same run)")
    console.print("Anchor it with `proofmind provenance anchor`; check it with `proofmind verify`.")


def run_export(model: Path, output: Path) -> None:
    from proofmind.intel.fraud_onnx import export_lightgbm

    export_lightgbm(model, output)
    console.print(f"{model} → {output} (ONNX; input x: 1 × features, output y: P(illicit))")


def run_score(
    data: Path,
    model_path: Path,
    addresses: list[str],
    explain_top: int,
    first_n: int | None = None,
) -> None:
    import numpy as np

    from proofmind.intel.fraud import load_model

    model = load_model(model_path)
    wanted = _addresses(addresses)
    require_data(data)
    con = connect(data)
    # an address without a single transaction has an all-empty feature vector: the model
    # would score it confidently, so it gets no score at all
    present = with_data(con, wanted)
    scores: dict[str, float] = {}
    reasons: dict[str, list[tuple[str, float]]] = {}
    if present:
        features = address_features(con, [a for a in wanted if a in present], first_n)
        if features.names != model.feature_name():
            raise InputError(
                f"{model_path} was trained on other features",
                hint="retrain it with this version of proofmind",
            )
        predicted = [float(p) for p in np.asarray(model.predict(features.matrix))]
        scores = dict(zip(features.addresses, predicted, strict=True))
        if explain_top:
            found = explain(model, features.matrix, features.names, explain_top)
            reasons = dict(zip(features.addresses, found, strict=True))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["address", "status", "score", *(["explanation"] if explain_top else [])])
    for address in wanted:
        if address not in scores:
            writer.writerow([address, "no data", "", *([""] if explain_top else [])])
            continue
        why = reasons.get(address, [])
        extra = [json.dumps({k: round(v, 4) for k, v in why})] if explain_top else []
        writer.writerow([address, "scored", f"{float(scores[address]):.6f}", *extra])
    missing = len([a for a in wanted if a not in scores])
    if not scores:
        raise InputError(
            f"none of the {len(wanted)} address(es) has a transaction in {data}: nothing scored",
            hint="ingest their transactions first, or check --data",
        )
    if missing:
        err.print(f"{missing} of {len(wanted)} address(es) have no data in {data} (not scored)")


def _addresses(items: list[str]) -> list[str]:
    """Addresses (lower-case) from the arguments: each an address or a CSV file whose first
    column holds them (a header and other rows not starting with 0x are skipped)."""
    out: list[str] = []
    for item in items:
        path = Path(item)
        if not item.startswith("0x") and path.is_file():
            try:
                with path.open(newline="", encoding="utf-8-sig") as f:
                    for n, row in enumerate(csv.reader(f), start=1):
                        if row and row[0].strip().startswith("0x"):
                            out.append(parse_address(row[0], f"line {n} of {path}:").lower())
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise InputError(f"cannot read addresses from {path}: {exc}") from exc
        elif not item.startswith("0x"):
            raise InputError(
                f"{item!r} is neither an address nor a file",
                hint="give 0x-addresses or CSV files of them",
            )
        else:
            out.append(parse_address(item).lower())
    return out


def run_sybil(
    edges: list[Path],
    candidates_path: Path,
    out: Path,
    hub_degree: int,
    hubs_path: Path | None,
    min_cluster: int,
    use_labels: bool,
    max_fpr: float = 0.02,
) -> None:
    from proofmind.intel.sybil import detect, markdown_report, merkle_root, read_candidates

    candidates, labels, meta = read_candidates(candidates_path)
    hubs = _hub_list(hubs_path)
    result = detect(
        edges,
        candidates,
        meta=meta,
        labels=labels if use_labels else None,
        hub_degree=hub_degree,
        hubs=hubs,
        min_cluster=min_cluster,
        max_fpr=max_fpr,
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "scores.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(
            ["address", "community", "community_candidates", "flagged", "supervised_score"]
        )
        for n, address in enumerate(result.addresses):
            supervised = "" if result.supervised is None else f"{result.supervised[n]:.6f}"
            writer.writerow(
                [
                    address,
                    int(result.community[n]),
                    int(result.unsupervised[n]),
                    int(result.flagged[n]),
                    supervised,
                ]
            )
    (out / "report.md").write_text(markdown_report(result))
    flagged = [a for a, f in zip(result.addresses, result.flagged.tolist(), strict=True) if f]
    (out / "flagged.txt").write_text("".join(a + "\n" for a in sorted(flagged)))
    console.print(
        f"{len(flagged):,} of {len(result.addresses):,} candidates flagged in "
        f"{len(result.clusters):,} clusters; Merkle root {merkle_root(flagged)}"
    )
    for name, value in result.metrics.items():
        console.print(f"  {name.replace('_', ' ')}: {value:.4f}")
    console.print(f"  wrote {out}/scores.csv, report.md, flagged.txt")


def run_ingest_rpc(
    workspace: Path | None,
    url: str | None,
    out: Path,
    start: int | None,
    end: int | None,
    follow: bool,
    confirmations: int,
) -> None:
    from rich.progress import Progress

    from proofmind.chain.connect import read_chain_id
    from proofmind.chain.devnet import DevnetBackend
    from proofmind.chain.rpc import http_web3, redact_url
    from proofmind.intel.ingest import check_range, ingest
    from proofmind.workspace import open_workspace

    if url is None:
        chain = open_workspace(workspace).connect()
        if not isinstance(chain.backend, DevnetBackend) or chain.backend.record is None:
            raise InputError(
                f"cannot ingest from {chain.backend.describe()} without a URL",
                hint="pass --url (the node's HTTP JSON-RPC endpoint)",
            )
        url = chain.backend.record.rpc_url
    w3 = http_web3(url)
    chain_id = read_chain_id(w3, redact_url(url))
    check_range(w3, out, start, end, follow=follow, confirmations=confirmations)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("ingesting blocks", total=None)
        try:
            report = ingest(
                w3,
                url,
                out,
                chain_id=chain_id,
                start=start,
                end=end,
                follow=follow,
                confirmations=confirmations,
                progress=lambda n: bar.advance(task, n),
            )
        except KeyboardInterrupt:
            console.print("stopped; the next run resumes from the checkpoint")
            return
    rate = report.rows["transactions"] / report.seconds if report.seconds else 0.0
    console.print(
        f"{report.blocks:,} blocks, {report.rows['transactions']:,} transactions "
        f"({rate:,.0f} tx/s), {report.rows['logs']:,} logs, "
        f"{report.rows['erc20_transfers']:,} ERC-20 and {report.rows['native_transfers']:,} "
        f"native transfers → {out}"
    )
    if report.reorgs:
        console.print(
            f"  {len(report.reorgs)} reorg(s) undone (from block {report.reorgs[0].fork_block})"
        )
    if report.backoffs:
        console.print(f"  backed off {report.backoffs} time(s) for rate limits")


SYBIL_MODEL_FORMAT = "proofmind-sybil-model/1"


def run_sybil_train(
    edges: list[Path],
    candidates_path: Path,
    out: Path,
    hub_degree: int,
    hubs_path: Path | None,
    min_cluster: int,
    register: bool = False,
    workspace: Path | None = None,
    max_fpr: float = 0.02,
) -> None:
    """Train on every labelled candidate and save the model with what scoring needs to compute
    the same features later: the hub settings, the training candidates and their metadata."""
    import os
    import tempfile

    from proofmind.intel.sybil import FEATURES, detect, read_candidates, train_model

    if register:  # a missing workspace is found now, not after the training
        from proofmind.workspace import open_workspace

        open_workspace(workspace).close()
    candidates, labels, meta = read_candidates(candidates_path)
    if not labels:
        raise InputError(
            f"{candidates_path} has no is_sybil labels to train on",
            hint="give a CSV with address,is_sybil (1 = sybil, 0 = eligible)",
        )
    hubs = _hub_list(hubs_path)
    with err.status("building the graph and cross-validating…"):
        result = detect(edges, candidates, meta=meta, labels=labels, hub_degree=hub_degree,
                        hubs=hubs, min_cluster=min_cluster, max_fpr=max_fpr)  # fmt: skip
        model = train_model(result, labels)
    out.mkdir(parents=True, exist_ok=True)
    sidecar = {
        "format": SYBIL_MODEL_FORMAT,
        "features": FEATURES,
        "hub_degree": hub_degree,
        "hubs": hubs,
        "min_cluster": min_cluster,
        "seed": 1,
        "candidates": candidates,
        "meta": {a: list(meta[a]) for a in candidates if a in meta},
        "labelled": len(labels),
        "sybils": sum(labels.values()),
        "cross_validation": result.metrics,
        "threshold": result.metrics["threshold_at_max_fpr"],
    }
    for name, text in (
        ("model.txt", model.model_to_string()),
        ("model.json", json.dumps(sidecar, indent=1, default=float)),
    ):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out / name)
    m = result.metrics
    console.print(
        f"trained on {len(labels):,} labelled candidates ({sum(labels.values()):,} sybil) → "
        f"{out}/model.txt; 5-fold CV ROC-AUC {m['roc_auc']:.3f} (grouped by community "
        f"{m['grouped_roc_auc']:.3f}), PR-AUC {m['pr_auc']:.3f}, precision at recall 0.7 "
        f"{m['precision_at_recall_0.7']:.3f}"
    )
    console.print(
        f"flag threshold {m['threshold_at_max_fpr']:.4f} for ≤ {max_fpr:.1%} false positives: "
        f"estimated FPR {m['fpr_at_threshold']:.2%} (95% CI {m['fpr_at_threshold_ci_low']:.2%}"
        f"–{m['fpr_at_threshold_ci_high']:.2%}), recall {m['recall_at_threshold']:.1%} "
        "(grouped CV)"
    )
    if register:
        record = _register_sybil(workspace, edges, candidates_path, out, sidecar)
        console.print(
            f"model record {record.key} ({record.status}), lineage: run and "
            f"{len(edges) + 1} datasets; anchor it with `proofmind provenance anchor`"
        )


def _register_sybil(
    workspace_path: Path | None,
    edges: list[Path],
    candidates_path: Path,
    out: Path,
    sidecar: dict[str, Any],
) -> Any:
    """The edge files and candidates committed as datasets, a run with the settings and the
    CV metrics, and the model with a card — as `fraud train --register` does."""
    from proofmind.provenance.api import register_model
    from proofmind.provenance.runs import track_run
    from proofmind.workspace import open_workspace

    workspace = open_workspace(workspace_path)
    try:
        with track_run(
            "sybil-lightgbm", datasets=[*edges, candidates_path], workspace=workspace,
            anchor=False,
        ) as run:  # fmt: skip
            run.log_params(
                {k: sidecar[k] for k in ("hub_degree", "hubs", "min_cluster", "seed")},
                features=sidecar["features"],
            )
            run.log_metric(0, **sidecar["cross_validation"])
            for name in ("model.txt", "model.json"):
                run.log_artifact(out / name)
        card = {
            "intended_use": "ranking airdrop candidates for sybil review (not automatic exclusion)",
            "metrics": {k: round(float(v), 4) for k, v in sidecar["cross_validation"].items()},
            "training_data": [d.content_hash for d in run.datasets],
            "limitations": (
                f"trained on {sidecar['labelled']} labelled candidates ({sidecar['sybils']} "
                "sybil) whose labels came from one review process; scores of sybils found "
                "another way are lower (see docs/analytics.md)"
            ),
        }
        return register_model(workspace, out / "model.txt", run=run, card=card)
    finally:
        workspace.close()


def _hub_list(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return [line.strip().lower() for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read hubs from {path}: {exc}") from exc


def run_sybil_score(edges: list[Path], candidates_path: Path, model_dir: Path, out: Path) -> None:
    """P(sybil) for candidates, training ones or new: features are computed with the training
    candidates in the graph too, as when the model was trained."""
    import lightgbm as lgb
    import numpy as np

    from proofmind.intel.sybil import FEATURES, detect, read_candidates

    try:
        sidecar = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
        model = lgb.Booster(model_str=(model_dir / "model.txt").read_text(encoding="utf-8"))
    except (OSError, ValueError, lgb.basic.LightGBMError) as exc:
        raise InputError(
            f"{model_dir} is not a sybil model: {exc}",
            hint="give the folder `proofmind sybil train` wrote",
        ) from exc
    if sidecar.get("format") != SYBIL_MODEL_FORMAT or sidecar.get("features") != FEATURES:
        raise InputError(
            f"{model_dir} was written by another version of proofmind",
            hint="retrain it with `proofmind sybil train`",
        )
    wanted, _, meta = read_candidates(candidates_path)
    known = {a: tuple(v) for a, v in sidecar["meta"].items()}
    union = list(dict.fromkeys([*sidecar["candidates"], *wanted]))
    with err.status("building the graph…"):
        result = detect(edges, union, meta={**known, **meta}, hub_degree=sidecar["hub_degree"],
                        hubs=sidecar["hubs"], min_cluster=sidecar["min_cluster"],
                        seed=sidecar["seed"])  # fmt: skip
    position = {a: i for i, a in enumerate(result.addresses)}
    rows = [position[a] for a in wanted]
    scores = np.asarray(model.predict(result.features[rows]), dtype=np.float64)
    training = set(sidecar["candidates"])
    threshold = float(sidecar["threshold"])
    fd_path = out.with_name(f".{out.name}.partial")
    with fd_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["address", "p_sybil", "flag", "community", "community_candidates",
                         "community_flagged", "in_training"])  # fmt: skip
        for address, i, p in zip(wanted, rows, scores.tolist(), strict=True):
            writer.writerow([address, f"{p:.6f}", int(p >= threshold), int(result.community[i]),
                             int(result.unsupervised[i]), int(result.flagged[i]),
                             int(address in training)])  # fmt: skip
    fd_path.replace(out)
    new = sum(1 for a in wanted if a not in training)
    console.print(
        f"{len(wanted):,} candidates scored ({new:,} not in training) → {out}; "
        f"{int((scores >= threshold).sum()):,} flagged (P(sybil) ≥ {threshold:.4f}, the "
        "threshold chosen for the training's false-positive target)"
    )
