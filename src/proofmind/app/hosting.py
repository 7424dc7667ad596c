"""The services `proofmind serve` hosts, each as an asyncio service for the :class:`Supervisor`:
the HTTP API on uvicorn, the block monitor, the oracle node, the challenge watcher, agents and
block ingestion."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proofmind.app.runner import Service, threaded
from proofmind.errors import InputError
from proofmind.text import count_of
from proofmind.workspace import Workspace

if TYPE_CHECKING:
    from proofmind.chain.base import Chain
    from proofmind.intel.ingest import IngestReport
    from proofmind.oracle.client import ModelPolicy
    from proofmind.oracle.watcher import Watcher

log = logging.getLogger("proofmind.serve")


def run_loop(main: Callable[[], Coroutine[Any, Any, None]], loop: str = "auto") -> None:
    """Run ``main()`` to its end on uvloop (libuv: cheaper sockets, timers and callbacks than
    asyncio's selector loop; what uvicorn itself picks when installed) or on asyncio's own
    loop. ``loop``: auto (uvloop when installed), uvloop or asyncio."""
    if loop not in ("auto", "uvloop", "asyncio"):
        raise InputError(f"unknown event loop {loop!r}", hint="use auto, uvloop or asyncio")
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError as exc:
            if loop == "uvloop":
                raise InputError(
                    "the uvloop event loop is not installed", hint="pip install uvloop"
                ) from exc
        else:
            factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def api_service(
    app: Any,
    host: str,
    port: int,
    *,
    on_started: Callable[[str], None] | None = None,
    grace: int = 5,
) -> Service:
    """The FastAPI ``app`` on uvicorn. The host process owns the signals: uvicorn's own
    handlers are not installed; the shutdown event stops it (open streams get ``grace``
    seconds)."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    async def run(shutdown: asyncio.Event) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=grace,
            access_log=False,
            http="auto",  # httptools (C parser) when installed, else h11
        )
        server = _Server(config)
        serving = asyncio.ensure_future(server.serve())

        async def stop_on_shutdown() -> None:
            await shutdown.wait()
            services = getattr(app.state, "services", None)
            if services is not None:
                services.end_streams()  # live streams end, so the server can close
            server.should_exit = True

        stopper = asyncio.ensure_future(stop_on_shutdown())
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.02)
            if server.started and on_started is not None:
                bound = server.servers[0].sockets[0].getsockname()
                on_started(f"http://{bound[0]}:{bound[1]}")
            try:
                await serving
            except SystemExit:  # uvicorn's answer to a port it cannot bind
                raise RuntimeError(f"the HTTP server could not listen on {host}:{port}") from None
            if not shutdown.is_set():
                raise RuntimeError("the HTTP server stopped by itself (is the port taken?)")
        finally:
            stopper.cancel()
            if not serving.done():
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await serving

    return run


def monitor_service(
    workspace: Workspace,
    names: list[str],
    params: dict[str, dict[str, Any]],
    *,
    confirmations: int = 0,
    start_block: int | str = "latest",
    poll: float = 1.0,
    connect: Callable[[], Chain] | None = None,
    sinks: list[Any] | None = None,
    on_built: Callable[[Any], None] | None = None,
) -> Service:
    """`proofmind monitor run` (block detectors, alerts into the workspace's store, delivered
    to ``sinks`` too) on a worker thread; rebuilt from its stored state after a failure.
    ``connect`` gives the chain (default: the workspace's); ``on_built`` is told of each
    `MonitorService` built (its ``stats`` are what /metrics shows)."""

    def build() -> Any:
        from proofmind.monitor.registry import load_detectors
        from proofmind.monitor.service import MonitorService
        from proofmind.monitor.store import AlertStore
        from proofmind.store.state import StateDB

        chain = (connect or workspace.connect)()
        folder = workspace.root / "monitor"
        folder.mkdir(parents=True, exist_ok=True)
        service = MonitorService(
            chain.w3,
            StateDB(folder / "cursor.sqlite"),
            AlertStore.for_workspace(workspace.root),
            load_detectors(names, params),
            list(sinks or []),
            chain_id=chain.chain_id,
            confirmations=confirmations,
            start_block=start_block,
            poll_interval=poll,
        )
        if on_built is not None:
            on_built(service)
        return service

    return threaded(build)


def oracle_service(
    workspace: Workspace,
    models: list[str],
    *,
    confirmations: int = 0,
    poll: float = 0.25,
    start_block: int | str = 0,
    connect: Callable[[], Chain] | None = None,
) -> Service:
    """The oracle node serving ``models`` (packaged model names); ``connect`` gives the chain
    (default: the workspace's)."""

    async def run(shutdown: asyncio.Event) -> None:
        from proofmind.app.oracle import NODE_DB
        from proofmind.oracle.client import OracleClient, load_package
        from proofmind.oracle.node import NodeConfig, OracleNode

        def build() -> OracleNode:
            chain = (connect or workspace.connect)()
            policy = model_policy(workspace, chain)
            config = NodeConfig(
                confirmations=confirmations,
                poll_interval=poll,
                start_block=start_block,
                model_owner=policy.owner,
                max_bond=policy.max_bond,
                trusted_committee=policy.committee,
            )
            oracle = OracleClient.open(chain, workspace, deploy_missing=False)
            packages = [load_package(workspace, m) for m in models]
            db: Path = workspace.root / NODE_DB
            return OracleNode(chain, oracle, db, packages, config=config)

        node = await asyncio.to_thread(build)
        stopper = asyncio.ensure_future(shutdown.wait())
        stopper.add_done_callback(lambda _: node.stopping.set())
        try:
            await node.run(handle_signals=False)
        finally:
            stopper.cancel()

    return run


class Loop:
    """A blocking loop as a :class:`~proofmind.app.runner.Stoppable`: ``run()`` calls
    ``body()``, ``stop()`` calls ``halt()``."""

    def __init__(self, body: Callable[[], Any], halt: Callable[[], None]) -> None:
        self.body, self.halt = body, halt

    def run(self) -> Any:
        return self.body()

    def stop(self) -> None:
        self.halt()


def build_watcher(
    workspace: Workspace,
    models: list[str],
    *,
    start_block: int | str = 0,
    connect: Callable[[], Chain] | None = None,
) -> Watcher:
    """The challenge watcher of ``models`` (packaged model names) with the workspace's model
    policy and its state in ``oracle-watcher.sqlite``."""
    from proofmind.oracle.client import OracleClient, load_package
    from proofmind.oracle.watcher import Watcher

    chain = (connect or workspace.connect)()
    oracle = OracleClient.open(chain, workspace, deploy_missing=False)
    return Watcher(
        chain,
        oracle,
        workspace.root / "oracle-watcher.sqlite",
        [load_package(workspace, m) for m in models],
        start_block=start_block,
        policy=model_policy(workspace, chain),
    )


def watcher_service(
    workspace: Workspace,
    models: list[str],
    *,
    poll: float = 0.5,
    start_block: int | str = 0,
    connect: Callable[[], Chain] | None = None,
) -> Service:
    """`proofmind oracle challenge` for ``models`` on a worker thread: it recomputes every
    optimistic answer and disputes a wrong one; rebuilt from its stored cursor after a
    failure. ``connect`` gives the chain (default: the workspace's)."""

    def build() -> Loop:
        watcher = build_watcher(workspace, models, start_block=start_block, connect=connect)
        return Loop(lambda: watcher.run(poll), watcher.stop)

    return threaded(build)


def agent_service(
    workspace: Workspace,
    policy_file: Path,
    safe: str,
    *,
    interval: float = 1.0,
    anchor_every: float = 60.0,
    since: str = "now",
    connect: Callable[[], Chain] | None = None,
) -> Service:
    """`proofmind agent run POLICY --safe SAFE` on a worker thread; after a failure it resumes
    from its decision log (nothing is sent twice). ``connect`` gives the chain (default: the
    workspace's)."""

    def build() -> Any:
        from proofmind.agents.log import DecisionLog
        from proofmind.app.agents import open_agent

        chain = (connect or workspace.connect)()
        log_ = DecisionLog.existing(workspace.root)
        return open_agent(
            workspace, chain, log_, policy_file, safe, since=since,
            on_event=lambda text: log.info("agent %s: %s", policy_file.stem, text),
            interval=interval, anchor_every=anchor_every,
        )  # fmt: skip

    return threaded(build)


def ingest_service(
    workspace: Workspace,
    out: Path,
    *,
    url: str | None = None,
    confirmations: int = 0,
    poll: float = 2.0,
    on_range: Callable[[int], None] | None = None,
    connect: Callable[[], Chain] | None = None,
    report: IngestReport | None = None,
) -> Service:
    """`proofmind ingest rpc --follow -o OUT` as an asyncio service: blocks of the node at
    ``url`` (default: the workspace's devnet, through ``connect``) into the Parquet tables in
    ``out``. It returns at a range boundary once shutdown is set; after a failure it resumes
    from its checkpoint (no gaps, no duplicates). ``on_range`` hears the blocks of each range
    written; ``report`` is filled as it goes, across restarts (its metrics)."""

    async def run(shutdown: asyncio.Event) -> None:
        from proofmind.app.ingest import node_url, open_source
        from proofmind.intel.ingest import ingest_async

        def source_of() -> Any:
            return open_source(url or node_url((connect or workspace.connect)()))

        source = await asyncio.to_thread(source_of)
        before = 0 if report is None else report.blocks
        done = await ingest_async(
            source.w3, source.url, out, chain_id=source.chain_id, follow=True,
            confirmations=confirmations, poll_seconds=poll, progress=on_range,
            shutdown=shutdown, report=report,
        )  # fmt: skip
        log.info("ingest: %s written to %s this run", count_of(done.blocks - before, "block"), out)

    return run


def model_policy(workspace: Workspace, chain: Chain) -> ModelPolicy:
    """The oracle node's and watcher's model policy from the workspace's [oracle] settings."""
    from proofmind.oracle.client import ModelPolicy
    from proofmind.settings import OracleSettings

    settings = OracleSettings.load(workspace.config_path)
    committee = settings.trusted_committee
    return ModelPolicy(
        settings.model_owner or chain.default_account.address,
        settings.max_bond_wei,
        None if committee is None else frozenset(a.lower() for a in committee),
    )
