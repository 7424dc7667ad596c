"""`proofmind serve` (the HTTP API and, as asked, the monitor, the oracle node, the challenge
watcher, agents and block ingestion in one process) and `proofmind api-key` (the keys its
write endpoints need)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.monitor import (
    CooldownOption,
    DiscordOption,
    MinSeverityOption,
    SlackOption,
    TelegramOption,
    WebhookOption,
)
from proofmind.cli.params import WorkspaceOption, output_dir

api_key_app = typer.Typer(
    help="API keys for the HTTP API's write endpoints (stored hashed in the workspace).",
    no_args_is_help=True,
)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: \\[api] host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port (default: \\[api] port, 8650; 0 picks one)."),
    ] = None,
    monitor: Annotated[
        bool, typer.Option(help="Also follow the chain with the block detectors.")
    ] = False,
    detectors: Annotated[
        list[str] | None,
        typer.Option("--detector", "-d", help="Block detector for --monitor (repeat)."),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(help='Detector parameters, {"detector": {"name": value}}, or @file.json.'),
    ] = None,
    from_block: Annotated[
        str, typer.Option(help="First block the monitor reads on a first run (or latest).")
    ] = "latest",
    webhook: WebhookOption = None,
    slack: SlackOption = None,
    discord: DiscordOption = None,
    telegram: TelegramOption = None,
    min_severity: MinSeverityOption = None,
    cooldown: CooldownOption = None,
    oracle_models: Annotated[
        list[str] | None,
        typer.Option(
            "--oracle-model", "-m", help="Run the oracle node for this packaged model (repeat)."
        ),
    ] = None,
    confirmations: Annotated[
        int,
        typer.Option(min=0, help="Blocks the monitor, the node and ingestion wait before reading."),
    ] = 0,
    challenge_models: Annotated[
        list[str] | None,
        typer.Option(
            "--challenge-model",
            "-c",
            help="Run the challenge watcher (`oracle challenge`) for this model (repeat).",
        ),
    ] = None,
    challenge_poll: Annotated[
        float, typer.Option(min=0.01, help="Seconds between the challenge watcher's polls.")
    ] = 0.5,
    agents: Annotated[
        list[Path] | None,
        typer.Option(
            "--agent", help="Run the agent of this policy (`agent run`) on --safe (repeat)."
        ),
    ] = None,
    safe: Annotated[
        str | None, typer.Option(help="The guarded Safe (name or address) --agent acts on.")
    ] = None,
    agent_interval: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds between an agent's steps.")
    ] = 1.0,
    ingest: Annotated[
        Path | None,
        typer.Option(
            "--ingest",
            parser=output_dir,
            metavar="OUT",
            help="Also ingest the chain's blocks into this folder (`ingest rpc --follow`).",
        ),
    ] = None,
    ingest_url: Annotated[
        str | None,
        typer.Option(help="JSON-RPC URL --ingest reads (default: this workspace's chain)."),
    ] = None,
    ingest_poll: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds --ingest waits for new blocks.")
    ] = 2.0,
    workspace: WorkspaceOption = None,
) -> None:
    """Run the HTTP API (OpenAPI at /docs, /health, /metrics) with the web dashboard (at /)
    and, when asked, the block monitor, the oracle node, the challenge watcher, agents and
    block ingestion (into Parquet tables, like `ingest rpc --follow`), as tasks of one
    process. A task that fails is restarted with exponential backoff; /health shows each
    task's state. SIGTERM / Ctrl-C stop everything cleanly (ingestion at a range boundary).

    Examples:
      proofmind serve
      proofmind serve --port 8080 --monitor -d watch --params @monitor.json
      proofmind serve --monitor --params @monitor.json --telegram -1001234567890
      proofmind serve -m mlp --monitor
      proofmind serve -c mlp --challenge-poll 2
      proofmind serve --agent depeg-guard.toml --safe treasury
      proofmind serve --ingest chaindata --confirmations 2
      proofmind serve --ingest chaindata --ingest-url https://node.example --ingest-poll 12
    """
    from proofmind.cli.serve_run import run_serve

    run_serve(
        workspace, host, port, monitor, detectors or ["watch"], params, from_block,
        oracle_models or [], confirmations, challenge_models or [], challenge_poll,
        agents or [], safe, agent_interval, ingest, ingest_url, ingest_poll,
        webhook or [], {"slack": slack or [], "discord": discord or [], "telegram": telegram or []},
        min_severity, cooldown,
    )  # fmt: skip


@api_key_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for (shown in lists).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Create a key and print it once (only its SHA-256 hash is kept).

    Example:
      proofmind api-key create dashboard
    """
    from proofmind.app.apikeys import create_key
    from proofmind.workspace import open_workspace

    key, token = create_key(open_workspace(workspace).state, name)
    typer.echo(token)
    typer.echo(
        f"API key {key.id} ({key.name}) created; it is shown only now — send it as "
        "`Authorization: Bearer KEY`",
        err=True,
    )


@api_key_app.command("list")
def list_(workspace: WorkspaceOption = None) -> None:
    """List the keys: id, name, prefix, created, revoked.

    Example:
      proofmind api-key list
    """
    import time

    from proofmind.app.apikeys import list_keys
    from proofmind.workspace import open_workspace

    keys = list_keys(open_workspace(workspace).state)
    if not keys:
        typer.echo("No API keys yet: `proofmind api-key create NAME` makes one.")
    for key in keys:
        made = time.strftime("%Y-%m-%d %H:%M", time.gmtime(key.created_at))
        gone = (
            "active"
            if key.revoked_at is None
            else "revoked " + time.strftime("%Y-%m-%d %H:%M", time.gmtime(key.revoked_at))
        )
        typer.echo(f"{key.id}\t{key.name}\t{key.prefix}…\t{made}\t{gone}")


@api_key_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (from `api-key list`).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key: requests with it are refused from now on.

    Example:
      proofmind api-key revoke 3
    """
    from proofmind.app.apikeys import revoke_key
    from proofmind.workspace import open_workspace

    done = revoke_key(open_workspace(workspace).state, key)
    typer.echo(f"API key {done.id} ({done.name}) revoked")
