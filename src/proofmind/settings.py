"""Settings: one pydantic-settings class per component, each with its own env prefix.

Values come, highest priority first, from keyword arguments, ``PROOFMIND_*`` environment
variables, the workspace's ``config.toml`` (one table per component), then the defaults here.
Domain code receives these objects; it never reads ``os.environ`` itself.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from proofmind.errors import ConfigError

ChainBackendName = Literal["devnet", "inprocess", "rpc"]


class _TomlTable(PydanticBaseSettingsSource):
    """Reads one table (``[chain]``, ``[devnet]``…) of the workspace's config.toml."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None, table: str) -> None:
        super().__init__(settings_cls)
        self._values: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(
                    f"cannot read config file {path}: {exc}",
                    hint="fix the TOML syntax or delete the file and run `proofmind init`",
                ) from exc
            _refuse_unknown(path, data)
            self._values = data.get(table, {})

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)  # every key is a field: _refuse_unknown saw to it


def _refuse_unknown(path: Path, data: dict[str, Any]) -> None:
    """A ConfigError for a table or setting config.toml names that proofmind does not have,
    whichever component is loading: a misspelt key would otherwise leave its default in force
    without a word (`[tx] confirmation = 12` would send on a real chain with no confirmations)."""
    classes = {c.toml_table: c for c in _settings_classes()}
    fields = {t: [f for f in c.model_fields if f not in c.env_only] for t, c in classes.items()}
    tables = sorted(fields)
    for name, section in data.items():
        if name not in fields:
            raise ConfigError(
                f"{path} has [{name}], which is not a table of proofmind's settings"
                + _did_you_mean(name, tables),
                hint=f"its tables are {', '.join(f'[{t}]' for t in tables)} "
                "(docs/getting-started.md)",
            )
        if not isinstance(section, dict):
            raise ConfigError(f"[{name}] in {path} must be a table", hint=f"write it as `[{name}]`")
        secret = [key for key in section if key in classes[name].env_only]
        if secret:
            prefix = str(classes[name].model_config.get("env_prefix", ""))
            raise ConfigError(
                f"{path}: [{name}] {secret[0]} is read from the environment only: in "
                "config.toml it would sit beside what it protects, in plain text",
                hint=f"delete it from the file and set {prefix}{secret[0].upper()} instead",
            )
        unknown = [key for key in section if key not in fields[name]]
        if unknown:
            raise ConfigError(
                f"{path}: [{name}] {unknown[0]} is not a setting"
                + _did_you_mean(unknown[0], fields[name]),
                hint=f"the settings of [{name}] are {', '.join(sorted(fields[name]))} "
                "(docs/getting-started.md)",
            )


def _refuse_unknown_env(environ: Mapping[str, str]) -> None:
    """A ConfigError for a PROOFMIND_<TABLE>_ variable that names no setting of that table
    (`PROOFMIND_TX_CONFIRMATION=12` would be ignored like a misspelt key of config.toml)."""
    for cls in _settings_classes():
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        known = [prefix + name.upper() for name in cls.model_fields]
        for variable in environ:
            if variable.upper().startswith(prefix) and variable.upper() not in known:
                raise ConfigError(
                    f"environment variable {variable} is not a setting"
                    + _did_you_mean(variable.upper(), known),
                    hint=f"the {prefix}* settings are {', '.join(sorted(known))} "
                    "(docs/getting-started.md); unset it",
                )


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _settings_classes() -> list[type[ComponentSettings]]:
    found: list[type[ComponentSettings]] = []
    todo = list(ComponentSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.toml_table]


class ComponentSettings(BaseSettings):
    """Base for component settings: env prefix per class, plus one table of config.toml."""

    toml_table: ClassVar[str] = ""
    env_only: ClassVar[frozenset[str]] = frozenset()  # secrets config.toml must not hold
    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_path = _CONFIG_PATH.get()
        return (init_settings, env_settings, _TomlTable(settings_cls, config_path, cls.toml_table))

    @classmethod
    def load(cls, config_path: Path | None = None, **overrides: Any) -> Any:
        """Load with ``config_path`` as the TOML layer; raise ConfigError on invalid values."""
        _refuse_unknown_env(os.environ)
        token = _CONFIG_PATH.set(config_path)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            prefix = cls.model_config.get("env_prefix", "")
            raise ConfigError(
                f"invalid setting {cls.toml_table}.{field}: {first['msg']} "
                f"(got {first.get('input')!r})",
                hint=f"fix [{cls.toml_table}] {field} in config.toml or "
                f"the {prefix}{field.upper()} environment variable",
            ) from exc
        finally:
            _CONFIG_PATH.reset(token)


# The config file of the load() in progress; a ContextVar so concurrent loads cannot mix.
_CONFIG_PATH: ContextVar[Path | None] = ContextVar("proofmind_config_path", default=None)


class ChainSettings(ComponentSettings):
    """Which chain to talk to. ``PROOFMIND_CHAIN_BACKEND=rpc PROOFMIND_CHAIN_RPC_URL=...``."""

    toml_table: ClassVar[str] = "chain"
    model_config = SettingsConfigDict(env_prefix="PROOFMIND_CHAIN_", extra="ignore")

    backend: ChainBackendName = "devnet"
    rpc_url: str | None = Field(default=None, description="JSON-RPC URL for the rpc backend")
    chain_id: int | None = Field(
        default=None, description="expected chain id; connecting to another one is an error"
    )
    account: str | None = Field(
        default=None, description="keystore account name used to sign on the rpc backend"
    )
    request_timeout: float = Field(default=30.0, gt=0)


class DevnetSettings(ComponentSettings):
    """The local anvil devnet that proofmind starts itself."""

    toml_table: ClassVar[str] = "devnet"
    model_config = SettingsConfigDict(env_prefix="PROOFMIND_DEVNET_", extra="ignore")

    anvil_path: Path | None = Field(default=None, description="anvil binary; found if unset")
    host: str = "127.0.0.1"
    port: int = Field(
        default=0, ge=0, le=65535, description="0 picks a free port (the last run's if free)"
    )
    chain_id: int = Field(default=31337, gt=0)
    accounts: int = Field(default=10, ge=1, le=1000)
    balance_ether: int = Field(default=10_000, ge=0)
    mnemonic: str = "test test test test test test test test test test test junk"
    block_time: float | None = Field(default=None, gt=0, description="None mines on demand")
    state_interval: int = Field(default=1, ge=1, description="seconds between state dumps")
    startup_timeout: float = Field(default=20.0, gt=0)


class TxSettings(ComponentSettings):
    """How transactions are sent and awaited."""

    toml_table: ClassVar[str] = "tx"
    model_config = SettingsConfigDict(env_prefix="PROOFMIND_TX_", extra="ignore")

    gas_multiplier: float = Field(default=1.2, ge=1.0, le=10.0)
    max_retries: int = Field(default=4, ge=0, le=20)
    backoff_seconds: float = Field(default=0.25, ge=0)
    receipt_timeout: float = Field(default=120.0, gt=0)
    poll_interval: float = Field(default=0.05, gt=0)
    priority_fee_gwei: float = Field(default=1.0, ge=0)
    confirmations: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="blocks on top of a transaction's block before local state trusts it "
        "(chain-backed state such as an anchored record); on the devnet the block must also "
        "be in anvil's saved state",
    )
    confirmation_timeout: float = Field(
        default=30.0, gt=0, description="how long a command waits for that depth"
    )


class KeystoreSettings(ComponentSettings):
    """Encrypted keystore unlock. The password is read from the environment, never logged."""

    toml_table: ClassVar[str] = "keystore"
    # in config.toml, beside the keystore, it would unlock the keys for whoever reads the folder
    env_only: ClassVar[frozenset[str]] = frozenset({"password"})
    model_config = SettingsConfigDict(env_prefix="PROOFMIND_KEYSTORE_", extra="ignore")

    password: str | None = Field(default=None, repr=False)


class OracleSettings(ComponentSettings):
    """What the oracle node and watcher accept before they lock a bond on a model.
    ``PROOFMIND_ORACLE_MAX_BOND_WEI=2000000000000000000``."""

    toml_table: ClassVar[str] = "oracle"
    model_config = SettingsConfigDict(env_prefix="PROOFMIND_ORACLE_", extra="ignore")

    model_owner: str | None = Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="account whose model registrations are served; None: the signing account",
    )
    max_bond_wei: int = Field(
        default=10**18, ge=0, description="most wei one answer or dispute may lock"
    )
    trusted_committee: list[str] | None = Field(
        default=None, description="the only accounts a dispute committee may hold; None: any"
    )


class ApiSettings(ComponentSettings):
    """The HTTP API of `proofmind serve`. ``PROOFMIND_API_PORT=8650``,
    ``PROOFMIND_API_CORS_ORIGINS='["https://dash.example.org"]'``."""

    toml_table: ClassVar[str] = "api"
    model_config = SettingsConfigDict(env_prefix="PROOFMIND_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8650, ge=0, le=65535, description="0 picks a free port")
    public_reads: bool = Field(
        default=True, description="read endpoints answer without an API key (writes never do)"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="origins a browser page may call the API from"
    )
    max_body_bytes: int = Field(
        default=32 * 2**20, ge=1024, description="largest request body (uploads included)"
    )
    rate_per_second: float = Field(
        default=50.0, gt=0, description="requests per second per API key (or per client address)"
    )
    rate_burst: int = Field(default=200, ge=1, description="requests allowed at once")
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description="the event loop of `proofmind serve`: auto (uvloop when installed), "
        "uvloop or asyncio",
    )
    record_cache_mb: float = Field(
        default=32.0,
        ge=0,
        description="memory for answers to GET /api/v1/records/{ref} kept between writes to the "
        "workspace (0: none)",
    )
    sse_poll_seconds: float = Field(
        default=0.2, gt=0, le=5, description="how often the alert stream looks for new alerts"
    )
    sybil_report: Path | None = Field(
        default=None,
        description="a folder written by `proofmind sybil detect` (report.md, scores.csv) that "
        "the dashboard shows; relative paths start at the project folder",
    )
    fraud_model: Path | None = Field(
        default=None,
        description="the LightGBM model of `proofmind fraud train` that /fraud/scores uses "
        "(default: fraud-model.txt in the project folder)",
    )
    fraud_data: Path | None = Field(
        default=None,
        description="the folder `proofmind ingest` wrote that /fraud/scores reads (default: "
        "chaindata in the project folder)",
    )
