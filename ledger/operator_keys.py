"""The keys the operator's own commands sign with, from the keystore: the deployer's (the
admin's, for `commons deploy` and `commons run`'s first deployment), the auditor's account
(`commons audit register-key` / `revoke-key`) and the relayer's (for the API, `python -m api`,
and `commons run`).

A key named by COMMONS_<ROLE>_KEYSTORE (DEPLOYER, AUDITOR_ACCOUNT, RELAYER) is unlocked once,
its passphrase read from COMMONS_<ROLE>_PASSPHRASE_FD or asked at the terminal. The API then
holds the relayer's key in its settings like a configured COMMONS_RELAYER_KEY (its relay
worker receives those settings over the private pipe `multiprocessing` starts it with, never
through the environment).

`commons run --relayer-key NAME` asks for the passphrase once, checks that it opens the key,
and hands it to each API it starts on a pipe of its own (the API runs in a session without a
terminal, and is started again when it dies).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from ledger.config import Settings, configured_account, refuse_development_key
from ledger.errors import ConfigError
from ledger.keystore import Keystore
from ledger.passphrase import handed_over, read_passphrase

# What a child process is started with: its environment (None: ours) and descriptors to keep.
ChildEnvironment = tuple[dict[str, str] | None, tuple[int, ...]]


@dataclass(frozen=True)
class KeystoreRelayer:
    """A relayer key that opened with `passphrase`, to be handed to the API processes."""

    name: str
    address: str
    passphrase: str = field(repr=False)


def unlock(settings: Settings, role: str, name: str, fd: int | None) -> tuple[LocalAccount, str]:
    """The `role`'s key `name` and its passphrase, read from descriptor `fd` or asked at the
    terminal; a public development key is refused off the development chain."""
    passphrase = read_passphrase(f"passphrase of the {role} key {name!r}: ", fd)
    account = Keystore.of(settings).unlock(name, passphrase)
    refuse_development_key(account.address, settings, f"the {role} key {name!r}")
    return account, passphrase


def deployer_account(settings: Settings) -> LocalAccount:
    """The deployer: its keystore key (COMMONS_DEPLOYER_KEYSTORE), else COMMONS_DEPLOYER_KEY,
    else on the embedded chain the first development key."""
    return _account(
        settings,
        "deployer",
        settings.deployer_keystore,
        settings.deployer_passphrase_fd,
        settings.deployer_key,
        dev_index=0,
    )


def auditor_account(settings: Settings, *, dev_index: int) -> LocalAccount:
    """The auditor's account (holds AUDITOR): its keystore key
    (COMMONS_AUDITOR_ACCOUNT_KEYSTORE), else COMMONS_AUDITOR_ACCOUNT_KEY, else on the embedded
    chain development key `dev_index`."""
    return _account(
        settings,
        "auditor_account",
        settings.auditor_account_keystore,
        settings.auditor_account_passphrase_fd,
        settings.auditor_account_key,
        dev_index=dev_index,
    )


def _account(
    settings: Settings,
    role: str,
    name: str | None,
    fd: int | None,
    key: SecretStr | None,
    *,
    dev_index: int,
) -> LocalAccount:
    variable = f"COMMONS_{role.upper()}"
    if name is None:
        return configured_account(key, settings, dev_index=dev_index, variable=f"{variable}_KEY")
    if key is not None:
        raise ConfigError(f"set {variable}_KEY or {variable}_KEYSTORE, not both")
    account, _ = unlock(settings, role.replace("_", " "), name, fd)
    return account


def unlock_relayer(settings: Settings, name: str, fd: int | None) -> tuple[LocalAccount, str]:
    """The relayer's keystore key and its passphrase; never beside a plain COMMONS_RELAYER_KEY."""
    if settings.relayer_key is not None:
        raise ConfigError("set COMMONS_RELAYER_KEY or a relayer keystore key, not both")
    return unlock(settings, "relayer", name, fd)


def with_keystore_relayer(settings: Settings) -> Settings:
    """`settings` holding the relayer key unlocked from the keystore when
    COMMONS_RELAYER_KEYSTORE names one; as they are otherwise."""
    name = settings.relayer_keystore
    if name is None:
        return settings
    account, _ = unlock_relayer(settings, name, settings.relayer_passphrase_fd)
    return settings.model_copy(
        update={
            "relayer_key": SecretStr("0x" + bytes(account.key).hex()),
            "relayer_keystore": None,
            "relayer_passphrase_fd": None,
        }
    )


def relayer_for_run(settings: Settings, name: str | None, fd: int | None) -> KeystoreRelayer | None:
    """For `commons run`: the keystore relayer (`--relayer-key`, else COMMONS_RELAYER_KEYSTORE),
    checked to open now rather than in every API it starts; None without one."""
    name = name or settings.relayer_keystore
    if name is None:
        if fd is not None:
            raise ConfigError("--passphrase-fd is for a relayer key: name one (--relayer-key)")
        return None
    fd = fd if fd is not None else settings.relayer_passphrase_fd
    account, passphrase = unlock_relayer(settings, name, fd)
    return KeystoreRelayer(name, account.address, passphrase)


@contextmanager
def api_environment(relayer: KeystoreRelayer | None) -> Iterator[ChildEnvironment]:
    """The environment and descriptors to start an API with: the keystore key's name and a
    descriptor holding its passphrase, or (None, ()) to inherit ours as they are."""
    if relayer is None:
        yield None, ()
        return
    with handed_over(relayer.passphrase) as fd:
        env = {
            **os.environ,
            "COMMONS_RELAYER_KEYSTORE": relayer.name,
            "COMMONS_RELAYER_PASSPHRASE_FD": str(fd),
        }
        yield env, (fd,)


def relayer_banner(settings: Settings, relayer: KeystoreRelayer | None) -> str:
    """One line `commons run` prints at start: whose key pays gas, and whether it is for real."""
    if relayer is not None:
        return f"relayer:   {relayer.address} (key {relayer.name!r} from the keystore)"
    if settings.relayer_key is not None:
        try:
            address = Account.from_key(settings.relayer_key.get_secret_value()).address
        except ValueError:
            raise ConfigError("COMMONS_RELAYER_KEY is not a private key") from None
        return f"relayer:   {address} (COMMONS_RELAYER_KEY)"
    if not settings.embedded:
        return (
            "relayer:   none (--relayer-key NAME, COMMONS_RELAYER_KEYSTORE or COMMONS_RELAYER_KEY)"
        )
    return (
        "DEVELOPMENT ONLY: the relayer and the demo sign with public or throwaway keys on a "
        "local chain; for a real network see README, Keys"
    )
