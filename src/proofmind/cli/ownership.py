"""The `data` and `rewards` commands. Imported only when one of them runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from proofmind.app.ownership import (
    Valuation,
    assemble_dataset,
    epoch_trees,
    load_valuation,
    publish_epoch,
    refuse_unpayable,
    rewards_client,
    value_contributions,
)
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, attach
from proofmind.cli.chainstate import confirm, settle, show_corrections
from proofmind.cli.consoles import TextConsole
from proofmind.cli.tables import abbreviate, print_table
from proofmind.errors import InputError
from proofmind.ownership.contributions import Contribution, contribute
from proofmind.provenance.ledger import Ledger
from proofmind.text import count_of
from proofmind.workspace import Workspace, open_workspace

console = TextConsole(soft_wrap=True)


def _account(chain: Chain, index: int) -> object:
    if not 0 <= index < len(chain.accounts):
        raise InputError(
            f"no account {index}: this chain has "
            f"{count_of(len(chain.accounts), 'signing account')}",
            hint="pick --account from 0 to the number of accounts minus one",
        )
    return chain.accounts[index]


def _contributions(chain: Chain, workspace: Workspace) -> object:
    deployments = DeploymentRegistry(workspace.state)
    settle(chain, deployments)
    return attach(chain, "ContributionRegistry", deployments)


def run_contribute(
    path: Path | None,
    data: Path,
    dataset: str,
    licence: str,
    days: int,
    index: int,
    out: Path | None,
) -> None:
    target = out or data.with_name(data.name + ".contribution.json")
    _keep_signed(target)
    workspace = open_workspace(path)
    chain = workspace.connect()
    registry = _contributions(chain, workspace)
    account = _account(chain, index)
    contribution = contribute(
        account,  # type: ignore[arg-type]
        data,
        dataset=dataset,
        licence=licence,
        expiry=int(time.time()) + days * 86_400,
        nonce=int(time.time_ns()),
        chain_id=chain.chain_id,
        registry=registry.address,  # type: ignore[attr-defined]
        work_dir=workspace.root / "datasets",
    )
    target.write_text(json.dumps(contribution.to_json(), indent=2) + "\n")
    until = time.strftime("%Y-%m-%d", time.gmtime(contribution.expiry))
    console.print(
        f"Signed contribution [bold]{contribution.id}[/bold] by {contribution.contributor}: "
        + escape(
            f"{count_of(contribution.row_count, 'row')} of {data.name} for dataset {dataset!r}, "
            f"licence {licence}, until {until}"
        )
    )
    console.print(escape(f"  wrote {target} — send it with {data.name} to the curator"))


def _keep_signed(target: Path) -> None:
    """An InputError when ``target`` holds a signed contribution already: written over, the
    consent it gave could no longer be revoked with `data revoke` (it needs that file)."""
    if not target.is_file():
        return
    try:
        held = Contribution.load(target)
    except InputError:
        return  # not a contribution: an output file like any other
    raise InputError(
        f"{target} holds contribution {held.id} already (dataset {held.dataset!r}, "
        f"{held.row_count} rows): writing over it would lose the file that revokes that consent",
        hint="write the new one elsewhere with -o, or delete the old one if you never sent it",
    )


def run_assemble(path: Path | None, files: list[Path], dataset: str, output: Path) -> None:
    workspace = open_workspace(path)
    chain = workspace.connect()
    items = []
    for file in files:
        contribution = Contribution.load(file)
        items.append((contribution, file.parent / contribution.data_file))
    assembly, committed = assemble_dataset(
        workspace,
        items,
        dataset=dataset,
        output=output,
        registry=_contributions(chain, workspace),  # type: ignore[arg-type]
    )
    document = output.with_name(output.name + ".assembly.json")
    document.write_text(json.dumps(assembly.document(), indent=2) + "\n")
    table = Table("contributor", "rows kept", "duplicates dropped")
    for contributor, kept in assembly.rows.items():
        table.add_row(contributor, str(kept), str(assembly.duplicates[contributor]))
    print_table(console, table)
    count = len(assembly.contributions)
    console.print(
        escape(
            f"Assembled {count_of(sum(assembly.rows.values()), 'row')} into {output} "
            f"({document.name}); "
            f"dataset record {committed.record.key} names "
            + ("its contribution" if count == 1 else f"all {count} contributions")
        )
    )


def run_revoke(path: Path | None, file: Path, index: int) -> None:
    workspace = open_workspace(path)
    chain = workspace.connect()
    contribution = Contribution.load(file)
    account = _account(chain, index)
    if getattr(account, "address", "").lower() != contribution.contributor.lower():
        theirs = [
            n
            for n, a in enumerate(chain.accounts)
            if a.address.lower() == contribution.contributor.lower()
        ]
        raise InputError(
            f"account {index} is not the contributor {contribution.contributor}",
            hint=f"only the contributor can revoke: pass --account {theirs[0]}"
            if theirs
            else "only the contributor can revoke, and no signing account here is theirs: they "
            "revoke from their own wallet (or sign a revocation for anyone to relay, see "
            "docs/data-ownership.md)",
        )
    registry = _contributions(chain, workspace)
    chain.sender(account).transact(  # type: ignore[arg-type]
        registry.functions.revoke(bytes.fromhex(contribution.id[2:]))  # type: ignore[attr-defined]
    )
    confirm(chain)
    console.print(f"Revoked contribution {contribution.id} on chain {chain.chain_id}")


def run_value(
    path: Path | None,
    train: Path,
    test: Path,
    features: list[str],
    label: str,
    k: int,
    name: str,
    method: str,
    *,
    engine: str = "local",
    master: str | None = None,
) -> None:
    workspace = open_workspace(path)
    valuation = value_contributions(
        workspace,
        train,
        test,
        features=features,
        label=label,
        k=k,
        name=name,
        method=method,
        engine=engine,
        master=master,
    )
    _print_values(valuation)
    parameters = valuation.document["parameters"]
    if "converged" in parameters:
        state = "converged" if parameters["converged"] else "did NOT converge"
        console.print(
            f"{parameters['samples']} samples, {state} (largest standard error "
            f"{parameters['max_stderr']:.4f})"
        )
    console.print(f"valuation {valuation.hash} (record {valuation.record.key}, pending)")


def _print_values(valuation: Valuation) -> None:
    table = Table("contributor", "rows", f"value ({valuation.document['method']})")
    table.columns[0].no_wrap = True  # the address a claim names: whole in a narrow terminal too
    for c in valuation.contributors:
        style = "red" if c.value < 0 else ""
        table.add_row(
            c.contributor,
            str(c.rows),
            f"[{style}]{c.value:+.6f}[/{style}]" if style else f"{c.value:+.6f}",
        )
    print_table(console, table)


def run_publish(
    path: Path | None, digest: str, pool: int, days: int, mint: bool, again: bool = False
) -> None:
    workspace = open_workspace(path)
    chain = workspace.connect()
    document = load_valuation(workspace, digest)
    ledger = Ledger(workspace)
    record = ledger.find(digest)
    settle(chain, DeploymentRegistry(workspace.state))
    client = rewards_client(chain, workspace)
    settle(chain, epoch_trees(workspace, client))
    refuse_unpayable(workspace, chain, client, record, again=again)  # before minting, anchoring
    show_corrections(ledger.anchor(chain, only=[record]).corrections)  # its valuation only
    if mint:
        client.chain.sender().transact(client.token.functions.mint(chain.sender().address, pool))
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + days * 86_400
    valuation = Valuation(document, [], ledger.get(record.key))
    # checked above, before minting: publish_epoch need not read every epoch again
    epoch, tree, saved = publish_epoch(
        workspace, chain, valuation, pool, deadline, again=again, checked=True
    )
    until = time.strftime("%Y-%m-%d %H:%M", time.gmtime(deadline))
    confirm(chain)
    console.print(
        f"Published epoch {epoch}: {len(tree.values)} payouts, {pool} base units, root "
        f"{tree.root_hex}, claims until {until} UTC"
    )
    console.print(escape(f"  tree {saved} (share it: claimants need their proof)"))


def run_claim(path: Path | None, epoch: int, account: str) -> None:
    workspace = open_workspace(path)
    chain = workspace.connect()
    settle(chain, DeploymentRegistry(workspace.state))
    from proofmind.app.rewards import submit_claim

    settle(chain, epoch_trees(workspace, rewards_client(chain, workspace)))
    _claim, paid, receipt = submit_claim(workspace, chain, epoch, account)
    confirm(chain)
    console.print(
        f"Claimed epoch {epoch} for {account}: paid {paid} base units "
        f"({int(receipt['gasUsed']):,} gas)"
    )


def run_sweep(path: Path | None, epoch: int, to: str | None) -> None:
    from proofmind.app.rewards import sweep_epoch

    workspace = open_workspace(path)
    chain = workspace.connect()
    settle(chain, DeploymentRegistry(workspace.state))
    amount, target, receipt = sweep_epoch(workspace, chain, epoch, to)
    confirm(chain)
    console.print(
        f"Swept epoch {epoch}: {amount} unclaimed base units to {target} "
        f"({int(receipt['gasUsed']):,} gas)"
    )


def run_status(path: Path | None, epoch: int | None) -> None:
    from proofmind.app.rewards import reward_epochs

    workspace = open_workspace(path)
    epochs = reward_epochs(workspace, workspace.connect(), epoch)
    table = Table("epoch", "funded", "claimed", "deadline (UTC)", "swept", "valuation")
    for s in epochs:
        table.add_row(
            str(s.epoch),
            str(s.funded),
            str(s.claimed),
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(s.deadline)),
            str(s.swept),
            abbreviate(console, s.valuation),
        )
    if not epochs:
        console.print("No epochs published yet.")
        return
    for amount in table.columns[1:3]:
        amount.no_wrap = True  # cut to "100000000000…", an amount in base units says nothing
    print_table(console, table)
