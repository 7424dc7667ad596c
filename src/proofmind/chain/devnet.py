"""The devnet: an anvil node proofmind starts, reuses, persists and stops itself.

State is dumped by anvil every ``state_interval`` seconds and on a clean exit into the
workspace, so killing the process (even with SIGKILL) and starting again keeps deployed
contracts and balances — up to the last dump. What survives a kill is therefore the newest
*complete* dump: every complete dump proofmind reads (or asks for, with :meth:`Devnet.persist`)
is also written, atomically, to ``anvil-state.json.bak``, and a start resumes from whichever of
the two files holds the newer block. Local state that must agree with the chain (an anchored
record, a deployment) trusts a block only once :meth:`Devnet.persisted_block` reaches it.

A record file says which process serves which port, so a second ``proofmind`` command reuses
the running node instead of starting another; starting takes a file lock, so two commands
starting at once start one node, and the second reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from proofmind.chain.accounts import derive_accounts
from proofmind.chain.base import ChainBackend
from proofmind.errors import ChainError, ConnectionFailed, NodeNotInstalled
from proofmind.settings import DevnetSettings
from proofmind.store.lock import ServiceLock
from proofmind.tooling import node_modules_dirs

INSTALL_HINT = (
    "install it with `npm ci` in the proofmind checkout (it pins @foundry-rs/anvil), or "
    "`npm install -g @foundry-rs/anvil@1.7.1`, or point PROOFMIND_DEVNET_ANVIL_PATH at a binary"
)


@dataclass(frozen=True)
class DevnetRecord:
    """What `chain/devnet.json` remembers about the running node."""

    pid: int
    rpc_url: str
    port: int
    chain_id: int
    anvil_path: str
    state_file: str
    started_at: float


@dataclass(frozen=True)
class DevnetStatus:
    running: bool
    record: DevnetRecord | None
    block_number: int | None = None
    detail: str = ""


def find_anvil(settings: DevnetSettings, search_from: Path | None = None) -> Path:
    """Locate anvil: the configured path, node_modules near the cwd or the package, or PATH."""
    if settings.anvil_path is not None:
        if settings.anvil_path.is_file() and os.access(settings.anvil_path, os.X_OK):
            return settings.anvil_path
        raise NodeNotInstalled(
            f"anvil not found at PROOFMIND_DEVNET_ANVIL_PATH={settings.anvil_path}",
            hint=INSTALL_HINT,
        )
    for modules in node_modules_dirs(search_from):
        # the platform package holds the native binary; prefer it over the node shim so
        # that signals reach anvil itself
        for native in sorted(modules.glob("@foundry-rs/anvil-*/bin/anvil")):
            if os.access(native, os.X_OK):
                return native
        shim = modules / ".bin" / "anvil"
        if shim.exists():
            return shim
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise NodeNotInstalled("anvil (the devnet node) is not installed", hint=INSTALL_HINT)


# a devnet on a port it picked itself tries a fresh one this many times when another process
# binds the port between the check and anvil's own bind
PORT_ATTEMPTS = 3
ADDRESS_IN_USE = b"Address already in use"


class _PortTaken(Exception):
    """anvil exited because another process listens on its port."""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``port`` now (a check, not a reservation)."""
    try:
        require_free(host, port)
    except ChainError:
        return False
    return True


def require_free(host: str, port: int) -> None:
    """A ChainError when another process listens on ``port``: anvil would fail to bind it,
    and the node already there would answer as if it were the devnet started."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ChainError(
                f"port {port} on {host} is in use by another process ({exc.strerror}): the "
                "devnet cannot listen there",
                hint="stop that process, or set another [devnet] port (0, the default, picks a "
                "free one)",
            ) from None


class Devnet:
    """Manages one anvil process whose files live in ``chain_dir``."""

    def __init__(self, chain_dir: Path, settings: DevnetSettings) -> None:
        self.chain_dir = chain_dir
        self.settings = settings
        self._proc: subprocess.Popen[bytes] | None = None
        self._seen_dump: tuple[int, int] | None = None  # (mtime_ns, size) of the dump last read
        self._persisted = -1

    @property
    def record_path(self) -> Path:
        return self.chain_dir / "devnet.json"

    @property
    def state_file(self) -> Path:
        return self.chain_dir / "anvil-state.json"

    @property
    def backup_file(self) -> Path:
        return self.state_file.with_suffix(".json.bak")

    @property
    def log_file(self) -> Path:
        return self.chain_dir / "anvil.log"

    @property
    def lock_file(self) -> Path:
        return self.chain_dir / "devnet.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Held while starting or stopping: a second `chain up` waits, then reuses the node."""
        self.chain_dir.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_record(self) -> DevnetRecord | None:
        try:
            return DevnetRecord(**json.loads(self.record_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            self.record_path.unlink(missing_ok=True)  # unreadable: forget it, `up` restarts
            return None

    def status(self) -> DevnetStatus:
        record = self.read_record()
        if record is None:
            return DevnetStatus(False, None, detail="not started")
        if not _is_anvil_process(record.pid):
            return DevnetStatus(False, record, detail=f"process {record.pid} is gone")
        try:
            chain_id, block = _probe(record.rpc_url, timeout=2.0)
        except ConnectionFailed as exc:
            return DevnetStatus(False, record, detail=exc.message)
        if chain_id != record.chain_id:
            return DevnetStatus(False, record, detail=f"answers with chain id {chain_id}")
        return DevnetStatus(True, record, block_number=block, detail="running")

    def up(self) -> tuple[DevnetRecord, bool]:
        """Ensure the node runs; returns its record and whether this call started it."""
        current = self.status()
        if current.running and current.record is not None:
            return current.record, False
        with self._locked():
            current = self.status()  # another command may have started it while we waited
            if current.running and current.record is not None:
                return current.record, False
            if current.record is not None and _is_anvil_process(current.record.pid):
                _terminate(current.record.pid, timeout=5.0)  # alive but not answering: restart
            return self._start(), True

    def down(self) -> bool:
        """Stop the node cleanly (anvil dumps its state on exit). Returns whether one ran."""
        with self._locked():
            record = self.read_record()
            stopped = False
            if record is not None and _is_anvil_process(record.pid):
                _terminate(record.pid, timeout=10.0)
                stopped = True
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=5.0)
                self._proc = None
            self.record_path.unlink(missing_ok=True)
            return stopped

    def persisted_block(self) -> int:
        """The newest block a restart resumes from (-1: none). Reads anvil's dump when it
        changed; a complete one newer than the backup becomes the backup."""
        if self._persisted < 0:
            self._persisted = _dump_block(_read(self.backup_file))
        try:
            stat = self.state_file.stat()
        except FileNotFoundError:
            return self._persisted
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen != self._seen_dump:
            raw = _read(self.state_file)
            block = _dump_block(raw)
            if block >= 0:  # complete: remember it (a dump being written is read next time)
                self._seen_dump = seen
                if block > self._persisted:
                    _write_atomically(self.backup_file, raw)
                    self._persisted = block
        return self._persisted

    def persist(self, rpc_url: str) -> int:
        """Have anvil dump its state now (``anvil_dumpState``) and save it where a restart
        finds it; returns the block saved. One save at a time (threads and processes wait
        their turn), so an older dump never overwrites a newer one."""
        saving = ServiceLock(
            self.state_file.with_name("persist.lock"),
            "saving the devnet's state",
            hint="try again; if it stays, check the disk holding the workspace",
        )
        with saving.held(wait=120.0):
            reply = _rpc(rpc_url, "anvil_dumpState", [], timeout=30.0)
            if not isinstance(reply, str) or not reply.startswith("0x"):
                raise ChainError(f"anvil_dumpState answered {str(reply)[:80]!r}")
            raw = gzip.decompress(bytes.fromhex(reply[2:]))
            block = _dump_block(raw)
            if block < 0:
                raise ChainError("anvil_dumpState answered a state proofmind cannot read")
            if block > self.persisted_block():
                _write_atomically(self.backup_file, raw)
                _write_atomically(self.state_file, raw)
                self._persisted = block
            return self._persisted

    def wait_persisted(self, since: float, timeout: float | None = None) -> bool:
        """Wait until anvil has dumped its state after ``since`` (a time.time() value)."""
        deadline = time.monotonic() + (timeout or self.settings.state_interval * 3 + 2)
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError):
                if self.state_file.stat().st_mtime > since:
                    return True
            time.sleep(0.05)
        return False

    def _start(self) -> DevnetRecord:
        anvil = find_anvil(self.settings)
        self.chain_dir.mkdir(parents=True, exist_ok=True)
        self._guard_state_file()
        s = self.settings
        if s.port:
            require_free(s.host, s.port)
        port = s.port or self._last_port() or free_port(s.host)
        for attempt in range(PORT_ATTEMPTS):
            try:
                pid, url, chain_id = self._spawn(anvil, port)
                break
            except _PortTaken:
                # a port we picked was free when checked, not reserved: another process
                # (a second devnet starting at the same moment) bound it first
                if s.port or attempt == PORT_ATTEMPTS - 1:
                    raise ChainError(
                        f"anvil could not listen on port {port} of {s.host}: another process "
                        "took it while anvil was starting",
                        hint="`proofmind chain up` again, or set another [devnet] port",
                    ) from None
                port = free_port(s.host)
        record = DevnetRecord(
            pid=pid, rpc_url=url, port=port, chain_id=chain_id,
            anvil_path=str(anvil), state_file=str(self.state_file), started_at=time.time(),
        )  # fmt: skip
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2))
        tmp.replace(self.record_path)
        _write_atomically(self.port_file, f"{port}\n".encode())
        return record

    def _spawn(self, anvil: Path, port: int) -> tuple[int, str, int]:
        """Start anvil on ``port`` and wait until it answers; its PID, URL and chain id.
        `_PortTaken` when it exits because another process listens there."""
        s = self.settings
        args = [
            str(anvil),
            "--host", s.host,
            "--port", str(port),
            "--chain-id", str(s.chain_id),
            "--accounts", str(s.accounts),
            "--balance", str(s.balance_ether),
            "--mnemonic", s.mnemonic,
            "--state", str(self.state_file),
            "--state-interval", str(s.state_interval),
        ]  # fmt: skip
        if s.block_time is not None:
            args += ["--block-time", str(s.block_time)]
        log = self.log_file.open("ab")
        logged = log.tell()
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the command that started it
            )  # fmt: skip
        except OSError as exc:
            raise NodeNotInstalled(
                f"cannot run anvil at {anvil}: {exc}", hint=INSTALL_HINT
            ) from exc
        finally:
            log.close()
        url = f"http://{s.host}:{port}"
        deadline = time.monotonic() + s.startup_timeout
        while True:
            if self._proc.poll() is not None:
                if ADDRESS_IN_USE in _read(self.log_file)[logged:]:
                    raise _PortTaken
                raise ChainError(
                    f"anvil exited with code {self._proc.returncode} while starting: "
                    f"{_tail(self.log_file)}",
                    hint=f"see {self.log_file}; `proofmind chain up` again once fixed",
                )
            try:
                chain_id, _ = _probe(url, timeout=1.0)
                if self._proc.poll() is None:  # ours answered, not a node that held the port
                    break
                continue  # it exited: said at the top of the loop
            except ConnectionFailed:
                if time.monotonic() > deadline:
                    _terminate(self._proc.pid, timeout=2.0)
                    raise ChainError(
                        f"anvil did not answer on {url} within {s.startup_timeout:.0f}s",
                        hint=f"see {self.log_file}",
                    ) from None
                time.sleep(0.05)
        return self._proc.pid, url, chain_id

    @property
    def port_file(self) -> Path:
        return self.chain_dir / "devnet.port"

    def _last_port(self) -> int | None:
        """The port the devnet listened on last time, when it is free again: a restart keeps
        its URL, so a wallet or a `--url` given before still reaches it."""
        try:
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 and is_free(self.settings.host, port) else None

    def _guard_state_file(self) -> None:
        """Resume from the newest complete state: anvil's dump, or the backup when the dump
        was cut short by a kill or is older than a block proofmind already trusted."""
        backup = self.backup_file
        self._persisted, self._seen_dump = -1, None
        if not self.state_file.exists():
            # a fresh chain (or one the user reset by deleting the state): the backup belongs
            # to the chain that was discarded, and must never be resumed from
            backup.unlink(missing_ok=True)
            return
        state_raw = _read(self.state_file)
        state_block, backup_block = _dump_block(state_raw), _dump_block(_read(backup))
        if backup_block > state_block:
            why = "was cut short" if state_block < 0 else f"ends at block {state_block}"
            print(
                f"warning: {self.state_file} {why}; restoring {backup.name} (block {backup_block})",
                file=sys.stderr,
            )
            shutil.copyfile(backup, self.state_file)
        elif state_block < 0:
            self.state_file.rename(self.state_file.with_suffix(".json.corrupt"))
        else:
            _write_atomically(backup, state_raw)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


_DUMP_HEAD = re.compile(rb'\{"block":\{"number":"0x([0-9a-fA-F]+)"')
_DUMP_TAIL = b'"historical_states":null}'


def _dump_block(raw: bytes) -> int:
    """The block an anvil state dump ends at; -1 when it is missing or incomplete."""
    head = _DUMP_HEAD.match(raw)
    if head is not None and raw.rstrip().endswith(_DUMP_TAIL):
        # anvil writes the block first and this key last: a complete dump, read without
        # parsing what may be many megabytes of accounts and blocks
        return int(head.group(1), 16)
    try:
        state = json.loads(raw)
        number = state.get("best_block_number")
        if number is None:
            number = state["block"]["number"]
        return int(number, 16) if isinstance(number, str) else int(number)
    except (ValueError, KeyError, TypeError, AttributeError):
        return -1


def _write_atomically(path: Path, data: bytes) -> None:
    # one temporary file per thread: two threads writing at once must not rename each other's
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


class DevnetBackend(ChainBackend):
    name: ClassVar[str] = "devnet"

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.record: DevnetRecord | None = None

    def connect(self) -> Web3:
        self.record, _ = self.devnet.up()
        from proofmind.chain.rpc import http_web3

        return http_web3(self.record.rpc_url)

    def signers(self) -> list[LocalAccount]:
        s = self.devnet.settings
        return derive_accounts(s.mnemonic, s.accounts)

    def describe(self) -> str:
        where = self.record.rpc_url if self.record else "not started"
        return f"devnet (anvil at {where})"

    @property
    def supports_snapshots(self) -> bool:
        return True

    def durable_block(self, head: int) -> int:
        return min(head, self.devnet.persisted_block())

    def persist(self) -> int:
        if self.record is None:
            return -1
        return self.devnet.persist(self.record.rpc_url)


def _rpc(url: str, method: str, params: list[object], timeout: float) -> object:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    try:
        response = requests.post(url, json=payload, timeout=timeout)
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ConnectionFailed(f"no answer from {url} to {method}: {type(exc).__name__}") from exc
    if "error" in body:
        raise ChainError(f"{method} failed: {body['error']}")
    return body.get("result")


def _probe(url: str, timeout: float) -> tuple[int, int]:
    """(chain id, block number) from a node, in one batched request."""
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
    ]
    try:
        response = requests.post(
            url, data=json.dumps(batch), headers={"Content-Type": "application/json"},
            timeout=timeout,
        )  # fmt: skip
        response.raise_for_status()
        by_id = {item["id"]: int(item["result"], 16) for item in response.json()}
        return by_id[1], by_id[2]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise ConnectionFailed(f"no answer from {url}: {type(exc).__name__}") from exc


def _is_anvil_process(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid
    if not cmdline:
        return False  # a zombie
    return b"anvil" in cmdline


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_anvil_process(pid):
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
