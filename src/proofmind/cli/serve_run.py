"""`proofmind serve`, once it runs: compose the services and run them until a signal."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from proofmind.cli.consoles import TextConsole
from proofmind.errors import InputError

err = TextConsole(stderr=True, soft_wrap=True)


def run_serve(
    workspace_path: Path | None,
    host: str | None,
    port: int | None,
    monitor: bool,
    detectors: list[str],
    params: str | None,
    from_block: str,
    oracle_models: list[str],
    confirmations: int,
    challenge_models: list[str],
    challenge_poll: float,
    agents: list[Path],
    safe: str | None,
    agent_interval: float,
    ingest: Path | None = None,
    ingest_url: str | None = None,
    ingest_poll: float = 2.0,
    webhooks: list[str] | None = None,
    chats: dict[str, list[str]] | None = None,
    min_severity: list[str] | None = None,
    cooldown: list[str] | None = None,
) -> None:
    from proofmind.cli.monitor_run import (
        _params,
        at_least,
        cooldowns,
        remote_sinks,
        severity_floors,
    )
    from proofmind.cli.params import check_listen
    from proofmind.monitor.registry import load_detectors
    from proofmind.settings import ApiSettings
    from proofmind.workspace import open_workspace

    workspace = open_workspace(workspace_path)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = ApiSettings.load(workspace.config_path, **overrides)
    start: int | str = "latest"
    if from_block != "latest":
        if not from_block.isdigit():
            raise InputError(
                f"--from-block {from_block!r} is not a block number", hint="a number or latest"
            )
        start = int(from_block)
    parsed = _params(params) if monitor else {}
    sinks = remote_sinks(webhooks or [], chats or {})
    if (sinks or min_severity or cooldown) and not monitor:
        raise InputError(
            "--webhook, --slack, --discord, --telegram, --min-severity and --cooldown are for "
            "the monitor's alerts",
            hint="add --monitor (with its detectors), or leave them out",
        )
    kinds = [sink.kind for sink in sinks]
    sinks = at_least(sinks, severity_floors(min_severity, kinds), cooldowns(cooldown, kinds))
    if monitor:  # refuse unknown or price-only detectors now, not in a restart loop
        wrong = [d.name for d in load_detectors(detectors, parsed) if "block" not in d.events]
        if wrong:
            raise InputError(f"detector(s) {', '.join(wrong)} read prices, not blocks")
    if oracle_models or challenge_models:
        from proofmind.oracle.client import load_package

        for name in [*oracle_models, *challenge_models]:
            load_package(workspace, name)
    agent_names: list[str] = []
    if agents:
        from proofmind.agents.policy import load_policy

        if safe is None:
            raise InputError("--agent needs --safe: the guarded Safe the agent acts on")
        agent_names = [f"agent-{load_policy(path).name}" for path in agents]
        if len(set(agent_names)) < len(agent_names):
            raise InputError("two --agent policies have the same name", hint="one per policy")
        from proofmind.agents.log import DecisionLog

        log = DecisionLog.existing(workspace.root)
        if log is None:
            raise InputError(
                f"no guarded Safe named {safe!r}: this workspace has none yet",
                hint="create one with `proofmind agent safe create --name NAME`",
            )
        try:
            log.agent(safe)  # refuses an unknown Safe now, not in a restart loop
        finally:
            log.close()
    if ingest is not None:  # an unreachable node or another chain's folder: refused now
        from proofmind.app.ingest import check_follow, node_url, open_source

        source = open_source(ingest_url or node_url(workspace.connect()))
        check_follow(source, ingest, confirmations=confirmations)
    given = "--port" if port is not None else "--host" if host is not None else "[api]"
    check_listen(settings.host, settings.port, given)  # the last check: nothing is started yet
    # the API and the services are imported once the inputs are checked: a mistake is told at
    # once, not after the web stack has loaded
    from proofmind.api import create_app
    from proofmind.app.hosting import (
        agent_service,
        api_service,
        ingest_service,
        monitor_service,
        oracle_service,
        run_loop,
        watcher_service,
    )
    from proofmind.app.runner import Supervisor, install_signal_handlers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    supervisor = Supervisor()
    app = create_app(workspace, settings, health=supervisor)

    def started(url: str) -> None:
        err.print(f"proofmind API on {url} (OpenAPI at {url}/docs, health at {url}/health)")
        err.print(f"dashboard: {url}/ (Ctrl-C stops the service)")

    supervisor.add("api", api_service(app, settings.host, settings.port, on_started=started))
    if monitor:
        from proofmind.monitor.metrics import metrics_text, monitor_families

        hosted: dict[str, Any] = {}  # the monitor built last (anew at each restart)

        def monitor_metrics() -> str:
            service = hosted.get("monitor")
            if service is None:
                return ""
            families = monitor_families(service.stats, service.cursor.next_block)
            return metrics_text(families).decode()

        supervisor.metric_sources.append(monitor_metrics)
        supervisor.add(
            "monitor",
            monitor_service(
                workspace,
                detectors,
                parsed,
                confirmations=confirmations,
                start_block=start,
                sinks=sinks,
                on_built=lambda service: hosted.update(monitor=service),
            ),
        )
    if oracle_models:
        supervisor.add(
            "oracle-node", oracle_service(workspace, oracle_models, confirmations=confirmations)
        )
    if challenge_models:
        supervisor.add(
            "oracle-watcher", watcher_service(workspace, challenge_models, poll=challenge_poll)
        )

    for name, path in zip(agent_names, agents, strict=True):
        assert safe is not None
        supervisor.add(name, agent_service(workspace, path, safe, interval=agent_interval))

    if ingest is not None:
        from proofmind.intel.ingest import IngestReport, ingest_families
        from proofmind.monitor.metrics import metrics_text

        report = IngestReport()  # filled as it goes, across the task's restarts

        supervisor.metric_sources.append(lambda: metrics_text(ingest_families(report)).decode())
        supervisor.add(
            "ingest",
            ingest_service(
                workspace,
                ingest,
                url=ingest_url,
                confirmations=confirmations,
                poll=ingest_poll,
                report=report,
            ),
        )

    async def main() -> None:
        shutdown = asyncio.Event()
        install_signal_handlers(shutdown)
        await supervisor.run(shutdown)

    run_loop(main, settings.event_loop)
    err.print("stopped: " + ", ".join(f"{n} {s.state}" for n, s in supervisor.status.items()))
