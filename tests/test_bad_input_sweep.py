"""Every command, given bad input, fails the same way: exit 1 or 2 (never 70, "a bug"), exactly
one line on stderr, no traceback, and nothing left behind (no new file, no new ledger row).

The commands are enumerated from the Typer app, so a new command without bad inputs in
``CASES`` fails ``test_every_command_has_bad_inputs``. The commands run in-process
(``proofmind.cli.main(argv)``) against the session devnet, through the rpc backend and a
workspace whose contracts are deployed; the few that install signal handlers or logging run as
subprocesses (`serve` in-process: its checks all come before it starts anything).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from proofmind.chain.accounts import Keystore
from proofmind.chain.base import Chain
from proofmind.cli.main import main
from proofmind.workspace import init_workspace

GOOD = "0x00000000000000000000000000000000000003e8"  # an account of the synthetic exports
ABSENT = "0x000000000000000000000000000000000000dead"  # in no row of them
BAD_CHECKSUM = "0xAbcdef0123456789abcdef0123456789abcdef01"  # mixed case, wrong EIP-55
SHORT = "0x" + "ab" * 19  # 19 bytes
NON_HEX = "0x" + "zz" * 20
LONG_LIST = ",".join(["0.5"] * 3000)  # once tried as a file name: "File name too long"
POOL_TOO_BIG = str(2**256)
NO_WS = "/nonexistent/workspace"
ROOT32 = "0x" + "ab" * 32  # a flagged-list root no report of the sweep's workspace has
WATCH = '{"watch": {"addresses": ["0x00000000000000000000000000000000000003e8"]}}'

SAMPLE_PRICES = Path(__file__).parents[1] / "src/proofmind/monitor/data/sample_prices.csv"

# command path → bad inputs: (arguments after the command, a phrase the error must hold)
CASES: dict[tuple[str, ...], list[tuple[list[str], str]]] = {
    ("init",): [(["/proc/x"], "/proc/x"), (["afile"], "afile")],
    ("chain", "up"): [([], "rpc"), (["-w", NO_WS], "no proofmind workspace")],
    ("chain", "down"): [(["-w", NO_WS], "no proofmind workspace")],
    ("chain", "status"): [(["-w", NO_WS], "no proofmind workspace")],
    ("contracts", "deploy"): [(["NoSuchContract"], "NoSuchContract")],
    ("contracts", "list"): [(["-w", NO_WS], "no proofmind workspace")],
    ("contracts", "call"): [
        (["MerkleCommitments", "isCommitted", "0x12"], "bytes32"),
        (["MerkleCommitments", "nosuchfunction"], "nosuchfunction"),
    ],
    ("contracts", "send"): [
        (["MerkleCommitments", "commit", "0x12", "1", "x"], "bytes32"),
        (["RewardToken", "transfer", BAD_CHECKSUM, "1"], "EIP-55"),
        (["RewardToken", "transfer", SHORT, "1"], "40"),
        (["--", "RewardToken", "transfer", GOOD, "-1"], "uint256"),
    ],
    ("accounts", "new"): [(["../evil"], "invalid account name")],
    ("accounts", "import"): [(["../evil"], "invalid account name")],
    ("accounts", "list"): [(["-w", NO_WS], "no proofmind workspace")],
    ("provenance", "dataset"): [
        (["nosuch.csv"], "nosuch.csv"),
        (["long.csv"], "line 2 is longer than the reader's block"),
        (["empty.csv"], "empty.csv"),
        (["rows.csv", "--engine", "dask"], "unknown engine"),
        (["foo://bucket/d", "--engine", "local"], "unknown file system foo://"),
        (["file:///nonexistent/d", "--engine", "ray"], "does not exist"),
        (["hdfs://namenode:8020/d", "--engine", "local"], "needs libhdfs"),
        (["file:///nonexistent/d"], "add --engine local"),
    ],
    ("provenance", "check"): [
        (["rows.csv", "--chunks", "9:2"], "FIRST:END"),
        (["rows.csv", "--engine", "dask"], "unknown engine"),
        (["s3://bucket/d"], "not a committed dataset"),
    ],
    ("provenance", "model"): [(["nosuch.onnx"], "nosuch.onnx")],
    ("provenance", "mlflow"): [(["abc", "--tracking", "nosuchdir"], "nosuchdir")],
    ("provenance", "anchor"): [(["--batch-size", "0"], "--batch-size")],
    ("provenance", "list"): [(["-w", NO_WS], "no proofmind workspace")],
    ("provenance", "proof"): [
        (["rows.csv", "--row", "-1"], "--row"),
        (["gs://bucket/d", "--row", "0"], "not a committed dataset"),
    ],
    ("provenance", "lineage"): [
        (["--format", "xml"], "xml"),
        (["-o", "/proc/x/lineage.json"], "/proc"),
        (["-o", "afile/lineage.json"], "afile is a file"),
        (["1", "--direction", "sideways"], "use one of ancestors, descendants, both"),
        (["1", "--direction", "Both", "-o", "l.json"], "unknown lineage direction 'Both'"),
    ],
    ("verify",): [
        (["nosuch.onnx"], "nosuch.onnx"),
        (["0x" + "ab" * 32], "is not on chain"),
        (["s3://bucket/d"], "nothing in this workspace's ledger describes s3://bucket/d"),
    ],
    ("data", "contribute"): [
        (["nosuch.csv", "--dataset", "d"], "nosuch.csv"),
        (["rows.csv", "--dataset", "d", "--account", "-1"], "--account"),
        (["rows.csv", "--dataset", "d", "-o", "/proc/x/c.json"], "/proc"),
        (["rows.csv", "--dataset", "d", "--account", "99"], "no account 99"),
        (["rows.csv", "--dataset", "d", "--days", "0"], "--days"),
    ],
    ("data", "assemble"): [
        (["nosuch.json", "--dataset", "d", "-o", "/proc/x/a.csv"], "/proc"),
        (["nosuch.json", "--dataset", "d", "-o", "afile/a.csv"], "afile is a file"),
        (["nosuch.json", "--dataset", "d", "-o", "out.csv"], "nosuch.json"),
    ],
    ("data", "revoke"): [(["nosuch.json"], "nosuch.json")],
    ("rewards", "value"): [
        (["nosuch.csv", "--test", "t.csv", "--features", "x", "--label", "y"], "nosuch.csv"),
        (["rows.csv", "--test", "rows.csv", "--features", "a", "--label", "b", "--k", "0"], "--k"),
        (["r.csv", "--test", "t.csv", "--features", "a", "--label", "b", "--engine", "x"], "x"),
        (
            ["short.csv", "--test", "rows.csv", "--features", "a", "--label", "b"],
            "short.csv, line 3 (data row 1): no value for b, contributor",
        ),
        (
            ["blank.csv", "--test", "rows.csv", "--features", "a", "--label", "b"],
            "blank.csv, line 2 (data row 0): a = '' is not a number",
        ),
    ],
    ("rewards", "publish"): [
        (["0x00", "--pool", "-5", "--mint"], "--pool"),
        (["0x00", "--pool", POOL_TOO_BIG, "--mint"], "--pool"),
        (["0x" + "ab" * 32, "--pool", "5"], "0xabab"),
    ],
    ("rewards", "sweep"): [
        (["--epoch", "-1"], "--epoch"),
        (["--epoch", "0", "--to", SHORT], "38 hex digits"),
        (["--epoch", "0", "--to", BAD_CHECKSUM], "EIP-55"),
        (["--epoch", "7"], "epoch 7"),
    ],
    ("rewards", "claim"): [
        (["--epoch", "0", "--account", SHORT], "38 hex digits"),
        (["--epoch", "0", "--account", NON_HEX], "not hex"),
        (["--epoch", "0", "--account", BAD_CHECKSUM], "EIP-55"),
        (["--epoch", "-1", "--account", GOOD], "--epoch"),
        (["--epoch", "7", "--account", GOOD], "epoch 7"),
    ],
    ("rewards", "status"): [
        (["--epoch", "-1"], "--epoch"),
        (["--epoch", "999"], "UnknownEpoch"),
        (["--epoch", POOL_TOO_BIG], "--epoch"),
    ],
    ("ingest", "rpc"): [
        (["--url", "{url}", "--from", "10", "--to", "5", "-o", "r"], "before --from"),
        (["--url", "{url}", "--from", "100000", "--to", "100010", "-o", "r"], "beyond"),
        (["--url", "{url}", "--to", "100010", "-o", "r"], "beyond"),
        (["--url", "{url}", "-o", "/proc/x"], "/proc"),
        (["--url", "{url}", "-o", "afile/out"], "afile is a file"),
        (["--url", "{url}", "--from", "-1"], "--from"),
        (["--url", "{url}", "--follow", "--poll", "0"], "--poll"),
    ],
    ("ingest", "etherscan"): [
        (["nosuch.csv", "-o", "e"], "nosuch.csv"),
        (["txlist.csv.gz", "-o", "/proc/x"], "/proc"),
        (["txlist.csv.gz", "-o", "afile"], "afile is a file"),
        (["longtx.csv", "-o", "e"], "line 2 is longer than the reader's block"),
    ],
    ("ingest", "edges"): [
        (["nosuch.csv", "-o", "e"], "nosuch.csv"),
        (["long.csv", "-o", "e"], "line 2 is longer than the reader's block"),
        (["long.csv", "-o", "/proc/x"], "/proc"),
    ],
    ("fraud", "evaluate"): [
        (["--labels", "labels.csv", "--data", "nosuchdir"], "nosuchdir does not exist"),
        (["--labels", "labels.csv", "--data", "emptydir"], "holds no transactions"),
        (["--labels", "nomatch.csv", "--data", "chaindata"], "0 labels matched"),
        (["--labels", "labels.csv", "--data", "chaindata", "--folds", "1"], "--folds"),
        (["--labels", "longlabels.csv", "--data", "chaindata"], "cannot read longlabels.csv"),
        (["--labels", "mlp.onnx", "--data", "chaindata"], "cannot read mlp.onnx"),
    ],
    ("fraud", "train"): [
        (["--labels", "labels.csv", "--data", "nosuchdir", "-o", "m2.txt"], "does not exist"),
        (["--labels", "nomatch.csv", "--data", "chaindata", "-o", "m2.txt"], "0 labels"),
        (["--labels", "labels.csv", "--data", "chaindata", "-o", "/proc/x/m.txt"], "/proc"),
        (["--labels", "labels.csv", "--data", "nosuchdir", "--register"], "does not exist"),
        (["--labels", "labels.csv", "--data", "chaindata", "--mlp-onnx", "afile/m"], "afile"),
        (
            ["--labels", "labels.csv", "--data", "chaindata", "--first-n", "2", "--register"],
            "--first-n cannot",
        ),
    ],
    ("fraud", "early-warning"): [
        (["--labels", "labels.csv", "--data", "nosuchdir"], "nosuchdir does not exist"),
        (["--labels", "labels.csv", "--data", "chaindata", "--first-n", "0,3"], "--first-n"),
        (["--labels", "labels.csv", "--data", "chaindata", "--first-n", "a"], "--first-n"),
        (["--labels", "nomatch.csv", "--data", "chaindata"], "0 labels matched"),
    ],
    ("fraud", "export"): [
        (["nosuch.txt", "-o", "m.onnx"], "nosuch.txt"),
        (["model.txt", "-o", "/proc/x/m.onnx"], "/proc"),
        (["labels.csv", "-o", "m.onnx"], "not a LightGBM text model"),
    ],
    ("fraud", "score"): [
        ([ABSENT, "--data", "chaindata", "--model", "model.txt"], "nothing scored"),
        ([NON_HEX, "--data", "chaindata", "--model", "model.txt"], "not hex"),
        ([BAD_CHECKSUM, "--data", "chaindata", "--model", "model.txt"], "EIP-55"),
        ([GOOD, "--data", "nosuchdir", "--model", "model.txt"], "nosuchdir does not exist"),
        (["nosuchfile", "--data", "chaindata", "--model", "model.txt"], "nosuchfile"),
        ([GOOD, "--data", "chaindata", "--model", "labels.csv"], "not a LightGBM text model"),
        ([GOOD, "--data", "chaindata", "--model", "424242"], "no record for '424242'"),
        ([GOOD, "--data", "chaindata", "--model", "0x" + "ab" * 32], "no record for '0xabab"),
        (["--data", "chaindata", "--model", "model.txt"], "no address to score"),
        ([GOOD, "--model", "model.txt", "--engine", "spark"], "--out is required"),
        ([GOOD, "--model", "model.txt", "--master", "local[2]"], "--master is for --engine"),
        ([GOOD, "--model", "model.txt", "-o", "s.parquet", "--explain", "2"], "--explain"),
        (["--model", "model.txt", "--data", "s3a://b/d", "-o", "s.parquet"], "only the Spark"),
        (["--model", "model.txt", "--data", "chaindata", "-o", "s.csv"], "end in .parquet"),
        (["--model", "model.txt", "--data", "chaindata", "-o", "/proc/x.parquet"], "/proc"),
        (
            ["--model", "model.txt", "--data", "nosuchdir", "-o", "s", "--engine", "spark"],
            "nosuchdir does not exist",
        ),
        (["--model", "model.txt", "--engine", "sparkle", "-o", "s"], "sparkle"),
        ([GOOD, "--model", "model.txt", "--first-n", "0"], "--first-n"),
        (["--model", "model.txt", "--first-n", "3", "-o", "s.parquet"], "--first-n scores"),
        (["--model", "model.txt", "-o", "s.parquet", "--batch-rows", "0"], "--batch-rows"),
        ([GOOD, "--model", "model.txt", "--batch-rows", "10"], "--batch-rows sizes the batches"),
        (["--model", "model.txt", "-o", "s", "--engine", "spark", "--batch-rows", "9"], "Spark"),
    ],
    ("fraud", "features"): [
        (["--data", "nosuchdir"], "nosuchdir does not exist"),
        (["--data", "emptydir"], "holds no transactions"),
        ([NON_HEX, "--data", "chaindata"], "not hex"),
        (["--data", "chaindata", "-o", "afile/f.parquet"], "afile"),
        (["--data", "chaindata", "-o", "f.csv"], "end in .parquet"),
        (["--data", "chaindata", "-o", "afile", "--engine", "spark"], "afile is a file"),
        (["--data", "hdfs://nn/d"], "only the Spark engine"),
        (["--data", "chaindata", "--master", "local[2]"], "--master is for --engine"),
        (["--data", "chaindata", "--batch-rows", "-1"], "--batch-rows"),
        (["--data", "chaindata", "-o", "f", "--engine", "spark", "--batch-rows", "9"], "Spark"),
    ],
    ("gov", "ingest"): [
        (["nosuch.csv", "-o", "g"], "nosuch.csv does not exist"),
        (["rows.csv", "-o", "g"], "lacks column(s)"),
        (["afile", "-o", "g"], "neither a .csv"),
        (["labels.csv", "-o", "g"], "lacks column(s)"),
        (["badsnap.json", "-o", "g"], "not a Snapshot GraphQL answer"),
        (["badprop.csv", "-o", "g", "--strict"], "line 2 of"),
        (["badprop.csv", "-o", "afile"], "afile is a file"),
        (["proposals.csv", "badvotes.jsonl", "-o", "g", "--strict"], "line 1 of"),
        (["proposals.csv", "nosuch.jsonl", "-o", "g"], "nosuch.jsonl does not exist"),
        (["-o", "g"], "no governance files"),
        (["proposals.csv", "--rpc", "http://127.0.0.1:9", "-o", "g"], "--rpc goes with --chain"),
        (["--chain", "chaindata", "-o", "g"], "--chain and --governor go together"),
        (["--chain", "chaindata", "--governor", "0x12", "-o", "g"], "is not an address"),
        (["--chain", "nosuchdir", "--governor", "0x" + "a" * 40, "-o", "g"], "holds no logs"),
    ],
    ("gov", "predict"): [
        (["--data", "nosuchdir"], "holds no proposals table"),
        (["--data", "govdata", "--dao", "nosuch"], "no DAO named 'nosuch'"),
        (["--data", "govdata", "--test-share", "0.99"], "--test-share"),
        (["--data", "govdata", "-o", "/proc/x/f.csv"], "/proc"),
        (["--data", "govtiny"], "too few"),
    ],
    ("gov", "report"): [
        (["--data", "nosuchdir"], "holds no proposals table"),
        (["--data", "govdata", "-o", "afile/r.md"], "afile"),
    ],
    ("gov", "check"): [
        (["nosuch.json", "--data", "govdata"], "is not a recorded governance forecast"),
        (["afile", "--data", "govdata"], "is not a recorded governance forecast"),
        (["afile", "--data", "nosuchdir"], "holds no proposals table"),
    ],
    ("gov", "texts"): [
        (["--data", "nosuchdir"], "holds no proposals table"),
        (["--data", "govdata", "--dao", "nosuch"], "no DAO named 'nosuch'"),
        (["--data", "govdata", "--show", "-1"], "--show"),
    ],
    ("monitor", "replay"): [
        (["nosuch.csv"], "nosuch.csv"),
        ([str(SAMPLE_PRICES), "--params", "{bad"], "--params"),
        ([str(SAMPLE_PRICES), "-d", "nosuch"], "no detector named 'nosuch'"),
        ([str(SAMPLE_PRICES), "-o", "/proc/x/alerts.jsonl"], "/proc"),
        ([str(SAMPLE_PRICES), "-o", "afile/alerts.jsonl"], "afile is a file"),
        ([str(SAMPLE_PRICES), "--subjects", "NOPE"], "no price in"),
        ([str(SAMPLE_PRICES), "-o", "alerts.txt"], "alert format"),
        (["govdata"], "folder with neither ingested block tables"),
        ([str(SAMPLE_PRICES), "--input", "blocks"], "is not a folder of block tables"),
        ([str(SAMPLE_PRICES), "--input", "xml"], "--input 'xml'"),
        (["chaindata", "--strict"], "--strict is for price files"),
        (["chaindata", "--feed", "FEI=0x" + "ab" * 20], "chaindata has no logs table"),
        (["chaindata", "--feed", "FEI=0xab"], "--feed 'FEI=0xab' is not SUBJECT=0xADDRESS"),
        ([str(SAMPLE_PRICES), "--feed", "FEI=0x" + "ab" * 20], "--feed reads a price feed's"),
        ([str(SAMPLE_PRICES), "--params", '{"depeg": {"window_hours": 0}}'], "window_hours"),
        ([str(SAMPLE_PRICES), "--params", '{"depeg": {"peg": "one"}}'], "peg must be a number"),
        ([str(SAMPLE_PRICES), "--report", "r.json"], "no --events was given"),
        ([str(SAMPLE_PRICES), "--report", "/proc/x/r.json"], "/proc"),
        (["badprices.csv", "--strict"], "badprices.csv, line 3: usd_price 'abc' is not a number"),
        (["nogoodprices.csv"], "no good price row"),
        (["badtimes_usd.csv", "--strict"], "line 3: timestamp 'soon' is not a date-time"),
        (["twoprices.csv"], "the columns price and close could both be the usd_price"),
        (["noprices"], "no file in noprices is a price file"),
        (["broken.json"], "broken.json, line 1, column 34: not JSON"),
        (["status.json"], "status.json: JSON that is not a price series"),
        (["ratelimit.json"], "ratelimit.json: an API's error answer, not prices (\"You've"),
        (["badlines.jsonl", "--strict"], "badlines.jsonl, line 2: bad price row"),
        (["cut.csv.xz"], "cannot read CSV file cut.csv.xz: Compressed file ended"),
        (["docs.zip"], "docs.zip holds no price file"),
        ([str(SAMPLE_PRICES), "--events", "two.zip"], "zip file two.zip holds 2 files (a.csv, b"),
        (["notzip.zip"], "cannot read zip file notzip.zip: File is not a zip file"),
        (["klines.csv"], "klines.csv: no header row, and its name is not a Binance kline file's"),
    ],
    ("monitor", "detectors"): [(["extra"], "unexpected extra argument")],
    ("agent", "safe", "create"): [
        (["--name", "bad name!", "--owner", "0"], "--name"),
        (["--name", "t", "--owner", "0", "--delay", "soon"], "--delay"),
        (["--name", "t", "--owner", "0", "--delay", "31d"], "out of range"),
        (["--name", "t", "--owner", "5"], "account index 5 is out of range"),
        (["--name", "t", "--owner", "0", "--threshold", "2"], "threshold 2 is impossible"),
    ],
    ("agent", "safe", "list"): [(["-w", NO_WS], "no proofmind workspace")],
    ("agent", "policy", "grant"): [
        (["nosuch.toml", "--safe", "t"], "nosuch.toml"),
        (["afile", "--safe", "t"], "not valid TOML"),
        (["badpolicy.toml", "--safe", "t"], "recipients.0"),
        (["policy.toml", "--safe", "nosuch"], "no guarded Safe named 'nosuch'"),
    ],
    ("agent", "policy", "show"): [(["--safe", "nosuch", "--agent", "0"], "no guarded Safe")],
    ("agent", "policy", "revoke"): [(["--safe", "nosuch", "--agent", "0"], "no guarded Safe")],
    ("agent", "policy", "renew"): [
        (["--safe", "t", "--agent", "0", "--expires-in", "soon"], "--expires-in"),
        (["--safe", "t", "--agent", "0", "--expires-in", "400d"], "at most 365 days"),
        (["--safe", "nosuch", "--agent", "0", "--expires-in", "1d"], "no guarded Safe"),
    ],
    ("agent", "policy", "pause"): [(["--safe", "nosuch"], "no guarded Safe")],
    ("agent", "policy", "unpause"): [(["--safe", "nosuch"], "no guarded Safe")],
    ("agent", "queue"): [(["--safe", "nosuch"], "no guarded Safe")],
    ("agent", "veto"): [(["0x12", "--safe", "t"], "is not an action id")],
    ("mcp",): [
        (["nosuch.toml", "--safe", "t"], "nosuch.toml"),
        (["policy.toml", "--safe", "t", "--sybil-reports", "afile"], "is not a folder"),
        (["policy.toml", "--safe", "nosuch"], "no guarded Safe"),
    ],
    ("agent", "sentinel"): [
        (["--safe", "nosuch", "--guardian", "0", "--once"], "no guarded Safe"),
        (["--safe", "t", "--guardian", "0", "--max-ratio", "0.5"], "--max-ratio"),
    ],
    ("agent", "anchor"): [(["-w", NO_WS], "no proofmind workspace")],
    ("agent", "decisions"): [(["--status", "nope"], "--status 'nope'")],
    ("agent", "run"): [
        (["nosuch.toml", "--safe", "t"], "nosuch.toml"),
        (["policy.toml", "--safe", "nosuch", "--once"], "no guarded Safe"),
        (["policy.toml", "--safe", "t", "--once", "--since", "yesterday"], "--since"),
    ],
    ("monitor", "run"): [
        ([], "detector 'watch' needs addresses"),
        (["-d", "nosuch"], "no detector named 'nosuch'"),
        (["-d", "depeg"], "read prices, not blocks"),
        (["--params", "{bad"], "--params"),
        (["--params", '{"watch": {"addresses": ["0xzz"]}}'], "list of 0x-addresses"),
        (["--params", WATCH, "--from-block", "soon"], "--from-block"),
        (["--params", WATCH, "--webhook", "ftp://x"], "not an http(s) URL"),
        (
            ["--params", WATCH, "--slack", "hooks.slack.com/services/T0/B0/secret"],
            "--slack 'hooks.slack.com/services…' is not an http(s) URL",
        ),
        (["--params", WATCH, "--discord", "discord"], "--discord 'discord' is not an http(s)"),
        (["--params", WATCH, "--telegram", "my chat"], "not a Telegram chat id or channel"),
        (["--params", WATCH, "--telegram", "-1001"], "needs the bot's token in PROOFMIND_"),
        (["--params", WATCH, "--min-severity", "loud"], "--min-severity 'loud' is not a"),
        (["--params", WATCH, "--min-severity", "sms=high"], "'sms' is not a kind of sink"),
        (["--params", WATCH, "--min-severity", "slack=high"], "this run sends none there"),
        (["--params", WATCH, "--min-severity", "terminal=hi"], "--min-severity 'hi' is not"),
        (["--params", WATCH, "--cooldown", "soon"], "--cooldown 'soon' is not a span of time"),
        (["--params", WATCH, "--cooldown", "sms=1h"], "'sms' is not a kind of sink"),
        (["--params", WATCH, "--cooldown", "slack=1h"], "this run sends none there"),
        (["--params", WATCH, "--cooldown", "0m"], "--cooldown '0m' is not a span of time"),
        (
            ["--params", WATCH, "--min-severity", "high", "--min-severity", "low"],
            "repeats the floor for every sink",
        ),
        (["--params", WATCH, "--jsonl", "/proc/x/a.jsonl"], "/proc"),
        (["--params", WATCH, "--confirmations", "-1"], "--confirmations"),
        (  # an address of no interface here (TEST-NET-1): refused before any work
            ["--params", WATCH, "--http-port", "9108", "--http-host", "192.0.2.1"],
            "--http-port: cannot listen on 192.0.2.1:9108",
        ),
        (["--params", WATCH, "--http-port", "9108", "--http-host", "no.such.invalid"], "'no.such"),
        (["--params", WATCH, "-w", NO_WS], "no proofmind workspace"),
        (["--feed", "FEI"], "SUBJECT=0xADDRESS"),
        (["--feed", f"FEI={ABSENT}"], "does not answer decimals"),
        (["--feed", f"FEI={ABSENT}", "--feed-read", "calls"], "--feed-read"),
    ],
    ("monitor", "anchor"): [
        (["--max-alerts", "0"], "--max-alerts"),
        (["-w", NO_WS], "no proofmind workspace"),
    ],
    ("monitor", "alerts"): [
        (["0"], "alert_id"),
        (["abc"], "alert_id"),
        (["999999"], "no alert 999999"),
        (["--limit", "0"], "--limit"),
        (["--severity", "huge"], "unknown severity 'huge'"),
        (["--status", "gone"], "status"),
        (["--since", "tomorrow"], "--since 'tomorrow' is not a time"),
        (["--since", "2d", "--until", "3d"], "the time range is empty"),
        (["3", "--follow"], "--follow shows alerts as they come"),
        (["-w", NO_WS], "no proofmind workspace"),
    ],
    ("monitor", "mute"): [
        (["FEI", "--for", "0h"], "--for '0h' is not a span of time"),
        (["FEI", "--for", "soon"], "--for 'soon' is not a span"),
        (["FEI", "--for", "99999999999d"], "is longer than 10 years"),
        (["FEI", "-d", "nosuch"], "no detector of that name"),
        (["", "--for", "1h"], "the subject to mute is empty"),
        (["FEI", "-w", NO_WS], "no proofmind workspace"),
    ],
    ("monitor", "mutes"): [
        (["--all", "-w", NO_WS], "no proofmind workspace"),
    ],
    ("monitor", "unmute"): [
        (["0"], "mute_id"),
        (["abc"], "mute_id"),
        (["999999"], "no mute 999999"),
    ],
    ("monitor", "deliveries"): [
        (["--status", "lost"], "unknown delivery status 'lost'"),
        (["--limit", "0"], "--limit"),
        (["--alert", "0"], "--alert"),
        (["--alert", "x"], "--alert"),
        (["-w", NO_WS], "no proofmind workspace"),
    ],
    ("monitor", "redeliver"): [
        ([], "no dead letter named"),
        (["1", "--all"], "not both"),
        (["1", "--sink", "webhook"], "--sink goes with --all"),
        (["0"], "ids"),
        (["abc"], "ids"),
        (["999999"], "no delivery 999999"),
        (["--all", "-w", NO_WS], "no proofmind workspace"),
    ],
    ("monitor", "test-sinks"): [
        ([], "no sink to test"),
        (["--webhook", "ftp://hooks.example.com"], "is not an http(s) URL"),
        (["--telegram", "@x"], "is not a Telegram chat id or channel"),
        (["--slack", "hooks.slack.com/services/T/B/secret"], "is not an http(s) URL"),
    ],
    ("monitor", "verify"): [
        (["0"], "alert_id"),
        (["abc"], "alert_id"),
        (["999999"], "no alert 999999"),
        (["1", "--json", "/proc/x/p.json"], "/proc"),
    ],
    ("monitor", "feed-replay"): [
        (["NOPE"], "no prices of 'NOPE'"),
        (["FEI", "--prices", "nosuch.csv"], "nosuch.csv"),
        (["FEI", "--feed", "0x12"], "not a 0x-address"),
        (["FEI", "--feed", ABSENT], "no contract at"),
        (["FEI", "--warmup", "-1"], "--warmup"),
    ],
    ("sybil", "train"): [
        (["nosuch.csv", "--candidates", "sybillabels.csv", "-o", "sm"], "nosuch.csv"),
        (["edges.csv", "--candidates", "rows.csv", "-o", "sm"], "needs an address column"),
        (["edges.csv", "--candidates", "sybcands.csv", "-o", "sm"], "no is_sybil labels"),
        (["edges.csv", "--candidates", "badlabel.csv", "-o", "sm"], "is_sybil must be 0, 1"),
        (["edges.csv", "--candidates", "sybillabels.csv", "-o", "afile"], "afile is a file"),
        (["edges.csv", "--candidates", "sybillabels.csv", "-o", "sm"], "too few to train"),
        (
            ["edges.csv", "--candidates", "sybillabels.csv", "--register", "-w", NO_WS],
            "no proofmind workspace",
        ),
    ],
    ("sybil", "score"): [
        (["edges.csv", "--candidates", "sybcands.csv", "--model", "emptydir"], "not a sybil model"),
        (["edges.csv", "--candidates", "sybcands.csv", "--model", "nosuchdir"], "not a sybil"),
        (["edges.csv", "--candidates", "sybcands.csv", "-o", "/proc/x.csv"], "/proc"),
        (["edges.csv", "--candidates", "sybcands.csv", "-o", "/proc/x.parquet"], "/proc"),
        (["edges.csv", "--candidates", "sybcands.csv", "--model", "oldsybil"], "another version"),
        (["edges.csv", "--candidates", "badcands.csv"], "line 3 of badcands.csv: '0x12'"),
    ],
    ("sybil", "detect"): [
        (["nosuch.csv", "--candidates", "labels.csv", "-o", "s"], "nosuch.csv"),
        (["edges.csv", "--candidates", "labels.csv", "-o", "/proc/x"], "/proc"),
        (["edges.csv", "--candidates", "labels.csv", "-o", "afile/s"], "afile is a file"),
        (["edges.csv", "--candidates", "labels.csv", "--min-cluster", "0"], "--min-cluster"),
        (["long.csv", "--candidates", "labels.csv", "-o", "s"], "line 2 is longer"),
        (["edges.csv", "--candidates", "long.csv", "-o", "s"], "long.csv"),
    ],
    ("sybil", "appeal", "publish"): [
        (["nosuchdir"], "nosuchdir"),
        (["badflagged.txt"], "line 2 of badflagged.txt"),
        (["editedreport"], "flagged.txt beside it give"),
        (["flagged.txt", "--airdrop", GOOD], "no contract at"),
        (["flagged.txt", "--airdrop", BAD_CHECKSUM], "EIP-55"),
        (["flagged.txt", "-w", NO_WS], "no proofmind workspace"),
    ],
    ("sybil", "appeal", "sign"): [
        (["--key", "nosuch.key", "--report", ROOT32, "--reason", "r"], "nosuch.key"),
        (["--key", "afile", "--report", ROOT32, "--reason", "r"], "holds no private key"),
        (["--key", "appeal.key", "--report", "0x12", "--reason", "r"], "not a 32-byte root"),
        (["--key", "appeal.key", "--report", "nosuchdir", "--reason", "r"], "nosuchdir"),
        (["--key", "appeal.key", "--report", ROOT32, "--reason", " "], "needs a reason"),
        (["--key", "appeal.key", "--report", ROOT32, "--reason", "r", "-o", "/proc/a"], "/proc"),
        (["--key", "appeal.key", "--report", ROOT32, "--reason", "r", "--days", "0"], "--days"),
    ],
    ("sybil", "appeal", "submit"): [
        (["nosuch.json"], "nosuch.json"),
        (["rows.csv"], "is not JSON"),
        (["badsnap.json"], "not a signed appeal"),
        (["appeal.json"], "no flagged list of this workspace"),
    ],
    ("sybil", "appeal", "decide"): [
        (["0xabcdef12", "--accept", "--reason", "r"], "no appeal 0xabcdef12"),
        (["xyz", "--reject", "--reason", "r"], "not an appeal id"),
        (["0xabcdef12", "--reason", "r"], "--accept or --reject"),
        (["0xabcdef12", "--accept", "--reason", " "], "needs a reason"),
    ],
    ("sybil", "appeal", "list"): [
        (["--status", "maybe"], "maybe"),
        (["-w", NO_WS], "no proofmind workspace"),
    ],
    ("sybil", "appeal", "show"): [(["0xabcdef12"], "no appeal"), (["zz"], "not an appeal id")],
    ("sybil", "appeal", "proof"): [
        ([SHORT], "38 hex digits"),
        ([GOOD], "no flagged list in this workspace"),
        ([GOOD, "--root", "0x12"], "not a 32-byte root"),
    ],
    ("demo",): [(["--dir", "/proc/x"], "/proc/x")],
    ("model", "preflight"): [
        (["mlp.onnx", "--calibration", "header-only.csv"], "holds no samples"),
        (["nosuch.onnx", "--calibration", "cal.csv"], "nosuch.onnx"),
        (["mlp.onnx", "--calibration", "cal.csv", "--max-logrows", "0"], "--max-logrows"),
    ],
    ("model", "package"): [(["mlp.onnx", "--calibration", "header-only.csv"], "no samples")],
    ("model", "list"): [(["-w", NO_WS], "no proofmind workspace")],
    ("oracle", "register"): [
        (["mlp", "--mode", "optimistic", "--committee", BAD_CHECKSUM], "EIP-55"),
        (["mlp", "--mode", "optimistic", "--committee", SHORT], "38 hex digits"),
        (["mlp", "--fee", "-1"], "--fee"),
        (["mlp", "--bond", str(2**96)], "--bond"),
        (["mlp", "--mode", "optimistic", "--committee", GOOD, "--quorum", "256"], "--quorum"),
        (["mlp", "--mode", "bogus"], "bogus"),
    ],
    ("oracle", "update"): [
        (["mlp"], "nothing to change"),
        (["mlp", "--fee", "-1"], "--fee"),
        (["mlp", "--fee", str(2**64)], "--fee"),
        (["mlp", "--mode", "bogus", "--pause"], "bogus"),
        (["nosuch", "--pause"], "no packaged model named 'nosuch'"),
    ],
    ("oracle", "request"): [
        (["mlp", "--input", "1,nan,2"], "nan"),
        (["mlp", "--input", "[1, Infinity]"], "inf"),
        (["mlp", "--input", LONG_LIST], "mlp"),
        (["mlp", "--input", "1" * 400], "inf"),
        (["mlp", "--input", "1,2", "--callback-gas", "-5"], "--callback-gas"),
        (["mlp", "--input", "1,2", "--wait", "-1"], "--wait"),
        (["mlp", "--input", "nosuchfile"], "neither numbers nor a file"),
    ],
    ("oracle", "requests"): [
        (["--state", "nope"], "unknown request state 'nope'"),
        (["--limit", "0"], "--limit"),
    ],
    ("oracle", "status"): [
        (["9999"], "UnknownRequest"),
        (["notanint"], "request_id"),
        ([POOL_TOO_BIG], "request_id"),
    ],
    ("oracle", "balance"): [(["-w", NO_WS], "no proofmind workspace")],
    ("oracle", "deposit"): [(["0"], "amount"), ([POOL_TOO_BIG], "amount")],
    ("oracle", "withdraw"): [([], "nothing to withdraw"), (["0"], "amount")],
    ("oracle", "refund"): [(["999"], "UnknownRequest"), (["--", "-1"], "request_id")],
    ("oracle", "serve"): [(["-m", "nosuch"], "nosuch"), (["-m", "x", "--provers", "0"], "provers")],
    ("oracle", "challenge"): [(["-m", "nosuch"], "nosuch"), (["-m", "x", "--poll", "0"], "poll")],
    ("api-key", "create"): [([""], "not allowed"), (["a/b"], "not allowed"), (["x" * 65], "1-64")],
    ("api-key", "list"): [(["-w", NO_WS], "no proofmind workspace")],
    ("api-key", "revoke"): [(["999"], "no API key '999'"), (["-w", NO_WS, "1"], "no proofmind")],
    ("serve",): [
        (["--port", "70000"], "--port"),
        (["--host", "192.0.2.1"], "--host: cannot listen on 192.0.2.1:8650"),
        (["--from-block", "abc"], "abc"),
        (["--monitor", "-d", "nosuch"], "nosuch"),
        (["--monitor", "-d", "depeg"], "prices, not blocks"),
        (["--monitor", "--params", "{bad"], "--params"),
        (["--slack", "https://hooks.slack.com/services/T/B/x"], "are for the monitor's alerts"),
        (["--min-severity", "high"], "are for the monitor's alerts"),
        (["--cooldown", "1h"], "are for the monitor's alerts"),
        (["--monitor", "--params", WATCH, "--cooldown", "jsonl=1h"], "sends none there"),
        (["--monitor", "--params", WATCH, "--min-severity", "x"], "--min-severity 'x' is not"),
        (["--monitor", "--params", WATCH, "--min-severity", "jsonl=high"], "sends none there"),
        (["--monitor", "--params", WATCH, "--telegram", "@x y"], "not a Telegram chat id"),
        (["-m", "nosuch"], "nosuch"),
        (["-c", "nosuch"], "nosuch"),
        (["--agent", "policy.toml"], "--safe"),
        (["--agent", "nosuch.toml", "--safe", "t"], "nosuch.toml"),
        (["--agent", "policy.toml", "--safe", "nosuch"], "no guarded Safe"),
        (["--agent", "policy.toml", "--agent-interval", "0"], "--agent-interval"),
        (["--ingest", "/proc/x"], "/proc"),
        (["--ingest", "r", "--ingest-poll", "0"], "--ingest-poll"),
        (["--ingest", "r", "--ingest-url", "http://127.0.0.1:9"], "cannot reach"),
        (["-w", NO_WS], "no proofmind workspace"),
    ],
}
# these install signal handlers or configure logging: run them in a process of their own
SUBPROCESS = {("oracle", "serve"), ("oracle", "challenge"), ("demo",)}
# `serve` checks all of its inputs before it configures logging and starts anything: it runs
# in-process, and a bad input that got past those checks fails its case (never serves)
PAST_THE_CHECKS = {("serve",)}


def command_paths() -> list[tuple[str, ...]]:
    """Every leaf command of the CLI, from the Typer app itself."""
    import typer

    from proofmind.cli.app import app

    def walk(command: object, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        children = getattr(command, "commands", None)
        if not children:
            yield prefix
            return
        for name, child in sorted(children.items()):
            yield from walk(child, (*prefix, name))

    return list(walk(typer.main.get_command(app), ()))


def test_every_command_has_bad_inputs() -> None:
    commands = command_paths()
    missing = [" ".join(p) for p in commands if p not in CASES]
    assert not missing, f"add bad inputs for these commands to CASES: {missing}"
    stale = [" ".join(p) for p in CASES if p not in commands]
    assert not stale, f"CASES names commands that do not exist: {stale}"


ALL = [
    pytest.param(path, args, needle, id=f"{' '.join(path)}[{n}]")
    for path, cases in CASES.items()
    for n, (args, needle) in enumerate(cases)
]


def _fixtures(root: Path) -> None:
    """The files the bad inputs point at (each is fine; the inputs around them are not)."""
    from proofmind.intel.etherscan import connect, import_etherscan
    from proofmind.intel.fraud import address_features, read_labels, train_model
    from proofmind.ml.onnx_models import reference_mlp
    from tests.intel.test_fraud import TX_HEADER, synthetic

    (root / "afile").write_text("a regular file\n")
    policy = f'name = "p"\nagent = 0\nexpires_in = "1d"\nrecipients = ["{GOOD}"]\n'
    (root / "policy.toml").write_text(policy)
    (root / "badpolicy.toml").write_text(policy.replace(GOOD, SHORT))
    (root / "emptydir").mkdir()
    (root / "empty.csv").write_text("")
    (root / "rows.csv").write_text("a,b\n1,2\n3,4\n")
    owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    (root / "short.csv").write_text(f"a,b,contributor\n1,2,{owner}\n3\n")  # a row cut short
    (root / "blank.csv").write_text(f"a,b,contributor\n,2,{owner}\n")
    prices = "symbol,timestamp,usd_price\nUSDX,1672531200000,1.0\n"
    (root / "badprices.csv").write_text(prices + "USDX,1672534800000,abc\n")
    (root / "nogoodprices.csv").write_text("symbol,timestamp,usd_price\nUSDX,yesterday,1.0\n")
    (root / "badtimes_usd.csv").write_text("time,price\n2023-01-01T00:00Z,1.0\nsoon,1.0\n")
    (root / "twoprices.csv").write_text("symbol,timestamp,price,close\nUSDX,1672531200000,1,1\n")
    (root / "broken.json").write_text('{"prices": [[1672531200000, 1.0],')
    (root / "status.json").write_text('{"status": "ok"}')
    (root / "ratelimit.json").write_text(
        '{"status": {"error_code": 429, "error_message": "You\'ve exceeded the Rate Limit."}}'
    )
    (root / "badlines.jsonl").write_text(
        '{"symbol": "USDX", "timestamp": 1672531200000, "usd_price": 1.0}\n'
        '{"symbol": "USDX", "timestamp": 1672534800000, "usd_price": null}\n'
    )
    import lzma
    import zipfile

    many = "".join(f"USDX,{1672531200000 + k * 3_600_000},1.0\n" for k in range(5_000))
    (root / "cut.csv.xz").write_bytes(lzma.compress((prices + many).encode())[:2_000])
    with zipfile.ZipFile(root / "two.zip", "w") as archive:
        archive.writestr("a.csv", prices)
        archive.writestr("b.csv", prices)
    with zipfile.ZipFile(root / "docs.zip", "w") as archive:
        archive.writestr("README.md", "prices of two coins\n")
        archive.writestr("LICENSE", "CC-BY-4.0\n")
    (root / "notzip.zip").write_text(prices)
    kline = "1677628800000,1.0,1.0,1.0,1.0,10.0,1677632399999,10.0,3,5.0,5.0,0\n"
    (root / "klines.csv").write_text(kline)
    (root / "noprices").mkdir()
    (root / "noprices" / "errors.csv").write_text("aave,1660608000.0,rate limited\n")
    (root / "long.csv").write_text("a,b\n1," + "x" * 3_000_000 + "\n2,y\n")
    (root / "longlabels.csv").write_text(f"address,flag\n{GOOD},{'1' * 200_000}\n")
    (root / "longtx.csv").write_text(TX_HEADER + "\n" + "1," * 19 + "x" * 3_000_000 + "\n")
    (root / "edges.csv").write_text(f"from,to\n{GOOD},{ABSENT}\n")
    (root / "header-only.csv").write_text(",".join(f"x{i}" for i in range(16)) + "\n")
    reference_mlp(root / "mlp.onnx")
    np.savetxt(root / "cal.csv", np.random.default_rng(1).normal(0, 1, (4, 16)), delimiter=",")
    tx, tokens, accounts = synthetic(root)
    labels = "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts))
    (root / "labels.csv").write_text("address,flag\n" + labels)
    (root / "nomatch.csv").write_text(f"address,flag\n{'0x' + '1' * 40},1\n{'0x' + '2' * 40},0\n")
    import_etherscan([tx, tokens], root / "chaindata")
    from proofmind.gov.tables import import_governance
    from tests.gov.test_gov import HEADER, proposals_csv

    import_governance([proposals_csv(root / "proposals.csv", n=60)], root / "govdata")
    import_governance([proposals_csv(root / "tiny.csv", n=10)], root / "govtiny")
    (root / "badsnap.json").write_text('{"data": 5}')
    (root / "sybcands.csv").write_text(f"address\n{GOOD}\n")
    (root / "sybillabels.csv").write_text(f"address,is_sybil\n{GOOD},1\n{ABSENT},0\n")
    (root / "badcands.csv").write_text(f"address\n{GOOD}\n0x12\n")
    (root / "badlabel.csv").write_text(f"address,is_sybil\n{GOOD},yes\n")
    (root / "badprop.csv").write_text(f"{HEADER}\nid,s,0xnothex,poll,t,x,y,0,1,passed\n")
    (root / "badvotes.jsonl").write_text('{"voter": "0x12", "proposal": {"id": "id-1"}}\n')
    parsed = read_labels(root / "labels.csv")
    train_model(
        address_features(connect(root / "chaindata"), list(parsed)), parsed, root / "model.txt"
    )
    from proofmind.intel.appeals import sign_appeal
    from proofmind.intel.sybil import merkle_root

    key = "0x" + "42" * 32
    (root / "appeal.key").write_text(key + "\n")
    (root / "flagged.txt").write_text(f"{GOOD}\n")
    (root / "badflagged.txt").write_text(f"{GOOD}\n0x12\n")
    (root / "editedreport").mkdir()  # flagged.txt edited after `sybil detect` wrote it
    (root / "editedreport" / "flagged.txt").write_text(f"{GOOD}\n{ABSENT}\n")
    (root / "editedreport" / "report.md").write_text(
        f"- Merkle root of the flagged list: `{merkle_root([GOOD])}`\n"
    )
    appeal = sign_appeal(key, ROOT32, "r", nonce=1, deadline=2**40, chain_id=31337)
    (root / "appeal.json").write_text(json.dumps(appeal.to_json()))
    (root / "oldsybil").mkdir()  # a sybil model folder of an earlier format
    (root / "oldsybil" / "model.txt").write_bytes((root / "model.txt").read_bytes())
    (root / "oldsybil" / "model.json").write_text('{"format": "proofmind-sybil-model/1"}')


@pytest.fixture(scope="module")
def sweep(
    devnet_chain: Chain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A workspace on the session devnet (contracts deployed) with the fixture files; the
    chain is rolled back afterwards."""
    snapshot = devnet_chain.snapshot()
    root = tmp_path_factory.mktemp("sweep")
    workspace, _ = init_workspace(root)
    Keystore(workspace.keystore_dir).import_key("me", devnet_chain.accounts[9].key, "pw")
    workspace.close()
    url = str(devnet_chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    env = {
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": url,
        "PROOFMIND_CHAIN_ACCOUNT": "me",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
    }
    _fixtures(root)
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, root, env)
        assert main(["contracts", "deploy"]) == 0
    yield root, env
    devnet_chain.revert(snapshot)


def _environment(mp: pytest.MonkeyPatch, root: Path, env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("PROOFMIND_")]:
        mp.delenv(key)
    for key, value in env.items():
        mp.setenv(key, value)
    mp.setenv("COLUMNS", "200")
    mp.chdir(root)


def _files(root: Path) -> set[str]:
    return {
        str(Path(folder, name).relative_to(root))
        for folder, _, names in os.walk(root)
        for name in names
        if not name.endswith(("-wal", "-shm", "-journal"))
    }


def _ledger(root: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(root / ".proofmind" / "state.sqlite") as conn:
        return [
            row
            for table in ("records", "kv", "deployments", "cursors")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")
        ]


def _got_past_the_checks(**_: object) -> None:
    raise RuntimeError("the command got past its input checks and began to start")


@pytest.mark.devnet
@pytest.mark.parametrize(("path", "args", "needle"), ALL)
def test_bad_input_is_one_line_and_changes_nothing(
    sweep: tuple[Path, dict[str, str]],
    path: tuple[str, ...],
    args: list[str],
    needle: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, env = sweep
    argv = [*path, *(a.replace("{url}", env["PROOFMIND_CHAIN_RPC_URL"]) for a in args)]
    files, ledger = _files(root), _ledger(root)
    _environment(monkeypatch, root, env)
    if path in SUBPROCESS:
        done = subprocess.run(
            [sys.executable, "-m", "proofmind", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        code, stderr = done.returncode, done.stderr
    else:
        if path in PAST_THE_CHECKS:
            monkeypatch.setattr(logging, "basicConfig", _got_past_the_checks)
        capfd.readouterr()
        code = main(argv)
        stderr = capfd.readouterr().err
    lines = stderr.strip().splitlines()
    assert code in (1, 2), (code, stderr)
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "internal error" not in lines[0], lines[0]
    assert needle in lines[0], lines[0]
    assert _files(root) == files, "a failed command left files behind"
    assert _ledger(root) == ledger, "a failed command changed the ledger or the workspace state"


SHARED_TX = Path(__file__).resolve().parents[2] / "shared/datasets/eth_fraud/transactions.csv.gz"


@pytest.mark.skipif(not SHARED_TX.is_file(), reason="../shared/datasets/eth_fraud is absent")
def test_ctrl_c_during_an_import_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """Ctrl-C inside a DuckDB query surfaced as "internal error: RuntimeError: Query
    interrupted — this is a bug"; it is an interruption: one line, exit 130, nothing written."""
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "proofmind", "ingest", "etherscan", str(SHARED_TX), "-o", "out"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    # the staging folder appears just before DuckDB starts reading the 35 MB export
    while not any(p.name.startswith(".import-") for p in tmp_path.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), stderr
    assert list(tmp_path.iterdir()) == []  # the staged tables were removed, nothing published
