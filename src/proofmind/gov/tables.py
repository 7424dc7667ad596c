"""Governance proposals and votes as canonical tables (Parquet + DuckDB views), from the
Decentraland DAO export (`proposals.csv`), Snapshot's GraphQL JSON (one answer per file) and
Snapshot vote objects as JSON lines (one per line, as a paginated download writes them; read by
DuckDB, so millions of votes stream to Parquet without passing through Python).

``proposals``: dao, proposal_id, author, type, title, body, created_at, voting_ends_at (Unix
seconds), threshold_vp, status (as the source has it), passed (1 passed, 0 rejected, null while
voting or unknown), source (file and line / index).
``votes``: dao, proposal_id, voter, choice, vp, created_at.
``actions`` (Governor proposals): dao, proposal_id, action_index, target, value, signature,
calldata.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from proofmind.errors import InputError
from proofmind.intel.etherscan import ADDRESS_PATTERN, BadRow, sql_string

PROPOSALS = pa.schema(
    [
        ("dao", pa.string()),
        ("proposal_id", pa.string()),
        ("author", pa.string()),
        ("type", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("created_at", pa.int64()),
        ("voting_ends_at", pa.int64()),
        ("threshold_vp", pa.float64()),
        ("status", pa.string()),
        ("passed", pa.int8()),
        ("source", pa.string()),
        # the votes' numbers of the approving and rejecting choices (Snapshot: found by name,
        # 0 when the choices are not a yes / no; null: 1 and 2, as Governor votes are stored)
        ("approve_choice", pa.int32()),
        ("reject_choice", pa.int32()),
    ]
)
# columns added to PROPOSALS later: NULL in a view over tables written before them
LATER_PROPOSAL_COLUMNS = {"approve_choice": "INTEGER", "reject_choice": "INTEGER"}
VOTES = pa.schema(
    [
        ("dao", pa.string()),
        ("proposal_id", pa.string()),
        ("voter", pa.string()),
        ("choice", pa.string()),
        ("vp", pa.float64()),
        ("created_at", pa.int64()),
    ]
)
ACTIONS = pa.schema(
    [
        ("dao", pa.string()),
        ("proposal_id", pa.string()),
        ("action_index", pa.int32()),
        ("target", pa.string()),
        ("value", pa.string()),  # wei, decimal text (uint256)
        ("signature", pa.string()),
        ("calldata", pa.string()),
    ]
)
DECENTRALAND = (
    "proposal_id",
    "author",
    "type",
    "title",
    "created_at",
    "voting_ends_at",
    "threshold_vp",
    "status",
)
JSON_LINES = (".jsonl", ".ndjson")
# tables computed from the proposals (`gov texts`), removed when the proposals are replaced
DERIVED = ("texts",)
# DuckDB's working memory for governance queries: beyond it, sorts and windows spill to disk, so
# ten million votes use no more memory than one million.
MEMORY_LIMIT = "512MB"
# Decentraland's outcomes: passed, then executed (enacted) or not funded, all count as passed
PASSED = {"passed": 1, "enacted": 1, "out_of_budget": 1, "rejected": 0}

# How Snapshot proposals name the choice that approves and the one that rejects (lower case,
# punctuation and a trailing explanation cut: "Yes, fund it" is "yes")
APPROVE = {"for", "yes", "yae", "yea", "aye", "approve", "accept", "in favor", "in favour"}
REJECT = {"against", "no", "nay", "reject", "deny", "oppose"}


def snapshot_pair(choices: Sequence[Any]) -> tuple[int, int] | None:
    """The positions (from 0) of a Snapshot proposal's approving and rejecting choices, found by
    name ("For" / "Against", "Yes" / "No", in any order); None when the choices hold no such
    pair (a choice between options, not a yes / no)."""
    names = [
        re.split(r"[,.:;!(\-–—]", str(c).strip().lower(), maxsplit=1)[0].strip() for c in choices
    ]
    approve = [i for i, n in enumerate(names) if n in APPROVE]
    reject = [i for i, n in enumerate(names) if n in REJECT]
    if len(approve) != 1 or len(reject) != 1:
        return None
    return approve[0], reject[0]


def snapshot_outcome(
    choices: Sequence[Any] | None, scores: Sequence[float], total: float, quorum: float
) -> int | None:
    """Whether a closed Snapshot proposal passed: its approving choice outscored its rejecting
    one and the total met the quorum (the two by :func:`snapshot_pair`); without choices (an
    export that left them out) the first and second are taken. None when the choices hold no
    such pair: such a proposal has no pass or fail."""
    if not choices:
        return int(len(scores) >= 2 and scores[0] > scores[1] and total >= quorum)
    pair = snapshot_pair(choices)
    if pair is None or max(pair) >= len(scores):
        return None
    return int(scores[pair[0]] > scores[pair[1]] and total >= quorum)


@dataclass
class GovImport:
    proposals: int = 0
    votes: int = 0
    actions: int = 0
    without_outcome: int = 0  # closed Snapshot proposals whose choices are not for / against
    bad_rows: list[BadRow] = field(default_factory=list)
    # JSON-lines files with a malformed line, read line by line (slowly) to name each one
    read_line_by_line: list[str] = field(default_factory=list)


def import_governance(
    paths: Sequence[Path],
    out: Path,
    *,
    dao: str | None = None,
    strict: bool = False,
    chain: Path | None = None,
    governors: Sequence[str] = (),
    onchain: Any = None,
) -> GovImport:
    """Read Decentraland CSV exports, Snapshot JSON files and the events of OpenZeppelin
    Governor contracts ``governors`` in the chain tables at ``chain`` (`proofmind ingest rpc`)
    into ``out/{proposals,votes,actions}`` (replacing what is there, all or nothing).
    With ``onchain`` (a Web3 of that chain) the Governor proposals' status, outcome and
    quorum come from the contract's ``state()`` and ``quorum()`` instead of the events alone.
    Malformed rows are reported with file and line and left out (``strict``: the first one
    fails and nothing is written)."""
    if not paths and chain is None:
        raise InputError(
            "no governance files to import",
            hint="give proposals.csv or Snapshot JSON, or --chain DIR --governor ADDRESS",
        )
    if (chain is None) != (not governors):
        raise InputError(
            "--chain and --governor go together",
            hint="--chain DIR (from `proofmind ingest rpc`) --governor ADDRESS",
        )
    report = GovImport()
    proposals: list[dict[str, Any]] = []
    votes: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    vote_lines: list[Path] = []
    if chain is not None:
        from proofmind.gov.governor import apply_chain_state, governor_rows, read_chain_logs

        for governor in governors:
            if not re.fullmatch(ADDRESS_PATTERN, governor.lower()):
                raise InputError(f"--governor {governor!r} is not an address")
        logs, times = read_chain_logs(chain, governors)
        for governor in governors:
            mine = [log for log in logs if str(log["address"]).lower() == governor.lower()]
            rows = governor_rows(
                mine, times, dao or f"governor-{governor.lower()[:10]}", str(chain)
            )
            for bad in rows.bad:
                _bad(report, bad, strict)
            if onchain is not None:
                apply_chain_state(onchain, governor, rows.proposals)
            proposals += rows.proposals
            votes += rows.votes
            actions += rows.actions
    for given in paths:
        path = Path(given)
        if not path.is_file():
            raise InputError(f"{path} does not exist")
        if path.suffix.lower() in JSON_LINES:
            vote_lines.append(path)
            continue
        if path.suffix.lower() == ".json":
            p, v = _snapshot(path, dao, report, strict)
        elif path.suffix.lower() == ".csv":
            p, v = _decentraland(path, dao or "decentraland", report, strict), []
        else:
            raise InputError(
                f"{path} is neither a .csv (Decentraland export), a .json (Snapshot GraphQL) "
                "nor a .jsonl (Snapshot votes, one per line)",
                hint="give proposals.csv, a Snapshot JSON file or Snapshot votes as JSON lines",
            )
        proposals += p
        votes += v
    seen: set[tuple[str, str]] = set()
    for row in proposals:
        key = (row["dao"], row["proposal_id"])
        if key in seen:
            _bad(report, BadRow(row["source"], None, f"duplicate proposal {key[1]}"), strict)
        seen.add(key)
    if not proposals and chain is not None and not paths:
        raise InputError(
            f"no ProposalCreated event of {', '.join(governors)} in {chain}",
            hint="check the Governor address and that `ingest rpc` covered its blocks",
        )
    if not proposals:
        raise InputError(
            f"no proposal could be read from {', '.join(str(p) for p in paths)}",
            hint="check the files' format (see docs/governance.md)",
        )
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".gov-", dir=out))
    try:
        (staged / "proposals").mkdir()
        pq.write_table(
            pa.Table.from_pylist(proposals, schema=PROPOSALS),
            staged / "proposals" / "part.parquet",
        )
        report.votes = _write_votes(votes, vote_lines, proposals, dao, staged, report, strict)
        (staged / "actions").mkdir()
        pq.write_table(
            pa.Table.from_pylist(actions, schema=ACTIONS), staged / "actions" / "part.parquet"
        )
        report.actions = len(actions)
        for name in ("proposals", "votes", "actions"):
            if (out / name).exists():
                shutil.rmtree(out / name)
            (staged / name).rename(out / name)
        for derived in DERIVED:  # made from the tables just replaced: stale now
            shutil.rmtree(out / derived, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        if made:
            shutil.rmtree(out, ignore_errors=True)  # nothing of this import is left behind
        raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    report.proposals = len(proposals)
    return report


def connect(data: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB views ``proposals`` and ``votes`` over the tables `gov ingest` wrote (and
    ``texts`` when `gov texts` made it)."""
    if not (data / "proposals").is_dir():
        raise InputError(
            f"{data} holds no proposals table",
            hint="write it with `proofmind gov ingest FILES -o DIR` and pass --data DIR",
        )
    con = _duckdb(data / ".spill")
    if not (data / "actions").is_dir():  # written before Governor actions were a table
        con.execute(
            "CREATE TABLE actions (dao VARCHAR, proposal_id VARCHAR, action_index INTEGER, "
            "target VARCHAR, value VARCHAR, signature VARCHAR, calldata VARCHAR)"
        )
    for name in ("proposals", "votes", "actions", *DERIVED):
        if name in (*DERIVED, "actions") and not (data / name).is_dir():
            continue
        pattern = sql_string(f"{data / name}/*.parquet")
        source = f"read_parquet({pattern})"
        extra = ""
        if name == "proposals":  # tables written before a column was added: NULL in it
            have = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            extra = "".join(
                f", NULL::{kind} AS {column}"
                for column, kind in LATER_PROPOSAL_COLUMNS.items()
                if column not in have
            )
        con.execute(f"CREATE VIEW {name} AS SELECT *{extra} FROM {source}")
    return con


def _duckdb(spill: Path) -> duckdb.DuckDBPyConnection:
    from proofmind.intel.etherscan import new_connection

    return new_connection({"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)})


def _bad(report: GovImport, row: BadRow, strict: bool) -> None:
    if strict:
        raise InputError(f"malformed row: {row}", hint="fix it, or import without --strict")
    report.bad_rows.append(row)


def _time(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _decentraland(path: Path, dao: str, report: GovImport, strict: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in DECENTRALAND if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"{path} lacks column(s) {', '.join(missing)}",
                    hint="expected Decentraland's proposals export (see docs/governance.md)",
                )
            previous = reader.line_num  # the header's last line
            for n, record in enumerate(reader):
                line, previous = previous + 1, reader.line_num  # a title may span lines
                try:
                    if None in record or any(record[c] is None for c in DECENTRALAND):
                        raise ValueError("wrong number of cells")
                    author = record["author"].strip().lower()
                    if not re.match(ADDRESS_PATTERN, author):
                        raise ValueError(f"author {record['author']!r} is not an address")
                    status = record["status"].strip()
                    threshold = float(record["threshold_vp"] or 0)
                    if not math.isfinite(threshold) or threshold < 0:
                        raise ValueError(f"threshold_vp {record['threshold_vp']!r} is invalid")
                    created, ends = _time(record["created_at"]), _time(record["voting_ends_at"])
                except ValueError as exc:
                    _bad(report, BadRow(str(path), line, str(exc), n), strict)
                    continue
                rows.append(
                    {
                        "dao": dao,
                        "proposal_id": record["proposal_id"].strip(),
                        "author": author,
                        "type": record["type"].strip().lower() or "unknown",
                        "title": record["title"],
                        "body": None,
                        "created_at": created,
                        "voting_ends_at": ends,
                        "threshold_vp": threshold,
                        "status": status,
                        "passed": PASSED.get(status),
                        "source": f"line {line} of {path}",
                    }
                )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    return rows


def _snapshot(
    path: Path, dao: str | None, report: GovImport, strict: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Snapshot's GraphQL answer: ``{"data": {"proposals": [...], "votes": [...]}}``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        data = document["data"]
        if not isinstance(data, dict):
            raise TypeError('"data" must be an object')
        raw_proposals = data.get("proposals") or []
        raw_votes = data.get("votes") or []
        if not isinstance(raw_proposals, list) or not isinstance(raw_votes, list):
            raise TypeError("proposals and votes must be lists")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path} is not a Snapshot GraphQL answer: {exc}",
            hint='expected {"data": {"proposals": [...], "votes": [...]}}',
        ) from exc
    proposals, votes = [], []
    for n, p in enumerate(raw_proposals):
        try:
            scores = [float(s) for s in p.get("scores") or []]
            total = float(p.get("scores_total") or sum(scores))
            quorum = float(p.get("quorum") or 0)
            state = str(p["state"])
            passed = None
            if state == "closed":
                passed = snapshot_outcome(p.get("choices"), scores, total, quorum)
                report.without_outcome += passed is None
            # votes number the choices from 1; (0, 0): not a yes / no, no For or Against
            pair = snapshot_pair(p["choices"]) if p.get("choices") else None
            numbers = (None, None) if not p.get("choices") else (0, 0)
            if pair is not None:
                numbers = (pair[0] + 1, pair[1] + 1)
            proposals.append(
                {
                    "dao": dao or str(p["space"]["id"]),
                    "proposal_id": str(p["id"]),
                    "author": str(p["author"]).lower(),
                    "type": str(p.get("type") or "snapshot"),
                    "title": str(p["title"]),
                    "body": p.get("body"),
                    "created_at": int(p["start"]),
                    "voting_ends_at": int(p["end"]),
                    "threshold_vp": quorum,
                    "status": state,
                    "passed": passed,
                    "source": f"proposal {n} of {path}",
                    "approve_choice": numbers[0],
                    "reject_choice": numbers[1],
                }
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            _bad(report, BadRow(str(path), None, f"proposal {n}: {exc!r}"), strict)
    space = {p["proposal_id"]: p["dao"] for p in proposals}
    for n, v in enumerate(raw_votes):
        try:
            proposal = str(v["proposal"]["id"])
            votes.append(
                {
                    "dao": dao or space.get(proposal) or str(v["space"]["id"]),
                    "proposal_id": proposal,
                    "voter": str(v["voter"]).lower(),
                    "choice": json.dumps(v["choice"], separators=(",", ":")),
                    "vp": float(v["vp"]),
                    "created_at": int(v["created"]),
                }
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            _bad(report, BadRow(str(path), None, f"vote {n}: {exc!r}"), strict)
    return proposals, votes


# A Snapshot vote object as DuckDB reads it from JSON lines. A line that does not fit (not JSON,
# a field of the wrong type) fails the fast read, and the file is then read line by line.
VOTE_FIELDS = {
    "voter": "VARCHAR",
    "created": "BIGINT",
    "vp": "DOUBLE",
    "choice": "JSON",
    "proposal": "STRUCT(id VARCHAR)",
    "space": "STRUCT(id VARCHAR)",
}
VOTE_OK = (
    "dao IS NOT NULL AND proposal_id IS NOT NULL AND regexp_full_match(voter, '0x[0-9a-f]{40}') "
    "AND isfinite(vp) AND vp >= 0 AND created_at IS NOT NULL"
)


def _vote_lines_sql(path: Path, dao: str | None) -> str:
    source = f"""read_json({sql_string(str(path))}, format = 'newline_delimited',
                           columns = {VOTE_FIELDS!r})"""
    if dao is not None:
        owner, join = sql_string(dao), ""
    else:  # the vote's space, or the space of the proposal it is for
        owner = "coalesce(space.id, d.dao)"
        join = "LEFT JOIN proposal_dao d ON (d.proposal_id = proposal.id)"
    return f"""
        SELECT {owner} AS dao, proposal.id AS proposal_id, lower(voter) AS voter,
            CAST(choice AS VARCHAR) AS choice, vp, created AS created_at
        FROM {source} {join}"""


def _write_votes(
    parsed: list[dict[str, Any]],
    files: list[Path],
    proposals: list[dict[str, Any]],
    dao: str | None,
    staged: Path,
    report: GovImport,
    strict: bool,
) -> int:
    """Write ``staged/votes/`` from the votes already parsed and the JSON-lines files. A clean
    file goes from DuckDB's reader straight to Parquet in one pass; a file with a malformed line
    is read line by line instead, so that each bad line is named and the rest kept. Returns the
    number of votes written."""
    folder = staged / "votes"
    folder.mkdir()
    con = _duckdb(staged / ".spill")
    proposal_dao = {p["proposal_id"]: p["dao"] for p in proposals}
    con.register(
        "proposal_dao",
        pa.table({"proposal_id": list(proposal_dao), "dao": list(proposal_dao.values())}),
    )
    written = 0
    for n, path in enumerate(files):
        if not path.is_file():
            raise InputError(f"{path} does not exist")
        target = folder / f"lines-{n}.parquet"
        try:
            con.execute(f"COPY ({_vote_lines_sql(path, dao)}) TO {sql_string(str(target))}")
            found = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce({VOTE_OK}, false)) "
                f"FROM read_parquet({sql_string(str(target))})"
            ).fetchone()
            rows, bad = found if found else (0, 0)
        except (duckdb.InvalidInputException, duckdb.ConversionException):
            rows, bad = 0, 1  # not JSON lines of vote objects throughout
        if bad:
            report.read_line_by_line.append(str(path))
            rows = _vote_lines_slowly(path, target, dao, proposal_dao, report, strict)
        written += rows
    pq.write_table(pa.Table.from_pylist(parsed, schema=VOTES), folder / "parsed.parquet")
    return written + len(parsed)


def _vote_lines_slowly(
    path: Path,
    target: Path,
    dao: str | None,
    proposal_dao: dict[str, str],
    report: GovImport,
    strict: bool,
    batch: int = 100_000,
) -> int:
    """Read a JSON-lines file of votes line by line into ``target`` (Parquet, written in
    batches), naming each malformed line. Returns the number of votes written."""
    rows: list[dict[str, Any]] = []
    written = 0
    try:
        with path.open(encoding="utf-8") as f, pq.ParquetWriter(target, VOTES) as writer:
            for line, text in enumerate(f, start=1):
                if len(rows) >= batch:
                    writer.write_table(pa.Table.from_pylist(rows, schema=VOTES))
                    written, rows = written + len(rows), []
                if not text.strip():
                    continue
                try:
                    v = json.loads(text)
                    proposal = str(v["proposal"]["id"])
                    voter = str(v["voter"]).lower()
                    if not re.match(ADDRESS_PATTERN, voter):
                        raise ValueError(f"voter {v['voter']!r} is not an address")
                    vp = float(v["vp"])
                    if not math.isfinite(vp) or vp < 0:
                        raise ValueError(f"vp {v['vp']!r} is invalid")
                    space = (v.get("space") or {}).get("id")
                    owner = dao or space or proposal_dao.get(proposal)
                    if owner is None:
                        raise ValueError(f"no space given and proposal {proposal} is unknown")
                    rows.append(
                        {
                            "dao": str(owner),
                            "proposal_id": proposal,
                            "voter": voter,
                            "choice": json.dumps(v["choice"], separators=(",", ":")),
                            "vp": vp,
                            "created_at": int(v["created"]),
                        }
                    )
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    reason = str(exc) if isinstance(exc, ValueError) else f"{exc!r}"
                    _bad(report, BadRow(str(path), line, f"vote: {reason}"), strict)
            writer.write_table(pa.Table.from_pylist(rows, schema=VOTES))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    return written + len(rows)
