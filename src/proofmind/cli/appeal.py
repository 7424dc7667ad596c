"""`proofmind sybil appeal …`: publish a sybil report's flagged list, sign and submit appeals
against it, decide them. Only typer loads with the CLI; the work loads when a command runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from proofmind.cli.params import UINT256_MAX, WorkspaceOption, address, output_file, parse_address
from proofmind.errors import InputError

if TYPE_CHECKING:
    from proofmind.intel.appeal_flow import AppealRow
    from proofmind.intel.appeals import FlaggedList

appeal_app = typer.Typer(
    help="Appeals against a sybil report: publish its flagged list, sign, submit, decide.",
    no_args_is_help=True,
)

AppealId = Annotated[str, typer.Argument(help="An appeal id (or a unique prefix of it).")]


def _console() -> Any:
    from proofmind.cli.consoles import TextConsole

    return TextConsole(soft_wrap=True)


def read_flagged(path: Path) -> FlaggedList:
    """A report folder (`sybil detect` wrote flagged.txt in it) or a file of addresses."""
    from proofmind.intel.appeals import FlaggedList

    source = path / "flagged.txt" if path.is_dir() else path
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read the flagged list {source}: {exc}",
            hint="give the folder `proofmind sybil detect` wrote, or a file of addresses",
        ) from exc
    addresses = []
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            addresses.append(parse_address(text, "flagged address"))
        except InputError as exc:
            raise InputError(f"line {n} of {source}: {exc}") from None
    flagged = FlaggedList.of(addresses)
    _check_report(path / "report.md" if path.is_dir() else None, flagged)
    return flagged


def _check_report(report: Path | None, flagged: FlaggedList) -> None:
    """The root report.md states must be the root of flagged.txt beside it."""
    import re

    if report is None or not report.is_file():
        return
    try:
        text = report.read_text(encoding="utf-8")
        found = re.search(r"Merkle root of the flagged list: `(0x[0-9a-f]{64})`", text)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {report}: {exc}") from exc
    if found is not None and found.group(1) != flagged.root:
        raise InputError(
            f"{report} states the flagged root {found.group(1)}, but the addresses of "
            f"flagged.txt beside it give {flagged.root}",
            hint="run `proofmind sybil detect` again; do not edit its files by hand",
        )


def _report_root(report: str) -> str:
    text = report.strip()
    if text.lower().startswith("0x") and not Path(text).exists():
        from proofmind.intel.appeals import parse_root

        return parse_root(text, "--report")
    return read_flagged(Path(report)).root


def _key(path: Path) -> Any:
    """The signing account from a key file: 0x + 64 hex digits, or an encrypted keystore JSON
    (password from PROOFMIND_KEYSTORE_PASSWORD or a hidden prompt)."""
    from eth_account import Account

    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the key file {path}: {exc}") from exc
    if text.startswith("{"):
        password = os.environ.get("PROOFMIND_KEYSTORE_PASSWORD")
        if password is None:
            password = str(typer.prompt("Keystore password", hide_input=True))
        try:
            return Account.from_key(Account.decrypt(json.loads(text), password))
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"cannot unlock the keystore {path}: {exc}") from None
    try:
        return Account.from_key(text)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - eth-keys raises its own types
        raise InputError(
            f"{path} holds no private key",
            hint="the file must hold 0x + 64 hex digits, or an encrypted keystore JSON",
        ) from None


@appeal_app.command("publish")
def appeal_publish(
    report: Annotated[
        Path, typer.Argument(help="The folder `sybil detect` wrote, or a file of addresses.")
    ],
    airdrop: Annotated[
        str | None,
        typer.Option(parser=address, help="Set the list on this SybilGatedAirdrop (its owner)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Record a sybil report's flagged list in the workspace so that flagged addresses can
    appeal against its root; anchor it in the lineage ledger and, with --airdrop, set it on
    the airdrop (flagged addresses can no longer claim there).

    Examples:
      proofmind sybil appeal publish sybil/
      proofmind sybil appeal publish sybil/ --airdrop 0x5FbDB2315678afecb367f032d93F642f64180aa3
    """
    from proofmind.intel.appeal_flow import publish_list
    from proofmind.workspace import open_workspace

    flagged = read_flagged(report)
    ws = open_workspace(workspace)
    try:
        chain = ws.connect()
        row = publish_list(ws, chain, flagged, str(report), airdrop)
    finally:
        ws.close()
    console = _console()
    console.print(
        f"flagged list {row.root} ({len(row.flagged):,} addresses, exclusion root "
        f"{row.exclusion_root}) recorded and anchored (record {row.record_key})"
    )
    if row.airdrop:
        console.print(f"  set on the airdrop {row.airdrop} (tx {row.tx_hash})")


@appeal_app.command("sign")
def appeal_sign(
    key: Annotated[
        Path,
        typer.Option(help="File with the appealing address's private key (hex) or keystore."),
    ],
    report: Annotated[
        str, typer.Option(help="The report's flagged-list root (0x…), or its folder.")
    ],
    reason: Annotated[str, typer.Option(help="Why this address is not a sybil.")],
    chain_id: Annotated[
        int, typer.Option(min=0, help="The chain the flagged list is enforced on.")
    ] = 31337,
    days: Annotated[
        int, typer.Option(min=1, max=3650, help="The appeal is valid this many days.")
    ] = 30,
    nonce: Annotated[
        int | None,
        typer.Option(min=0, max=UINT256_MAX, help="Default: the time in nanoseconds."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=output_file, help="The signed appeal (JSON).")
    ] = Path("appeal.json"),
) -> None:
    """Sign an EIP-712 appeal with the flagged address's own key (offline; no workspace).

    Examples:
      proofmind sybil appeal sign --key me.key --report 0x3f…(root) --reason "I am one person"
      proofmind sybil appeal sign --key me.json --report sybil/ --reason "…" -o appeal.json
    """
    from proofmind.intel.appeals import sign_appeal

    root = _report_root(report)
    account = _key(key)
    appeal = sign_appeal(
        account,
        root,
        reason,
        nonce=time.time_ns() if nonce is None else nonce,
        deadline=int(time.time()) + days * 86_400,
        chain_id=chain_id,
    )
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(appeal.to_json(), indent=2) + "\n")
    tmp.replace(out)
    _console().print(
        f"appeal {appeal.id} by {appeal.account} against {root}, signed → {out}; "
        "the reviewer submits it with `proofmind sybil appeal submit`"
    )


@appeal_app.command("submit")
def appeal_submit(
    file: Annotated[Path, typer.Argument(help="A signed appeal (JSON from `appeal sign`).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Check a signed appeal (the signer is the appealing address, the root is a published
    flagged list that has it, not expired, not seen before) and queue it for review.

    Example:
      proofmind sybil appeal submit appeal.json
    """
    from proofmind.intel.appeal_flow import submit_appeal
    from proofmind.intel.appeals import Appeal
    from proofmind.workspace import open_workspace

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the appeal {file}: {exc}") from exc
    appeal = Appeal.loads(text, str(file))
    ws = open_workspace(workspace)
    try:
        row = submit_appeal(ws, appeal)
    finally:
        ws.close()
    _console().print(
        f"appeal {appeal.id} by {appeal.account} submitted (pending; ledger record "
        f"{row.record_key}); decide it with `proofmind sybil appeal decide {appeal.id[:10]}`"
    )


@appeal_app.command("decide")
def appeal_decide(
    appeal_id: AppealId,
    reason: Annotated[str, typer.Option(help="Why it is accepted or rejected.")],
    accept: Annotated[
        bool | None,
        typer.Option("--accept/--reject", help="Accept (unflag the address) or reject."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Accept or reject a pending appeal. Accepting publishes a new flagged list without the
    address (on the airdrop the list was set on, too); appeal, decision and new list are
    anchored in the lineage ledger.

    Examples:
      proofmind sybil appeal decide 0x1a2b3c --accept --reason "separate funding, KYC'd"
      proofmind sybil appeal decide 0x1a2b3c --reject --reason "funded by the farm's wallet"
    """
    from proofmind.intel.appeal_flow import decide_appeal
    from proofmind.workspace import open_workspace

    if accept is None:
        raise InputError("say --accept or --reject")
    ws = open_workspace(workspace)
    try:
        chain = ws.connect()
        row = decide_appeal(ws, chain, appeal_id, accept, reason)
    finally:
        ws.close()
    decision = row.decision
    assert decision is not None
    console = _console()
    console.print(f"appeal {row.appeal.id} {row.status} by {decision.reviewer}")
    if decision.new_root:
        where = f"; set on the airdrop (tx {decision.tx_hash})" if decision.tx_hash else ""
        console.print(f"  new flagged list {decision.new_root} without {row.appeal.account}{where}")


@appeal_app.command("list")
def appeal_list(
    status: Annotated[
        str | None, typer.Option(help="Only appeals that are pending, accepted or rejected.")
    ] = None,
    reports: Annotated[
        bool, typer.Option(help="List the published flagged lists instead.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The appeals of the workspace (or, with --reports, its flagged lists).

    Examples:
      proofmind sybil appeal list
      proofmind sybil appeal list --status pending
      proofmind sybil appeal list --reports
    """
    from rich.table import Table

    from proofmind.cli.tables import abbreviate, print_table
    from proofmind.intel.appeal_flow import AppealStore
    from proofmind.workspace import open_workspace

    if status is not None and status not in ("pending", "accepted", "rejected"):
        raise InputError(f"--status {status!r}: say pending, accepted or rejected")
    ws = open_workspace(workspace)
    store = AppealStore.of(ws)
    console = _console()
    try:
        if reports:
            table = Table("root", "addresses", "from", "airdrop", "record")
            for lst in store.lists():
                table.add_row(
                    lst.root,
                    f"{len(lst.flagged):,}",
                    f"appeal {lst.appeal_id[:10]}" if lst.appeal_id else lst.source,
                    lst.airdrop or "",
                    str(lst.record_key),
                )
            empty = "No flagged lists yet (`proofmind sybil appeal publish`)."
            if store.lists():
                print_table(console, table)
            else:
                console.print(empty)
            return
        appeals = store.appeals(status)
        table = Table("id", "account", "status", "report root", "submitted")
        for row in appeals:
            table.add_row(
                row.appeal.id[:12] if console.is_terminal else row.appeal.id,  # a prefix works
                row.appeal.account,
                row.status,
                abbreviate(console, row.appeal.report_root, 12),
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.submitted_at)),
            )
        if appeals:
            print_table(console, table)
        else:
            console.print("No appeals.")
    finally:
        store.close()
        ws.close()


@appeal_app.command("show")
def appeal_show(appeal_id: AppealId, workspace: WorkspaceOption = None) -> None:
    """One appeal: its signed fields, the recovered signer, the decision, the new root and
    the ledger records of the history.

    Example:
      proofmind sybil appeal show 0x1a2b3c
    """
    from proofmind.intel.appeal_flow import AppealStore
    from proofmind.provenance.ledger import Ledger
    from proofmind.workspace import open_workspace

    ws = open_workspace(workspace)
    store = AppealStore.of(ws)
    try:
        row = store.appeal(appeal_id)
        new_root = row.decision.new_root if row.decision else None
        new_list = store.list_row(new_root) if new_root else None
        _show(row, Ledger(ws), None if new_list is None else new_list.record_key)
    finally:
        store.close()
        ws.close()


def _show(row: AppealRow, ledger: Any, new_list_key: int | None) -> None:
    from proofmind.errors import CryptoError

    appeal = row.appeal
    try:
        signer = appeal.signer()
    except CryptoError as exc:
        signer = f"(bad signature: {exc})"
    lines = [
        f"appeal     {appeal.id}",
        f"account    {appeal.account}",
        f"signed by  {signer}",
        f"report     {appeal.report_root} (chain {appeal.chain_id})",
        f"reason     {appeal.reason}",
        f"nonce      {appeal.nonce}",
        f"deadline   {time.strftime('%Y-%m-%d %H:%M', time.gmtime(appeal.deadline))} UTC",
        f"status     {row.status}",
    ]
    records = [ledger.get(row.record_key)]
    decision = row.decision
    if decision is not None:
        lines += [
            f"reviewer   {decision.reviewer}",
            f"decision   {decision.reason}",
            f"applied to {decision.applied_to}",
        ]
        if decision.new_root:
            lines.append(f"new root   {decision.new_root}")
        if decision.tx_hash:
            lines.append(f"airdrop tx {decision.tx_hash}")
        records.append(ledger.get(decision.record_key))
        if new_list_key is not None:
            records.append(ledger.get(new_list_key))
    for record in records:
        lines.append(
            f"ledger     {record.key} {record.label()} {record.state}"
            + (f" ({record.record_id})" if record.record_id else "")
        )
    _console().print("\n".join(lines), markup=False, highlight=False)


@appeal_app.command("proof")
def appeal_proof(
    account: Annotated[str, typer.Argument(parser=address, help="The claimant's address.")],
    root: Annotated[
        str | None,
        typer.Option(help="A flagged list root (default: the newest list of the workspace)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """The proof that an address is not on a flagged list, as JSON (low, high, proof): the
    last three arguments of SybilGatedAirdrop.claimUnflagged.

    Example:
      proofmind sybil appeal proof 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    from proofmind.intel.appeal_flow import AppealStore
    from proofmind.workspace import open_workspace

    ws = open_workspace(workspace)
    store = AppealStore.of(ws)
    try:
        lists = store.lists()
        if root is None:
            if not lists:
                raise InputError("no flagged list in this workspace")
            chosen = lists[-1]
        else:
            from proofmind.intel.appeals import parse_root

            found = store.list_row(parse_root(root, "--root"))
            if found is None:
                raise InputError(f"no flagged list {root} in this workspace")
            chosen = found
        low, high, proof = chosen.flagged.exclusion_proof(account)
    finally:
        store.close()
        ws.close()
    typer.echo(
        json.dumps(
            {"root": chosen.root, "exclusionRoot": chosen.exclusion_root, "low": low,
             "high": high, "proof": proof}
        )
    )  # fmt: skip
