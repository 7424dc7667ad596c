"""The `monitor` commands. Only typer loads with the CLI; the detectors load when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proofmind.cli.params import WorkspaceOption, output_file
from proofmind.errors import InputError

PRICE_DEFAULTS = ["depeg", "feed-health", "ratio"]
"""The detectors over prices (`monitor replay`, `monitor run --feed`); ratio pairs derivatives
with their underlyings by the feeds' names (stETH with ETH)."""

ParamsOption = Annotated[
    str | None,
    typer.Option(
        "--params",
        help='Detector parameters as JSON, {"detector": {"name": value}}, or @file.json.',
    ),
]

# where `monitor run` and `serve --monitor` deliver alerts besides the store
WebhookOption = Annotated[
    list[str] | None,
    typer.Option(help="POST alerts here (repeat; signed with PROOFMIND_MONITOR_WEBHOOK_SECRET)."),
]
SlackOption = Annotated[
    list[str] | None,
    typer.Option(
        envvar="PROOFMIND_MONITOR_SLACK_URL",
        show_envvar=False,
        help="Post alerts to this Slack incoming webhook (repeat; or "
        "PROOFMIND_MONITOR_SLACK_URL, which keeps the URL out of the process list).",
    ),
]
DiscordOption = Annotated[
    list[str] | None,
    typer.Option(
        envvar="PROOFMIND_MONITOR_DISCORD_URL",
        show_envvar=False,
        help="Post alerts to this Discord webhook (repeat; or PROOFMIND_MONITOR_DISCORD_URL).",
    ),
]
TelegramOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Send alerts to this Telegram chat id or @channel (repeat), from the bot whose "
        "token is in PROOFMIND_MONITOR_TELEGRAM_TOKEN."
    ),
]
MinSeverityOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Deliver only alerts of this severity or above (info, low, medium, high, "
        "critical) to the terminal, files, webhooks and channels; the store keeps them all. "
        "KIND=LEVEL sets it for one kind of sink (terminal, jsonl, webhook, slack, discord, "
        "telegram), over the general one (repeat: --min-severity telegram=critical)."
    ),
]

CooldownOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Send a detector's alert on a subject, then hold its repeats on that subject for "
        "this span (30m, 6h) by the alerts' own times; a more severe one still goes. The store "
        "keeps them all. KIND=SPAN sets it for one kind of sink (repeat: --cooldown slack=1h)."
    ),
]

monitor_app = typer.Typer(
    help="Detectors over blocks and prices: follow a chain live, or replay history and score it.",
    no_args_is_help=True,
)


@monitor_app.command("replay")
def replay_command(
    prices: Annotated[
        list[Path],
        typer.Argument(
            help="CSV (commas, or semicolons with decimal commas, or tabs), Parquet or JSON "
            "(CoinGecko's market_chart, pandas' to_json, JSON lines), compressed (.gz, .bz2, "
            ".xz, .zst) or not, or zipped (a .zip of several files: as a folder): symbol, "
            "timestamp (Unix ms or s, or ISO 8601), usd_price, also under other exports' names "
            "(price, close, snapped_at, date…); a file of one asset may name it by its own name "
            "instead of a symbol column (UST_usd.csv), and a time column with one column of "
            "prices per asset (date,USDC,DAI) is read too, and Binance's klines "
            "(USDCUSDT-1h-2023-03.zip, no header: USDC's close prices); several files, or a "
            "folder of them, are replayed as one series. Or a folder of block tables written by "
            "`proofmind ingest etherscan|rpc`."
        ),
    ],
    events: Annotated[
        Path | None,
        typer.Option("--events", help="Event windows (subject,start,end,source) to score against."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            parser=output_file,
            help="Write alerts here: .jsonl (JSON lines) or .parquet.",
        ),
    ] = None,
    detectors: Annotated[
        list[str] | None,
        typer.Option(
            "--detector",
            "-d",
            help="Detector to run (repeat; default: depeg, feed-health, ratio for prices; "
            "funding-fan-out, flow-anomaly, subject-flow and the configured watch / "
            "fraud-exposure for block tables).",
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="Detector state JSON: resumed from if it exists, saved after."
        ),
    ] = None,
    params: ParamsOption = None,
    subjects: Annotated[
        str | None,
        typer.Option(
            "--subjects", help="Score only these comma-separated assets (an evaluation split)."
        ),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--input", help="What the input is: auto (a folder is block tables), prices, blocks."
        ),
    ] = "auto",
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            parser=output_file,
            help="With --events: write the scores as JSON here (summary, per asset or "
            "detector, missed windows, what was not scored).",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Price files: a malformed row is an error (exit 2) instead of a row skipped "
            "with a warning that names its line.",
        ),
    ] = False,
    reference: Annotated[
        bool,
        typer.Option(
            "--reference/--no-reference",
            help="Price files: when a derivative of ETH or BTC (stETH, renBTC…) has no "
            "underlying in the input, take WETH / WBTC from the shipped reference prices "
            "(hourly, 2021-01 to 2023-02) for its ratio; said on stderr when used.",
        ),
    ] = True,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            help="Block tables: replay this price feed's rounds (its AnswerUpdated logs) with "
            "the price detectors, SUBJECT=0xADDRESS[:DECIMALS] (default 8 decimals; repeat).",
        ),
    ] = None,
) -> None:
    """Run detectors over a price history or ingested block tables; score them against events.

    Over block tables (a folder of `proofmind ingest`), each block is rebuilt as the live
    monitor sees it and goes to the block detectors; with --events (subject = address), prints
    event-level recall, delay and false alerts per month outside the windows.

    With --events, prints per asset the event windows detected, the delay from the first
    non-glitch price outside ±2% of the peg to the alert, and the false alerts per asset-year
    outside the windows (depeg detector).

    A price row that is not a price (an empty or zero price, a field that is not a number, a
    wrong field count) is skipped with a warning naming its line; --strict makes it an error.
    Several price files (one per asset, or a derivative's and its underlying's) are replayed
    as one series in time order; a row repeated in a later file is kept once. Exports of other
    tools read as they are (CoinGecko's snapped_at,price,…; USD_price; date-time texts);
    stderr says which column was taken for which.

    Examples:
      proofmind monitor replay prices.csv.gz --out alerts.jsonl
      proofmind monitor replay ../shared/datasets/token_prices/prices.csv.gz \\
        --events src/proofmind/monitor/data/depeg_events.csv --report scores.json
      proofmind monitor replay day2.csv --state monitor-state.json   # continues from day 1
      proofmind monitor replay vendor.csv --strict   # stop at the first malformed row
      proofmind monitor replay prices.parquet -d ratio \\
        --params '{"ratio": {"pairs": {"STETH": "WETH"}}}'
      proofmind monitor replay steth.csv weth.csv   # STETH/WETH paired by symbol
      proofmind monitor replay steth.csv   # no ETH given: the shipped WETH reference
      proofmind monitor replay UST_usd.csv staked-ether.json   # one asset per file (stETH)
      proofmind monitor replay data/usd_prices/   # every price file in the folder
      proofmind monitor replay usdc.json   # CoinGecko's market_chart, named by the asset
      proofmind monitor replay archive.zip   # a Kaggle download: its price files (also .xz…)
      proofmind monitor replay ../shared/datasets/token_prices/prices.csv.gz \\
        -d depeg -d feed-health -d ratio -d volatility \\
        --params @src/proofmind/monitor/data/stablecoin_pairs.json   # every price detector
      proofmind monitor replay chaindata/ --out block-alerts.jsonl --state blocks-state.json
      proofmind monitor replay chaindata/ -d watch -d subject-flow \\
        --params '{"watch": {"addresses": ["0xab…"]}}' --events incidents.csv
      proofmind monitor replay chaindata/ --feed FEI=0x5FbDB2315678afecb367f032d93F642f64180aa3
    """
    from proofmind.cli.monitor_blocks import input_kind, price_files, run_block_replay
    from proofmind.cli.monitor_run import run_replay

    if report is not None and events is None:
        raise InputError(
            "--report writes the scores against --events, and no --events was given",
            hint="add --events EVENTS.csv, or drop --report",
        )
    kinds = [input_kind(path, kind) for path in prices]
    if feed and kinds != ["blocks"]:
        raise InputError(
            "--feed reads a price feed's rounds from one folder of block tables, not from "
            + ("price files" if "blocks" not in kinds else f"{len(prices)} inputs"),
            hint="ingest the feed's blocks with `proofmind ingest rpc -o DIR`, then "
            "`monitor replay DIR --feed SUBJECT=0xADDRESS`",
        )
    if feed:
        from proofmind.cli.monitor_run import console, saved_rounds
        from proofmind.monitor.pricefeed import parse_feed_decimals, rounds_in_tables

        rounds = rounds_in_tables(prices[0], parse_feed_decimals(feed), saved_rounds(state))
        if not len(rounds.series):
            console.print(f"no round newer than those {state} has read: nothing to replay")
            return
        chosen = subjects.split(",") if subjects else None
        run_replay(prices, events, out, detectors or PRICE_DEFAULTS, state, chosen, params,
                   strict, report, reference=reference, rounds=rounds)  # fmt: skip
        return
    if "blocks" in kinds:
        if len(prices) > 1:
            raise InputError(
                f"give one folder of block tables, not {len(prices)} inputs "
                f"({', '.join(str(p) for p in prices)})",
                hint="replay one folder of `proofmind ingest` tables, or several price files",
            )
        if strict:
            raise InputError(
                f"--strict is for price files; {prices[0]} holds block tables",
                hint="drop --strict: block tables are checked when they are ingested",
            )
        chosen = subjects.split(",") if subjects else None
        run_block_replay(prices[0], events, out, detectors, state, chosen, params, report=report)
        return

    chosen = subjects.split(",") if subjects else None
    run_replay(
        price_files(prices),
        events,
        out,
        detectors or PRICE_DEFAULTS,
        state,
        chosen,
        params,
        strict,
        report,
        reference=reference,
    )


@monitor_app.command("detectors")
def detectors_command() -> None:
    """List the installed detectors (the `proofmind.detectors` entry points).

    Example:
      proofmind monitor detectors
    """
    from proofmind.monitor.registry import available

    for name, target in sorted(available().items()):
        typer.echo(f"{name}\t{target}")


@monitor_app.command("run")
def run_command(
    detectors: Annotated[
        list[str] | None,
        typer.Option(
            "--detector",
            "-d",
            help="Detector to run (repeat; default: watch, or depeg and feed-health with --feed).",
        ),
    ] = None,
    params: ParamsOption = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            help="A price feed to read each block, SUBJECT=0xADDRESS (AggregatorV3; repeat)."
        ),
    ] = None,
    feed_read: Annotated[
        str,
        typer.Option(help="How to see new rounds: logs (AnswerUpdated) or rounds (calls)."),
    ] = "logs",
    url: Annotated[
        str | None,
        typer.Option(help="Follow this JSON-RPC node instead of the workspace's chain."),
    ] = None,
    confirmations: Annotated[
        int, typer.Option(min=0, help="Blocks a block must be buried under before it counts.")
    ] = 0,
    from_block: Annotated[
        str, typer.Option(help="First block on a first run (a number, or latest).")
    ] = "latest",
    jsonl: Annotated[
        Path | None,
        typer.Option(
            parser=output_file, help="Append alerts and retractions to this JSON-lines file."
        ),
    ] = None,
    webhook: WebhookOption = None,
    slack: SlackOption = None,
    discord: DiscordOption = None,
    telegram: TelegramOption = None,
    min_severity: MinSeverityOption = None,
    cooldown: CooldownOption = None,
    terminal: Annotated[bool, typer.Option(help="Print alerts on the terminal.")] = True,
    anchor_every: Annotated[
        float | None,
        typer.Option(
            min=1.0,
            help="Anchor new alerts on the provenance ledger every this many seconds.",
        ),
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve /health and /metrics on this port."),
    ] = None,
    http_host: Annotated[
        str,
        typer.Option(
            help="The address for --http-port: 127.0.0.1 (this machine only), or 0.0.0.0 "
            "(every interface, for a scraper or probe in another container)."
        ),
    ] = "127.0.0.1",
    max_blocks: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many blocks.")
    ] = None,
    until_block: Annotated[
        int | None, typer.Option(min=0, help="Stop once this block is processed.")
    ] = None,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between polls when idle.")] = 1.0,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Delivery attempts before a dead letter.")
    ] = 8,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="PROOFMIND_WORKSPACE",
            show_default=False,
            help="The .proofmind workspace (default: the nearest above here).",
        ),
    ] = None,
) -> None:
    """Follow the chain block by block and raise alerts as they happen.

    With --feed, each block's new rounds of those price feeds (Chainlink AggregatorV3Interface)
    go to the price detectors (depeg, feed-health, ratio) too.

    Alerts are stored once in the workspace (monitor/alerts.sqlite), delivered to the terminal,
    a JSON-lines file, webhooks (HMAC-signed, retried with backoff, dead-lettered) and Slack,
    Discord or Telegram channels, and retracted when a reorg drops their block. Restart it any
    time: it resumes where it stopped.

    Examples:
      proofmind monitor run --params '{"watch": {"addresses": ["0xab…"]}}'
      proofmind monitor run -d watch -d funding-fan-out --params @monitor.json \\
          --jsonl alerts.jsonl --webhook https://hooks.example.com/proofmind --http-port 9108
      proofmind monitor run --url https://rpc.example.org --confirmations 12 --from-block 19000000
      proofmind monitor run --feed FEI=0x5FbDB2315678afecb367f032d93F642f64180aa3 --jsonl a.jsonl
      proofmind monitor run --params @monitor.json --anchor-every 3600
      proofmind monitor run --min-severity high --slack https://hooks.slack.com/…
      proofmind monitor run --jsonl a.jsonl --slack https://hooks.slack.com/… \\
          --min-severity slack=high --cooldown slack=1h
      PROOFMIND_MONITOR_TELEGRAM_TOKEN=123:AB… proofmind monitor run --telegram -1001234
    """
    from proofmind.cli.monitor_run import run_live

    default = PRICE_DEFAULTS if feed else ["watch"]
    run_live(
        workspace, url, detectors or default, params, confirmations, from_block, jsonl,
        webhook or [], terminal, http_port, max_blocks, until_block, poll, max_attempts,
        feed or [], feed_read, anchor_every,
        {"slack": slack or [], "discord": discord or [], "telegram": telegram or []},
        min_severity, cooldown, http_host,
    )  # fmt: skip


@monitor_app.command("feed-replay")
def feed_replay_command(
    symbol: Annotated[str, typer.Argument(help="The asset whose prices to push, e.g. FEI.")],
    prices: Annotated[
        Path | None,
        typer.Option(help="Price file (symbol, timestamp ms, usd_price); default: the sample."),
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(help="Push into this ReplayPriceFeed (default: deploy a new one)."),
    ] = None,
    warmup: Annotated[
        int, typer.Option(min=0, help="Push the first N prices in batches (a detector's warm-up).")
    ] = 0,
    interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between rounds after the warm-up.")
    ] = 0.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Push at most this many prices.")] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="PROOFMIND_WORKSPACE",
            show_default=False,
            help="The .proofmind workspace (default: the nearest above here).",
        ),
    ] = None,
) -> None:
    """Replay a price history into a Chainlink-compatible feed on the chain, round by round.

    Deploys a ReplayPriceFeed (AggregatorV3Interface, 8 decimals) unless --feed names one, and
    pushes the asset's prices with their own times as updatedAt. The default prices are the
    shipped real sample (FEI and USDC, hourly, 2022-05-20 to 2022-08-25).

    Examples:
      proofmind monitor feed-replay FEI --warmup 700 --interval 1
      proofmind monitor feed-replay USDC --prices prices.csv.gz \\
          --feed 0x5FbDB2315678afecb367f032d93F642f64180aa3
    """
    from proofmind.cli.monitor_run import run_feed_replay

    run_feed_replay(workspace, symbol, prices, feed, warmup, interval, limit)


@monitor_app.command("alerts")
def alerts_command(
    alert_id: Annotated[
        int | None, typer.Argument(min=1, help="Show this alert in full, its evidence too.")
    ] = None,
    detector: Annotated[
        str | None, typer.Option("--detector", "-d", help="Only this detector's alerts.")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="Only alerts about this subject: an address (any case), asset or tx."),
    ] = None,
    severity: Annotated[
        str | None, typer.Option(help="Only this severity: info, low, medium, high, critical.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only active, or only retracted (raised on blocks a reorg dropped)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only alerts from this time on (their block's or price's time): an ISO 8601 "
            "date or time in UTC, unix seconds, or a span before now (30m, 24h, 7d)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only alerts before this time (the same forms).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    json_lines: Annotated[
        bool, typer.Option("--json", help="Each alert as a JSON line, every field, not a table.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="The last --limit alerts oldest first, then new alerts and retractions as "
            "they are stored, until Ctrl-C.",
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List the alerts `monitor run` stored, newest first, or show one in full.

    Filters combine; the table says how many alerts match in all. A retracted alert (raised
    on a block a reorg dropped) is listed as retracted. --follow keeps watching the store, as
    `tail -f` does a file (also while `monitor run` or `serve --monitor` runs elsewhere).

    Examples:
      proofmind monitor alerts
      proofmind monitor alerts --detector depeg --status active --since 24h
      proofmind monitor alerts --subject FEI --since 2022-06-01 --until 2022-07-01
      proofmind monitor alerts --subject FEI --limit 1000 --json > fei-alerts.jsonl
      proofmind monitor alerts 42
      proofmind monitor alerts --follow --severity critical
      proofmind monitor alerts -f --json | jq -r .explanation
    """
    from proofmind.cli.monitor_run import AlertQuery, run_alerts

    query = AlertQuery(detector, subject, severity, status, since, until)
    run_alerts(workspace, alert_id, query, limit, json_lines, follow)


@monitor_app.command("mute")
def mute_command(
    subject: Annotated[
        str,
        typer.Argument(
            help="Whose alerts to silence: an address (any case), asset or tx; or a pattern "
            "(0xab*, USD?; * for every subject)."
        ),
    ],
    span: Annotated[str, typer.Option("--for", help="For how long: 30m, 24h, 7d, 2w.")] = "24h",
    detector: Annotated[
        str | None,
        typer.Option("--detector", "-d", help="Only this detector's alerts (default: all)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, shown by `monitor mutes`.")] = "",
    json_out: Annotated[bool, typer.Option("--json", help="The mute as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Silence a subject's alerts for a while: stored and listed, not delivered.

    While the mute holds, alerts on the subject (from every detector, or the one named) are
    stored as always, and `monitor alerts`, the API and agents see them, but no sink gets them,
    nor those still waiting for delivery: not the terminal, files, webhooks or channels. Their
    retractions are not sent either. A running `monitor run` or `serve --monitor` heeds a new
    mute from its next delivery.

    Examples:
      proofmind monitor mute FEI --for 7d --reason "FEI is winding down"
      proofmind monitor mute 0xab5801a7d398351b8be11c439e05c5b3259aec9b -d watch --for 2h
      proofmind monitor mute '*' -d volatility --for 7d   # a detector, on every subject
      proofmind monitor mute '*' --for 1h --reason "node maintenance"
    """
    from proofmind.cli.monitor_run import run_mute

    run_mute(workspace, subject, span, detector, reason, json_out)


@monitor_app.command("mutes")
def mutes_command(
    every: Annotated[bool, typer.Option("--all", help="Also the mutes that have ended.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Each mute as a JSON line.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List the mutes that hold now (or all of them), oldest first.

    Examples:
      proofmind monitor mutes
      proofmind monitor mutes --all --json
    """
    from proofmind.cli.monitor_run import run_mutes

    run_mutes(workspace, every, json_out)


@monitor_app.command("unmute")
def unmute_command(
    mute_id: Annotated[int, typer.Argument(min=1, help="The mute's id (`monitor mutes`).")],
    workspace: WorkspaceOption = None,
) -> None:
    """End a mute now: alerts stored from now on are delivered again.

    Alerts stored while it held stay undelivered (they are listed by `monitor alerts`).

    Examples:
      proofmind monitor unmute 3
    """
    from proofmind.cli.monitor_run import run_unmute

    run_unmute(workspace, mute_id)


@monitor_app.command("deliveries")
def deliveries_command(
    status: Annotated[
        str | None,
        typer.Option(
            help="Only pending, delivered, dead (dead letters), muted, filtered (below a "
            "--min-severity), throttled (within a --cooldown) or skipped (a retraction of an "
            "alert the sink never got) deliveries."
        ),
    ] = None,
    sink: Annotated[
        str | None,
        typer.Option(
            help="Only this sink's: its name as listed, or a kind of sink (terminal, jsonl, "
            "webhook, slack, discord, telegram)."
        ),
    ] = None,
    alert: Annotated[
        int | None, typer.Option(min=1, help="Only this alert's (and its retraction's).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    json_out: Annotated[
        bool, typer.Option("--json", help="Each delivery as a JSON line, not a table.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List the deliveries of alerts and retractions to sinks, newest first.

    Each alert (and each retraction) is queued once per sink. A delivery a sink keeps refusing
    becomes a dead letter after --max-attempts tries; the list shows its last error, and
    `monitor redeliver` queues it again once the receiver is fixed.

    Examples:
      proofmind monitor deliveries --status dead
      proofmind monitor deliveries --sink webhook --limit 100
      proofmind monitor deliveries --alert 42
      proofmind monitor deliveries --status dead --json | jq -r .last_error
    """
    from proofmind.cli.monitor_outbox import run_deliveries

    run_deliveries(workspace, status, sink, alert, limit, json_out)


@monitor_app.command("redeliver")
def redeliver_command(
    ids: Annotated[
        list[int] | None,
        typer.Argument(min=1, help="The dead letters' ids (`monitor deliveries --status dead`)."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    sink: Annotated[
        str | None,
        typer.Option(
            help="With --all: only this sink's (its name as listed, or a kind such as webhook)."
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="What was queued and what was not, as JSON.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Queue dead letters again, once their receiver is fixed.

    Their tries count from zero, and they go first in their sink's order. A running
    `monitor run` or `serve --monitor` sends them at its next delivery pass; otherwise the next
    run with their sink does. A webhook gets them under their old Idempotency-Key. An alert a
    reorg retracted since, and a retraction of an alert the sink never got, are left dead and
    said so.

    Examples:
      proofmind monitor redeliver 12 13
      proofmind monitor redeliver --all --sink webhook
    """
    from proofmind.cli.monitor_outbox import run_redeliver

    run_redeliver(workspace, ids or [], every, sink, json_out)


@monitor_app.command("test-sinks")
def test_sinks_command(
    webhook: WebhookOption = None,
    slack: SlackOption = None,
    discord: DiscordOption = None,
    telegram: TelegramOption = None,
) -> None:
    """Send a test alert to webhooks and channels, to check they are set up.

    Each gets one message, with no retry, and the answer is shown: a webhook the signed JSON
    of a delivery whose event is "test" (detector "test", a fresh Idempotency-Key), a channel
    a "TEST" message. Nothing is stored. Exits 1 when a sink fails.

    Examples:
      proofmind monitor test-sinks --webhook https://hooks.example.com/proofmind
      proofmind monitor test-sinks --slack https://hooks.slack.com/services/…
      proofmind monitor test-sinks --telegram -1001234567890
    """
    from proofmind.cli.monitor_outbox import run_test_sinks

    run_test_sinks(
        webhook or [], {"slack": slack or [], "discord": discord or [], "telegram": telegram or []}
    )


@monitor_app.command("anchor")
def anchor_command(
    max_alerts: Annotated[
        int, typer.Option(min=1, help="Alerts per batch (one Merkle root each).")
    ] = 10_000,
    workspace: WorkspaceOption = None,
) -> None:
    """Anchor the monitor's new alerts on the provenance ledger, as Merkle roots of batches.

    The alerts stored since the last batch form a new batch; its root is registered on the
    ProvenanceRegistry like any ledger record. An interrupted run is finished by the next.

    Examples:
      proofmind monitor anchor
      proofmind monitor anchor --max-alerts 1000
    """
    from proofmind.cli.monitor_run import run_anchor

    run_anchor(workspace, max_alerts)


@monitor_app.command("verify")
def verify_command(
    alert_id: Annotated[int, typer.Argument(min=1, help="The alert's id (in the alert store).")],
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json", parser=output_file, help="Write the proof (leaf, path, root, record) here."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Prove that an alert is unaltered and in a batch anchored on chain.

    Exit code 0 when it is, 1 with the reason when it is not (altered, not batched or not
    anchored yet, or absent from the chain).

    Examples:
      proofmind monitor verify 42
      proofmind monitor verify 42 --json alert-42.proof.json
    """
    from proofmind.cli.monitor_run import run_verify

    raise typer.Exit(run_verify(workspace, alert_id, json_out))
