"""Workspace-level oracle operations shared by the CLI and the demo: package a model (and
record it in the provenance ledger), register it on the oracle, request, and read answers."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proofmind.chain.base import Chain
from proofmind.errors import InputError, ProofmindError
from proofmind.ml import zk
from proofmind.oracle.client import (
    Mode,
    ModelPolicy,
    OracleClient,
    Terms,
    deploy_verifier,
    load_package,
    model_problem,
    oracle_model_id,
    save_package,
    verifier_runtime,
)
from proofmind.provenance.api import register_model
from proofmind.store.stores import Stores


@dataclass(frozen=True)
class Packaged:
    package: zk.Package
    verifier: str
    record_name: str


def _verifier_key(chain_id: int, pkg: zk.Package) -> str:
    return f"zk.verifier.{chain_id}.0x{pkg.model_id.hex()}"


def package_model(
    workspace: Stores,
    chain: Chain,
    model: Path,
    calibration: Path,
    *,
    name: str | None = None,
    srs: Path | None = None,
    max_logrows: int | None = None,
    columns: int = zk.DEFAULT_COLUMNS,
    progress: Callable[[str], None] = lambda step: None,
) -> Packaged:
    """Package ``model`` for proving, deploy its verifier and queue its provenance record
    (model hash, circuit, verifying-key hash, verifier address)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        pkg = zk.package(
            model,
            calibration,
            store=workspace.blobs.adopt,
            path_of=workspace.blobs.path_of,
            name=name,
            srs=srs,
            max_logrows=max_logrows,
            columns=columns,
            progress=progress,
        )
    for warning in caught:
        progress(f"WARNING: {warning.message}")
    progress("deploy the verifier")
    verifier = deploy_verifier(chain, pkg)
    save_package(workspace, pkg)
    workspace.state.set_value(_verifier_key(chain.chain_id, pkg), verifier)
    circuit = {
        "format": zk.PACKAGE_FORMAT,
        "model_id": "0x" + pkg.model_id.hex(),
        "circuit_keccak": pkg.digests["circuit"],
        "settings_keccak": pkg.digests["settings"],
        "vk_keccak": pkg.digests["vk"],
        "srs": "development (not secure)" if pkg.dev_srs else pkg.digests["srs"],
        "input_scale": pkg.input_scale,
        "output_scale": pkg.output_scale,
        "verifier": {"chain_id": chain.chain_id, "address": verifier},
    }
    record = register_model(workspace, model, name=pkg.name, card={"circuit": circuit})
    return Packaged(pkg, verifier, record.name)


def verifier_of(workspace: Stores, chain: Chain, pkg: zk.Package) -> str:
    address = workspace.state.get_value(_verifier_key(chain.chain_id, pkg))
    if address is None or not chain.w3.eth.get_code(address):  # type: ignore[arg-type]
        raise InputError(
            f"the verifier of {pkg.name} is not deployed on chain {chain.chain_id}",
            hint=f"package it again on this chain: `proofmind model package … --name {pkg.name}`",
        )
    return address


def register(
    workspace: Stores, chain: Chain, name: str, terms: Terms
) -> tuple[OracleClient, bytes]:
    """Register ``name`` in ``terms.mode`` under the workspace's account (once), then read
    the model back: success is reported only for a model that is this account's and matches
    the package and the terms asked for."""
    pkg = load_package(workspace, name)
    oracle = OracleClient.open(chain, workspace)
    owner = chain.default_account.address
    model_id = oracle_model_id(pkg, terms.mode, owner)
    if not oracle.model_exists(model_id):
        oracle.register_package(pkg, terms, verifier=verifier_of(workspace, chain, pkg))
    policy = ModelPolicy(owner, max_bond=2**96)  # the bond is compared with the terms below
    problem = model_problem(oracle, pkg, terms.mode, policy, verifier_runtime(chain, pkg))
    if problem is not None:
        raise ProofmindError(
            f"{name} in {terms.mode.name.lower()} mode on {oracle.address} is not the model as "
            f"packaged: {problem}",
            hint="package the model again (a new package is a new model id)",
        )
    fields = {"fee": terms.fee, "bond": terms.bond, "challengeWindow": terms.challenge_window,
              "timeout": terms.timeout}  # fmt: skip
    m = oracle.model(model_id)
    if terms.mode == Mode.ZK:
        fields = {"fee": terms.fee, "timeout": terms.timeout}
    other = {k: int(m[k]) for k, v in fields.items() if int(m[k]) != v}
    mode = terms.mode.name.lower()
    if other:
        hint = "give the registered terms, or package the model again under another name"
        if set(other) == {"fee"}:  # the one term its owner may change
            hint = f"change the fee with `proofmind oracle update {name} --mode {mode} --fee N`"
        raise InputError(
            f"{name} is already registered in {mode} mode with other terms: "
            + ", ".join(f"{k} {v}" for k, v in other.items()),
            hint=hint,
        )
    return oracle, model_id


@dataclass(frozen=True)
class ModelTerms:
    """A registered model's fee and whether it takes requests, after `oracle update`."""

    model_id: str
    fee: int
    active: bool
    changed: bool


def update_model(
    workspace: Stores, chain: Chain, name: str, mode: Mode, *, fee: int | None, active: bool | None
) -> ModelTerms:
    """Change the fee of ``name`` registered in ``mode`` by the workspace's account, or stop /
    resume its requests (``active``): the two terms the contract lets its owner change. Sends
    nothing when they are already so."""
    pkg = load_package(workspace, name)
    oracle = OracleClient.open(chain, workspace, deploy_missing=False)
    owner = chain.default_account.address
    model_id = oracle_model_id(pkg, mode, owner)
    if not oracle.model_exists(model_id):
        raise InputError(
            f"{name} is not registered in {mode.name.lower()} mode by {owner} on {oracle.address}",
            hint=f"register it with `proofmind oracle register {name} --mode {mode.name.lower()}`",
        )
    m = oracle.model(model_id)
    now = (int(m["fee"]), bool(m["active"]))
    wanted = (now[0] if fee is None else fee, now[1] if active is None else active)
    if wanted != now:
        oracle.update_model(model_id, *wanted)
        m = oracle.model(model_id)
    return ModelTerms("0x" + model_id.hex(), int(m["fee"]), bool(m["active"]), wanted != now)


def parse_mode(text: str) -> Mode:
    try:
        return Mode[text.upper()]
    except KeyError:
        raise InputError(f"unknown mode {text!r}", hint="use zk or optimistic") from None
