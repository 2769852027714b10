"""One settings object for the whole ledger, from env (COMMONS_*), .env and brownie-config.yaml.

brownie-config.yaml is the single source of truth for compiler settings: brownie reads it for
`brownie compile`, and `Settings.compiler` reads the same keys for ledger.build.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    # The TLS proxy in front of the API (docs/security.md "Behind the TLS proxy"): only a peer
    # at one of these addresses may name the client (X-Forwarded-For) and the scheme
    # (X-Forwarded-Proto); for everyone else the socket's peer is the client.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="comma-separated addresses or networks whose X-Forwarded-For is believed",
    )
    relayer_key: SecretStr | None = Field(
        default=None,
        description="gas-paying relayer key; on the embedded chain a development key is used",
    )
    # The deployer's, the auditor's and the relayer's keys from the keystore instead
    # (ledger/operator_keys.py):
    # a name there, and the file descriptor its passphrase is read from (else the terminal is
    # asked). Never the passphrase itself: anyone who can read /proc/<pid>/environ reads that.
    deployer_keystore: str | None = Field(
        default=None, description="name of the deployer's key in the keystore (`commons key`)"
    )
    deployer_passphrase_fd: int | None = Field(
        default=None, ge=0, description="read the deployer key's passphrase from this descriptor"
    )
    auditor_account_keystore: str | None = Field(
        default=None, description="name of the auditor account's key in the keystore"
    )
    auditor_account_passphrase_fd: int | None = Field(
        default=None, ge=0, description="read that key's passphrase from this descriptor"
    )
    relayer_keystore: str | None = Field(
        default=None, description="name of the relayer's key in the keystore (`commons key`)"
    )
    relayer_passphrase_fd: int | None = Field(
        default=None, ge=0, description="read the relayer key's passphrase from this descriptor"
    )
    keystore_dir: Path | None = Field(
        default=None, description="encrypted key files (`commons key`); default <data dir>/keys"
    )
    # The standard scrypt cost takes ~0.5 s a key; tests lower it, production keeps it.
    keystore_scrypt_n: int = Field(
        default=262_144, ge=2, le=1 << 20, description="scrypt cost of new key files"
    )
    auditor_account_key: SecretStr | None = Field(
        default=None,
        description="the auditor's account key (holds AUDITOR) for `commons audit register-key`; "
        "on the embedded chain a development key is used",
    )
    anchor_key: SecretStr | None = Field(
        default=None, description="key paying for `commons anchor` on the second network"
    )
    auth_secret: SecretStr | None = Field(
        default=None, description="HMAC key for login tokens; random per process if unset"
    )
    token_ttl_s: int = Field(default=900, gt=0)
    relay_max_queued: int = Field(default=50_000, gt=0)
    relay_interval_s: float = Field(default=0.05, gt=0)
    # Each round reads up to 1,000 events back from the node: every 2 s it cost the API's
    # acknowledgements their tail (p99 30-47 ms at 1,000 ballots/s, against 12 ms every 10 s;
    # bench/api_load.py), since the node answering it is the one that mines the batches.
    index_check_s: float = Field(
        default=10.0,
        ge=0,
        description="how often the worker checks the index against the chain's logs (0: never)",
    )
    relay_max_wait_s: float = Field(
        default=0.15, ge=0, description="how long a message may wait for a fuller batch"
    )
    # A 380-resident roll chunk needs ~9.2M gas; a batch carries one such request at most
    # (ledger.tx.TX_GAS_CAP), so a request this large always fits a transaction.
    forward_max_gas: int = Field(
        default=10_000_000,
        gt=0,
        le=15_000_000,
        description="most gas a relayed request may ask for (one must fit a 16,777,216 tx)",
    )
    # A request acknowledged now lands within minutes; a far deadline only lets a stale signed
    # request be brought back into the queue much later.
    forward_max_ttl_s: int = Field(
        default=86_400, gt=0, description="latest deadline a relayed request may carry, from now"
    )
    # Blocks, not seconds: what the audit can check against the chain. On the managed anvil a
    # block is a batch (up to 250 messages); on a 12 s chain 1,000 blocks are 3 h 20 min.
    relay_land_within_blocks: int = Field(
        default=1_000, gt=0, description="a signed acknowledgement promises landing within this"
    )
    # --- the outbox (ledger/relay/outbox.py) ---
    relay_group_commit_s: float = Field(
        default=0.002, ge=0, description="how long the writer gathers messages for one fsync"
    )
    relay_write_wait_s: float = Field(
        default=30.0, gt=0, description="how long a write waits for the other process's commit"
    )
    # SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20... ms between tries: a 3 ms commit of
    # the worker's became an 18-80 ms wait for an acknowledgement (bench/api_load.py, 1,000/s).
    relay_lock_retry_s: float = Field(default=0.0005, gt=0)
    # --- the relayer (ledger/relay/relayer.py) ---
    # Even when busy it pauses a little: what was just sent needs a moment to be mined, and
    # asking for its receipt at once only spends the GIL the API needs.
    relay_busy_pause_s: float = Field(default=0.02, ge=0)
    relay_failure_pause_s: float = Field(
        default=1.0, ge=0, description="pause after a round that failed (the node away, say)"
    )
    relay_patience_s: float = Field(
        default=3.0, ge=0, description="how long a sent tx may go unmined before it is suspected"
    )
    # A managed anvil keeps this many recent states (node_prune_history): it cannot reorg deeper.
    relay_reorg_depth: int = Field(
        default=64, gt=0, description="how many blocks deep a settled batch is watched for a reorg"
    )
    relay_reorg_check_s: float = Field(default=0.25, ge=0)
    # A message that fails alone, for no reason the contract names, is parked (rejected with the
    # last reason) after this many tries rather than retried for ever; between tries its group
    # waits relay_retry_base_s, doubled each time.
    relay_max_attempts: int = Field(default=5, gt=0)
    relay_retry_base_s: float = Field(default=1.0, ge=0)
    # anvil re-hashes its whole state trie for every block, and each batch is a block: 250
    # ballots a batch (~3.4M gas) cost the node ~40% less per ballot than 100 did at 1,000
    # ballots/s (bench/api_load.py). A record's gas falls in larger batches too (fewer cold
    # members per record: ~25,000 at 100 a batch, under 20,000 at 250; bench/gas_fund.py).
    relay_ballot_batch: int = Field(default=250, gt=0)
    relay_service_batch: int = Field(default=250, gt=0)
    relay_forward_batch: int = Field(default=50, gt=0)
    # Batches are packed by these bounds, so no batch needs more than a transaction may carry.
    relay_batch_base_gas: int = Field(
        default=150_000, gt=0, description="a ballot or service batch's gas besides its messages"
    )
    # Measured ~14k a relayed ballot, ~21k on a fresh ballot box (bench/gas_council.py); the
    # bound leaves room for a cold registry and a first tally write.
    relay_ballot_gas: int = Field(default=40_000, gt=0)
    # Measured up to ~27,000 (200 members, the first batch after a roll publication,
    # bench/gas_fund.py); the bound adds a cold Registry look-up for each side.
    relay_service_gas: int = Field(default=45_000, gt=0)
    # A forward batch's transaction and executeBatch's frame; and per request what the forwarder
    # spends around the call (signature, nonce word, event), besides its gas and calldata.
    forward_batch_base_gas: int = Field(default=60_000, gt=0)
    forward_request_overhead_gas: int = Field(default=60_000, gt=0)
    # --- the checks before acknowledgement (ledger/relay/ballots.py, services.py, clock.py) ---
    # A removal published within this window may still be acknowledged; the contract then skips
    # the record (NotResident), and its receipt says so.
    relay_roll_version_ttl_s: float = Field(
        default=2.0, ge=0, description="how long a community's published roll version is trusted"
    )
    relay_rolls_kept: int = Field(
        default=32, gt=0, description="rolls kept in memory (a large one takes megabytes)"
    )
    chain_clock_refresh_s: float = Field(
        default=1.0, ge=0, description="how often the chain clock is read while in use"
    )
    chain_clock_idle_s: float = Field(
        default=60.0, gt=0, description="the chain clock's thread stops after this long unasked"
    )
    # --- the index (ledger/index/) and the worker (ledger/worker.py) ---
    index_interval_s: float = Field(default=0.25, gt=0, description="how often the worker syncs")
    index_sync_batch: int = Field(default=2000, gt=0, description="blocks written in one range")
    index_header_batch: int = Field(
        default=500, gt=0, description="headers per JSON-RPC batch (within any node's limits)"
    )
    index_fork_window: int = Field(
        default=128, gt=0, description="blocks compared per step back to a fork point"
    )
    index_max_chain_moves: int = Field(
        default=8, ge=0, description="tries at a range while the chain moves under it"
    )
    index_max_backoff_s: float = Field(default=30.0, gt=0)
    # Each check round compares the newest blocks and the next slice of the whole history, each
    # at most index_check_events events: ~80 us an event (decoded from the chain's logs,
    # digested on both sides), so a round every 10 s costs a busy index a fiftieth of a core.
    index_check_recent_blocks: int = Field(default=64, gt=0)
    index_check_sweep_blocks: int = Field(default=512, gt=0)
    index_check_events: int = Field(default=1000, gt=0)
    worker_stop_timeout_s: float = Field(default=15.0, gt=0)
    # anvil mines only for transactions: without a block at a proposal's closing time it would
    # read "voting" until something else happened (ledger/schedule.py). None: on the embedded
    # chain only.
    schedule_bell: bool | None = Field(
        default=None, description="mine a block at each proposal's opening and closing time"
    )
    schedule_bell_s: float = Field(default=1.0, gt=0, description="how often the bell looks")
    api_stop_timeout_s: float = Field(
        default=20.0, gt=0, description="`commons run` waits this long for the API to stop"
    )
    worker_check_s: float = Field(
        default=1.0, gt=0, description="how often the API checks that its worker lives"
    )
    # Acknowledgements are what people wait on; a batch has seconds to spare (inclusion p99
    # target 5 s). So when the cores are contended, the API process goes first.
    worker_niceness: int = Field(default=10, ge=0, le=19)
    worker_lock_poll_s: float = Field(default=0.2, gt=0)
    worker_chain_wait_s: float = Field(
        default=0.5, gt=0, description="the first pause while the chain is away; grows per try"
    )
    worker_chain_wait_max_s: float = Field(default=5.0, gt=0)
    # --- the managed chain (ledger/node.py) ---
    node_startup_timeout_s: float = Field(default=20.0, gt=0)
    node_prune_history: int = Field(
        default=64, gt=0, description="recent states anvil keeps: the deepest reorg it can make"
    )
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # --- what one connection may hold (api/server.py; docs/security.md "Limits") ---
    # A request line and headers: browsers send under 2 kB, and 16 kB is what nginx and Node
    # allow by default; a bigger head is an attack on memory (431).
    max_header_bytes: int = Field(default=16 * 1024, gt=0)
    max_header_count: int = Field(default=100, gt=0)
    # The whole request, head and body, must arrive within this many seconds (else 408 and the
    # connection closes): a ballot is under 1 kB, and even a body at the 256 kB cap takes 5 s
    # only below ~420 kbit/s. A client trickling bytes cannot hold a connection for long.
    request_read_timeout_s: float = Field(default=5.0, gt=0)
    # A connection that sends nothing (a fresh one, or an idle keep-alive one) is closed.
    idle_timeout_s: float = Field(default=5.0, gt=0)
    # --- quotas per client (the peer address: api/limits.py `client_key`) ---
    # Proposal texts are open to anyone (the committee posts them before it opens a proposal;
    # a sign-in would not bound anything, a key costs nothing): each client has a byte budget
    # that refills over an hour, every text costing at least 1 KiB of it (so tiny texts cannot
    # flood the table), and the store as a whole stops taking new texts at a total size.
    text_quota_bytes_per_hour: int = Field(default=2 * 1024 * 1024, gt=0)
    text_store_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    # Sign-in challenges: outstanding ones are capped (the oldest is dropped), and each client
    # may ask for this many a minute.
    max_challenges: int = Field(default=10_000, gt=0)
    challenges_per_minute: int = Field(default=30, gt=0)
    # An audit reads the whole chain: one at a time, and the next one only this long after
    # the previous one finished.
    audit_min_interval_s: float = Field(default=60.0, ge=0)
    # Pending services (the provider's half): waiting entries per provider and per recipient.
    max_pending_per_provider: int = Field(default=50, gt=0)
    max_pending_per_recipient: int = Field(default=200, gt=0)
    # Join requests each client may store an hour (a new one; sending one again costs nothing).
    join_requests_per_hour: int = Field(default=20, gt=0)
    # Join codes each client may look up a minute: a code is 40 bits, and this keeps guessing
    # one a matter of centuries, not hours.
    join_lookups_per_minute: int = Field(default=30, gt=0)
    # A join request not acted on within this long is expired: the registrar no longer sees it
    # and its code answers 410; the resident simply asks again.
    join_request_ttl_s: float = Field(default=30 * 86400, gt=0)
    seed_demo: bool = Field(default=True, description="seed a demo community on first start")
    demo_fast_clock: bool = Field(
        default=False,
        description="the demo moves the development chain's clock past each of its windows "
        "instead of living through them (the chain then runs ahead of the wall clock)",
    )
    restart_max: int = Field(
        default=5, ge=0, description="`commons run` gives up on a process that died more often"
    )
    restart_window_s: float = Field(
        default=60.0, gt=0, description="... than restart_max times within this many seconds"
    )
    # The second death in a window waits this long, each further one twice as long, up to the cap.
    restart_first_delay_s: float = Field(default=0.5, ge=0)
    restart_max_delay_s: float = Field(default=8.0, ge=0)
    # Display names: how often one client may set a name (api/limits.py).
    name_changes_per_hour: int = Field(default=30, gt=0)
    # --- initiatives and ratings (ledger/relay/cosignatures.py, ratings.py) ---
    # Per co-signature measured up to ~20,000 gas on a fresh bitmap (bench/gas_initiatives.py);
    # a batch's bound adds the council proposal its last co-signature may open.
    relay_cosignature_gas: int = Field(default=40_000, gt=0)
    relay_promotion_gas: int = Field(default=400_000, gt=0)
    # A rating: a signature, a cold roll look-up and a bitmap word, as a ballot.
    relay_rating_gas: int = Field(default=45_000, gt=0)
    # --- secret ballots (ledger/relay/secret_ballots.py) ---
    # Each ballot's proofs are checked before acknowledgement (~1 ms); a batch of 100 3-option
    # ballots is ~3.9M gas, as a council batch of 250.
    relay_secret_ballot_batch: int = Field(default=100, gt=0)

    @model_validator(mode="after")
    def _reorg_within_history(self) -> Settings:
        if self.relay_reorg_depth > self.node_prune_history:
            raise ValueError("the relay watches for reorgs deeper than the managed chain keeps")
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_addresses(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        # Addresses only: a host name or "*" would let any client name itself.
        networks = [ipaddress.ip_network(str(item).strip()) for item in items if str(item).strip()]
        return tuple(str(n.network_address if n.num_addresses == 1 else n) for n in networks)

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
        refuse_development_key(account.address, settings, variable)
        return account
    if not settings.embedded:
        raise ConfigError(f"an attached network needs {variable}")
    Account.enable_unaudited_hdwallet_features()
    dev: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{dev_index}"
    )
    return dev


# anvil funds the first ten, the relay's own development key is the eleventh, Hardhat funds 20.
DEV_KEYS_REFUSED = 20


@functools.cache
def development_addresses() -> frozenset[str]:
    """The addresses of the development mnemonic's first keys: anyone can sign with them."""
    Account.enable_unaudited_hdwallet_features()
    return frozenset(
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").address
        for i in range(DEV_KEYS_REFUSED)
    )


def refuse_development_key(address: str, settings: Settings, what: str) -> None:
    """A well-known development key signs only on the development chain id (anvil's and
    Hardhat's 31337): anywhere else, whatever it holds is anybody's."""
    if settings.chain_id != DEV_CHAIN_ID and address in development_addresses():
        raise ConfigError(
            f"{what} is one of the public development keys ({address}); "
            f"refused on chain {settings.chain_id}"
        )
