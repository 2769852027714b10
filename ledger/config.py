"""One settings object for the whole ledger, from env (COMMONS_*), .env and brownie-config.yaml.

brownie-config.yaml is the single source of truth for compiler settings: brownie reads it for
`brownie compile`, and `Settings.compiler` reads the same keys for ledger.build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# anvil's well-known development mnemonic: its keys are public, so they may only ever sign on
# the embedded development chain, never on an attached network.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31337


@dataclass(frozen=True)
class CompilerSettings:
    version: str
    optimizer_enabled: bool
    optimizer_runs: int
    evm_version: str
    remappings: tuple[str, ...]

    def solc_settings(self) -> dict[str, Any]:
        """The `settings` object of solc's standard JSON input (minus outputSelection)."""
        return {
            "optimizer": {"enabled": self.optimizer_enabled, "runs": self.optimizer_runs},
            "evmVersion": self.evm_version,
            "remappings": list(self.remappings),
        }


def load_compiler_settings(config_file: Path) -> CompilerSettings:
    try:
        raw = yaml.safe_load(config_file.read_text())
        compiler = raw["compiler"]
        solc = compiler["solc"]
        return CompilerSettings(
            version=str(solc["version"]),
            optimizer_enabled=bool(solc["optimizer"]["enabled"]),
            optimizer_runs=int(solc["optimizer"]["runs"]),
            evm_version=str(compiler["evm_version"]),
            remappings=tuple(str(r) for r in solc.get("remappings") or ()),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read compiler settings from {config_file}: {exc}") from exc


class Settings(BaseSettings):
    """Everything configurable. Env vars are the field names upper-cased with COMMONS_ prefix."""

    model_config = SettingsConfigDict(
        env_prefix="COMMONS_", env_file=".env", extra="ignore", frozen=True
    )

    project_root: Path = PROJECT_ROOT
    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="chain snapshots, databases")
    deployments_dir: Path = Field(
        default=PROJECT_ROOT / "deployments", description="deployments/<chain-id>.json records"
    )
    rpc_url: str | None = Field(
        default=None, description="attach to this node instead of running the embedded anvil"
    )
    chain_id: int = DEV_CHAIN_ID
    host: str = "127.0.0.1"
    anvil_port: int = 8545
    snapshot_interval_s: float = Field(default=2.0, gt=0)
    snapshots_kept: int = Field(default=3, ge=2)
    deployer_key: SecretStr | None = Field(
        default=None, description="deployer private key; required when attached to a network"
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    relayer_key: SecretStr | None = Field(
        default=None,
        description="gas-paying relayer key; on the embedded chain a development key is used",
    )
    auth_secret: SecretStr | None = Field(
        default=None, description="HMAC key for login tokens; random per process if unset"
    )
    token_ttl_s: int = Field(default=900, gt=0)
    relay_max_queued: int = Field(default=50_000, gt=0)
    relay_interval_s: float = Field(default=0.05, gt=0)
    relay_max_wait_s: float = Field(
        default=0.15, ge=0, description="how long a message may wait for a fuller batch"
    )
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    seed_demo: bool = Field(default=True, description="seed a demo community on first start")
    restart_max: int = Field(
        default=5, ge=0, description="`commons run` gives up on a process that died more often"
    )
    restart_window_s: float = Field(
        default=60.0, gt=0, description="... than restart_max times within this many seconds"
    )

    @model_validator(mode="after")
    def _loopback_only(self) -> Settings:
        for name in ("host", "api_host"):
            if getattr(self, name) not in {"127.0.0.1", "localhost", "::1"}:
                raise ValueError(f"servers bind to loopback only (COMMONS_{name.upper()})")
        return self

    @property
    def compiler(self) -> CompilerSettings:
        return load_compiler_settings(self.project_root / "brownie-config.yaml")

    @property
    def contracts_dir(self) -> Path:
        return self.project_root / "contracts"

    @property
    def build_dir(self) -> Path:
        return self.project_root / "build" / "ledger"

    @property
    def solc_binary_dir(self) -> Path:
        return self.project_root / ".tools" / "solcx"

    @property
    def anvil_binary(self) -> Path:
        return (
            self.project_root
            / "node_modules"
            / "@foundry-rs"
            / "anvil-linux-amd64"
            / "bin"
            / "anvil"
        )

    @property
    def embedded(self) -> bool:
        return self.rpc_url is None


def configured_account(
    key: SecretStr | None, settings: Settings, *, dev_index: int, variable: str
) -> LocalAccount:
    """The account of a configured key; on the embedded chain without one, account `dev_index`
    of the development mnemonic. An attached network without the key is a ConfigError."""
    if key is not None:
        account: LocalAccount = Account.from_key(key.get_secret_value())
        return account
    if not settings.embedded:
        raise ConfigError(f"an attached network needs {variable}")
    Account.enable_unaudited_hdwallet_features()
    dev: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{dev_index}"
    )
    return dev
