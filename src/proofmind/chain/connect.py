"""Open a `Chain`: the one place that picks a backend from the settings."""

from __future__ import annotations

from pathlib import Path

from web3 import Web3

from proofmind.chain.accounts import Keystore
from proofmind.chain.base import Chain, ChainBackend
from proofmind.errors import ChainError, ConfigError, ConnectionFailed, KeystoreError, WrongChain
from proofmind.settings import ChainSettings, DevnetSettings, KeystoreSettings, TxSettings


def connect(
    chain: ChainSettings,
    *,
    devnet: DevnetSettings,
    chain_dir: Path,
    tx: TxSettings,
    keystore_dir: Path,
    keystore: KeystoreSettings | None = None,
) -> Chain:
    """Build the backend ``chain.backend`` names, connect it and check its chain id."""
    return open_chain(
        make_backend(chain, devnet, chain_dir, keystore_dir, keystore),
        expected_chain_id=chain.chain_id,
        tx=tx,
    )


def make_backend(
    chain: ChainSettings,
    devnet: DevnetSettings,
    chain_dir: Path,
    keystore_dir: Path,
    keystore: KeystoreSettings | None = None,
) -> ChainBackend:
    if chain.backend == "devnet":
        from proofmind.chain.devnet import Devnet, DevnetBackend

        return DevnetBackend(Devnet(chain_dir, devnet))
    if chain.backend == "inprocess":
        from proofmind.chain.inprocess import InProcessBackend

        return InProcessBackend()
    from proofmind.chain.rpc import RpcBackend

    if not chain.rpc_url:
        raise ConfigError(
            "the rpc backend needs a URL",
            hint="set PROOFMIND_CHAIN_RPC_URL or [chain] rpc_url in .proofmind/config.toml",
        )
    signers = []
    if chain.account:
        password = keystore.password if keystore else None
        if not password:
            raise KeystoreError(
                f"keystore account {chain.account!r} is locked",
                hint="set PROOFMIND_KEYSTORE_PASSWORD to unlock it",
            )
        signers.append(Keystore(keystore_dir).unlock(chain.account, password))
    return RpcBackend(chain.rpc_url, timeout=chain.request_timeout, signers=signers)


def open_chain(
    backend: ChainBackend, *, expected_chain_id: int | None = None, tx: TxSettings | None = None
) -> Chain:
    """Connect ``backend``, check it answers with the expected chain id, and wrap it."""
    w3 = backend.connect()
    chain_id = read_chain_id(w3, backend.describe())
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise WrongChain(
            f"{backend.describe()} is chain {chain_id}, but chain {expected_chain_id} is expected",
            hint="point PROOFMIND_CHAIN_RPC_URL at the right network or fix "
            "PROOFMIND_CHAIN_CHAIN_ID ([chain] chain_id)",
        )
    return Chain(
        backend=backend,
        w3=w3,
        chain_id=chain_id,
        accounts=backend.signers(),
        tx_settings=tx or TxSettings(),
    )


def read_chain_id(w3: Web3, where: str) -> int:
    try:
        return int(w3.eth.chain_id)
    except ChainError as exc:  # the transport's own account: it names the URL (redacted)
        raise ConnectionFailed(exc.message, hint=exc.hint) from None
    except Exception as exc:
        raise ConnectionFailed(
            f"cannot reach {where}: {_reason(exc)}",
            hint="check the URL and that the node is running (for the devnet: "
            "`proofmind chain up`)",
        ) from exc


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # transport errors quote the full URL, which may carry an API key
    lowered = text.lower()
    if "refused" in lowered or "max retries exceeded" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "name or service not known" in lowered or "resolve" in lowered:
        return "host name not found"
    return type(exc).__name__
