"""From an assembled dataset to a payout anyone can recompute: value the rows, sum them per
contributor, record the valuation in the provenance ledger, and publish a reward epoch."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from web3.contract import Contract

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach
from proofmind.crypto.keccak import keccak256
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import InputError
from proofmind.ownership.contributions import Assembly, Contribution, assemble, assembly_check
from proofmind.ownership.rewards import EpochTrees, RewardsClient, payout_tree, payouts
from proofmind.ownership.valuation import (
    BANZHAF_METHOD,
    METHOD,
    ContributorValue,
    by_contributor,
    data_banzhaf,
    knn_accuracy_utility,
    knn_shapley,
)
from proofmind.provenance.api import Committed, commit, uri_param
from proofmind.provenance.dataset import canonical_json, commit_dataset
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.store.stores import Stores

VALUATION_FORMAT = "proofmind-valuation-v1"
OWNER_COLUMN = "contributor"


def assemble_dataset(
    workspace: Stores,
    items: Sequence[tuple[Contribution, Path]],
    *,
    dataset: str,
    output: Path,
    registry: Contract | None,
) -> tuple[Assembly, Committed]:
    """Assemble checked contributions into ``output`` and commit it as a dataset whose record
    names every contribution (the assembly document's hash is in its URI).

    When ``output`` is the file of a dataset record already (an earlier assembly), other rows
    are refused, with the file left as it was: the record, and whatever was valued, trained
    or published from it, would be left without its data. The same rows again are fine."""
    work_dir = workspace.root / "datasets"
    earlier = [r for r in Ledger(workspace).by_path(output) if r.kind == Kind.DATASET]
    staged = output.with_name(f".assembling-{output.name}") if earlier else output
    try:
        assembly = assemble(
            items, dataset=dataset, output=staged, registry=registry, work_dir=work_dir
        )
        if earlier:
            root = commit_dataset(staged, work_dir, workers=1).manifest.root
            if output.exists() and root != earlier[0].content_hash:
                record = earlier[0]
                raise InputError(
                    f"{output} is the data of dataset record {record.key} ({record.name}, "
                    f"{record.state}): assembling other rows over it would leave that record, "
                    "and what was valued or trained from it, without its data",
                    hint=f"write the new assembly to another file (-o), or move {output.name} "
                    "aside first",
                )
            staged.replace(output)
            assembly.output = output
    finally:
        if staged != output:
            staged.unlink(missing_ok=True)
    digest = workspace.blobs.put(canonical_json(assembly.document()))
    return assembly, commit(workspace, output, contributions=digest)


def read_table(
    path: Path, features: Sequence[str], label: str, owner: bool
) -> tuple[NDArray[np.float64], NDArray[Any], list[str]]:
    """Features, labels and (for training data) the contributor of each row of a CSV."""
    rows: list[dict[str, Any]] = []
    lines: list[int] = []  # the file line each row ends on, for messages
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise InputError(f"{path} has no rows")
    wanted = [*features, label, *([OWNER_COLUMN] if owner else [])]
    missing = [c for c in wanted if c not in rows[0]]
    if missing:
        raise InputError(
            f"{path} has no column(s) {', '.join(missing)}",
            hint=f"its columns are {', '.join(rows[0])}",
        )
    x = np.empty((len(rows), len(features)))
    for i, row in enumerate(rows):
        short = [c for c in wanted if row.get(c) is None]
        if short:
            raise InputError(
                f"{path}, line {lines[i]} (data row {i}): no value for {', '.join(short)} "
                f"(the row has fewer fields than the header's {len(rows[0])})"
            )
        for j, column in enumerate(features):
            try:
                x[i, j] = float(row[column])
            except ValueError:
                raise InputError(
                    f"{path}, line {lines[i]} (data row {i}): {column} = {row[column]!r} is not "
                    "a number"
                ) from None
    y = np.array([row[label] for row in rows])
    owners = [row[OWNER_COLUMN] for row in rows] if owner else []
    return x, y, owners


@dataclass
class Valuation:
    document: dict[str, Any]
    contributors: list[ContributorValue]
    record: LocalRecord

    @property
    def hash(self) -> str:
        return self.record.content_hash


def value_contributions(
    workspace: Stores,
    train: Path,
    test: Path,
    *,
    features: Sequence[str],
    label: str,
    k: int = 5,
    name: str = "valuation",
    standardize: bool = True,
    method: str = "knn-shapley",
    seed: int = 0,
    engine: str = "local",
    master: str | None = None,
) -> Valuation:
    """Value every contributor of ``train`` (an assembled dataset, with a contributor column)
    on ``test`` and queue the valuation as a lineage record.

    ``knn-shapley``: exact KNN-Shapley of every row, summed per contributor. ``banzhaf``: Data
    Banzhaf of each contributor as a whole (seeded Monte Carlo, convergence recorded), here
    with the KNN classifier's accuracy as the utility. ``engine="ray"`` runs KNN-Shapley's
    test-point batches as Ray tasks (``master``: the cluster); the values are the same."""
    if engine not in ("local", "ray"):
        raise InputError(f"unknown engine {engine!r}", hint="use local or ray")
    x, y, owners = read_table(train, features, label, owner=True)
    xq, yq, _ = read_table(test, features, label, owner=False)
    if standardize:  # z-scores from the training rows, so no feature dominates the distance
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std == 0] = 1.0
        x, xq = (x - mean) / std, (xq - mean) / std
    parameters: dict[str, Any] = {
        "k": k,
        "features": list(features),
        "label": label,
        "distance": "euclidean",
        "standardize": standardize,
    }
    if method == "knn-shapley":
        values = knn_shapley(x, y, xq, yq, k, engine=engine, master=master)
        contributors = by_contributor(values, owners)
        method_name = METHOD
    elif method == "banzhaf":
        names = sorted(set(owners))
        groups = np.array([names.index(o) for o in owners])
        result = data_banzhaf(knn_accuracy_utility(x, y, xq, yq, groups, k), len(names), seed=seed)
        rows = np.bincount(groups, minlength=len(names))
        contributors = sorted(
            (
                ContributorValue(n, int(r), float(v))
                for n, r, v in zip(names, rows, result.values, strict=True)
            ),
            key=lambda c: (-c.value, c.contributor),
        )
        method_name = BANZHAF_METHOD
        parameters |= {
            "seed": seed,
            "samples": result.samples,
            "converged": result.converged,
            "max_stderr": float(result.stderr.max()),
        }
    else:
        raise InputError(f"unknown valuation method {method!r}", hint="knn-shapley or banzhaf")
    datasets = [commit(workspace, Path(train)), commit(workspace, Path(test))]
    per_contributor = {c.contributor: repr(c.value) for c in contributors}
    document = {
        "format": VALUATION_FORMAT,
        "method": method_name,
        "parameters": parameters,
        "data": {"train": datasets[0].root, "test": datasets[1].root},
        "values": per_contributor,
        "values_root": "0x" + keccak256(canonical_json(per_contributor)).hex(),
    }
    digest = workspace.blobs.put(canonical_json(document))
    record = Ledger(workspace).add(
        Kind.TRAINING_RUN,
        name,
        digest,
        f"proofmind://valuation/{name}",
        parents=[d.record for d in datasets],
        meta=digest,
    )
    return Valuation(document, contributors, record)


def load_valuation(workspace: Stores, digest: str) -> dict[str, Any]:
    if not workspace.blobs.has(digest):
        raise InputError(f"no valuation {digest} in this workspace")
    data: dict[str, Any] = json.loads(workspace.blobs.path_of(digest).read_bytes())
    if data.get("format") != VALUATION_FORMAT:
        raise InputError(f"{digest} is not a valuation document")
    return data


def rewards_client(chain: Chain, workspace: Stores) -> RewardsClient:
    deployments = DeploymentRegistry(workspace.state)
    return RewardsClient(
        chain,
        attach(chain, "RewardDistributor", deployments),
        attach(chain, "RewardToken", deployments),
    )


def publish_epoch(
    workspace: Stores,
    chain: Chain,
    valuation: Valuation,
    pool: int,
    deadline: int,
    *,
    again: bool = False,
    checked: bool = False,
) -> tuple[int, StandardMerkleTree, Path]:
    """Pay ``pool`` base units by the valuation: the epoch's tree is saved in the workspace
    (``rewards/epoch-N.json``, OZ's standard-v1 dump) for claims. A valuation an epoch pays
    already is refused unless ``again`` (another round by the same values, say monthly): a
    publish run twice by mistake would pay every contributor twice. So is one whose data holds
    a contribution revoked or expired since assembly (:func:`refuse_unpayable`; ``checked``:
    the caller did that already)."""
    values = [(a, float(v)) for a, v in valuation.document["values"].items()]
    tree = payout_tree(payouts(values, pool))
    client = rewards_client(chain, workspace)
    if not checked:
        refuse_unpayable(workspace, chain, client, valuation.record, again=again)
    epoch, _ = client.publish(tree, pool, deadline, bytes.fromhex(valuation.hash[2:]))
    target = epoch_trees(workspace, client).save(chain.chain_id, epoch, tree)
    return epoch, tree, target


def refuse_unpayable(
    workspace: Stores, chain: Chain, client: RewardsClient, record: LocalRecord, *, again: bool
) -> None:
    """An InputError when the valuation ``record`` must not be paid: an epoch pays it already
    (unless ``again``), or a contribution in its data was revoked or has expired since the data
    was assembled (valuing it used the data after consent ended; paying by it would reward that
    use)."""
    if not again:
        refuse_paying_twice(client, record.content_hash)
    ledger = Ledger(workspace)
    problems: list[str] = []
    for key in record.parents:
        dataset = ledger.get(key)
        digest = uri_param(dataset.uri, "contributions")
        if digest is None:
            continue  # not assembled from signed contributions
        if not workspace.blobs.has(digest):
            problems.append(f"the assembly document {digest} of {dataset.name} is not here")
            continue
        found, _ = assembly_check(json.loads(workspace.blobs.path_of(digest).read_bytes()), chain)
        problems += [f"{dataset.name}: {p}" for p in found]
    if problems:
        raise InputError(
            f"valuation {record.content_hash} values data without consent now: "
            + "; ".join(problems),
            hint="assemble the dataset again without those contributions (`proofmind data "
            "assemble`), value it again (`proofmind rewards value`) and publish that valuation",
        )


def refuse_paying_twice(client: RewardsClient, valuation_hash: str) -> None:
    """An InputError when an epoch pays the valuation ``valuation_hash`` already."""
    paid_by = client.epochs_paying(bytes.fromhex(valuation_hash[2:]))
    if paid_by:
        raise InputError(
            f"valuation {valuation_hash} is paid already by epoch "
            f"{', '.join(map(str, paid_by))}: another epoch would pay every contributor again",
            hint="pass --again to fund another round by the same valuation, or see the epochs "
            "with `proofmind rewards status`",
        )


def epoch_trees(workspace: Stores, client: RewardsClient) -> EpochTrees:
    return EpochTrees(workspace.root / "rewards", client.distributor)
